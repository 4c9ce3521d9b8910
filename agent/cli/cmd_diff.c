/*
 * `sluice diff [ENV]`: what a reconcile would change, as a unified diff per object
 * of the live object against the server's dry-run result (Secret values masked).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "plan.h"
#include "session.h"

#include "render.h"
#include "secrets.h"

const char sl_usage_diff[] =
        "Usage: sluice diff [ENV] [--no-fetch] [--config FILE] [-o text|json]\n\n"
        "Show what `sluice reconcile` would change in ENV (default: every environment):\n"
        "for each object to create, update, correct (drift) or prune, a unified diff of\n"
        "the live object against what the API server returns for a server-side dry-run\n"
        "apply of the desired object. Server-set metadata and status are left out;\n"
        "Secret values are shown as *** (with (before)/(after) when they change).\n"
        "Nothing is written. Colour is used when stdout is a terminal (NO_COLOR unset).\n\n"
        "Options:\n"
        "      --no-fetch       use the local git cache as it is\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 no changes, 1 changes, 2 usage error or failure.\n";

#define DIFF_ERR  2
#define MAX_LINES 20000

static void clean(json_t *o)
{
    static const char *const md_drop[] = {"managedFields", "resourceVersion",   "uid",
                                          "generation",    "creationTimestamp", "selfLink"};
    json_t *md = json_object_get(o, "metadata");

    for (size_t i = 0; i < sizeof(md_drop) / sizeof(md_drop[0]); i++)
        json_object_del(md, md_drop[i]);
    json_object_del(o, "status");
}

static bool is_secret(const json_t *o)
{
    const char *k = json_string_value(json_object_get(o, "kind"));
    return k != NULL && strcmp(k, "Secret") == 0;
}

/* Overwrite a string value in place before jansson frees it. */
static void wipe_value(json_t *v)
{
    const char *str = json_string_value(v);
    if (str != NULL)
        memset((char *)(uintptr_t)str, 0, json_string_length(v));
}

/*
 * Replace Secret values by markers (the values are wiped, not just dropped); values that
 * differ between a and b say so.
 */
static void mask_secrets(json_t *a, json_t *b)
{
    static const char *const fields[] = {"data", "stringData"};

    for (size_t f = 0; f < 2; f++) {
        json_t *da = a ? json_object_get(a, fields[f]) : NULL;
        json_t *db = b ? json_object_get(b, fields[f]) : NULL;
        json_t *changed = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(da, k, v)
        {
            json_t *other = json_object_get(db, k);
            if (other != NULL && !json_equal(v, other))
                json_object_set_new(changed, k, json_true());
        }
        json_object_foreach(da, k, v)
        {
            wipe_value(v);
            json_object_set_new(da, k,
                                json_string(json_object_get(changed, k) ? "*** (before)" : "***"));
        }
        json_object_foreach(db, k, v)
        {
            wipe_value(v);
            json_object_set_new(db, k,
                                json_string(json_object_get(changed, k) ? "*** (after)" : "***"));
        }
        json_decref(changed);
    }
}

static int to_text(const json_t *o, struct sl_buf *out, struct sl_error *err)
{
    if (o == NULL)
        return 0;
    {
        struct sl_objlist l = SL_OBJLIST_INIT;
        int rc;
        if (sl_objlist_add(&l, json_deep_copy(o), NULL, 0, err) != 0)
            return -1;
        rc = sl_render_format_yaml(&l, out, err);
        sl_objlist_release(&l);
        return rc;
    }
}

struct lines {
    const char **v;
    size_t n;
};

static int split(char *text, struct lines *l)
{
    size_t cap = 64;
    char *p = text;

    l->n = 0;
    l->v = malloc(cap * sizeof(*l->v));
    if (l->v == NULL)
        return -1;
    while (*p != '\0' && l->n < MAX_LINES) {
        char *nl = strchr(p, '\n');
        if (l->n == cap) {
            const char **nv = realloc(l->v, cap * 2 * sizeof(*nv));
            if (nv == NULL)
                return -1;
            l->v = nv;
            cap *= 2;
        }
        l->v[l->n++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return 0;
}

/* Edit script by LCS: ops[k] is ' ', '-' or '+', with the line from a or b. */
struct op {
    char kind;
    const char *line;
};

static int edit_script(const struct lines *a, const struct lines *b, struct op **ops, size_t *nops)
{
    size_t n = a->n, m = b->n, i, j, k = 0;
    unsigned *t;

    *ops = malloc((n + m + 1) * sizeof(**ops));
    if (*ops == NULL)
        return -1;
    if ((n + 1) > 4000000 / (m + 1)) {
        /* too large for the table: show it as replaced */
        for (i = 0; i < n; i++)
            (*ops)[k++] = (struct op){'-', a->v[i]};
        for (j = 0; j < m; j++)
            (*ops)[k++] = (struct op){'+', b->v[j]};
        *nops = k;
        return 0;
    }
    t = calloc((n + 1) * (m + 1), sizeof(*t));
    if (t == NULL)
        return -1;
#define T(x, y) t[(x) * (m + 1) + (y)]
    for (i = n; i-- > 0;)
        for (j = m; j-- > 0;)
            T(i, j) = strcmp(a->v[i], b->v[j]) == 0 ? T(i + 1, j + 1) + 1
                      : T(i + 1, j) >= T(i, j + 1)  ? T(i + 1, j)
                                                    : T(i, j + 1);
    i = j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(a->v[i], b->v[j]) == 0) {
            (*ops)[k++] = (struct op){' ', a->v[i]};
            i++;
            j++;
        } else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) {
            (*ops)[k++] = (struct op){'-', a->v[i++]};
        } else {
            (*ops)[k++] = (struct op){'+', b->v[j++]};
        }
    }
