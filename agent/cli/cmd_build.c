/*
 * sluice build PATH|ENV: render a kustomization like `kubectl kustomize`.
 *
 * Three ways to get the tree: a directory on disk (PATH); a revision of the
 * git repository that holds PATH (--revision REF), read from the object
 * database without a checkout; or an environment of the configuration
 * (ENV): fetch, resolve its revision by the promotion rules, verify, render
 * its overlay from that commit. The tree root for a directory (what overlays
 * may reach with ../) is --root DIR, else the nearest ancestor of PATH holding
 * .git, else the current directory when PATH is inside it, else PATH itself.
 * With --unseal, SealedSecrets become Secrets whose values are masked unless
 * --show-secrets.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "render.h"
#include "secrets.h"
#include "source.h"
#include "tree.h"

const char sl_usage_build[] =
        "Usage: sluice build [--root DIR] [--revision REF] [-o yaml|json] PATH\n"
        "       sluice build [--config FILE] [--offline] ENV\n"
        "       ... [--unseal [-i IDENTITY]... [--show-secrets]]\n\n"
        "Render the kustomization in directory PATH and print it as kubectl kustomize\n"
        "does (legacy kind order unless the kustomization sets sortOptions).\n"
        "Files are read only inside the tree root: overlays may use ../base within it.\n"
        "The root is --root DIR, else the nearest ancestor of PATH containing .git,\n"
        "else the current directory if PATH is inside it, else PATH itself.\n\n"
        "With --revision REF, PATH is read from that revision (branch, tag or commit)\n"
        "of the git repository that holds PATH, straight from the object database.\n"
        "ENV (an environment of the configuration, when no directory PATH exists)\n"
        "fetches the source, resolves ENV's revision by its promotion rule, verifies\n"
        "its signatures as configured and renders ENV's overlay from that commit.\n\n"
        "Options:\n"
        "  --root DIR           the directory nothing may be read outside of\n"
        "  --revision REF       render PATH as it is at REF in its git repository\n"
        "  -c, --config FILE    configuration for ENV (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  --offline            ENV: do not fetch, resolve from the cache\n"
        "  --unseal             turn SealedSecrets into Secrets (values masked)\n"
        "  -i, --identity FILE  age identity for --unseal (repeatable; default with ENV:\n"
        "                       the configured decryption identities)\n"
        "  --show-secrets       print unsealed values instead of masking them\n"
        "  --max-objects N      refuse a build with more objects (default 20000)\n"
        "  -o, --output FORMAT  yaml (default, kustomize's format) or json (an array)\n\n"
        "Exit status: 0 rendered, 1 invalid input (the error names the file), 2 usage.\n";

static bool path_within(const char *root, const char *p)
{
    size_t n = strlen(root);
    if (strcmp(root, "/") == 0)
        return true;
    return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static bool has_git(const char *dir)
{
    char p[PATH_MAX + 8];
    struct stat st;
    snprintf(p, sizeof(p), "%s/.git", dir);
    return stat(p, &st) == 0;
}

/*
 * Open the tree for a local kustomization directory; *rel receives PATH
 * relative to the root (malloc'ed).
 */
static struct sl_tree *build_open_local(const char *path, const char *root_flag, char **rel,
                                        struct sl_error *err)
{
    char abs[PATH_MAX], root[PATH_MAX], cwd[PATH_MAX];
    struct sl_tree *t;

