/*
 * The policy engine: the language (parser errors, operators, paths,
 * matching, exceptions, reports) on small inline rule sets, and the shipped
 * default set on the fixtures in data/policy/cases/: every object there
 * names the rule violations it must produce in the annotation
 * test.sluice.dev/expect ("rule" or "rule@field", comma-separated, or
 * "none"), and the test requires exactly those, so passing fixtures pass
 * every rule and failing fixtures fail only where intended.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file.h"
#include "object.h"
#include "policy.h"

int tp_objects_from_yaml(struct sl_objlist *l, const char *data, size_t len, const char *name,
                         struct sl_error *err);
int tp_objects_from_file(struct sl_objlist *l, const char *path, const char *name,
                         struct sl_error *err);

#define CASES      SLUICE_TEST_DATA "/policy/cases"
#define EXPECT_KEY "test.sluice.dev/expect"

static struct sl_policy_set *load_defaults(void)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *dirs[] = {SLUICE_SOURCE_DIR "/policies"};

    if (sl_policy_set_load(&set, dirs, 1, NULL, &d, &err) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fail_msg("loading the default policies: %s", err.msg);
    }
    sl_diags_release(&d);
    return set;
}

static struct sl_policy_set *parse_set(const char *yaml)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_policy_set_new(&set, &err), 0);
    if (sl_policy_parse(set, yaml, strlen(yaml), "inline.yaml", &d, &err) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fail_msg("parse: %s", err.msg);
    }
    sl_diags_release(&d);
    return set;
}

/* Parse must fail; the first diagnostic must contain want. */
static void parse_fails(const char *yaml, const char *want)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_policy_set_new(&set, &err), 0);
    assert_int_equal(sl_policy_parse(set, yaml, strlen(yaml), "bad.yaml", &d, &err), -1);
    assert_true(d.n > 0);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    assert_int_equal(sl_policy_set_count(set), 0);
    sl_diags_release(&d);
    sl_policy_set_free(set);
}

static int run(const struct sl_policy_set *set, const char *objs_yaml, const char *env,
               enum sl_policy_mode mode, struct sl_policy_report *rep)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int rc;

    assert_int_equal(tp_objects_from_yaml(&l, objs_yaml, strlen(objs_yaml), "objs.yaml", &err), 0);
    rc = sl_policy_check(set, &l, env, mode, rep, &err);
    assert_true(rc >= 0);
    sl_objlist_release(&l);
    return rc;
}

/* ---- the default set on the fixtures ---- */

struct seen {
    char ids[200][SL_POLICY_ID_MAX + 1];
    size_t n;
};

static void seen_add(struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return;
    assert_true(s->n < 200);
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
}

static bool finding_is(const struct sl_policy_finding *f, const char *want)
{
    const char *at = strchr(want, '@');
    size_t idlen = at != NULL ? (size_t)(at - want) : strlen(want);
    if (strlen(f->rule) != idlen || strncmp(f->rule, want, idlen) != 0)
        return false;
    return at == NULL || strcmp(f->field, at + 1) == 0;
}

