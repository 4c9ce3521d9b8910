/*
 * Rule files: YAML documents `{apiVersion: policy.sluice.dev/v1, kind:
 * RuleSet, rules: [...]}` parsed from the node tree so every problem names
 * file:line. Unknown keys are errors; all problems are reported before the
 * file is refused. policies/README.md is the user-facing reference.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "internal.h"
#include "yamltree.h"

#define API_VERSION "policy.sluice.dev/v1"
#define MAX_RULES   10000

struct px {
    const char *name;
    struct sl_diags *d;
    size_t problems;
};

static void problem(struct px *c, const struct sl_ynode *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void problem(struct px *c, const struct sl_ynode *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->problems++;
    if (n != NULL)
        sl_diags_add(c->d, "%s:%d: %s", c->name, n->line, msg);
    else
        sl_diags_add(c->d, "%s: %s", c->name, msg);
}

static void *xcalloc(struct px *c, size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    if (p == NULL)
        problem(c, NULL, "out of memory");
    return p;
}

static char *xstrdup(struct px *c, const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        problem(c, NULL, "out of memory");
    return p;
}

static void strlist_release(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool is_str(const struct sl_ynode *n)
{
    return n != NULL && n->type == SL_Y_SCALAR && !sl_yscalar_is_null(n) &&
           strlen(n->value) == n->len;
}

static bool want_str(struct px *c, const struct sl_ynode *n, const char *what, char **out)
{
    if (!is_str(n)) {
        problem(c, n, "%s: expected a string", what);
        return false;
    }
    free(*out);
    *out = xstrdup(c, n->value);
    return *out != NULL;
}

static bool want_bool(struct px *c, const struct sl_ynode *n, const char *what, bool *out)
{
    if (n->type == SL_Y_SCALAR && n->style == SL_YS_PLAIN) {
        if (strcmp(n->value, "true") == 0) {
            *out = true;
            return true;
        }
        if (strcmp(n->value, "false") == 0) {
            *out = false;
            return true;
        }
    }
    problem(c, n, "%s: expected true or false", what);
    return false;
}

static bool want_map(struct px *c, const struct sl_ynode *n, const char *what)
{
    if (n == NULL || n->type != SL_Y_MAP) {
        problem(c, n, "%s: expected a mapping", what);
        return false;
    }
    return true;
}

static void want_strlist(struct px *c, const struct sl_ynode *n, const char *what,
                         struct strlist *out)
{
    strlist_release(out);
    if (n->type != SL_Y_SEQ) {
        problem(c, n, "%s: expected a list of strings", what);
        return;
    }
    out->v = xcalloc(c, n->n, sizeof(char *));
    if (out->v == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (!is_str(n->items[i])) {
            problem(c, n->items[i], "%s: expected a list of strings", what);
            return;
        }
        if ((out->v[out->n] = xstrdup(c, n->items[i]->value)) == NULL)
            return;
        out->n++;
    }
}

static void unknown_key(struct px *c, const struct sl_ynode *k, const char *where,
                        const char *const *known)
{
    char list[512] = "";
    size_t off = 0;

    for (size_t i = 0; known[i] != NULL && off < sizeof(list); i++) {
        int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", known[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    problem(c, k, "unknown key \"%s\" in %s (known: %s)", k->value, where, list);
}

static bool key_known(const char *k, const char *const *known)
{
    for (size_t i = 0; known[i] != NULL; i++)
        if (strcmp(k, known[i]) == 0)
            return true;
    return false;
}

/* ---- paths ---- */

static bool ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static void path_release(struct path *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->steps[i].key);
    free(p->steps);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