    if (realpath(path, abs) == NULL) {
        sl_error_errno(err, errno, "%s", path);
        return NULL;
    }
    if (root_flag != NULL) {
        if (realpath(root_flag, root) == NULL) {
            sl_error_errno(err, errno, "--root %s", root_flag);
            return NULL;
        }
        if (!path_within(root, abs)) {
            sl_error_set(err, SL_EPERM, "%s is not inside --root %s", path, root_flag);
            return NULL;
        }
    } else {
        bool found = false;
        snprintf(root, sizeof(root), "%s", abs);
        for (;;) {
            if (has_git(root)) {
                found = true;
                break;
            }
            char *slash = strrchr(root, '/');
            if (slash == NULL || slash == root)
                break;
            *slash = '\0';
        }
        if (!found) {
            if (getcwd(cwd, sizeof(cwd)) != NULL && path_within(cwd, abs))
                snprintf(root, sizeof(root), "%s", cwd);
            else
                snprintf(root, sizeof(root), "%s", abs);
        }
    }
    const char *r = abs + strlen(root);
    if (strcmp(root, "/") == 0)
        r = abs;
    while (*r == '/')
        r++;
    *rel = strdup(*r ? r : ".");
    if (*rel == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    t = sl_tree_open_dir(root, err);
    if (t == NULL) {
        free(*rel);
        *rel = NULL;
    }
    return t;
}

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

/*
 * Print rendered objects in the chosen format to stdout. YAML goes out one
 * object at a time so a large build never holds its whole output in memory.
 */
static int build_print(const struct sl_objlist *objs, enum sl_output fmt, struct sl_error *err)
{
    struct sl_buf out = SL_BUF_INIT((size_t)1 << 30);
    int rc = 0;
    if (fmt == SL_OUT_JSON) {
        /* one element at a time: the whole array as text would double the peak */
        for (size_t i = 0; i < (objs->n > 0 ? objs->n : 1) && rc == 0; i++) {
            sl_buf_reset(&out);
            rc = sl_render_format_json_item(objs, i, &out, err);
            if (rc == 0 && fwrite(out.ptr, 1, out.len, stdout) != out.len)
                rc = sl_error_errno(err, errno, "writing output");
        }
    } else {
        for (size_t i = 0; i < objs->n && rc == 0; i++) {
            struct sl_objlist one = {&objs->items[i], 1, 1};
            sl_buf_reset(&out);
            if (i > 0)
                rc = sl_buf_puts(&out, "---\n", err);
            if (rc == 0)
                rc = sl_render_format_yaml(&one, &out, err);
            if (rc == 0 && fwrite(out.ptr, 1, out.len, stdout) != out.len)
                rc = sl_error_errno(err, errno, "writing output");
        }
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = sl_error_errno(err, errno, "writing output");
    sl_buf_release(&out);
    return rc;
}

/* PATH at REF of the repository holding PATH (the root as for a directory build). */
static struct sl_tree *build_open_revision(const char *path, const char *root_flag, const char *rev,
                                           char **rel, struct sl_error *err)
{
    struct sl_tree *local = build_open_local(path, root_flag, rel, err);
    struct sl_tree *t = NULL;
    char commit[41];

    if (local == NULL)
        return NULL;
    /* The directory tree's label is the root it chose: the repository. */
    if (sl_source_open_ref_tree(local->label, rev, &t, commit, err) != 0) {
        free(*rel);
        *rel = NULL;
    } else {
        fprintf(stderr, "sluice build: %s at %s (%.12s)\n", *rel, rev, commit);
    }
    sl_tree_free(local);
    return t;
}

/* ENV's overlay at the revision its promotion rule resolves to. */
static struct sl_tree *build_open_env(const struct sl_config *cfg, const struct sl_env_config *env,
                                      bool offline, char **rel, struct sl_error *err)
{
    struct sl_source *src = NULL;
    struct sl_source_result res;
    struct sl_source_poll poll;
    struct sl_tree *t = NULL;

    memset(&res, 0, sizeof(res));
    memset(&poll, 0, sizeof(poll));
    if (sl_source_open(cfg, NULL, &src, err) != 0)
        return NULL;
    if (!offline && sl_source_poll(src, &poll, err) != 0) {
        sl_error_wrap(err, "fetch (use --offline to render from the cache)");
        goto done;
    }
    if (sl_source_resolve(src, env, &res, err) != 0)
        goto done;
    if (!res.ok) {
        sl_error_set(err, res.err.code != SL_OK ? res.err.code : SL_ENOTFOUND, "%s: %s", env->name,
                     res.err.msg[0] != '\0' ? res.err.msg : res.reason);
        goto done;
    }
    if (sl_source_open_tree(src, res.commit, &t, err) != 0)
        goto done;
    *rel = strdup(env->path);
    if (*rel == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        sl_tree_free(t);
        t = NULL;
        goto done;
    }
    fprintf(stderr, "sluice build: %s: %s at %s (%.12s), signature: %s\n", env->name, env->path,
            res.ref, res.commit, res.signature);
done:
    sl_source_free(src);
    return t;
}

/* With --unseal and without --show-secrets, secret objects are printed masked. */
static int mask_secrets(struct sl_objlist *objs, struct sl_error *err)
{
    for (size_t i = 0; i < objs->n; i++) {
        json_t *masked;
        if (!objs->items[i].secret)
            continue;
        masked = sl_secret_masked(objs->items[i].json);
        if (masked == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        sl_secret_json_wipe(objs->items[i].json);
        json_decref(objs->items[i].json);
        objs->items[i].json = masked;
    }
    return 0;
}

int sl_cmd_build(int argc, char **argv)
{
    enum { OPT_REVISION = 256, OPT_OFFLINE, OPT_UNSEAL, OPT_SHOW };
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"max-objects", required_argument, NULL, 'm'},
                                         {"revision", required_argument, NULL, OPT_REVISION},
                                         {"config", required_argument, NULL, 'c'},
                                         {"offline", no_argument, NULL, OPT_OFFLINE},
                                         {"unseal", no_argument, NULL, OPT_UNSEAL},
                                         {"identity", required_argument, NULL, 'i'},
                                         {"show-secrets", no_argument, NULL, OPT_SHOW},
                                         {NULL, 0, NULL, 0}};
    const char *revision = NULL, *config = NULL;
    const char *identities[16];
    size_t nidentities = 0;
    bool offline = false, unseal = false, show = false;
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_config *cfg = NULL;
    struct stat st;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_render_opts ropts = SL_RENDER_OPTS_DEFAULT;
    enum sl_output fmt = SL_OUT_YAML;
    const char *root = NULL;
    struct sl_tree *tree = NULL;
    char *rel = NULL;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "o:c:i:", opts, NULL)) != -1) {
        if (c == OPT_REVISION) {
            revision = optarg;
        } else if (c == 'c') {
            config = optarg;
        } else if (c == OPT_OFFLINE) {
            offline = true;
        } else if (c == OPT_UNSEAL) {
            unseal = true;
        } else if (c == OPT_SHOW) {
            show = true;
        } else if (c == 'i') {
            if (nidentities == sizeof(identities) / sizeof(identities[0]))
                return sl_cli_usage_error("build", "at most 16 identities");
            identities[nidentities++] = optarg;
        } else if (c == 'o') {
            if (sl_cli_parse_output("build", optarg, 1u << SL_OUT_YAML | 1u << SL_OUT_JSON, &fmt) !=
                0)
                return SL_EXIT_USAGE;
        } else if (c == 'r') {
            root = optarg;
        } else if (c == 'm') {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v == 0 || v > 10000000)
                return sl_cli_usage_error("build",
                                          "--max-objects needs a number from 1 to 10000000");
            ropts.max_objects = (size_t)v;
        } else {
            return sl_cli_usage_error("build", "unknown option");
        }
    }
    if (argc - optind != 1)
        return sl_cli_usage_error("build", "expected exactly one PATH");
    if ((nidentities > 0 || show) && !unseal)
        return sl_cli_usage_error("build", "-i and --show-secrets go with --unseal");
    ropts.warn = warn_stderr;
    if (stat(argv[optind], &st) != 0 && strchr(argv[optind], '/') == NULL) {
        /* Not a directory here: an environment of the configuration. */
        struct sl_diags diags = SL_DIAGS_INIT;
        const struct sl_env_config *env;
        if (revision != NULL || root != NULL) {
            rc = sl_cli_usage_error("build", "--revision and --root go with a PATH, not ENV");
            goto done;
        }
        if (sl_config_load(&cfg, sl_cli_config_path(config), &diags, &err) != 0) {
            for (size_t i = 0; i < diags.n; i++)
                fprintf(stderr, "%s\n", diags.msgs[i]);
            sl_diags_release(&diags);
            fprintf(stderr,
                    "sluice build: %s is neither a directory nor an environment of a "
                    "valid configuration\n",
                    argv[optind]);
            goto done;
        }
        sl_diags_release(&diags);
        env = sl_config_env(cfg, argv[optind]);
        if (env == NULL) {
            fprintf(stderr, "sluice build: %s: no such directory, and no such environment in %s\n",
                    argv[optind], cfg->file);
            goto done;
        }
        tree = build_open_env(cfg, env, offline, &rel, &err);
        for (size_t i = 0; unseal && nidentities == 0 && i < cfg->nidentities; i++)
            if (sl_identities_load_file(&ids, cfg->identities[i], &err) != 0)
                goto fail;
    } else if (revision != NULL) {
        tree = build_open_revision(argv[optind], root, revision, &rel, &err);
    } else {
        tree = build_open_local(argv[optind], root, &rel, &err);
    }
    if (tree == NULL)
        goto fail;
    for (size_t i = 0; i < nidentities; i++)
        if (sl_identities_load_file(&ids, identities[i], &err) != 0)
            goto fail;
    if (unseal && ids.n == 0) {
        sl_error_set(&err, SL_EINVAL, "--unseal needs an identity (-i FILE)");
        goto fail;
    }
    if (sl_render(tree, rel, &ropts, &objs, &err) != 0)
        goto fail;
    if (unseal &&
        (sl_unseal_objects(&objs, &ids, &err) != 0 || (!show && mask_secrets(&objs, &err) != 0)))
        goto fail;
    if (build_print(&objs, fmt, &err) != 0)
        goto fail;
    rc = SL_EXIT_OK;
    goto done;
fail:
    sl_cli_fail(&err);
done:
    sl_objlist_wipe_secrets(&objs);
    sl_objlist_release(&objs);
    sl_identities_release(&ids);
    sl_config_free(cfg);
    sl_tree_free(tree);
    free(rel);
    return rc;
}