static void check_case_file(const struct sl_policy_set *set, const char *file, struct seen *fired,
                            size_t *npassing)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_error err = SL_ERROR_INIT;
    char path[1024], name[512];

    snprintf(path, sizeof(path), "%s/%s", CASES, file);
    snprintf(name, sizeof(name), "cases/%s", file);
    if (tp_objects_from_file(&l, path, name, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err) >= 0);
    for (size_t i = 0; i < l.n; i++) {
        const json_t *md = json_object_get(l.items[i].json, "metadata");
        const char *expect =
                json_string_value(json_object_get(json_object_get(md, "annotations"), EXPECT_KEY));
        char id[512], origin[600], buf[2048];
        bool used[4096] = {false};
        size_t nexpected = 0, nfound = 0;

        sl_object_id(l.items[i].json, id, sizeof(id));
        sl_origin_str(&l.items[i].origin, origin, sizeof(origin));
        if (expect == NULL)
            fail_msg("%s: %s has no %s annotation", origin, id, EXPECT_KEY);
        assert_true(rep.n < 4096);
        /* Every expected entry matches one finding of this object. */
        if (strcmp(expect, "none") != 0) {
            snprintf(buf, sizeof(buf), "%s", expect);
            for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok != NULL;
                 tok = strtok_r(NULL, ", ", &save)) {
                bool ok = false;
                nexpected++;
                for (size_t k = 0; k < rep.n && !ok; k++) {
                    if (used[k] || strcmp(rep.items[k].object, id) != 0 ||
                        strcmp(rep.items[k].origin, origin) != 0)
                        continue;
                    if (finding_is(&rep.items[k], tok)) {
                        used[k] = ok = true;
                        seen_add(fired, rep.items[k].rule);
                    }
                }
                if (!ok) {
                    for (size_t k = 0; k < rep.n; k++)
                        if (strcmp(rep.items[k].origin, origin) == 0)
                            fprintf(stderr, "  got %s @%s: %s\n", rep.items[k].rule,
                                    rep.items[k].field, rep.items[k].message);
                    fail_msg("%s: %s: expected violation %s not reported", origin, id, tok);
                }
            }
        }
        for (size_t k = 0; k < rep.n; k++) {
            if (strcmp(rep.items[k].object, id) != 0 || strcmp(rep.items[k].origin, origin) != 0)
                continue;
            nfound++;
            if (!used[k])
                fail_msg("%s: %s: unexpected violation %s @%s: %s", origin, id, rep.items[k].rule,
                         rep.items[k].field, rep.items[k].message);
        }
        assert_int_equal(nfound, nexpected);
        if (nexpected == 0)
            (*npassing)++;
    }
    sl_policy_report_release(&rep);
    sl_objlist_release(&l);
}

static void test_default_set_fixtures(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct seen fired = {.n = 0};
    size_t npassing = 0, nfiles = 0;
    DIR *d = opendir(CASES);
    struct dirent *de;

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        check_case_file(set, de->d_name, &fired, &npassing);
        nfiles++;
    }
    closedir(d);
    assert_true(nfiles >= 5);
    assert_true(npassing >= 10);
    /* Every enabled default rule fails on at least one fixture. */
    for (size_t i = 0; sl_policy_rule_id(set, i) != NULL; i++) {
        const char *id = sl_policy_rule_id(set, i);
        bool found = false;
        if (strcmp(id, "images.allowed-registries") == 0)
            continue; /* disabled by default; tested in test_allowed_registries_override */
        for (size_t k = 0; k < fired.n && !found; k++)
            found = strcmp(fired.ids[k], id) == 0;
        if (!found)
            fail_msg("default rule %s has no failing fixture", id);
    }
    sl_policy_set_free(set);
}

/* ---- the language ---- */

#define HDR "apiVersion: policy.sluice.dev/v1\nkind: RuleSet\nrules:\n"

static const char POD[] = "apiVersion: v1\n"
                          "kind: Pod\n"
                          "metadata:\n"
                          "  name: p\n"
                          "  namespace: ns\n"
                          "  labels: {app: web, tier: front}\n"
                          "spec:\n"
                          "  securityContext: {runAsUser: 1000}\n"
                          "  containers:\n"
                          "    - name: a\n"
                          "      image: nginx:1.25\n"
                          "      resources: {limits: {cpu: 500m, memory: 1Gi}}\n"
                          "      ports: [{containerPort: 80}, {containerPort: 81}]\n"
                          "    - name: b\n"
                          "      image: nginx:latest\n"
                          "      securityContext: {runAsUser: 0}\n"
                          "      resources: {limits: {cpu: 2, memory: 4Gi}}\n";

static size_t count_rule(const struct sl_policy_report *rep, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n; i++)
        n += strcmp(rep->items[i].rule, rule) == 0 && !rep->items[i].excepted;
    return n;
}