#undef T
    free(t);
    *nops = k;
    return 0;
}

/* Unified diff with 3 lines of context. */
static int unified(struct sl_buf *out, const char *name, const struct op *ops, size_t nops,
                   bool color, struct sl_error *err)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "";
    const char *cyan = color ? "\033[36m" : "", *bold = color ? "\033[1m" : "";
    const char *reset = color ? "\033[0m" : "";
    size_t i = 0;

    if (sl_buf_printf(out, err, "%s--- live/%s\n+++ desired/%s%s\n", bold, name, name, reset))
        return -1;
    while (i < nops) {
        size_t start, end, a0 = 0, b0 = 0, alen = 0, blen = 0, x;
        while (i < nops && ops[i].kind == ' ')
            i++;
        if (i == nops)
            break;
        start = i >= 3 ? i - 3 : 0;
        end = i;
        /* extend the hunk while changes are within 6 lines of each other */
        for (x = i; x < nops; x++) {
            if (ops[x].kind != ' ')
                end = x;
            else if (x - end > 6)
                break;
        }
        end = end + 4 < nops ? end + 4 : nops;
        for (x = 0; x < start; x++) {
            if (ops[x].kind != '+')
                a0++;
            if (ops[x].kind != '-')
                b0++;
        }
        for (x = start; x < end; x++) {
            if (ops[x].kind != '+')
                alen++;
            if (ops[x].kind != '-')
                blen++;
        }
        if (sl_buf_printf(out, err, "%s@@ -%zu,%zu +%zu,%zu @@%s\n", cyan, alen ? a0 + 1 : a0, alen,
                          blen ? b0 + 1 : b0, blen, reset))
            return -1;
        for (x = start; x < end; x++) {
            const char *c = ops[x].kind == '-' ? red : ops[x].kind == '+' ? green : "";
            if (sl_buf_printf(out, err, "%s%c%s%s\n", c, ops[x].kind, ops[x].line,
                              ops[x].kind == ' ' ? "" : reset))
                return -1;
        }
        i = end;
    }
    return 0;
}

static int diff_one(const struct sl_rc_session *s, const struct sl_action *a, bool color,
                    struct sl_buf *out, struct sl_error *err)
{
    json_t *before = NULL, *after = NULL;
    struct sl_buf ta = SL_BUF_INIT(SL_BUF_DEFAULT_MAX), tb = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct lines la = {NULL, 0}, lb = {NULL, 0};
    struct op *ops = NULL;
    size_t nops = 0;
    char name[512];
    int rc = -1;

