#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "file.h"
#include "secrets.h"
#include "yamltree.h"

const char sl_usage_seal[] =
        "Usage: sluice seal -r RECIPIENT... [options] [FILE|-]\n"
        "       sluice seal -r RECIPIENT... --name NAME [--namespace NS]\n"
        "                   (--from-literal KEY=VALUE | --from-file KEY=PATH)...\n\n"
        "Encrypt a Secret into a SealedSecret (apiVersion " SL_SEALED_API_VERSION
        ", kind " SL_SEALED_KIND ")\n"
        "that is safe to commit. Each value becomes an armored age file for the\n"
        "recipients, bound to the scope: strict (namespace and name, the default),\n"
        "namespace, or cluster. The input is a Secret manifest (FILE, or stdin when\n"
        "FILE is - or absent) or --from-literal/--from-file values. The SealedSecret\n"
        "is printed on stdout (or -o FILE).\n\n"
        "With --merge-into FILE, exactly one key is sealed into an existing\n"
        "SealedSecret file, replacing or adding that key's block only, so the git\n"
        "diff shows one value; namespace, name and scope come from FILE.\n\n"
        "Options:\n"
        "  -r, --recipient AGE1...      seal to this recipient (repeatable)\n"
        "  -R, --recipients-file FILE   recipients, one per line\n"
        "      --scope SCOPE            strict (default), namespace or cluster\n"
        "      --name NAME              Secret name (overrides the manifest's)\n"
        "  -n, --namespace NS           Secret namespace (overrides the manifest's)\n"
        "      --type TYPE              Secret type (default: the manifest's, or Opaque)\n"
        "      --from-literal KEY=VALUE a value given on the command line (visible to\n"
        "                               other local users while sluice runs; prefer\n"
        "                               --from-file)\n"
        "      --from-file KEY=PATH     a value read from PATH (- for stdin)\n"
        "      --merge-into FILE        update one key of the SealedSecret in FILE\n"
        "  -o, --output FILE            write the SealedSecret to FILE (atomically)\n";

enum { OPT_SCOPE = 256, OPT_NAME, OPT_TYPE, OPT_LITERAL, OPT_FROMFILE, OPT_MERGE };

struct value {
    char *key;
    struct sl_secbuf data;
};

struct seal_input {
    struct value v[256];
    size_t n;
};

static int add_value(struct seal_input *in, const char *key, size_t keylen, const void *data,
                     size_t len, struct sl_error *err)
{
    struct value *v;

    if (in->n == sizeof(in->v) / sizeof(in->v[0]))
        return sl_error_set(err, SL_ETOOLARGE, "too many keys");
    v = &in->v[in->n];
    v->key = strndup(key, keylen);
    v->data = (struct sl_secbuf)SL_SECBUF_INIT(SL_SECRET_MAX);
    if (v->key == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    in->n++;
    if (!sl_secret_key_valid(v->key))
        return sl_error_set(err, SL_EINVAL, "\"%.64s\" is not a valid Secret key ([-._a-zA-Z0-9]+)",
                            v->key);
    for (size_t i = 0; i + 1 < in->n; i++)
        if (strcmp(in->v[i].key, v->key) == 0)
            return sl_error_set(err, SL_EINVAL, "key \"%s\" given twice", v->key);
    if (sl_secbuf_append(&v->data, data, len, err) != 0)
        return -1;
    return v->data.ptr == NULL ? sl_secbuf_resize(&v->data, 0, err) : 0;
}

static void input_release(struct seal_input *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].key);
        sl_secbuf_release(&in->v[i].data);
    }
    in->n = 0;
}

static char *dup_scalar(const struct sl_ynode *map, const char *key)
{
    const struct sl_ynode *n = sl_ynode_get(map, key);

    return n != NULL && n->type == SL_Y_SCALAR && !sl_yscalar_is_null(n) ? strdup(n->value) : NULL;
}

static int string_map(const struct sl_ynode *n, const char *what, json_t **out,
                      struct sl_error *err)
{
    json_t *m;