/* Run one rule (YAML list item text) on POD; return the violations. */
static size_t run_rule(const char *rule_yaml, struct sl_policy_report *rep)
{
    char buf[4096];
    struct sl_policy_set *set;
    snprintf(buf, sizeof(buf), HDR "%s", rule_yaml);
    set = parse_set(buf);
    run(set, POD, "prod", SL_POLICY_ENFORCE, rep);
    sl_policy_set_free(set);
    return rep->nviolations;
}

static size_t rule_violations(const char *rule_yaml)
{
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    size_t n = run_rule(rule_yaml, &rep);
    sl_policy_report_release(&rep);
    return n;
}

#define RULE(scope, check)                                                                         \
    "  - id: t.r\n    description: d\n    severity: low\n    scope: " scope "\n    "               \
    "checks:\n" check

static void test_operators(void **state)
{
    (void)state;
    /* quantity comparisons: container a 500m/1Gi, b 2/4Gi */
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.cpu, op: le, value: '2'}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.cpu, op: lt, value: '2'}\n")),
            1);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.cpu, op: gt, value: 0.5}\n")),
            1);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.cpu, op: ge, value: 500m}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.memory, op: le, value: 4Gi}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.limits.memory, op: le, value: 4G}\n")),
            1);
    assert_int_equal(rule_violations(RULE(
                             "containers",
                             "      - {path: resources.limits.memory, op: lt, value: 1025Mi}\n")),
                     1);
    /* absent: comparisons fail unless ifAbsent: pass */
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: resources.requests.cpu, op: le, value: '1'}\n")),
            2);
    assert_int_equal(rule_violations(RULE("containers", "      - {path: resources.requests.cpu, "
                                                        "op: le, value: '1', ifAbsent: pass}\n")),
                     0);
    /* equality and sets */
    assert_int_equal(
            rule_violations(
                    RULE("containers", "      - {path: image, op: equals, value: 'nginx:1.25'}\n")),
            1);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {path: image, op: notEquals, value: 'nginx:1.25'}\n")),
            1);
    assert_int_equal(
            rule_violations(RULE("containers", "      - {path: name, op: in, values: [a, b]}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("containers", "      - {path: name, op: notIn, values: [a]}\n")),
            1);
    /* regex */
    assert_int_equal(
            rule_violations(
                    RULE("containers", "      - {path: image, op: matches, value: ':[0-9.]+$'}\n")),
            1);
    assert_int_equal(
            rule_violations(
                    RULE("containers", "      - {path: image, op: notMatches, value: latest}\n")),
            1);
    /* exists / absent, lists with [*] and [N] */
    assert_int_equal(rule_violations(RULE("containers", "      - {path: ports, op: exists}\n")), 1);
    assert_int_equal(rule_violations(RULE("containers",
                                          "      - {path: 'ports[*].hostPort', op: absent}\n")),
                     0);
    assert_int_equal(rule_violations(RULE(
                             "containers",
                             "      - {path: 'ports[*].containerPort', op: lt, value: '81'}\n")),
                     2);
    assert_int_equal(rule_violations(RULE(
                             "containers",
                             "      - {path: 'ports[1].containerPort', op: equals, value: 81}\n")),
                     1);
    /* $pod and $object roots; container overrides pod */
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - {paths: [securityContext.runAsUser, "
                                 "$pod.securityContext.runAsUser], op: notEquals, value: 0}\n")),
            1);
    assert_int_equal(
            rule_violations(
                    RULE("containers",
                         "      - {path: $object.metadata.labels.app, op: equals, value: web}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE(
                    "object", "      - {path: 'spec.containers[*].name', op: in, values: [a]}\n")),
            1);
    /* map keys, bracket keys, contains */
    assert_int_equal(
            rule_violations(
                    RULE("object", "      - {path: metadata.labels, op: keysIn, values: [app]}\n")),
            1);
    assert_int_equal(
            rule_violations(RULE(
                    "object",
                    "      - {path: 'metadata[\"labels\"].tier', op: equals, value: front}\n")),
            0);
    assert_int_equal(
            rule_violations(
                    RULE("object",
                         "      - {path: 'metadata.labels[*]', op: in, values: [web, front]}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("podSpec",
                                 "      - {path: 'containers[*].name', op: in, values: [a, b]}\n")),
            0);
    /* combinators */
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - anyOf:\n          - {path: image, op: matches, value: "
                                 "'1.25$'}\n          - {path: name, op: equals, value: b}\n")),
            0);
    assert_int_equal(
            rule_violations(RULE("containers",
                                 "      - allOf:\n          - {path: image, op: matches, value: "
                                 "nginx}\n          - {path: name, op: equals, value: b}\n")),
            1);
    assert_int_equal(rule_violations(RULE("containers",
                                          "      - not: {path: name, op: equals, value: b}\n")),
                     1);
}