    snprintf(name, sizeof(name), "%s%s%s/%s/%s%s%s", a->ref.group, a->ref.group[0] ? "/" : "",
             a->ref.version, a->ref.kind, a->ref.ns, a->ref.ns[0] ? "/" : "", a->ref.name);
    if (a->live != NULL)
        before = json_deep_copy(a->live);
    if (a->desired != NULL) {
        struct sl_error derr = SL_ERROR_INIT;
        bool immutable = false;
        if (s->cluster.ops->apply(s->cluster.ctx, a->desired, true, s->opts.force_conflicts, &after,
                                  &immutable, &derr) != 0) {
            if (immutable) {
                /*
                 * The server refuses the change in place: still show it, with what
                 * applying it takes, instead of failing the whole diff.
                 */
                if (sl_buf_printf(out, err,
                                  "# %s changes an immutable field: a reconcile re-creates it "
                                  "only when annotated sluice.dev/force: enabled\n",
                                  name) != 0)
                    goto done;
                after = json_deep_copy(a->desired);
            } else if (a->type != SL_ACT_CREATE || derr.code != SL_ENOTFOUND) {
                char id[320];
                sl_object_id(a->desired, id, sizeof(id));
                sl_error_set(err, derr.code, "dry run of %s: %s", id, derr.msg);
                goto done;
            } else {
                /* its Namespace or CRD does not exist yet: show the desired object */
                after = json_deep_copy(a->desired);
            }
        }
    }
    if (before != NULL)
        clean(before);
    if (after != NULL)
        clean(after);
    if ((before != NULL && is_secret(before)) || (after != NULL && is_secret(after)))
        mask_secrets(before, after);
    if (to_text(before, &ta, err) != 0 || to_text(after, &tb, err) != 0)
        goto done;
    if (strcmp(ta.ptr, tb.ptr) == 0) {
        rc = 1; /* the server would not change anything (a report-only difference) */
        goto done;
    }
    if (split(ta.ptr, &la) != 0 || split(tb.ptr, &lb) != 0 ||
        edit_script(&la, &lb, &ops, &nops) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (unified(out, name, ops, nops, color, err) != 0)
        goto done;
    rc = 0;
done:
    free(ops);
    free(la.v);
    free(lb.v);
    sl_buf_release(&ta);
    sl_buf_release(&tb);
    json_decref(before);
    json_decref(after);
    return rc;
}

static void release_objs(struct sl_objlist *objs)
{
    sl_objlist_wipe_secrets(objs);
    sl_objlist_release(objs);
}

int sl_cmd_diff(int argc, char **argv)
{
    enum { OPT_NO_FETCH = 1000 };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"no-fetch", no_argument, NULL, OPT_NO_FETCH},
                                         {NULL, 0, NULL, 0}};
    struct sl_rc_session s;
    struct sl_error err = SL_ERROR_INIT;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL, *only = NULL;
    unsigned flags = SL_SESSION_CLUSTER | SL_SESSION_SOURCE;
    bool changes = false, failed = false, color;
    json_t *jout = NULL;
    int c, rc = DIFF_ERR;

    while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == OPT_NO_FETCH)
            flags |= SL_SESSION_NO_POLL;
        else if (c == 'o') {
            if (sl_cli_parse_output("diff", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON, &fmt) !=
                0)
                return SL_EXIT_USAGE;
        } else
            return sl_cli_usage_error("diff", "unknown option");
    }
    if (argc - optind > 1)
        return sl_cli_usage_error("diff", "expected at most one ENV");
    if (optind < argc)
        only = argv[optind];
    color = fmt == SL_OUT_TEXT && sl_cli_color(stdout);
    if (sl_rc_session_open(&s, sl_cli_config_path(config), flags, NULL, &err) != 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        return DIFF_ERR;
    }
    if (only != NULL && sl_config_env(s.cfg, only) == NULL) {
        rc = sl_cli_usage_error("diff", "no environment \"%s\" in the configuration", only);
        goto done;
    }
    if (fmt == SL_OUT_JSON)
        jout = json_array();
    for (size_t i = 0; i < s.cfg->nenvs; i++) {
        const struct sl_env_config *env = &s.cfg->envs[i];
        struct sl_objlist objs = SL_OBJLIST_INIT;
        struct sl_plan plan;
        struct sl_error e = SL_ERROR_INIT;
        char *rev = NULL;

        if (only != NULL && strcmp(env->name, only) != 0)
            continue;
        if (sl_reconcile_plan(s.cfg, env, &s.cluster, &s.desired, &s.opts, NULL, &objs, &plan, &rev,
                              &e) != 0) {
            fprintf(stderr, "sluice diff: %s: %s\n", env->name, e.msg);
            failed = true;
            release_objs(&objs);
            continue;
        }
        for (size_t k = 0; k < plan.n; k++) {
            const struct sl_action *a = &plan.items[k];
            struct sl_buf out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
            int r;
            if (a->type != SL_ACT_CREATE && a->type != SL_ACT_UPDATE && a->type != SL_ACT_DRIFT &&
                a->type != SL_ACT_PRUNE)
                continue;
            r = diff_one(&s, a, color, &out, &e);
            if (r < 0) {
                fprintf(stderr, "sluice diff: %s: %s\n", env->name, e.msg);
                failed = true;
                sl_error_clear(&e);
            } else if (r == 0) {
                changes = true;
                if (jout != NULL) {
                    char id[320];
                    snprintf(id, sizeof(id), "%s %s%s%s", a->ref.kind, a->ref.ns,
                             a->ref.ns[0] ? "/" : "", a->ref.name);
                    json_array_append_new(
                            jout, json_pack("{s:s, s:s, s:s, s:s, s:s}", "environment", env->name,
                                            "revision", rev, "object", id, "action",
                                            sl_action_name(a->type), "diff", out.ptr));
                } else {
                    fputs(out.ptr, stdout);
                }
            }
            sl_buf_release(&out);
        }
        free(rev);
        sl_plan_release(&plan);
        release_objs(&objs);
    }
    if (jout != NULL)
        sl_cli_print_json(jout);
    rc = failed ? DIFF_ERR : changes ? 1 : 0;
done:
    json_decref(jout);
    sl_rc_session_close(&s);
    return rc;
}
