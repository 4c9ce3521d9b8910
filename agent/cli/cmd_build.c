/*
 * sluice build PATH: render a kustomization directory like `kubectl kustomize`.
 *
 * The tree root (what overlays may reach with ../) is --root DIR, else the
 * nearest ancestor of PATH holding .git, else the current directory when
 * PATH is inside it, else PATH itself. Obtaining the tree and printing are
 * separate functions so other sources (a git revision) can plug in.
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
#include "render.h"
#include "tree.h"

const char sl_usage_build[] =
        "Usage: sluice build [--root DIR] [-o yaml|json] PATH\n\n"
        "Render the kustomization in directory PATH and print it as kubectl kustomize\n"
        "does (legacy kind order unless the kustomization sets sortOptions).\n"
        "Files are read only inside the tree root: overlays may use ../base within it.\n"
        "The root is --root DIR, else the nearest ancestor of PATH containing .git,\n"
        "else the current directory if PATH is inside it, else PATH itself.\n\n"
        "Options:\n"
        "  --root DIR           the directory nothing may be read outside of\n"
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
        rc = sl_render_format_json(objs, &out, err);
        if (rc == 0 && fwrite(out.ptr, 1, out.len, stdout) != out.len)
            rc = sl_error_errno(err, errno, "writing output");
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

int sl_cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"max-objects", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_render_opts ropts = SL_RENDER_OPTS_DEFAULT;
    enum sl_output fmt = SL_OUT_YAML;
    const char *root = NULL;
    struct sl_tree *tree = NULL;
    char *rel = NULL;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
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
    ropts.warn = warn_stderr;
    tree = build_open_local(argv[optind], root, &rel, &err);
    if (tree == NULL) {
        sl_cli_fail(&err);
        goto done;
    }
    if (sl_render(tree, rel, &ropts, &objs, &err) != 0 || build_print(&objs, fmt, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    rc = SL_EXIT_OK;
done:
    sl_objlist_release(&objs);
    sl_tree_free(tree);
    free(rel);
    return rc;
}