static void test_messages_and_fields(void **state)
{
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    (void)state;

    assert_int_equal(
            run_rule("  - id: t.root\n    description: d\n    severity: high\n"
                     "    scope: containers\n    message: runs as {value} ({field})\n"
                     "    checks:\n"
                     "      - paths: [securityContext.runAsUser, $pod.securityContext.runAsUser]\n"
                     "        op: notEquals\n        value: 0\n",
                     &rep),
            1);
    assert_string_equal(rep.items[0].field, "spec.containers[1].securityContext.runAsUser");
    assert_string_equal(rep.items[0].origin, "objs.yaml:1");
    assert_string_equal(rep.items[0].object, "Pod ns/p");
    assert_string_equal(rep.items[0].message, "Pod ns/p container \"b\" runs as 0 "
                                              "(spec.containers[1].securityContext.runAsUser)");
    assert_true(rep.items[0].blocking);
    assert_int_equal(sl_policy_report_format(&rep, &out, &err), 0);
    assert_string_equal(out.ptr, "objs.yaml:1: t.root: Pod ns/p container \"b\" runs as 0 "
                                 "(spec.containers[1].securityContext.runAsUser)\n");
    {
        json_t *j = sl_policy_report_json(&rep);
        json_t *f = json_array_get(json_object_get(j, "findings"), 0);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "environment")), "prod");
        assert_string_equal(json_string_value(json_object_get(j, "mode")), "enforce");
        assert_int_equal(json_integer_value(json_object_get(j, "blocking")), 1);
        assert_string_equal(json_string_value(json_object_get(f, "rule")), "t.root");
        assert_string_equal(json_string_value(json_object_get(f, "severity")), "high");
        assert_string_equal(json_string_value(json_object_get(f, "field")),
                            "spec.containers[1].securityContext.runAsUser");
        json_decref(j);
    }
    sl_policy_report_release(&rep);
    /* absent field: the default message names the path */
    assert_int_equal(
            run_rule(RULE("containers", "      - {path: readinessProbe, op: exists}\n"), &rep), 2);
    assert_string_equal(rep.items[0].message,
                        "Pod ns/p container \"a\" does not satisfy t.r: readinessProbe is not set");
    assert_string_equal(rep.items[0].field, "spec.containers[0].readinessProbe");
    sl_policy_report_release(&rep);
    /* a pod-level field checked from each container: once per object, no container named */
    assert_int_equal(run_rule("  - id: t.pod\n    description: d\n    severity: high\n"
                              "    scope: containers\n    checks:\n"
                              "      - {path: $pod.securityContext.runAsUser, op: equals, "
                              "value: 0, message: 'the pod runs as {value}'}\n",
                              &rep),
                     1);
    assert_string_equal(rep.items[0].message, "Pod ns/p the pod runs as 1000");
    assert_string_equal(rep.items[0].field, "spec.securityContext.runAsUser");
    sl_policy_report_release(&rep);
    sl_buf_release(&out);
}

