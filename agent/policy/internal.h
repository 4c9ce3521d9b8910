/*
 * The parsed form of rule files, shared by the parser (parse.c) and the
 * evaluator (eval.c). Not part of the public contract.
 */
#ifndef SL_POLICY_INTERNAL_H
#define SL_POLICY_INTERNAL_H

#include <regex.h>

#include "policy.h"
#include "quantity.h"

#define PATH_MAX_STEPS  32
#define CHECK_MAX_DEPTH 8

enum step_type { STEP_KEY, STEP_INDEX, STEP_ALL };

struct step {
    enum step_type type;
    char *key;
    const char *ikey; /* key interned in the set: equal keys share one pointer */
    size_t index;
};

/* Where a path starts: the scope item, the pod spec around it, or the object. */
enum path_root { ROOT_SCOPE, ROOT_POD, ROOT_OBJECT };

struct path {
    enum path_root root;
    struct step *steps;
    size_t n;
    char *text; /* as written, for messages */
};

enum op {
    OP_EXISTS,
    OP_ABSENT,
    OP_EQUALS,
    OP_NOT_EQUALS,
    OP_IN,
    OP_NOT_IN,
    OP_MATCHES,
    OP_NOT_MATCHES,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_CONTAINS,
    OP_NOT_CONTAINS,
    OP_KEYS_IN,
    OP_ALL_OF,
    OP_ANY_OF,
    OP_NOT,
};

struct check {
    enum op op;
    struct path *paths; /* alternatives: the first that resolves is used */
    size_t npaths;
    json_t *value;  /* equals, notEquals, contains, notContains */
    json_t *values; /* in, notIn, keysIn: an array */
    regex_t re;
    bool has_re;
    char *pattern;
    struct sl_qty quantity; /* lt le gt ge (agent/core/quantity.h: exact, as Kubernetes) */
    char *quantity_text;
    int if_absent; /* -1 default for the operator, 0 fail, 1 pass */
    char *message;
    struct check *sub; /* allOf, anyOf, not */
    size_t nsub;
    int line;
};

enum scope { SCOPE_OBJECT, SCOPE_POD, SCOPE_CONTAINERS };
enum action { ACTION_DENY, ACTION_WARN };

struct strlist {
    char **v;
    size_t n;
};

struct selector_expr {
    char *key;
    enum { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_NOT_EXISTS } op;
    struct strlist values;
};

struct match {
    struct strlist kinds;
    struct strlist api_groups;
    struct strlist namespaces;
    struct strlist exclude_namespaces;
    struct strlist environments;
    struct strlist exclude_environments;
    struct strlist names;
    json_t *match_labels; /* object or NULL */
    struct selector_expr *exprs;
    size_t nexprs;
    int plain_in_git; /* -1 any, 1 only objects not flagged secret, 0 only flagged */
};

enum require_ns { REQ_NS_NAME, REQ_NS_SAME, REQ_NS_ANY };

struct require {
    struct strlist kinds;
    enum require_ns ns;
    struct check *checks;
    size_t nchecks;
};

struct rule {
    char *id;
    char *description;
    char *message;
    char *file;
    int line;
    enum sl_policy_severity severity;
    enum action action;
    enum scope scope;
    unsigned container_types; /* bit 0 initContainers, 1 containers, 2 ephemeralContainers */
    bool enabled;
    struct match match;
    struct check *checks;
    size_t nchecks;
    struct require *require;
};

struct sl_policy_set {
    struct rule *rules;
    size_t n, cap;
    char **interned; /* distinct path keys, for the evaluator's lookup cache */
    size_t ninterned, capinterned;
};

void policy_rule_release(struct rule *r);

#endif
