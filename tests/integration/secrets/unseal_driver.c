/*
 * Test driver for the unseal path the pipeline uses (until `sluice build
 * --unseal` is wired): load YAML files into a struct sl_objlist, optionally
 * rename/move every object (what an overlay's transforms do), unseal with
 * the identity files, print every object (Secrets masked unless
 * --show-secrets), serialise each Secret into secure memory as the apply
 * step would, then wipe.
 *
 *   unseal_driver -i ID [-i ID...] [--namespace NS] [--name NAME]
 *                 [--show-secrets] [--age] FILE...
 *
 * With --age every FILE is a whole-file encrypted resource (.age).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "log.h"
#include "secrets.h"
#include "yamltree.h"

static int load(struct sl_objlist *objs, const char *path, struct sl_error *err)
{
    struct sl_buf text = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_ystream *ys = NULL;
    int rc = -1;

    if (sl_file_read(&text, path, SL_FILE_MAX, err) != 0 ||
        sl_yaml_load(&ys, text.ptr, text.len, path, NULL, err) != 0)
        goto done;
    for (size_t i = 0; i < ys->ndocs; i++) {
        json_t *j;
        if (ys->docs[i].root == NULL)
            continue;
        j = sl_ynode_to_json(ys->docs[i].root, path, err);
        if (j == NULL || sl_objlist_add(objs, j, path, ys->docs[i].line, err) != 0)
            goto done;
    }
    rc = 0;
done:
    sl_ystream_free(ys);
    sl_buf_release(&text);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"identity", required_argument, NULL, 'i'},
                                         {"namespace", required_argument, NULL, 'n'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"show-secrets", no_argument, NULL, 'S'},
                                         {"age", no_argument, NULL, 'A'},
                                         {NULL, 0, NULL, 0}};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_diags diags = SL_DIAGS_INIT;
    const char *ns = NULL, *name = NULL;
    bool show = false, age = false;
    int c, rc = 1;

    sl_log_setup(SL_LOG_DEBUG, NULL);
    if (sl_secmem_init(&err) != 0)
        goto fail;
    while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (sl_identities_load_file(&ids, optarg, &err) != 0)
                goto fail;
            break;
        case 'n':
            ns = optarg;
            break;
        case 'N':
            name = optarg;
            break;
        case 'S':
            show = true;
            break;
        case 'A':
            age = true;
            break;
        default:
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (age) {
            struct sl_buf data = SL_BUF_INIT(SL_FILE_MAX);
            int r = sl_file_read(&data, argv[i], SL_FILE_MAX, &err);
            if (r == 0)
                r = sl_unseal_age_resource(argv[i], data.ptr, data.len, &ids, &objs, &err);
            sl_buf_release(&data);
            if (r != 0)
                goto fail;
        } else if (load(&objs, argv[i], &err) != 0) {
            goto fail;
        }
    }
    for (size_t i = 0; i < objs.n; i++) {
        json_t *md = json_object_get(objs.items[i].json, "metadata");
        if (ns != NULL)
            json_object_set_new(md, "namespace", json_string(ns));
        if (name != NULL)
            json_object_set_new(md, "name", json_string(name));
    }
    sl_log_debug("unsealing", "objects", objs.n > 0 ? "some" : "none");
    if (sl_unseal_objects_all(&objs, &ids, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "unseal: %s\n", diags.msgs[i]);
        goto fail;
    }
    for (size_t i = 0; i < objs.n; i++) {
        struct sl_secbuf body = SL_SECBUF_INIT(0);
        json_t *shown = objs.items[i].secret && !show ? sl_secret_masked(objs.items[i].json)
                                                      : json_incref(objs.items[i].json);
        char *s = json_dumps(shown, JSON_INDENT(2) | JSON_SORT_KEYS);
        char id[256];

        printf("%s\n", s);
        free(s);
        json_decref(shown);
        sl_object_id(objs.items[i].json, id, sizeof(id));
        /* What the apply step does: the request body only ever in secure memory. */
        if (sl_secret_json_dump(objs.items[i].json, &body, &err) != 0)
            goto fail;
        sl_log_debug("request body built", "object", id);
        sl_secbuf_release(&body);
    }
    sl_objlist_wipe_secrets(&objs);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "unseal_driver: %s\n", err.msg);
done:
    sl_diags_release(&diags);
    sl_objlist_release(&objs);
    sl_identities_release(&ids);
    return rc;
}