/* Path grammar: [$pod. | $object.] step ( '.' ident | '[*]' | '[N]' | '["key"]' )* */
static int parse_path(struct px *c, const struct sl_ynode *n, struct path *p)
{
    const char *s = n->value;
    const char *err = NULL;
    bool need_sep = false;

    memset(p, 0, sizeof(*p));
    if ((p->text = xstrdup(c, s)) == NULL)
        return -1;
    if ((p->steps = xcalloc(c, PATH_MAX_STEPS, sizeof(struct step))) == NULL)
        return -1;
    if (strncmp(s, "$pod", 4) == 0 && (s[4] == '.' || s[4] == '[' || s[4] == '\0')) {
        p->root = ROOT_POD;
        s += 4;
        need_sep = true;
    } else if (strncmp(s, "$object", 7) == 0 && (s[7] == '.' || s[7] == '[' || s[7] == '\0')) {
        p->root = ROOT_OBJECT;
        s += 7;
        need_sep = true;
    } else if (*s == '$') {
        err = "only $pod and $object may start a path";
    }
    while (err == NULL && *s != '\0') {
        struct step *st;
        if (p->n == PATH_MAX_STEPS) {
            err = "too many steps";
            break;
        }
        st = &p->steps[p->n];
        if (*s == '.') {
            if (!need_sep) {
                err = "unexpected '.'";
                break;
            }
            s++;
            if (*s == '\0' || *s == '.' || *s == '[') {
                err = "empty step after '.'";
                break;
            }
        } else if (*s != '[' && need_sep) {
            err = "expected '.' or '['";
            break;
        }
        if (*s == '[') {
            s++;
            if (s[0] == '*' && s[1] == ']') {
                st->type = STEP_ALL;
                s += 2;
            } else if (*s == '"' || *s == '\'') {
                char q = *s++;
                const char *e = strchr(s, q);
                if (e == NULL || e[1] != ']' || e == s) {
                    err = "unterminated or empty quoted key";
                    break;
                }
                st->type = STEP_KEY;
                if ((st->key = strndup(s, (size_t)(e - s))) == NULL) {
                    err = "out of memory";
                    break;
                }
                s = e + 2;
            } else if (*s >= '0' && *s <= '9') {
                size_t v = 0;
                while (*s >= '0' && *s <= '9') {
                    if (v > 100000) {
                        err = "index too large";
                        break;
                    }
                    v = v * 10 + (size_t)(*s++ - '0');
                }
                if (err != NULL)
                    break;
                if (*s != ']') {
                    err = "expected ']'";
                    break;
                }
                s++;
                st->type = STEP_INDEX;
                st->index = v;
            } else {
                err = "expected [*], [N] or [\"key\"]";
                break;
            }
        } else if (*s == '*') {
            st->type = STEP_ALL;
            s++;
        } else {
            const char *b = s;
            while (ident_char(*s))
                s++;
            if (s == b) {
                err = "unexpected character";
                break;
            }
            st->type = STEP_KEY;
            if ((st->key = strndup(b, (size_t)(s - b))) == NULL) {
                err = "out of memory";
                break;
            }
        }
        p->n++;
        need_sep = true;
    }
    if (err == NULL && p->n == 0 && p->root == ROOT_SCOPE)
        err = "empty path";
    if (err != NULL) {
        problem(c, n, "path \"%s\": %s", n->value, err);
        return -1;
    }
    return 0;
}

/* ---- checks ---- */

static const struct {
    const char *name;
    enum op op;
} ops[] = {
        {"exists", OP_EXISTS},
        {"absent", OP_ABSENT},
        {"equals", OP_EQUALS},
        {"notEquals", OP_NOT_EQUALS},
        {"in", OP_IN},
        {"notIn", OP_NOT_IN},
        {"matches", OP_MATCHES},
        {"notMatches", OP_NOT_MATCHES},
        {"lt", OP_LT},
        {"le", OP_LE},
        {"gt", OP_GT},
        {"ge", OP_GE},
        {"contains", OP_CONTAINS},
        {"notContains", OP_NOT_CONTAINS},
        {"keysIn", OP_KEYS_IN},
};

static void check_release(struct check *k)
{
    for (size_t i = 0; i < k->npaths; i++)
        path_release(&k->paths[i]);
    free(k->paths);
    json_decref(k->value);
    json_decref(k->values);
    if (k->has_re)
        regfree(&k->re);
    free(k->pattern);
    free(k->quantity_text);
    free(k->message);
    for (size_t i = 0; i < k->nsub; i++)
        check_release(&k->sub[i]);
    free(k->sub);
    memset(k, 0, sizeof(*k));
}

static void parse_checks(struct px *c, const struct sl_ynode *n, struct check **out, size_t *nout,
                         int depth);