    if (n == NULL || (n->type == SL_Y_SCALAR && sl_yscalar_is_null(n)))
        return 0;
    if (n->type != SL_Y_MAP)
        return sl_error_set(err, SL_EINVAL, "%s must be a mapping", what);
    m = json_object();
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->type != SL_Y_SCALAR) {
            json_decref(m);
            return sl_error_set(err, SL_EINVAL, "%s.%s must be a string", what, n->keys[i]->value);
        }
        json_object_set_new(m, n->keys[i]->value, json_string(n->items[i]->value));
    }
    *out = m;
    return 0;
}

/* Read one v1 Secret manifest into the values and the document's metadata. */
static int read_manifest(const char *path, struct seal_input *in, struct sl_sealed_doc *doc,
                         struct sl_error *err)
{
    struct sl_secbuf text = SL_SECBUF_INIT(SL_FILE_MAX);
    struct sl_ystream *ys = NULL;
    const struct sl_ynode *root = NULL, *md, *data, *sdata, *imm;
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    const char *av, *kind;
    int rc = -1;

    if (sl_secret_read_input(path, &text, SL_FILE_MAX, err) != 0)
        goto done;
    if (sl_yaml_load(&ys, (const char *)text.ptr, text.len, name, NULL, err) != 0)
        goto done;
    for (size_t i = 0; i < ys->ndocs; i++) {
        if (ys->docs[i].root == NULL)
            continue;
        if (root != NULL) {
            sl_error_set(err, SL_EINVAL, "%s: expected one Secret, found several documents", name);
            goto done;
        }
        root = ys->docs[i].root;
    }
    av = root == NULL                       ? NULL
         : sl_ynode_get(root, "apiVersion") ? sl_ynode_get(root, "apiVersion")->value
                                            : NULL;
    kind = root == NULL                 ? NULL
           : sl_ynode_get(root, "kind") ? sl_ynode_get(root, "kind")->value
                                        : NULL;
    if (root == NULL || root->type != SL_Y_MAP || av == NULL || kind == NULL ||
        strcmp(av, "v1") != 0 || strcmp(kind, "Secret") != 0) {
        sl_error_set(err, SL_EINVAL, "%s: expected a v1 Secret manifest", name);
        goto done;
    }
    md = sl_ynode_get(root, "metadata");
    if (doc->name == NULL)
        doc->name = dup_scalar(md, "name");
    if (doc->ns == NULL)
        doc->ns = dup_scalar(md, "namespace");
    if (doc->type == NULL)
        doc->type = dup_scalar(root, "type");
    if (string_map(sl_ynode_get(md, "labels"), "metadata.labels", &doc->labels, err) != 0 ||
        string_map(sl_ynode_get(md, "annotations"), "metadata.annotations", &doc->annotations,
                   err) != 0)
        goto done;
    imm = sl_ynode_get(root, "immutable");
    if (imm != NULL && imm->type == SL_Y_SCALAR)
        doc->immutable = strcmp(imm->value, "true") == 0 ? 1 : 0;
    data = sl_ynode_get(root, "data");
    sdata = sl_ynode_get(root, "stringData");
    for (size_t i = 0; data != NULL && data->type == SL_Y_MAP && i < data->n; i++) {
        const struct sl_ynode *v = data->items[i];
        struct sl_secbuf raw = SL_SECBUF_INIT(SL_SECRET_MAX);
        size_t got = 0;
        int r;

        if (v->type != SL_Y_SCALAR || sl_secbuf_resize(&raw, v->len / 4 * 3 + 3, err) != 0 ||
            sodium_base642bin(raw.ptr, raw.len, v->value, v->len, " \n", &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            sl_secbuf_release(&raw);
            sl_error_set(err, SL_EINVAL, "%s: data.%s is not valid base64", name,
                         data->keys[i]->value);
            goto done;
        }
        r = add_value(in, data->keys[i]->value, data->keys[i]->len, raw.ptr, got, err);
        sl_secbuf_release(&raw);
        if (r != 0)
            goto done;
    }
    for (size_t i = 0; sdata != NULL && sdata->type == SL_Y_MAP && i < sdata->n; i++) {
        if (sdata->items[i]->type != SL_Y_SCALAR) {
            sl_error_set(err, SL_EINVAL, "%s: stringData.%s must be a string", name,
                         sdata->keys[i]->value);
            goto done;
        }
        if (add_value(in, sdata->keys[i]->value, sdata->keys[i]->len, sdata->items[i]->value,
                      sdata->items[i]->len, err) != 0)
            goto done;
    }
    rc = 0;
done:
    if (ys != NULL) {
        for (size_t i = 0; i < ys->ndocs; i++)
            sl_ynode_wipe(ys->docs[i].root);
        sl_ystream_free(ys);
    }
    sl_secbuf_release(&text);
    return rc;
}

static int split_kv(const char *arg, const char *opt, const char **eq, struct sl_error *err)
{
    *eq = strchr(arg, '=');
    if (*eq == NULL || *eq == arg)
        return sl_error_set(err, SL_EINVAL, "%s needs KEY=VALUE", opt);
    return 0;
}

int sl_cmd_seal(int argc, char **argv)
{
    static const struct option opts[] = {{"recipient", required_argument, NULL, 'r'},
                                         {"recipients-file", required_argument, NULL, 'R'},
                                         {"scope", required_argument, NULL, OPT_SCOPE},
                                         {"name", required_argument, NULL, OPT_NAME},
                                         {"namespace", required_argument, NULL, 'n'},
                                         {"type", required_argument, NULL, OPT_TYPE},
                                         {"from-literal", required_argument, NULL, OPT_LITERAL},
                                         {"from-file", required_argument, NULL, OPT_FROMFILE},
                                         {"merge-into", required_argument, NULL, OPT_MERGE},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_recipient *rcpts = NULL;
    size_t nrcpts = 0;
    struct seal_input *in = calloc(1, sizeof(*in));
    struct sl_sealed_doc doc = {0};
    struct sl_buf out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX), armored = SL_BUF_INIT(SL_BUF_DEFAULT_MAX),
                  merge_text = SL_BUF_INIT(SL_FILE_MAX);
    enum sl_scope_kind scope = SL_SCOPE_NONE;
    const char *merge = NULL, *output = NULL;
    bool literal = false;
    int c, rc = SL_EXIT_FAIL;

    doc.immutable = -1;
    if (in == NULL) {
        sl_error_set(&err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    while ((c = getopt_long(argc, argv, "r:R:n:o:", opts, NULL)) != -1) {
        const char *eq;
        switch (c) {
        case 'r':
            if (sl_recipients_add(&rcpts, &nrcpts, optarg, &err) != 0)
                goto fail;
            break;
        case 'R':
            if (sl_recipients_load_file(&rcpts, &nrcpts, optarg, &err) != 0)
                goto fail;
            break;
        case OPT_SCOPE:
            if (sl_scope_parse(optarg, &scope) != 0) {
                rc = sl_cli_usage_error("seal", "--scope must be strict, namespace or cluster");
                goto done;
            }
            break;
        case OPT_NAME:
            free(doc.name);
            doc.name = strdup(optarg);
            break;
        case 'n':
            free(doc.ns);
            doc.ns = strdup(optarg);
            break;
        case OPT_TYPE:
            free(doc.type);
            doc.type = strdup(optarg);
            break;
        case OPT_LITERAL:
            literal = true;
            if (split_kv(optarg, "--from-literal", &eq, &err) != 0 ||
                add_value(in, optarg, (size_t)(eq - optarg), eq + 1, strlen(eq + 1), &err) != 0)
                goto fail;
            /* Shorten the window in which /proc/PID/cmdline shows the value. */
            sodium_memzero(optarg + (eq - optarg) + 1, strlen(eq + 1));
            break;
        case OPT_FROMFILE: {
            struct sl_secbuf v = SL_SECBUF_INIT(SL_SECRET_MAX);
            int r;
            literal = true;
            if (split_kv(optarg, "--from-file", &eq, &err) != 0)
                goto fail;
            if (sl_secret_read_input(eq + 1, &v, SL_SECRET_MAX, &err) != 0) {
                sl_secbuf_release(&v);
                goto fail;
            }
            r = add_value(in, optarg, (size_t)(eq - optarg), v.ptr, v.len, &err);
            sl_secbuf_release(&v);
            if (r != 0)
                goto fail;
            break;
        }
        case OPT_MERGE:
            merge = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            rc = sl_cli_usage_error("seal", "unknown option");
            goto done;
        }
    }
    if (nrcpts == 0) {
        rc = sl_cli_usage_error("seal", "at least one recipient (-r age1... or -R FILE) is needed");
        goto done;
    }
    if (argc - optind > 1 || (literal && argc - optind > 0)) {
        rc = sl_cli_usage_error("seal", "give one manifest FILE, or --from-literal/--from-file");
        goto done;
    }
    if (!literal && read_manifest(optind < argc ? argv[optind] : "-", in, &doc, &err) != 0)
        goto fail;
    if (in->n == 0) {
        sl_error_set(&err, SL_EINVAL, "nothing to seal: the Secret has no data");
        goto fail;
    }
    if (merge != NULL) {
        if (in->n != 1) {
            rc = sl_cli_usage_error("seal", "--merge-into seals exactly one key (got %zu)", in->n);
            goto done;
        }
        if (output != NULL) {
            rc = sl_cli_usage_error("seal", "--merge-into writes FILE; -o does not apply");
            goto done;
        }
        if (sl_file_read(&merge_text, merge, SL_FILE_MAX, &err) != 0 ||
            sl_sealed_merge_text(merge_text.ptr, merge_text.len, merge, in->v[0].key,
                                 in->v[0].data.ptr, in->v[0].data.len, rcpts, nrcpts, scope, &out,
                                 &err) != 0 ||
            sl_file_write_atomic(merge, out.ptr, out.len, 0644, &err) != 0)
            goto fail;
        fprintf(stderr, "sluice seal: sealed key \"%s\" into %s\n", in->v[0].key, merge);
        rc = SL_EXIT_OK;
        goto done;
    }
    doc.scope = scope == SL_SCOPE_NONE ? SL_SCOPE_STRICT : scope;
    if (doc.name == NULL) {
        rc = sl_cli_usage_error("seal", "the Secret needs a name (metadata.name or --name)");
        goto done;
    }
    {
        struct sl_age_scope sc;
        if (sl_scope_make(doc.scope, doc.ns, doc.name, &sc, &err) != 0) {
            sl_error_wrap(&err, "%s scope", sl_scope_name(doc.scope));
            goto fail;
        }
        struct sl_age_sealer sealer;
        /* One header for the object's values: unsealing pays for X25519 once per object. */
        if (sl_age_sealer_init(&sealer, rcpts, nrcpts, &sc, &err) != 0)
            goto fail;
        for (size_t i = 0; i < in->n; i++) {
            sl_buf_reset(&armored);
            if (sl_age_seal_with(&sealer, in->v[i].data.ptr, in->v[i].data.len, true, &armored,
                                 &err) != 0 ||
                sl_sealed_doc_set(&doc, in->v[i].key, armored.ptr, &err) != 0) {
                sl_age_sealer_release(&sealer);
                goto fail;
            }
        }
        sl_age_sealer_release(&sealer);
    }
    if (sl_sealed_doc_format(&doc, &out, &err) != 0)
        goto fail;
    if (output != NULL) {
        if (sl_file_write_atomic(output, out.ptr, out.len, 0644, &err) != 0)
            goto fail;
    } else if (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        sl_error_set(&err, SL_EIO, "cannot write to stdout");
        goto fail;
    }
    rc = SL_EXIT_OK;
    goto done;
fail:
    sl_cli_fail(&err);
done:
    if (in != NULL)
        input_release(in);
    free(in);
    sl_sealed_doc_release(&doc);
    sl_buf_release(&out);
    sl_buf_release(&armored);
    sl_buf_release(&merge_text);
    free(rcpts);
    return rc;
}