static void test_match(void **state)
{
    (void)state;
#define M(match)                                                                                   \
    "  - id: t.m\n    description: d\n    severity: low\n    match: " match                        \
    "\n    forbidden: true\n"
    assert_int_equal(rule_violations(M("{kinds: [Pod]}")), 1);
    assert_int_equal(rule_violations(M("{kinds: [Deployment]}")), 0);
    assert_int_equal(rule_violations(M("{apiGroups: ['']}")), 1);
    assert_int_equal(rule_violations(M("{apiGroups: [apps]}")), 0);
    assert_int_equal(rule_violations(M("{namespaces: ['n*']}")), 1);
    assert_int_equal(rule_violations(M("{namespaces: [other]}")), 0);
    assert_int_equal(rule_violations(M("{excludeNamespaces: [ns]}")), 0);
    assert_int_equal(rule_violations(M("{names: [p]}")), 1);
    assert_int_equal(rule_violations(M("{environments: [prod, stage]}")), 1);
    assert_int_equal(rule_violations(M("{environments: [dev]}")), 0);
    assert_int_equal(rule_violations(M("{excludeEnvironments: [prod]}")), 0);
    assert_int_equal(rule_violations(M("{labelSelector: {matchLabels: {app: web}}}")), 1);
    assert_int_equal(rule_violations(M("{labelSelector: {matchLabels: {app: db}}}")), 0);
    assert_int_equal(rule_violations(M("{labelSelector: {matchExpressions: [{key: tier, operator: "
                                       "In, values: [front, back]}]}}")),
                     1);
    assert_int_equal(rule_violations(M("{labelSelector: {matchExpressions: [{key: tier, operator: "
                                       "NotIn, values: [front]}]}}")),
                     0);
    assert_int_equal(
            rule_violations(M(
                    "{labelSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}}")),
            1);
    assert_int_equal(
            rule_violations(
                    M("{labelSelector: {matchExpressions: [{key: team, operator: Exists}]}}")),
            0);
    assert_int_equal(rule_violations(M("{plainInGit: true}")), 1);
    assert_int_equal(rule_violations(M("{plainInGit: false}")), 0);
#undef M
}

static void test_modes_and_actions(void **state)
{
    struct sl_policy_set *set =
            parse_set(HDR "  - {id: t.deny, description: d, severity: high, match: {kinds: [Pod]}, "
                          "forbidden: true}\n"
                          "  - {id: t.warn, description: d, severity: low, action: warn, match: "
                          "{kinds: [Pod]}, forbidden: true}\n");
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    (void)state;

    assert_int_equal(run(set, POD, "prod", SL_POLICY_ENFORCE, &rep), 1);
    assert_int_equal(rep.nviolations, 2);
    assert_int_equal(rep.nblocking, 1);
    assert_int_equal(sl_policy_report_format(&rep, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "objs.yaml:1: t.deny: Pod ns/p is not allowed\n"));
    assert_non_null(strstr(out.ptr, "objs.yaml:1: [warn] t.warn: Pod ns/p is not allowed\n"));
    sl_policy_report_release(&rep);
    assert_int_equal(run(set, POD, "dev", SL_POLICY_WARN, &rep), 0);
    assert_int_equal(rep.nviolations, 2);
    assert_int_equal(rep.nblocking, 0);
    sl_policy_report_release(&rep);
    assert_int_equal(run(set, POD, "dev", SL_POLICY_OFF, &rep), 0);
    assert_int_equal(rep.n, 0);
    sl_policy_report_release(&rep);
    sl_buf_release(&out);
    sl_policy_set_free(set);
}

static void test_exceptions(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    static const char svc[] =
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: lb\n  namespace: edge\n"
            "  annotations:\n"
            "    sluice.dev/policy-exception.services.external-type: \"public ingress, INC-42\"\n"
            "spec: {type: LoadBalancer}\n"
            "---\n"
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: np\n  namespace: edge\n"
            "  annotations:\n"
            "    sluice.dev/policy-exception.services.external-type: \"  \"\n"
            "spec: {type: NodePort}\n";
    (void)state;

    assert_int_equal(run(set, svc, "prod", SL_POLICY_ENFORCE, &rep), 1);
    assert_int_equal(rep.nviolations, 1);
    assert_int_equal(rep.nexcepted, 1);
    /* violations come first, exceptions after, and both are printed */
    assert_false(rep.items[0].excepted);
    assert_true(rep.items[1].excepted);
    assert_string_equal(rep.items[1].reason, "public ingress, INC-42");
    assert_false(rep.items[1].blocking);
    assert_int_equal(sl_policy_report_format(&rep, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "objs.yaml:10: services.external-type: Service edge/np is of "
                                    "type NodePort (NodePort and LoadBalancer are not allowed "
                                    "here) (exception annotation "
                                    "sluice.dev/policy-exception.services.external-type "
                                    "ignored: the reason is empty)\n"));
    assert_non_null(strstr(out.ptr, "objs.yaml:1: services.external-type: Service edge/lb is of "
                                    "type LoadBalancer (NodePort and LoadBalancer are not "
                                    "allowed here) (excepted: public ingress, INC-42)\n"));
    sl_policy_report_release(&rep);
    sl_buf_release(&out);
    sl_policy_set_free(set);
}

