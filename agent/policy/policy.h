/*
 * Policy: declarative guardrails checked on the rendered, unsealed objects of
 * a revision before anything is applied.
 *
 * A policy set is loaded from YAML rule files (the shipped defaults plus the
 * directories named in the configuration; policies/README.md documents the
 * language). Nothing in a rule file is executed: rules are data (paths,
 * operators, literal values, POSIX regular expressions).
 *
 * sl_policy_check() evaluates a set on an object list for one environment
 * and fills a report: every violation (rule, object, field, origin
 * file:line) and every exception granted by annotation
 * (`sluice.dev/policy-exception.<rule-id>: "<reason>"`). It returns the
 * number of violations that block the revision: in enforce mode every
 * violation of a rule whose action is deny; in warn and off mode none.
 * The engine never prints; callers format the report. A loaded set is
 * read-only: several threads may check with one set at once.
 */
#ifndef SL_POLICY_H
#define SL_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "object.h"
#include "tree.h"

#define SL_POLICY_EXCEPTION_PREFIX "sluice.dev/policy-exception."
/* Rule ids are DNS-ish; the annotation name part (after the '/') is at most 63. */
#define SL_POLICY_ID_MAX 46
/* One rule file may hold at most this many bytes. */
#define SL_POLICY_FILE_MAX ((size_t)1 << 20)

struct sl_policy_set;

enum sl_policy_severity {
    SL_SEV_INFO,
    SL_SEV_LOW,
    SL_SEV_MEDIUM,
    SL_SEV_HIGH,
    SL_SEV_CRITICAL,
};

struct sl_policy_finding {
    char *rule;        /* rule id */
    char *description; /* the rule's description */
    enum sl_policy_severity severity;
    bool blocking; /* counts against the revision (enforce mode, deny rule) */
    bool excepted; /* granted by annotation; reason holds why */
    char *reason;  /* exception reason, NULL unless excepted */
    char *object;  /* "Deployment shop/web" */
    char *kind, *namespace, *name;
    char *field;   /* the offending field ("spec.template.spec.containers[0].image"), or "" */
    char *message; /* "Deployment shop/web container \"web\" does not set runAsNonRoot" */
    char *origin;  /* "environments/prod/deploy.yaml:23" or "generated" */
    /* The same origin split: file (NULL when generated) and line (document start, or the
     * field's line after sl_policy_report_locate()). */
    char *file;
    int line;
    size_t index; /* of the object in the list that was checked */
};

struct sl_policy_report {
    char *env;
    enum sl_policy_mode mode;
    struct sl_policy_finding *items; /* violations first (in object order), then exceptions */
    size_t n, cap;
    size_t nviolations; /* findings not excepted */
    size_t nblocking;   /* of those, blocking */
    size_t nexcepted;
    size_t nobjects, nrules;
};

#define SL_POLICY_REPORT_INIT                                                                      \
    {                                                                                              \
        NULL, SL_POLICY_OFF, NULL, 0, 0, 0, 0, 0, 0, 0                                             \
    }

int sl_policy_set_new(struct sl_policy_set **out, struct sl_error *err);
void sl_policy_set_free(struct sl_policy_set *set);

/*
 * Add the rules of one rule file (data, len bytes; name for messages). A
 * rule whose id already exists replaces the earlier one (later directories
 * override the shipped defaults). Every problem is added to diags as
 * "name:line: message" (when diags is non-NULL); on any problem the set is
 * left unchanged and -1 is returned with the first one in err.
 */
int sl_policy_parse(struct sl_policy_set *set, const char *data, size_t len, const char *name,
                    struct sl_diags *diags, struct sl_error *err);
/* Add every *.yaml / *.yml file of dir in name order (not recursive). */
int sl_policy_load_dir(struct sl_policy_set *set, const char *dir, struct sl_diags *diags,
                       struct sl_error *err);

/*
 * The shipped default directory: for a binary inside its build tree, the
 * source tree's policies/; otherwise next to the running binary
 * (<prefix>/bin/../share/sluice/policies), then the configured install
 * prefix.
 * Writes the path into out; SL_ENOTFOUND when none exists.
 */
int sl_policy_default_dir(struct sl_buf *out, struct sl_error *err);

/*
 * Load the set sluice uses: dirs (when ndirs > 0) instead of the shipped
 * default directory, then every directory in cfg->policy_dirs (cfg may be
 * NULL).
 */
int sl_policy_set_load(struct sl_policy_set **out, const char *const *dirs, size_t ndirs,
                       const struct sl_config *cfg, struct sl_diags *diags, struct sl_error *err);

size_t sl_policy_set_count(const struct sl_policy_set *set); /* enabled rules */
/* [{id, description, severity, action, enabled, file, line}] in evaluation order. */
json_t *sl_policy_set_json(const struct sl_policy_set *set);
const char *sl_policy_rule_id(const struct sl_policy_set *set, size_t i);

/*
 * Evaluate set on objs for environment env in mode (SL_POLICY_OFF: nothing
 * is evaluated, the report is empty). rep must be initialised
 * (SL_POLICY_REPORT_INIT); findings are appended. Returns the number of
 * blocking violations (>= 0) or -1 on an internal error (out of memory).
 */
int sl_policy_check(const struct sl_policy_set *set, const struct sl_objlist *objs, const char *env,
                    enum sl_policy_mode mode, struct sl_policy_report *rep, struct sl_error *err);
void sl_policy_report_release(struct sl_policy_report *rep);

/*
 * Point each finding at the line of its field in the file users edit,
 * instead of the start of the object's document: read the finding's origin
 * file from tree (the tree the objects were rendered from), walk the field
 * path through the document and take the line of the deepest part that
 * exists there (the field itself, or the container or mapping that lacks
 * it). List elements with a name (containers, volumes, ports) are matched by
 * name, so elements added or reordered by patches do not mislead it. objs
 * must be the list rep was produced from. Findings whose file cannot be read
 * or parsed keep the document line; only out-of-memory fails.
 */
int sl_policy_report_locate(struct sl_policy_report *rep, const struct sl_objlist *objs,
                            struct sl_tree *tree, struct sl_error *err);

/*
 * Text lines, one per finding:
 *   ORIGIN: RULE: MESSAGE
 *   ORIGIN: RULE: MESSAGE (excepted: REASON)
 * with "[warn] " in front of non-blocking violations in enforce mode.
 */
int sl_policy_report_format(const struct sl_policy_report *rep, struct sl_buf *out,
                            struct sl_error *err);
/* {"environment","mode","objects","rules","violations","blocking","excepted","findings":[...]} */
json_t *sl_policy_report_json(const struct sl_policy_report *rep);

const char *sl_policy_severity_name(enum sl_policy_severity s);

#endif
