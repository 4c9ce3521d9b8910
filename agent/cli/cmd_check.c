/*
 * `sluice check`: render + unseal + policy for every environment, from a
 * directory on disk, with no cluster. The same stages the daemon runs before
 * a dry-run, so CI can refuse what prod would refuse.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "policy.h"
#include "tree.h"

#include "render.h"
#include "secrets.h"

const char sl_usage_check[] =
        "Usage: sluice check [--config FILE] [--repo DIR] [--env NAME]... [--policies DIR]...\n"
        "                    [--mode enforce|warn] [--no-unseal] [-o text|json]\n\n"
        "For every environment of the configuration: render its overlay from the\n"
        "repository directory DIR, unseal its SealedSecrets with the configured\n"
        "decryption identities, and check the objects against the policies. No cluster\n"
        "is contacted and nothing is applied.\n\n"
        "Every violation is printed as FILE:LINE: RULE: MESSAGE, where FILE is the file\n"
        "in the repository the object came from; non-blocking violations carry [warn];\n"
        "exceptions granted by a sluice.dev/policy-exception.<rule> annotation are\n"
        "listed with their reason.\n\n"
        "Options:\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -r, --repo DIR       repository checkout that environment paths are relative\n"
        "                       to (default: the current directory)\n"
        "  -e, --env NAME       check only this environment (repeatable)\n"
        "  -p, --policies DIR   use the rule files in DIR instead of the shipped default\n"
        "                       set (repeatable); policies.dirs of the config still apply\n"
        "  -m, --mode MODE      evaluate every environment in MODE (enforce or warn)\n"
        "                       instead of its configured policy mode\n"
        "      --no-unseal      do not decrypt SealedSecrets (for CI without identities)\n"
        "      --list-rules     print the rules that would be evaluated (id, severity,\n"
        "                       action, file) and exit\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 nothing blocks, 1 a blocking violation in an environment in\n"
        "enforce mode or an error (configuration, policies, render, unseal), 2 usage.\n";

struct check_opts {
    const char *repo;
    const char **envs;
    size_t nenvs;
    const char **dirs;
    size_t ndirs;
    int mode; /* -1: as configured */
    bool no_unseal;
    bool list;
    enum sl_output fmt;
};

typedef struct sl_identities check_ids;

static bool env_selected(const struct check_opts *o, const char *name)
{
    if (o->nenvs == 0)
        return true;
    for (size_t i = 0; i < o->nenvs; i++)
        if (strcmp(o->envs[i], name) == 0)
            return true;
    return false;
}

/* Unsealed values are wiped before the memory is freed. */
static void release_objs(struct sl_objlist *objs)
{
    sl_objlist_wipe_secrets(objs);
    sl_objlist_release(objs);
}

/*
 * Render and unseal one environment into objs; tree is the repository directory.
 * Every value that cannot be unsealed is reported (to stderr), not only the first.
 */
static int build_env(struct sl_tree *tree, const struct sl_env_config *env, const check_ids *ids,
                     bool unseal, struct sl_objlist *objs, struct sl_error *err)
{
    struct sl_diags diags = SL_DIAGS_INIT;
    int rc = -1;

    if (sl_render(tree, env->path, NULL, objs, err) != 0) {
        sl_error_wrap(err, "render %s", env->path);
        goto done;
    }
    if (unseal && sl_unseal_objects_all(objs, ids, &diags, err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "sluice check: %s: unseal: %s\n", env->name, diags.msgs[i]);
        sl_error_wrap(err, "unseal");
        goto done;
    }
    rc = 0;
done:
    sl_diags_release(&diags);
    return rc;
}

/* Render, unseal, check and point findings at their lines. Returns blocking count or -1. */
static int check_env(const struct check_opts *o, const struct sl_env_config *env,
                     const struct sl_policy_set *set, const check_ids *ids, bool unseal,
                     enum sl_policy_mode mode, struct sl_policy_report *rep, struct sl_error *err)
{
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *tree = sl_tree_open_dir(o->repo, err);
    int n = -1;