static void parse_check(struct px *c, const struct sl_ynode *n, struct check *k, int depth)
{
    static const char *const known[] = {"path",    "paths", "op",    "value", "values", "ifAbsent",
                                        "message", "allOf", "anyOf", "not",   NULL};
    const struct sl_ynode *op = NULL, *value = NULL, *values = NULL, *path = NULL, *paths = NULL,
                          *allof = NULL, *anyof = NULL, *not = NULL;
    char what[64];

    memset(k, 0, sizeof(*k));
    k->if_absent = -1;
    k->line = n->line;
    if (depth > CHECK_MAX_DEPTH) {
        problem(c, n, "checks nested deeper than %d", CHECK_MAX_DEPTH);
        return;
    }
    if (!want_map(c, n, "check"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct sl_ynode *v = n->items[i];
        if (!key_known(key, known)) {
            unknown_key(c, n->keys[i], "a check", known);
        } else if (strcmp(key, "path") == 0) {
            path = v;
        } else if (strcmp(key, "paths") == 0) {
            paths = v;
        } else if (strcmp(key, "op") == 0) {
            op = v;
        } else if (strcmp(key, "value") == 0) {
            value = v;
        } else if (strcmp(key, "values") == 0) {
            values = v;
        } else if (strcmp(key, "message") == 0) {
            want_str(c, v, "message", &k->message);
        } else if (strcmp(key, "ifAbsent") == 0) {
            if (is_str(v) && strcmp(v->value, "pass") == 0)
                k->if_absent = 1;
            else if (is_str(v) && strcmp(v->value, "fail") == 0)
                k->if_absent = 0;
            else
                problem(c, v, "ifAbsent: expected pass or fail");
        } else if (strcmp(key, "allOf") == 0) {
            allof = v;
        } else if (strcmp(key, "anyOf") == 0) {
            anyof = v;
        } else if (strcmp(key, "not") == 0) {
            not = v;
        }
    }
    if ((allof != NULL) + (anyof != NULL) + (not != NULL) + (op != NULL) != 1) {
        problem(c, n, "a check has exactly one of op, allOf, anyOf or not");
        return;
    }
    if (allof != NULL || anyof != NULL || not != NULL) {
        if (path != NULL || paths != NULL || value != NULL || values != NULL ||
            k->if_absent != -1) {
            problem(c, n, "allOf/anyOf/not take no path, value, values or ifAbsent");
            return;
        }
        if (not != NULL) {
            k->op = OP_NOT;
            if ((k->sub = xcalloc(c, 1, sizeof(*k->sub))) == NULL)
                return;
            k->nsub = 1;
            parse_check(c, not, &k->sub[0], depth + 1);
        } else {
            k->op = allof != NULL ? OP_ALL_OF : OP_ANY_OF;
            parse_checks(c, allof != NULL ? allof : anyof, &k->sub, &k->nsub, depth + 1);
        }
        return;
    }
    if (!is_str(op)) {
        problem(c, op, "op: expected an operator name");
        return;
    }
    {
        size_t i;
        for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(op->value, ops[i].name) == 0)
                break;
        if (i == sizeof(ops) / sizeof(ops[0])) {
            problem(c, op,
                    "op: unknown operator \"%s\" (known: exists, absent, equals, notEquals, in, "
                    "notIn, matches, notMatches, lt, le, gt, ge, contains, notContains, keysIn)",
                    op->value);
            return;
        }
        k->op = ops[i].op;
        snprintf(what, sizeof(what), "op %s", ops[i].name);
    }
    /* Paths */
    if ((path == NULL) == (paths == NULL)) {
        problem(c, n, "a check has exactly one of path or paths");
        return;
    }
    if (path != NULL) {
        if (!is_str(path)) {
            problem(c, path, "path: expected a string");
            return;
        }
        if ((k->paths = xcalloc(c, 1, sizeof(*k->paths))) == NULL)
            return;
        if (parse_path(c, path, &k->paths[0]) == 0)
            k->npaths = 1;
        else
            path_release(&k->paths[0]);
    } else {
        if (paths->type != SL_Y_SEQ || paths->n == 0 || paths->n > 8) {
            problem(c, paths, "paths: expected a list of 1 to 8 paths");
            return;
        }
        if ((k->paths = xcalloc(c, paths->n, sizeof(*k->paths))) == NULL)
            return;
        for (size_t i = 0; i < paths->n; i++) {
            if (!is_str(paths->items[i])) {
                problem(c, paths->items[i], "paths: expected strings");
                return;
            }
            if (parse_path(c, paths->items[i], &k->paths[i]) != 0) {
                path_release(&k->paths[i]);
                return;
            }
            k->npaths++;
        }
    }
    /* Operands */
    switch (k->op) {
    case OP_EXISTS:
    case OP_ABSENT:
        if (value != NULL || values != NULL || k->if_absent != -1)
            problem(c, n, "%s takes no value, values or ifAbsent", what);
        break;
    case OP_EQUALS:
    case OP_NOT_EQUALS:
    case OP_CONTAINS:
    case OP_NOT_CONTAINS:
        if (value == NULL || values != NULL) {
            problem(c, n, "%s needs value (and no values)", what);
            break;
        }
        {
            struct sl_error e = SL_ERROR_INIT;
            k->value = sl_ynode_to_json(value, c->name, &e);
            if (k->value == NULL)
                problem(c, value, "value: %s", e.msg);
        }
        break;
    case OP_IN:
    case OP_NOT_IN:
    case OP_KEYS_IN:
        if (values == NULL || value != NULL || values->type != SL_Y_SEQ) {
            problem(c, values != NULL ? values : n, "%s needs values: a list (and no value)", what);
            break;
        }
        {
            struct sl_error e = SL_ERROR_INIT;
            k->values = sl_ynode_to_json(values, c->name, &e);
            if (k->values == NULL)
                problem(c, values, "values: %s", e.msg);
        }
        break;
    case OP_MATCHES:
    case OP_NOT_MATCHES:
        if (value == NULL || values != NULL || !is_str(value)) {
            problem(c, value != NULL ? value : n, "%s needs value: a regular expression", what);
            break;
        }
        if ((k->pattern = xstrdup(c, value->value)) == NULL)
            break;
        {
            int rc = regcomp(&k->re, value->value, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char ebuf[256];
                regerror(rc, &k->re, ebuf, sizeof(ebuf));
                problem(c, value, "value: invalid regular expression: %s", ebuf);
                break;
            }
            k->has_re = true;
        }
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (value == NULL || values != NULL || value->type != SL_Y_SCALAR) {
            problem(c, value != NULL ? value : n, "%s needs value: a number or quantity", what);
            break;
        }
        if (sl_qty_parse(value->value, &k->quantity) != 0) {
            problem(c, value, "value: \"%s\" is not a Kubernetes quantity", value->value);
            break;
        }
        k->quantity_text = xstrdup(c, value->value);
        break;
    default:
        break;
    }
}