/* The secret flag (set by secretGenerator and unsealing) decides what is "plain in git". */
static void test_secret_flag(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char sec[] = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\n"
                              "stringData: {password: hunter2}\n";
    (void)state;

    assert_int_equal(tp_objects_from_yaml(&l, sec, strlen(sec), "s.yaml", &err), 0);
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 1);
    assert_string_equal(rep.items[0].rule, "secrets.no-plain-secret");
    assert_null(strstr(rep.items[0].message, "hunter2"));
    sl_policy_report_release(&rep);
    l.items[0].secret = true;
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 0);
    sl_policy_report_release(&rep);
    sl_objlist_release(&l);
    sl_policy_set_free(set);
}

/* Values of objects flagged secret never appear in messages. */
static void test_secret_values_masked(void **state)
{
    struct sl_policy_set *set =
            parse_set(HDR "  - {id: t.s, description: d, severity: low, message: 'has {value}',\n"
                          "     checks: [{path: data.password, op: equals, value: x}]}\n");
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char sec[] = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                              "data: {password: aHVudGVyMg==}\n";
    (void)state;

    assert_int_equal(tp_objects_from_yaml(&l, sec, strlen(sec), "s.yaml", &err), 0);
    l.items[0].secret = true;
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 1);
    assert_null(strstr(rep.items[0].message, "aHVudGVyMg"));
    assert_non_null(strstr(rep.items[0].message, "hidden"));
    sl_policy_report_release(&rep);
    /* a plain core Secret too */
    l.items[0].secret = false;
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 1);
    assert_null(strstr(rep.items[0].message, "aHVudGVyMg"));
    sl_policy_report_release(&rep);
    sl_objlist_release(&l);
    sl_policy_set_free(set);
}

