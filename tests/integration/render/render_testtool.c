/*
 * Test helper for the renderer.
 *
 *   render_testtool conformance CASESDIR [-v] [NAME...]
 *       Render every case of ../shared/testdata/kustomize-cases (fs/, build_path,
 *       actual-kubectl.yaml) through sl_render and compare with kubectl's output:
 *       semantically (each document parsed to JSON and compared) and byte for
 *       byte. A case without actual-kubectl.yaml builds above its root and must
 *       be refused. Prints one line per failure and "N passed, N failed".
 *   render_testtool yaml2json FILE
 *       Print each YAML document of FILE as one canonical JSON line (sorted keys),
 *       for comparing `sluice build` with `kubectl kustomize` in scripts.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "render.h"
#include "render_int.h"

static int load_json_docs(const char *data, size_t len, const char *name, json_t **out,
                          struct sl_error *err)
{
    struct sl_ystream *ys = NULL;
    json_t *arr = json_array();
    struct sl_yaml_limits lim = SL_YAML_LIMITS_DEFAULT;
    if (sl_yaml_load(&ys, data, len, name, &lim, err) != 0) {
        json_decref(arr);
        return -1;
    }
    for (size_t i = 0; i < ys->ndocs; i++) {
        if (ys->docs[i].root == NULL)
            continue;
        json_t *j = rl_yaml_to_json(ys->docs[i].root, false, name, NULL, err);
        if (j == NULL) {
            sl_ystream_free(ys);
            json_decref(arr);
            return -1;
        }
        if (json_is_null(j)) {
            json_decref(j);
            continue;
        }
        json_array_append_new(arr, j);
    }
    sl_ystream_free(ys);
    *out = arr;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int run_case(const char *dir, const char *name, bool verbose, bool *bytes_same)
{
    char p[4096], fsdir[4096];
    struct sl_buf bp = SL_BUF_INIT(4096), want = SL_BUF_INIT(SL_BUF_DEFAULT_MAX),
                  got = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *tree = NULL;
    json_t *wdocs = NULL, *gdocs = NULL;
    int ok = 0;
    bool have_expected;

    *bytes_same = false;
    snprintf(p, sizeof(p), "%s/%s/build_path", dir, name);
    if (sl_file_read(&bp, p, 4096, &err) != 0) {
        printf("FAIL %s: %s\n", name, err.msg);
        goto done;
    }
    while (bp.len > 0 && (bp.ptr[bp.len - 1] == '\n' || bp.ptr[bp.len - 1] == ' '))
        sl_buf_truncate(&bp, bp.len - 1);
    snprintf(p, sizeof(p), "%s/%s/actual-kubectl.yaml", dir, name);
    have_expected = sl_file_read(&want, p, SL_BUF_DEFAULT_MAX, &err) == 0;
    sl_error_clear(&err);
    snprintf(fsdir, sizeof(fsdir), "%s/%s/fs", dir, name);
    tree = sl_tree_open_dir(fsdir, &err);
    if (tree == NULL) {
        printf("FAIL %s: %s\n", name, err.msg);
        goto done;
    }
    int rc = sl_render(tree, bp.ptr, NULL, &objs, &err);
    if (!have_expected) {
        if (rc != 0 && err.code == SL_EPERM) {
            if (verbose)
                printf("ok   %s (refused: %s)\n", name, err.msg);
            ok = 1;
        } else {
            printf("FAIL %s: must be refused (builds above its root); %s\n", name,
                   rc ? err.msg : "rendered");
        }
        goto done;
    }
    if (rc != 0) {
        printf("FAIL %s: %s\n", name, err.msg);
        goto done;
    }
    if (sl_render_format_yaml(&objs, &got, &err) != 0) {
        printf("FAIL %s: format: %s\n", name, err.msg);
        goto done;
    }
    /* the converted files lack the final newline kubectl prints */
    {
        size_t gl = got.len, wl = want.len;
        while (gl > 0 && got.ptr[gl - 1] == '\n')
            gl--;
        while (wl > 0 && want.ptr[wl - 1] == '\n')
            wl--;
        *bytes_same = gl == wl && memcmp(got.ptr, want.ptr, gl) == 0;
    }
    if (load_json_docs(want.ptr, want.len, "actual-kubectl.yaml", &wdocs, &err) != 0 ||
        load_json_docs(got.ptr, got.len, "sluice output", &gdocs, &err) != 0) {
        printf("FAIL %s: parse: %s\n", name, err.msg);
        goto done;
    }
    if (json_array_size(wdocs) != json_array_size(gdocs)) {
        printf("FAIL %s: %zu documents, kubectl has %zu\n", name, json_array_size(gdocs),
               json_array_size(wdocs));
        goto done;
    }
    for (size_t i = 0; i < json_array_size(wdocs); i++) {
        if (!json_equal(json_array_get(wdocs, i), json_array_get(gdocs, i))) {
            char *a = json_dumps(json_array_get(wdocs, i), JSON_SORT_KEYS | JSON_COMPACT);
            char *b = json_dumps(json_array_get(gdocs, i), JSON_SORT_KEYS | JSON_COMPACT);
            printf("FAIL %s: document %zu differs\n", name, i + 1);
            if (verbose)
                printf("  kubectl: %s\n  sluice:  %s\n", a, b);
            free(a);
            free(b);
            goto done;
        }
    }
    if (verbose)
        printf("ok   %s%s\n", name, *bytes_same ? " (byte-identical)" : "");
    ok = 1;
done:
    json_decref(wdocs);
    json_decref(gdocs);
    sl_objlist_release(&objs);
    sl_tree_free(tree);
    sl_buf_release(&bp);
    sl_buf_release(&want);
    sl_buf_release(&got);
    return ok;
}

static int conformance(int argc, char **argv)
{
    const char *dir = argv[0];
    bool verbose = false;
    char **names = NULL;
    size_t n = 0, passed = 0, failed = 0, same = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
            continue;
        }
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(argv[i]);
    }
    if (n == 0) {
        DIR *d = opendir(dir);
        struct dirent *e;
        if (d == NULL) {
            perror(dir);
            return 2;
        }
        while ((e = readdir(d)) != NULL) {
            char p[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s/build_path", dir, e->d_name);
            FILE *f = fopen(p, "r");
            if (f == NULL)
                continue;
            fclose(f);
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_names);
    }
    for (size_t i = 0; i < n; i++) {
        bool bs;
        if (run_case(dir, names[i], verbose, &bs)) {
            passed++;
            same += bs;
        } else {
            failed++;
        }
        free(names[i]);
    }
    free(names);
    printf("%zu passed, %zu failed (%zu byte-identical)\n", passed, failed, same);
    return failed == 0 ? 0 : 1;
}

static int yaml2json(const char *file)
{
    struct sl_buf data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_error err = SL_ERROR_INIT;
    json_t *docs = NULL;
    int rc = 1;
    if (sl_file_read(&data, file, SL_BUF_DEFAULT_MAX, &err) != 0 ||
        load_json_docs(data.ptr, data.len, file, &docs, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(docs); i++) {
        char *s = json_dumps(json_array_get(docs, i), JSON_SORT_KEYS | JSON_COMPACT);
        if (s == NULL)
            goto done;
        printf("%s\n", s);
        free(s);
    }
    rc = 0;
done:
    json_decref(docs);
    sl_buf_release(&data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "conformance") == 0)
        return conformance(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "yaml2json") == 0)
        return yaml2json(argv[2]);
    fprintf(stderr,
            "usage: render_testtool conformance CASESDIR [-v] [NAME...] | yaml2json FILE\n");
    return 2;
}