    if (tree == NULL)
        return -1;
    if (build_env(tree, env, ids, unseal, &objs, err) == 0 &&
        (n = sl_policy_check(set, &objs, env->name, mode, rep, err)) >= 0 &&
        sl_policy_report_locate(rep, &objs, tree, err) != 0)
        n = -1;
    release_objs(&objs);
    sl_tree_free(tree);
    return n;
}

static void print_summary(const struct sl_env_config *env, const struct sl_policy_report *rep)
{
    printf("%s (%s): %zu object%s, %zu rule%s: ", env->name, sl_policy_mode_name(rep->mode),
           rep->nobjects, rep->nobjects == 1 ? "" : "s", rep->nrules, rep->nrules == 1 ? "" : "s");
    if (rep->mode == SL_POLICY_OFF)
        printf("policy off\n");
    else if (rep->nviolations == 0)
        printf("no violations");
    else
        printf("%zu violation%s (%zu blocking)", rep->nviolations, rep->nviolations == 1 ? "" : "s",
               rep->nblocking);
    if (rep->mode != SL_POLICY_OFF)
        printf(", %zu exception%s\n", rep->nexcepted, rep->nexcepted == 1 ? "" : "s");
}

static int list_rules(const struct sl_policy_set *set, enum sl_output fmt)
{
    json_t *rules = sl_policy_set_json(set);
    struct sl_table t;
    static const char *const hdr[] = {"rule", "severity", "action", "source"};
    size_t i;
    json_t *r;

    if (rules == NULL)
        return SL_EXIT_FAIL;
    if (fmt == SL_OUT_JSON) {
        int rc = sl_cli_print_json(rules) == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
        json_decref(rules);
        return rc;
    }
    sl_table_init(&t, 4, hdr);
    json_array_foreach(rules, i, r)
    {
        char src[1200];
        const char *row[4];
        bool on = json_is_true(json_object_get(r, "enabled"));
        snprintf(src, sizeof(src), "%s:%d", json_string_value(json_object_get(r, "file")),
                 (int)json_integer_value(json_object_get(r, "line")));
        row[0] = json_string_value(json_object_get(r, "id"));
        row[1] = on ? json_string_value(json_object_get(r, "severity")) : "-";
        row[2] = on ? json_string_value(json_object_get(r, "action")) : "off";
        row[3] = src;
        sl_table_add(&t, row);
    }
    sl_table_print(&t, stdout);
    sl_table_release(&t);
    json_decref(rules);
    return SL_EXIT_OK;
}