static void test_override_and_disable(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    size_t before = sl_policy_set_count(set);
    static const char over[] =
            HDR "  - {id: images.tag, enabled: false}\n"
                "  - id: images.allowed-registries\n"
                "    description: only our registry\n"
                "    severity: high\n"
                "    scope: containers\n"
                "    checks: [{path: image, op: matches, value: '^registry\\.example\\.com/'}]\n";
    static const char pod[] = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\n"
                              "spec:\n  containers:\n    - {name: a, image: 'nginx:latest'}\n"
                              "    - {name: b, image: 'registry.example.com/x:1'}\n";
    (void)state;

    assert_int_equal(sl_policy_parse(set, over, strlen(over), "over.yaml", &d, &err), 0);
    assert_int_equal(sl_policy_set_count(set), before); /* one off, one on */
    run(set, pod, "prod", SL_POLICY_ENFORCE, &rep);
    assert_int_equal(count_rule(&rep, "images.tag"), 0);
    assert_int_equal(count_rule(&rep, "images.allowed-registries"), 1);
    sl_policy_report_release(&rep);
    sl_diags_release(&d);
    sl_policy_set_free(set);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_fails("rules: [", "bad.yaml:");
    parse_fails(HDR "  - {id: x, description: d, severity: low, forbidden: true, colour: red}\n",
                "bad.yaml:4: unknown key \"colour\" in a rule");
    parse_fails(HDR "  - {description: d, severity: low, forbidden: true}\n", "needs an id");
    parse_fails(HDR "  - {id: Bad_Id, description: d, severity: low, forbidden: true}\n",
                "id \"Bad_Id\"");
    parse_fails(HDR "  - {id: x, severity: low, forbidden: true}\n", "description is required");
    parse_fails(HDR "  - {id: x, description: d, forbidden: true}\n", "severity is required");
    parse_fails(HDR "  - {id: x, description: d, severity: urgent, forbidden: true}\n",
                "severity: expected");
    parse_fails(HDR "  - {id: x, description: d, severity: low}\n", "needs exactly one of");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, checks: [{path: a, op: like, value: b}]}\n",
            "unknown operator \"like\"");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, checks: [{path: 'a..b', op: exists}]}\n",
            "path \"a..b\"");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, checks: [{path: 'a[x]', op: exists}]}\n",
            "path \"a[x]\"");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, checks: [{path: '$node.a', op: exists}]}\n",
            "only $pod and $object");
    parse_fails(HDR "  - {id: x, description: d, severity: low, checks: [{path: a, op: matches, "
                    "value: '(['}]}\n",
                "invalid regular expression");
    parse_fails(HDR "  - {id: x, description: d, severity: low, checks: [{path: a, op: le, value: "
                    "2 cores}]}\n",
                "not a Kubernetes quantity");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, checks: [{path: a, op: in, value: b}]}\n",
            "needs values");
    parse_fails(HDR "  - {id: x, description: d, severity: low, checks: [{path: a, op: exists, "
                    "value: b}]}\n",
                "takes no value");
    parse_fails(HDR "  - {id: x, description: d, severity: low, checks: [{op: exists}]}\n",
                "exactly one of path or paths");
    parse_fails(HDR "  - {id: x, description: d, severity: low, forbidden: true}\n"
                    "  - {id: x, description: d, severity: low, forbidden: true}\n",
                "defined twice");
    parse_fails("apiVersion: v2\nrules: []\n", "apiVersion: expected policy.sluice.dev/v1");
    parse_fails(
            HDR
            "  - {id: x, description: d, severity: low, scope: podSpec, require: {kinds: [A]}}\n",
            "scope object only");
    parse_fails(HDR "  - {id: x, description: d, severity: low, containerTypes: [containers], "
                    "forbidden: true}\n",
                "needs scope containers");
    /* nesting is bounded */
    parse_fails(HDR "  - {id: x, description: d, severity: low, checks: [{not: {not: {not: {not: "
                    "{not: {not: {not: {not: {not: {not: {path: a, op: exists}}}}}}}}}}}]}\n",
                "nested deeper");
}

static void test_all_errors_reported(void **state)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char bad[] = HDR "  - {id: a, description: d, severity: low, forbidden: true}\n"
                                  "  - {id: b, severity: low, forbidden: true}\n"
                                  "  - {id: c, description: d, severity: bad, forbidden: true}\n";
    (void)state;
    assert_int_equal(sl_policy_set_new(&set, &err), 0);
    assert_int_equal(sl_policy_parse(set, bad, strlen(bad), "bad.yaml", &d, &err), -1);
    assert_int_equal(d.n, 2);
    assert_non_null(strstr(d.msgs[0], "bad.yaml:5:"));
    assert_non_null(strstr(d.msgs[1], "bad.yaml:6:"));
    assert_non_null(strstr(err.msg, "(and 1 more)"));
    /* the valid rule a was not added: a file is all or nothing */
    assert_int_equal(sl_policy_set_count(set), 0);
    sl_diags_release(&d);
    sl_policy_set_free(set);
}

static void test_load_dir_and_default(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct sl_buf dir = SL_BUF_INIT(4096);
    struct sl_error err = SL_ERROR_INIT;
    (void)state;
    assert_true(sl_policy_set_count(set) >= 25);
    /* The test binary is not installed: the source tree's policies/ is found. */
    assert_int_equal(sl_policy_default_dir(&dir, &err), 0);
    assert_non_null(strstr(dir.ptr, "policies"));
    sl_buf_release(&dir);
    sl_policy_set_free(set);
}