static void parse_checks(struct px *c, const struct sl_ynode *n, struct check **out, size_t *nout,
                         int depth)
{
    if (n->type != SL_Y_SEQ || n->n == 0) {
        problem(c, n, "expected a non-empty list of checks");
        return;
    }
    if ((*out = xcalloc(c, n->n, sizeof(**out))) == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        parse_check(c, n->items[i], &(*out)[i], depth);
        (*nout)++;
    }
}

/* ---- match ---- */

static void parse_selector(struct px *c, const struct sl_ynode *n, struct match *m)
{
    static const char *const known[] = {"matchLabels", "matchExpressions", NULL};
    static const char *const eknown[] = {"key", "operator", "values", NULL};

    if (!want_map(c, n, "labelSelector"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct sl_ynode *v = n->items[i];
        if (strcmp(key, "matchLabels") == 0) {
            struct sl_error e = SL_ERROR_INIT;
            if (!want_map(c, v, "matchLabels"))
                continue;
            json_decref(m->match_labels);
            m->match_labels = sl_ynode_to_json(v, c->name, &e);
            if (m->match_labels == NULL) {
                problem(c, v, "matchLabels: %s", e.msg);
                continue;
            }
            for (size_t j = 0; j < v->n; j++)
                if (!is_str(v->items[j]))
                    problem(c, v->items[j], "matchLabels: values must be strings");
        } else if (strcmp(key, "matchExpressions") == 0) {
            if (v->type != SL_Y_SEQ) {
                problem(c, v, "matchExpressions: expected a list");
                continue;
            }
            if ((m->exprs = xcalloc(c, v->n, sizeof(*m->exprs))) == NULL)
                return;
            for (size_t j = 0; j < v->n; j++) {
                const struct sl_ynode *e = v->items[j];
                struct selector_expr *x = &m->exprs[m->nexprs++];
                char *opname = NULL;
                if (!want_map(c, e, "matchExpressions item"))
                    continue;
                for (size_t k = 0; k < e->n; k++) {
                    const char *ek = e->keys[k]->value;
                    if (strcmp(ek, "key") == 0)
                        want_str(c, e->items[k], "key", &x->key);
                    else if (strcmp(ek, "operator") == 0)
                        want_str(c, e->items[k], "operator", &opname);
                    else if (strcmp(ek, "values") == 0)
                        want_strlist(c, e->items[k], "values", &x->values);
                    else
                        unknown_key(c, e->keys[k], "a match expression", eknown);
                }
                if (x->key == NULL || opname == NULL) {
                    problem(c, e, "a match expression needs key and operator");
                } else if (strcmp(opname, "In") == 0 || strcmp(opname, "NotIn") == 0) {
                    x->op = opname[0] == 'I' ? SEL_IN : SEL_NOT_IN;
                    if (x->values.n == 0)
                        problem(c, e, "operator %s needs values", opname);
                } else if (strcmp(opname, "Exists") == 0 || strcmp(opname, "DoesNotExist") == 0) {
                    x->op = opname[0] == 'E' ? SEL_EXISTS : SEL_NOT_EXISTS;
                    if (x->values.n != 0)
                        problem(c, e, "operator %s takes no values", opname);
                } else {
                    problem(c, e, "operator: expected In, NotIn, Exists or DoesNotExist");
                }
                free(opname);
            }
        } else {
            unknown_key(c, n->keys[i], "labelSelector", known);
        }
    }
}

static void parse_match(struct px *c, const struct sl_ynode *n, struct match *m)
{
    static const char *const known[] = {
            "kinds",        "apiGroups",           "namespaces",    "excludeNamespaces", "names",
            "environments", "excludeEnvironments", "labelSelector", "plainInGit",        NULL};

    if (!want_map(c, n, "match"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct sl_ynode *v = n->items[i];
        if (strcmp(key, "kinds") == 0)
            want_strlist(c, v, key, &m->kinds);
        else if (strcmp(key, "apiGroups") == 0)
            want_strlist(c, v, key, &m->api_groups);
        else if (strcmp(key, "namespaces") == 0)
            want_strlist(c, v, key, &m->namespaces);
        else if (strcmp(key, "excludeNamespaces") == 0)
            want_strlist(c, v, key, &m->exclude_namespaces);
        else if (strcmp(key, "names") == 0)
            want_strlist(c, v, key, &m->names);
        else if (strcmp(key, "environments") == 0)
            want_strlist(c, v, key, &m->environments);
        else if (strcmp(key, "excludeEnvironments") == 0)
            want_strlist(c, v, key, &m->exclude_environments);
        else if (strcmp(key, "labelSelector") == 0)
            parse_selector(c, v, m);
        else if (strcmp(key, "plainInGit") == 0) {
            bool b;
            if (want_bool(c, v, key, &b))
                m->plain_in_git = b ? 1 : 0;
        } else
            unknown_key(c, n->keys[i], "match", known);
    }
}

static void match_release(struct match *m)
{
    strlist_release(&m->kinds);
    strlist_release(&m->api_groups);
    strlist_release(&m->namespaces);
    strlist_release(&m->exclude_namespaces);
    strlist_release(&m->names);
    strlist_release(&m->environments);
    strlist_release(&m->exclude_environments);
    json_decref(m->match_labels);
    for (size_t i = 0; i < m->nexprs; i++) {
        free(m->exprs[i].key);
        strlist_release(&m->exprs[i].values);
    }
    free(m->exprs);
    memset(m, 0, sizeof(*m));
}

static void parse_require(struct px *c, const struct sl_ynode *n, struct require *r)
{
    static const char *const known[] = {"kinds", "namespace", "checks", NULL};

    r->ns = REQ_NS_SAME;
    if (!want_map(c, n, "require"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct sl_ynode *v = n->items[i];
        if (strcmp(key, "kinds") == 0) {
            want_strlist(c, v, key, &r->kinds);
        } else if (strcmp(key, "namespace") == 0) {
            if (is_str(v) && strcmp(v->value, "objectName") == 0)
                r->ns = REQ_NS_NAME;
            else if (is_str(v) && strcmp(v->value, "objectNamespace") == 0)
                r->ns = REQ_NS_SAME;
            else if (is_str(v) && strcmp(v->value, "any") == 0)
                r->ns = REQ_NS_ANY;
            else
                problem(c, v, "namespace: expected objectName, objectNamespace or any");
        } else if (strcmp(key, "checks") == 0) {
            parse_checks(c, v, &r->checks, &r->nchecks, 0);
        } else {
            unknown_key(c, n->keys[i], "require", known);
        }
    }
    if (r->kinds.n == 0)
        problem(c, n, "require: kinds is required");
}

/* ---- rules ---- */

void policy_rule_release(struct rule *r)
{
    free(r->id);
    free(r->description);
    free(r->message);
    free(r->file);
    match_release(&r->match);
    for (size_t i = 0; i < r->nchecks; i++)
        check_release(&r->checks[i]);
    free(r->checks);
    if (r->require != NULL) {
        strlist_release(&r->require->kinds);
        for (size_t i = 0; i < r->require->nchecks; i++)
            check_release(&r->require->checks[i]);
        free(r->require->checks);
        free(r->require);
    }
    memset(r, 0, sizeof(*r));
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SL_POLICY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            return false;
    }
    return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

static void parse_rule(struct px *c, const struct sl_ynode *n, struct rule *r)
{
    static const char *const known[] = {
            "id",      "description", "severity", "action",    "enabled",        "scope", "match",
            "message", "checks",      "require",  "forbidden", "containerTypes", NULL};
    static const char *const sevs[] = {"info", "low", "medium", "high", "critical", NULL};
    bool forbidden = false, have_sev = false;

    memset(r, 0, sizeof(*r));
    r->line = n->line;
    r->enabled = true;
    r->container_types = 7;
    r->match.plain_in_git = -1;
    if ((r->file = xstrdup(c, c->name)) == NULL)
        return;
    if (!want_map(c, n, "rule"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct sl_ynode *v = n->items[i];
        if (strcmp(key, "id") == 0) {
            if (want_str(c, v, key, &r->id) && !valid_id(r->id))
                problem(c, v,
                        "id \"%s\": use lower-case letters, digits, '-' and '.', at most %d "
                        "characters (it becomes part of an annotation name)",
                        r->id, SL_POLICY_ID_MAX);
        } else if (strcmp(key, "description") == 0) {
            want_str(c, v, key, &r->description);
        } else if (strcmp(key, "message") == 0) {
            want_str(c, v, key, &r->message);
        } else if (strcmp(key, "severity") == 0) {
            size_t j;
            for (j = 0; sevs[j] != NULL; j++)
                if (is_str(v) && strcmp(v->value, sevs[j]) == 0)
                    break;
            if (sevs[j] == NULL)
                problem(c, v, "severity: expected info, low, medium, high or critical");
            else
                r->severity = (enum sl_policy_severity)j;
            have_sev = true;
        } else if (strcmp(key, "action") == 0) {
            if (is_str(v) && strcmp(v->value, "deny") == 0)
                r->action = ACTION_DENY;
            else if (is_str(v) && strcmp(v->value, "warn") == 0)
                r->action = ACTION_WARN;
            else
                problem(c, v, "action: expected deny or warn");
        } else if (strcmp(key, "enabled") == 0) {
            want_bool(c, v, key, &r->enabled);
        } else if (strcmp(key, "scope") == 0) {
            if (is_str(v) && strcmp(v->value, "object") == 0)
                r->scope = SCOPE_OBJECT;
            else if (is_str(v) && strcmp(v->value, "podSpec") == 0)
                r->scope = SCOPE_POD;
            else if (is_str(v) && strcmp(v->value, "containers") == 0)
                r->scope = SCOPE_CONTAINERS;
            else
                problem(c, v, "scope: expected object, podSpec or containers");
        } else if (strcmp(key, "match") == 0) {
            parse_match(c, v, &r->match);
        } else if (strcmp(key, "checks") == 0) {
            parse_checks(c, v, &r->checks, &r->nchecks, 0);
        } else if (strcmp(key, "require") == 0) {
            if ((r->require = xcalloc(c, 1, sizeof(*r->require))) != NULL)
                parse_require(c, v, r->require);
        } else if (strcmp(key, "containerTypes") == 0) {
            struct strlist l = {NULL, 0};
            want_strlist(c, v, key, &l);
            r->container_types = 0;
            for (size_t j = 0; j < l.n; j++) {
                if (strcmp(l.v[j], "initContainers") == 0)
                    r->container_types |= 1;
                else if (strcmp(l.v[j], "containers") == 0)
                    r->container_types |= 2;
                else if (strcmp(l.v[j], "ephemeralContainers") == 0)
                    r->container_types |= 4;
                else
                    problem(c, v,
                            "containerTypes: expected initContainers, containers or "
                            "ephemeralContainers");
            }
            if (l.n == 0)
                problem(c, v, "containerTypes: expected a non-empty list");
            strlist_release(&l);
        } else if (strcmp(key, "forbidden") == 0) {
            want_bool(c, v, key, &forbidden);
        } else {
            unknown_key(c, n->keys[i], "a rule", known);
        }
    }
    if (r->id == NULL)
        problem(c, n, "a rule needs an id");
    /* `{id: X, enabled: false}` is enough to switch a shipped rule off. */
    if (!r->enabled && r->description == NULL && !have_sev && r->nchecks == 0 &&
        r->require == NULL && !forbidden)
        return;
    if (r->description == NULL)
        problem(c, n, "rule %s: description is required (say why the rule exists)",
                r->id ? r->id : "?");
    if (!have_sev)
        problem(c, n, "rule %s: severity is required", r->id ? r->id : "?");
    if ((r->nchecks > 0) + (r->require != NULL) + forbidden != 1)
        problem(c, n, "rule %s: needs exactly one of checks, require or forbidden: true",
                r->id ? r->id : "?");
    if (r->container_types != 7 && r->scope != SCOPE_CONTAINERS)
        problem(c, n, "rule %s: containerTypes needs scope containers", r->id ? r->id : "?");
    if (r->require != NULL && r->scope != SCOPE_OBJECT)
        problem(c, n, "rule %s: require works on scope object only", r->id ? r->id : "?");
}

int sl_policy_set_new(struct sl_policy_set **out, struct sl_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

void sl_policy_set_free(struct sl_policy_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        policy_rule_release(&set->rules[i]);
    free(set->rules);
    for (size_t i = 0; i < set->ninterned; i++)
        free(set->interned[i]);
    free(set->interned);
    free(set);
}

static const char *intern(struct sl_policy_set *set, const char *key)
{
    for (size_t i = 0; i < set->ninterned; i++)
        if (strcmp(set->interned[i], key) == 0)
            return set->interned[i];
    if (set->ninterned == set->capinterned) {
        size_t nc = set->capinterned == 0 ? 64 : set->capinterned * 2;
        char **ni = realloc(set->interned, nc * sizeof(*ni));
        if (ni == NULL)
            return NULL;
        set->interned = ni;
        set->capinterned = nc;
    }
    if ((set->interned[set->ninterned] = strdup(key)) == NULL)
        return NULL;
    return set->interned[set->ninterned++];
}

static int intern_checks(struct sl_policy_set *set, struct check *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t p = 0; p < k[i].npaths; p++)
            for (size_t s = 0; s < k[i].paths[p].n; s++) {
                struct step *st = &k[i].paths[p].steps[s];
                if (st->type == STEP_KEY && (st->ikey = intern(set, st->key)) == NULL)
                    return -1;
            }
        if (intern_checks(set, k[i].sub, k[i].nsub) != 0)
            return -1;
    }
    return 0;
}

static int set_put(struct sl_policy_set *set, struct rule *r, struct sl_error *err)
{
    if (intern_checks(set, r->checks, r->nchecks) != 0 ||
        (r->require != NULL && intern_checks(set, r->require->checks, r->require->nchecks) != 0))
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->rules[i].id, r->id) == 0) {
            policy_rule_release(&set->rules[i]);
            set->rules[i] = *r;
            memset(r, 0, sizeof(*r));
            return 0;
        }
    }
    if (set->n == MAX_RULES)
        return sl_error_set(err, SL_ETOOLARGE, "more than %d policy rules", MAX_RULES);
    if (set->n == set->cap) {
        size_t nc = set->cap == 0 ? 32 : set->cap * 2;
        struct rule *nr = realloc(set->rules, nc * sizeof(*nr));
        if (nr == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        set->rules = nr;
        set->cap = nc;
    }
    set->rules[set->n++] = *r;
    memset(r, 0, sizeof(*r));
    return 0;
}

int sl_policy_parse(struct sl_policy_set *set, const char *data, size_t len, const char *name,
                    struct sl_diags *diags, struct sl_error *err)
{
    static const char *const known[] = {"apiVersion", "kind", "rules", NULL};
    struct sl_yaml_limits lim = {32, 200000, 1000, 64};
    struct sl_diags local = SL_DIAGS_INIT;
    struct px c = {name, diags != NULL ? diags : &local, 0};
    struct sl_ystream *ys = NULL;
    struct sl_error yerr = SL_ERROR_INIT;
    struct rule *rules = NULL;
    size_t nrules = 0, first = sl_diags_count(c.d);
    int rc = -1;

    if (len > SL_POLICY_FILE_MAX) {
        sl_error_set(err, SL_ETOOLARGE, "%s: policy file larger than %zu bytes", name,
                     SL_POLICY_FILE_MAX);
        goto done;
    }
    if (sl_yaml_load(&ys, data, len, name, &lim, &yerr) != 0) {
        sl_diags_add(c.d, "%s", yerr.msg);
        sl_error_set(err, yerr.code, "%s", yerr.msg);
        goto done;
    }
    for (size_t d = 0; d < ys->ndocs; d++) {
        const struct sl_ynode *root = ys->docs[d].root;
        const struct sl_ynode *rl = NULL;
        if (root == NULL)
            continue;
        if (!want_map(&c, root, "a rule file document"))
            continue;
        for (size_t i = 0; i < root->n; i++) {
            const char *key = root->keys[i]->value;
            const struct sl_ynode *v = root->items[i];
            if (strcmp(key, "apiVersion") == 0) {
                if (!is_str(v) || strcmp(v->value, API_VERSION) != 0)
                    problem(&c, v, "apiVersion: expected %s", API_VERSION);
            } else if (strcmp(key, "kind") == 0) {
                if (!is_str(v) || strcmp(v->value, "RuleSet") != 0)
                    problem(&c, v, "kind: expected RuleSet");
            } else if (strcmp(key, "rules") == 0) {
                rl = v;
            } else {
                unknown_key(&c, root->keys[i], "a rule file", known);
            }
        }
        if (rl == NULL) {
            problem(&c, root, "rules: required");
            continue;
        }
        if (rl->type != SL_Y_SEQ) {
            problem(&c, rl, "rules: expected a list");
            continue;
        }
        {
            struct rule *nr;
            size_t total;
            if (!sl_size_add(&total, nrules, rl->n) || total > MAX_RULES) {
                problem(&c, rl, "more than %d rules", MAX_RULES);
                continue;
            }
            nr = realloc(rules, (total == 0 ? 1 : total) * sizeof(*nr));
            if (nr == NULL) {
                problem(&c, NULL, "out of memory");
                break;
            }
            rules = nr;
        }
        for (size_t i = 0; i < rl->n; i++) {
            struct rule *r = &rules[nrules++];
            parse_rule(&c, rl->items[i], r);
            for (size_t j = 0; r->id != NULL && j + 1 < nrules; j++)
                if (rules[j].id != NULL && strcmp(rules[j].id, r->id) == 0)
                    problem(&c, rl->items[i], "rule %s is defined twice in this file", r->id);
        }
    }
    if (c.problems > 0 || sl_diags_count(c.d) > first) {
        size_t extra = sl_diags_count(c.d) - first;
        if (c.d->n > first)
            sl_error_set(err, SL_EINVAL, extra > 1 ? "%s (and %zu more)" : "%s", c.d->msgs[first],
                         extra - 1);
        else
            sl_error_set(err, SL_EINVAL, "%s: invalid policy file", name);
        goto done;
    }
    for (size_t i = 0; i < nrules; i++)
        if (set_put(set, &rules[i], err) != 0)
            goto done;
    rc = 0;
done:
    for (size_t i = 0; i < nrules; i++)
        policy_rule_release(&rules[i]);
    free(rules);
    sl_ystream_free(ys);
    sl_diags_release(&local);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_rule_file(const char *n)
{
    size_t l = strlen(n);
    if (n[0] == '.')
        return false;
    return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

int sl_policy_load_dir(struct sl_policy_set *set, const char *dir, struct sl_diags *diags,
                       struct sl_error *err)
{
    struct sl_buf path = SL_BUF_INIT(4096);
    struct sl_buf data = SL_BUF_INIT(SL_POLICY_FILE_MAX);
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = NULL;
    struct dirent *de;
    int rc = -1, failed = 0;

    if ((d = opendir(dir)) == NULL) {
        sl_error_errno(err, errno, "policy directory %s", dir);
        goto done;
    }
    while ((de = readdir(d)) != NULL) {
        if (!is_rule_file(de->d_name))
            continue;
        if (n == 1000) {
            sl_error_set(err, SL_ETOOLARGE, "%s: more than 1000 policy files", dir);
            goto done;
        }
        if (n == cap) {
            size_t nc = cap == 0 ? 16 : cap * 2;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (nn == NULL) {
                sl_error_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            names = nn;
            cap = nc;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        struct sl_error ferr = SL_ERROR_INIT;
        sl_buf_reset(&path);
        sl_buf_reset(&data);
        if (sl_buf_printf(&path, err, "%s/%s", dir, names[i]) != 0)
            goto done;
        if (sl_file_read(&data, path.ptr, SL_POLICY_FILE_MAX, &ferr) != 0) {
            if (diags != NULL)
                sl_diags_add(diags, "%s", ferr.msg);
            sl_error_set(err, ferr.code, "%s", ferr.msg);
            failed = 1;
            continue;
        }
        if (sl_policy_parse(set, data.ptr, data.len, path.ptr, diags, &ferr) != 0) {
            sl_error_set(err, ferr.code, "%s", ferr.msg);
            failed = 1;
        }
    }
    rc = failed ? -1 : 0;
done:
    if (d != NULL)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sl_buf_release(&path);
    sl_buf_release(&data);
    return rc;
}

static bool is_dir(const char *p)
{
    DIR *d = opendir(p);
    if (d == NULL)
        return false;
    closedir(d);
    return true;
}

int sl_policy_default_dir(struct sl_buf *out, struct sl_error *err)
{
    char exe[4096];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    bool in_build_tree = false;

    sl_buf_reset(out);
    if (l > 0) {
        char *slash;
        exe[l] = '\0';
#ifdef SLUICE_POLICY_BUILD_DIR
        /* A binary run from its build tree uses the rules of its own source tree, never an
         * older installed set. */
        in_build_tree =
                strncmp(exe, SLUICE_POLICY_BUILD_DIR "/", strlen(SLUICE_POLICY_BUILD_DIR "/")) == 0;
#endif
        slash = strrchr(exe, '/');
        if (slash != NULL && !in_build_tree) {
            *slash = '\0';
            if (sl_buf_printf(out, err, "%s/../share/sluice/policies", exe) != 0)
                return -1;
            if (is_dir(out->ptr))
                return 0;
            sl_buf_reset(out);
        }
    }
#ifdef SLUICE_POLICY_SOURCE_DIR
    if (in_build_tree && is_dir(SLUICE_POLICY_SOURCE_DIR))
        return sl_buf_puts(out, SLUICE_POLICY_SOURCE_DIR, err);
#endif
#ifdef SLUICE_POLICY_INSTALL_DIR
    if (is_dir(SLUICE_POLICY_INSTALL_DIR))
        return sl_buf_puts(out, SLUICE_POLICY_INSTALL_DIR, err);
#endif
    return sl_error_set(err, SL_ENOTFOUND,
                        "the default policy directory (share/sluice/policies) was not found; "
                        "pass --policies DIR");
}

int sl_policy_set_load(struct sl_policy_set **out, const char *const *dirs, size_t ndirs,
                       const struct sl_config *cfg, struct sl_diags *diags, struct sl_error *err)
{
    struct sl_policy_set *set = NULL;
    struct sl_buf def = SL_BUF_INIT(4096);
    int rc = -1;

    *out = NULL;
    if (sl_policy_set_new(&set, err) != 0)
        goto done;
    if (ndirs == 0) {
        if (sl_policy_default_dir(&def, err) != 0)
            goto done;
        if (sl_policy_load_dir(set, def.ptr, diags, err) != 0)
            goto done;
    }
    for (size_t i = 0; i < ndirs; i++)
        if (sl_policy_load_dir(set, dirs[i], diags, err) != 0)
            goto done;
    for (size_t i = 0; cfg != NULL && i < cfg->npolicy_dirs; i++)
        if (sl_policy_load_dir(set, cfg->policy_dirs[i], diags, err) != 0)
            goto done;
    *out = set;
    set = NULL;
    rc = 0;
done:
    sl_policy_set_free(set);
    sl_buf_release(&def);
    return rc;
}

size_t sl_policy_set_count(const struct sl_policy_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->rules[i].enabled;
    return n;
}

json_t *sl_policy_set_json(const struct sl_policy_set *set)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < set->n; i++) {
        const struct rule *r = &set->rules[i];
        json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:b, s:s?, s:i}", "id", r->id, "description",
                              r->description, "severity", sl_policy_severity_name(r->severity),
                              "action", r->action == ACTION_WARN ? "warn" : "deny", "enabled",
                              r->enabled, "file", r->file, "line", r->line);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

const char *sl_policy_rule_id(const struct sl_policy_set *set, size_t i)
{
    return i < set->n ? set->rules[i].id : NULL;
}

const char *sl_policy_severity_name(enum sl_policy_severity s)
{
    static const char *const names[] = {"info", "low", "medium", "high", "critical"};
    return (unsigned)s < 5 ? names[s] : "?";
}