static int parse_args(int argc, char **argv, struct check_opts *o, const char **config)
{
    enum { OPT_NO_UNSEAL = 1000, OPT_LIST };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"repo", required_argument, NULL, 'r'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"policies", required_argument, NULL, 'p'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"no-unseal", no_argument, NULL, OPT_NO_UNSEAL},
                                         {"list-rules", no_argument, NULL, OPT_LIST},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "c:r:e:p:m:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config = optarg;
            break;
        case 'r':
            o->repo = optarg;
            break;
        case 'e':
            o->envs[o->nenvs++] = optarg;
            break;
        case 'p':
            o->dirs[o->ndirs++] = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "enforce") == 0)
                o->mode = SL_POLICY_ENFORCE;
            else if (strcmp(optarg, "warn") == 0)
                o->mode = SL_POLICY_WARN;
            else
                return sl_cli_usage_error("check", "--mode: expected enforce or warn");
            break;
        case OPT_NO_UNSEAL:
            o->no_unseal = true;
            break;
        case OPT_LIST:
            o->list = true;
            break;
        case 'o':
            if (sl_cli_parse_output("check", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &o->fmt) != 0)
                return SL_EXIT_USAGE;
            break;
        default:
            return sl_cli_usage_error("check", "unknown option");
        }
    }
    if (optind < argc)
        return sl_cli_usage_error("check", "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

int sl_cmd_check(int argc, char **argv)
{
    struct check_opts o = {".", NULL, 0, NULL, 0, -1, false, false, SL_OUT_TEXT};
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_config *cfg = NULL;
    struct sl_policy_set *set = NULL;
    struct sl_buf text = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    json_t *jenvs = NULL;
    const char *config = NULL;
    check_ids ids;
    bool unseal = false, failed = false;
    size_t blocking = 0, checked = 0;
    int rc = SL_EXIT_FAIL, prc;

    memset(&ids, 0, sizeof(ids));
    o.envs = calloc((size_t)argc + 1, sizeof(char *));
    o.dirs = calloc((size_t)argc + 1, sizeof(char *));
    if (o.envs == NULL || o.dirs == NULL) {
        sl_error_set(&err, SL_ENOMEM, "out of memory");
        sl_cli_fail(&err);
        goto done;
    }
    if ((prc = parse_args(argc, argv, &o, &config)) != 0) {
        rc = prc;
        goto done;
    }
    config = sl_cli_config_path(config);
    if (sl_config_load(&cfg, config, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.n == 0)
            fprintf(stderr, "sluice: %s\n", err.msg);
        goto done;
    }
    for (size_t i = 0; i < o.nenvs; i++) {
        if (sl_config_env(cfg, o.envs[i]) == NULL) {
            rc = sl_cli_usage_error("check", "no environment \"%s\" in %s", o.envs[i], config);
            goto done;
        }
    }
    if (sl_policy_set_load(&set, o.dirs, o.ndirs, cfg, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.n == 0)
            fprintf(stderr, "sluice: %s\n", err.msg);
        goto done;
    }
    if (o.list) {
        rc = list_rules(set, o.fmt);
        goto done;
    }
    if (!o.no_unseal && cfg->nidentities > 0) {
        for (size_t i = 0; i < cfg->nidentities; i++) {
            if (sl_identities_load_file(&ids, cfg->identities[i], &err) != 0) {
                sl_error_wrap(&err, "decryption identity (use --no-unseal to check without)");
                sl_cli_fail(&err);
                goto done;
            }
        }
        unseal = true;
    }
    if (o.fmt == SL_OUT_JSON && (jenvs = json_array()) == NULL)
        goto done;
    for (size_t i = 0; i < cfg->nenvs; i++) {
        const struct sl_env_config *env = &cfg->envs[i];
        enum sl_policy_mode mode = o.mode >= 0 ? (enum sl_policy_mode)o.mode : env->policy;
        struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
        struct sl_error eerr = SL_ERROR_INIT;
        int n = -1;

        if (!env_selected(&o, env->name))
            continue;
        checked++;
        n = check_env(&o, env, set, &ids, unseal, mode, &rep, &eerr);
        if (n < 0) {
            failed = true;
            if (jenvs != NULL) {
                json_array_append_new(jenvs,
                                      json_pack("{s:s, s:s, s:s}", "environment", env->name, "mode",
                                                sl_policy_mode_name(mode), "error", eerr.msg));
            } else {
                printf("%s (%s): error\n", env->name, sl_policy_mode_name(mode));
                fprintf(stderr, "sluice check: %s: %s\n", env->name, eerr.msg);
            }
        } else {
            blocking += (size_t)n;
            if (jenvs != NULL) {
                json_t *j = sl_policy_report_json(&rep);
                if (j == NULL || json_array_append_new(jenvs, j) != 0)
                    failed = true;
            } else {
                print_summary(env, &rep);
                sl_buf_reset(&text);
                if (sl_policy_report_format(&rep, &text, &eerr) != 0)
                    failed = true;
                fputs(text.ptr, stdout);
            }
        }
        sl_policy_report_release(&rep);
    }
    if (jenvs != NULL) {
        json_t *top = json_pack("{s:O, s:I, s:b}", "environments", jenvs, "blocking",
                                (json_int_t)blocking, "ok", !failed && blocking == 0);
        if (top == NULL || sl_cli_print_json(top) != 0)
            failed = true;
        json_decref(top);
    }
    if (checked == 0) {
        fprintf(stderr, "sluice check: no environment to check\n");
        goto done;
    }
    rc = failed || blocking > 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
done:
    sl_identities_release(&ids);
    json_decref(jenvs);
    sl_buf_release(&text);
    sl_policy_set_free(set);
    sl_config_free(cfg);
    sl_diags_release(&diags);
    free(o.envs);
    free(o.dirs);
    return rc;
}