/* Findings point at the field's line in the source file, matching list items by name. */
static void test_locate(void **state)
{
    struct sl_policy_set *set = parse_set(
            HDR "  - {id: t.priv, description: d, severity: high, scope: containers,\n"
                "     checks: [{path: securityContext.privileged, op: notEquals, value: true}]}\n"
                "  - {id: t.probe, description: d, severity: high, scope: containers,\n"
                "     checks: [{path: readinessProbe, op: exists}]}\n"
                "  - {id: t.user, description: d, severity: high, scope: podSpec,\n"
                "     checks: [{path: securityContext.runAsUser, op: notEquals, value: 0}]}\n"
                "  - {id: t.cm, description: d, severity: low, match: {kinds: [ConfigMap]},\n"
                "     forbidden: true}\n");
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_tree *tree;
    json_t *containers, *first;
    (void)state;

    assert_int_equal(tp_objects_from_file(&l, SLUICE_TEST_DATA "/policy/locate/deploy.yaml",
                                          "deploy.yaml", &err),
                     0);
    assert_int_equal(l.items[1].origin.line, 6);
    /* A patch reordered the containers: the source is matched by name, not index. */
    containers = json_object_get(
            json_object_get(json_object_get(json_object_get(l.items[1].json, "spec"), "template"),
                            "spec"),
            "containers");
    first = json_incref(json_array_get(containers, 0));
    assert_int_equal(json_array_remove(containers, 0), 0);
    assert_int_equal(json_array_append_new(containers, first), 0);

    assert_non_null(tree = sl_tree_open_dir(SLUICE_TEST_DATA "/policy/locate", &err));
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 5);
    assert_int_equal(sl_policy_report_locate(&rep, &l, tree, &err), 0);
    for (size_t i = 0; i < rep.n; i++) {
        const struct sl_policy_finding *f = &rep.items[i];
        if (strcmp(f->rule, "t.cm") == 0) {
            assert_string_equal(f->origin, "deploy.yaml:1");
        } else if (strcmp(f->rule, "t.priv") == 0) {
            assert_string_equal(f->field,
                                "spec.template.spec.containers[0].securityContext.privileged");
            assert_string_equal(f->origin, "deploy.yaml:22");
            assert_int_equal(f->line, 22);
        } else if (strcmp(f->rule, "t.user") == 0) {
            assert_string_equal(f->origin, "deploy.yaml:15");
        } else if (strstr(f->message, "\"web\"") != NULL) {
            /* absent field: the container that lacks it */
            assert_string_equal(f->origin, "deploy.yaml:19");
        } else {
            assert_string_equal(f->message,
                                "Deployment shop/web container \"sidecar\" does not satisfy "
                                "t.probe: readinessProbe is not set");
            assert_string_equal(f->origin, "deploy.yaml:17");
        }
    }
    sl_policy_report_release(&rep);
    /* An unreadable origin keeps the document line. */
    free(l.items[1].origin.file);
    assert_non_null(l.items[1].origin.file = strdup("missing.yaml"));
    assert_int_equal(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err), 5);
    assert_int_equal(sl_policy_report_locate(&rep, &l, tree, &err), 0);
    for (size_t i = 0; i < rep.n; i++)
        if (strcmp(rep.items[i].rule, "t.cm") != 0)
            assert_string_equal(rep.items[i].origin, "missing.yaml:6");
    sl_policy_report_release(&rep);
    sl_tree_free(tree);
    sl_objlist_release(&l);
    sl_policy_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_default_set_fixtures),
            cmocka_unit_test(test_operators),
            cmocka_unit_test(test_messages_and_fields),
            cmocka_unit_test(test_match),
            cmocka_unit_test(test_modes_and_actions),
            cmocka_unit_test(test_exceptions),
            cmocka_unit_test(test_secret_flag),
            cmocka_unit_test(test_secret_values_masked),
            cmocka_unit_test(test_override_and_disable),
            cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_all_errors_reported),
            cmocka_unit_test(test_load_dir_and_default),
            cmocka_unit_test(test_locate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
