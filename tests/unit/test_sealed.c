/*
 * SealedSecret unit tests: scope binding (moved, renamed, edited scope),
 * errors that never contain values, masking, wiping, the canonical YAML and
 * the minimal-diff text edits, identity file permissions.
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "secrets.h"
#include "yamltree.h"

static struct sl_identities ids = SL_IDENTITIES_INIT;
static struct sl_recipient rcpt;
static const char secret_value[] = "correct horse battery staple";

static int setup(void **state)
{
    struct sl_age_identity *id;

    if (sodium_init() < 0)
        return -1;
    id = sl_age_identity_generate(NULL);
    if (id == NULL || sl_identities_add_raw(&ids, id->sk, NULL) != 0)
        return -1;
    memcpy(rcpt.pk, id->pk, 32);
    sl_age_identity_free(id);
    return 0;
}

static int teardown(void **state)
{
    sl_identities_release(&ids);
    return 0;
}

/* A SealedSecret object with one key sealed for (kind, ns, name). */
static json_t *sealed_obj(enum sl_scope_kind kind, const char *ns, const char *name,
                          const char *spec_scope)
{
    struct sl_age_scope sc;
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    json_t *o;

    assert_int_equal(sl_scope_make(kind, ns, name, &sc, NULL), 0);
    assert_int_equal(sl_seal_value(secret_value, strlen(secret_value), &rcpt, 1, &sc, &a, NULL), 0);
    o = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s}, s:{s:s, s:{s:{s:s}}}}}", "apiVersion",
                  SL_SEALED_API_VERSION, "kind", SL_SEALED_KIND, "metadata", "name", name, "spec",
                  "encryptedData", "password", a.ptr, "template", "type",
                  "kubernetes.io/basic-auth", "metadata", "labels", "team", "db");
    assert_non_null(o);
    if (ns != NULL)
        json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
    if (spec_scope != NULL)
        json_object_set_new(json_object_get(o, "spec"), "scope", json_string(spec_scope));
    sl_buf_release(&a);
    return o;
}

/* Unseal one object after moving it to ns/name; returns rc and the error. */
static int unseal_as(json_t *o, const char *ns, const char *name, struct sl_error *err,
                     json_t **out)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    json_t *md = json_object_get(o, "metadata");
    int rc;

    if (ns != NULL)
        json_object_set_new(md, "namespace", json_string(ns));
    if (name != NULL)
        json_object_set_new(md, "name", json_string(name));
    assert_int_equal(sl_objlist_add(&l, o, "base/db.yaml", 3, NULL), 0);
    rc = sl_unseal_objects(&l, &ids, err);
    if (rc == 0 && out != NULL) {
        assert_true(l.items[0].secret);
        *out = json_deep_copy(l.items[0].json);
    }
    sl_objlist_wipe_secrets(&l);
    sl_objlist_release(&l);
    return rc;
}

static void assert_no_value(const char *msg)
{
    char b64[128];

    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)secret_value, strlen(secret_value),
                      sodium_base64_VARIANT_ORIGINAL);
    assert_null(strstr(msg, secret_value));
    assert_null(strstr(msg, b64));
}

static void test_strict_ok(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *s = NULL;
    char b64[128];

    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_STRICT, "app", "db", "strict"), NULL, NULL, &err, &s), 0);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)secret_value, strlen(secret_value),
                      sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(json_string_value(json_object_get(s, "kind")), "Secret");
    assert_string_equal(json_string_value(json_object_get(s, "type")), "kubernetes.io/basic-auth");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "data"), "password")),
                        b64);
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(s, "metadata"), "labels"), "team")),
                        "db");
    sl_secret_json_wipe(s);
    assert_null(json_object_get(s, "data"));
    json_decref(s);
}

static void test_strict_moved_namespace_fails(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_STRICT, "app", "db", NULL), "evil", NULL, &err, NULL),
            -1);
    assert_non_null(strstr(err.msg, "SealedSecret evil/db"));
    assert_non_null(strstr(err.msg, "key \"password\""));
    assert_non_null(strstr(err.msg, "base/db.yaml:3"));
    assert_no_value(err.msg);
}

static void test_strict_renamed_fails(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_STRICT, "app", "db", NULL), NULL, "db2", &err, NULL), -1);
    assert_non_null(strstr(err.msg, "app/db2"));
    assert_no_value(err.msg);
}

static void test_namespace_scope(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *s = NULL;

    /* renaming within the namespace is allowed */
    assert_int_equal(unseal_as(sealed_obj(SL_SCOPE_NAMESPACE, "app", "db", "namespace"), NULL,
                               "other", &err, &s),
                     0);
    sl_secret_json_wipe(s);
    json_decref(s);
    /* moving to another namespace is not */
    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_NAMESPACE, "app", "db", NULL), "prod", NULL, &err, NULL),
            -1);
    assert_no_value(err.msg);
}

static void test_cluster_scope(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *s = NULL;

    assert_int_equal(unseal_as(sealed_obj(SL_SCOPE_CLUSTER, NULL, "db", "cluster"), "anywhere",
                               "anything", &err, &s),
                     0);
    sl_secret_json_wipe(s);
    json_decref(s);
}

static void test_spec_scope_edited_fails(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    /* sealed strict, spec.scope edited to cluster to try to widen it */
    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_STRICT, "app", "db", "cluster"), NULL, NULL, &err, NULL),
            -1);
    assert_non_null(strstr(err.msg, "scope edited"));
}

/* Edit the scope stanza inside the ciphertext: the header MAC catches it. */
static void test_scope_stanza_edited_fails(void **state)
{
    struct sl_age_scope sc;
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX), bin = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_secbuf pt = SL_SECBUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    enum sl_age_status st;
    char *p, b64old[16], b64new[16];

    assert_int_equal(sl_scope_make(SL_SCOPE_STRICT, "app", "db", &sc, NULL), 0);
    assert_int_equal(
            sl_age_encrypt(secret_value, strlen(secret_value), &rcpt, 1, &sc, false, &bin, NULL),
            0);
    /* "app/db" -> "evl/db": same length, so the header stays well formed */
    sodium_bin2base64(b64old, sizeof(b64old), (const unsigned char *)"app/db", 6,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(b64new, sizeof(b64new), (const unsigned char *)"evl/db", 6,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    p = memmem(bin.ptr, bin.len, b64old, strlen(b64old));
    assert_non_null(p);
    memcpy(p, b64new, strlen(b64new));
    assert_int_equal(sl_age_decrypt(bin.ptr, bin.len, &ids, &pt, &sc, &st, &err), -1);
    assert_int_equal(st, SL_AGE_EHMAC);
    /* and the kind: "strict" -> "string" is not a scope at all; "cluster" needs the length */
    sl_buf_release(&a);
    sl_buf_release(&bin);
}

static void test_unscoped_value_fails(void **state)
{
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_secbuf pt = SL_SECBUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_age_encrypt("x", 1, &rcpt, 1, NULL, true, &a, NULL), 0);
    assert_int_equal(
            sl_unseal_value(a.ptr, a.len, &ids, "app", "db", SL_SCOPE_NONE, &pt, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "no scope binding"));
    assert_null(pt.ptr);
    sl_buf_release(&a);
}

static void test_wrong_key_no_match(void **state)
{
    struct sl_identities other = SL_IDENTITIES_INIT;
    struct sl_age_identity *id = sl_age_identity_generate(NULL);
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_identities_add_raw(&other, id->sk, NULL), 0);
    sl_age_identity_free(id);
    assert_int_equal(
            sl_objlist_add(&l, sealed_obj(SL_SCOPE_STRICT, "app", "db", NULL), "a.yaml", 1, NULL),
            0);
    assert_int_equal(
            sl_objlist_add(&l, sealed_obj(SL_SCOPE_STRICT, "app", "db", NULL), "b.yaml", 7, NULL),
            0);
    assert_int_equal(sl_unseal_objects_all(&l, &other, &d, &err), -1);
    /* every undecryptable value is reported, each naming its object and key */
    assert_int_equal(d.n, 2);
    assert_non_null(strstr(d.msgs[0], "a.yaml:1: SealedSecret app/db: key \"password\""));
    assert_non_null(strstr(d.msgs[1], "b.yaml:7"));
    assert_non_null(strstr(d.msgs[0], "no identity matched"));
    assert_false(l.items[0].secret);
    sl_diags_release(&d);
    sl_objlist_release(&l);
    sl_identities_release(&other);
}

static void test_mask_and_dump(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_secbuf body = SL_SECBUF_INIT(0);
    json_t *s = NULL, *m;
    char *txt;

    assert_int_equal(
            unseal_as(sealed_obj(SL_SCOPE_STRICT, "app", "db", NULL), NULL, NULL, &err, &s), 0);
    json_object_set_new(
            json_object_get(s, "metadata"), "annotations",
            json_pack("{s:s}", "kubectl.kubernetes.io/last-applied-configuration", secret_value));
    m = sl_secret_masked(s);
    txt = json_dumps(m, 0);
    assert_non_null(strstr(txt, SL_SECRET_MASK));
    assert_no_value(txt);
    free(txt);
    json_decref(m);
    assert_int_equal(sl_secret_json_dump(s, &body, &err), 0);
    assert_non_null(memmem(body.ptr, body.len, "\"password\"", 10));
    sl_secbuf_release(&body);
    sl_secret_json_wipe(s);
    txt = json_dumps(s, 0);
    assert_no_value(txt);
    assert_null(strstr(txt, "password"));
    free(txt);
    json_decref(s);
}

static void test_key_file_permissions(void **state)
{
    char path[] = "/tmp/sluice-test-key-XXXXXX";
    struct sl_identities l = SL_IDENTITIES_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_age_identity *id = sl_age_identity_generate(NULL);
    char idstr[SL_AGE_IDENTITY_STRLEN + 1];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(sl_age_identity_format(id, idstr, sizeof(idstr)), 0);
    assert_int_equal(write(fd, idstr, strlen(idstr)), (ssize_t)strlen(idstr));
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(sl_identities_load_file(&l, path, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_null(strstr(err.msg, idstr));
    sl_error_clear(&err);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(sl_identities_load_file(&l, path, &err), -1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(sl_identities_load_file(&l, path, &err), 0);
    assert_int_equal(l.n, 1);
    assert_memory_equal(l.keys[0]->pk, id->pk, 32);
    unlink(path);
    sl_identities_release(&l);
    sl_age_identity_free(id);
}

static void test_identity_text(void **state)
{
    struct sl_identities l = SL_IDENTITIES_INIT;
    struct sl_error err = SL_ERROR_INIT;
    /* the test kit's identity, lower-cased: identities must be upper case */
    const char *good =
            "# created: x\n"
            "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0\n";
    const char *lower =
            "age-secret-key-1egtzvffv20835nwyv6270lxyvk2vknx2mmdkwyklmgr48uawx40q2p2lm0";
    const char *badsum =
            "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM1";

    assert_int_equal(sl_identities_add_text(&l, good, strlen(good), "k", &err), 0);
    assert_int_equal(sl_identities_add_text(&l, lower, strlen(lower), "k", &err), -1);
    assert_null(strstr(err.msg, "EGTZ"));
    sl_error_clear(&err);
    assert_int_equal(sl_identities_add_text(&l, badsum, strlen(badsum), "k", &err), -1);
    assert_non_null(strstr(err.msg, "k:1"));
    sl_identities_release(&l);
}

static void test_bech32(void **state)
{
    struct sl_recipient r;
    struct sl_error err = SL_ERROR_INIT;
    char s[SL_AGE_RECIPIENT_STRLEN + 1], up[SL_AGE_RECIPIENT_STRLEN + 1];

    sl_recipient_format(rcpt.pk, s, sizeof(s));
    assert_int_equal(strlen(s), SL_AGE_RECIPIENT_STRLEN);
    assert_int_equal(sl_recipient_parse(s, &r, &err), 0);
    assert_memory_equal(r.pk, rcpt.pk, 32);
    /* all-upper is valid Bech32 but the recipient HRP is checked case-sensitively */
    for (size_t i = 0; i <= strlen(s); i++)
        up[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    assert_int_equal(sl_recipient_parse(up, &r, &err), -1);
    /* mixed case */
    up[0] = 'a';
    assert_int_equal(sl_recipient_parse(up, &r, &err), -1);
    /* a one-character typo breaks the checksum */
    s[10] = s[10] == 'q' ? 'p' : 'q';
    assert_int_equal(sl_recipient_parse(s, &r, &err), -1);
}

/* BIP173 test vectors (those whose data converts to whole bytes). */
static void test_bech32_bip173(void **state)
{
    static const char *const valid[] = {
            "A12UEL5L",
            "a12uel5l",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "?1ezyfcl",
    };
    static const char *const invalid[] = {
            " 1nwldj5",      /* HRP character out of range (0x20) */
            "pzry9x0s0muk",  /* no separator */
            "1pzry9x0s0muk", /* empty HRP */
            "x1b4n0q5v",     /* invalid data character */
            "li1dgmt3",      /* too short checksum */
            "A1G7SGD8",      /* checksum calculated with uppercase HRP */
            "10a06t8",       /* empty HRP */
            "1qzzfhee",      /* empty HRP */
            "A12UEL5l",      /* mixed case */
    };
    char hrp[128];
    unsigned char data[128];
    size_t n;

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        assert_int_equal(sl_bech32_decode(valid[i], strlen(valid[i]), hrp, sizeof(hrp), data,
                                          sizeof(data), &n),
                         0);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        assert_int_equal(sl_bech32_decode(invalid[i], strlen(invalid[i]), hrp, sizeof(hrp), data,
                                          sizeof(data), &n),
                         -1);
}

static const char *sealed_yaml(struct sl_buf *out, const char *key2)
{
    struct sl_sealed_doc d = {0};
    struct sl_age_scope sc;
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);

    d.immutable = -1;
    d.name = strdup("db");
    d.ns = strdup("app");
    d.scope = SL_SCOPE_STRICT;
    assert_int_equal(sl_scope_make(SL_SCOPE_STRICT, "app", "db", &sc, NULL), 0);
    assert_int_equal(sl_seal_value("one", 3, &rcpt, 1, &sc, &a, NULL), 0);
    assert_int_equal(sl_sealed_doc_set(&d, "b", a.ptr, NULL), 0);
    sl_buf_reset(&a);
    assert_int_equal(sl_seal_value("two", 3, &rcpt, 1, &sc, &a, NULL), 0);
    assert_int_equal(sl_sealed_doc_set(&d, key2, a.ptr, NULL), 0);
    assert_int_equal(sl_sealed_doc_format(&d, out, NULL), 0);
    sl_sealed_doc_release(&d);
    sl_buf_release(&a);
    return out->ptr;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Count lines of a that are not in b (a cheap diff size). */
static size_t changed_lines(const char *a, const char *b)
{
    size_t n = 0, blen = strlen(b);
    const char *p = a;
    char *nb = malloc(blen + 2);

    /* every line of b is preceded by '\n' in nb */
    nb[0] = '\n';
    memcpy(nb + 1, b, blen + 1);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p) + 1;
        char line[256];
        snprintf(line, sizeof(line), "\n%.*s", (int)len, p);
        if (strstr(nb, line) == NULL)
            n++;
        p += len;
    }
    free(nb);
    return n;
}

static int unseal_text(const char *text, const char *key, struct sl_secbuf *pt)
{
    struct sl_ystream *ys = NULL;
    const struct sl_ynode *v;
    int rc;

    assert_int_equal(sl_yaml_load(&ys, text, strlen(text), "t", NULL, NULL), 0);
    v = sl_ynode_get(sl_ynode_get(sl_ynode_get(ys->docs[0].root, "spec"), "encryptedData"), key);
    assert_non_null(v);
    rc = sl_unseal_value(v->value, v->len, &ids, "app", "db", SL_SCOPE_STRICT, pt, NULL, NULL);
    sl_ystream_free(ys);
    return rc;
}

static void test_merge_minimal_diff(void **state)
{
    struct sl_buf orig = SL_BUF_INIT(SL_BUF_DEFAULT_MAX), out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX),
                  out2 = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_secbuf pt = SL_SECBUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    const char *text = sealed_yaml(&orig, "d");

    /* replace b: only b's block changes (7 armor lines for a short value) */
    assert_int_equal(sl_sealed_merge_text(text, strlen(text), "f", "b", "NEW", 3, &rcpt, 1,
                                          SL_SCOPE_NONE, &out, &err),
                     0);
    assert_int_equal(count_lines(out.ptr), count_lines(text));
    /* the block of a 3-byte value is 5 base64 lines; they change, nothing else does */
    assert_int_equal(changed_lines(out.ptr, text), 5);
    assert_int_equal(changed_lines(text, out.ptr), 5);
    assert_int_equal(unseal_text(out.ptr, "b", &pt), 0);
    assert_memory_equal(pt.ptr, "NEW", 3);
    assert_int_equal(unseal_text(out.ptr, "d", &pt), 0);
    assert_memory_equal(pt.ptr, "two", 3);
    /* add c: sorted between b and d, nothing else changes */
    assert_int_equal(sl_sealed_merge_text(out.ptr, out.len, "f", "c", "three", 5, &rcpt, 1,
                                          SL_SCOPE_NONE, &out2, &err),
                     0);
    assert_int_equal(changed_lines(out.ptr, out2.ptr), 0);
    assert_true(strstr(out2.ptr, "    b: |") < strstr(out2.ptr, "    c: |"));
    assert_true(strstr(out2.ptr, "    c: |") < strstr(out2.ptr, "    d: |"));
    assert_int_equal(unseal_text(out2.ptr, "c", &pt), 0);
    assert_memory_equal(pt.ptr, "three", 5);
    /* add z: appended after the last block */
    sl_buf_reset(&out);
    assert_int_equal(sl_sealed_merge_text(out2.ptr, out2.len, "f", "z", "last", 4, &rcpt, 1,
                                          SL_SCOPE_NONE, &out, &err),
                     0);
    assert_int_equal(unseal_text(out.ptr, "z", &pt), 0);
    assert_int_equal(unseal_text(out.ptr, "d", &pt), 0);
    /* a different scope than the file's is refused */
    sl_buf_reset(&out2);
    assert_int_equal(sl_sealed_merge_text(out.ptr, out.len, "f", "z", "x", 1, &rcpt, 1,
                                          SL_SCOPE_CLUSTER, &out2, &err),
                     -1);
    sl_secbuf_release(&pt);
    sl_buf_release(&orig);
    sl_buf_release(&out);
    sl_buf_release(&out2);
}

static void test_reseal_text(void **state)
{
    struct sl_buf orig = SL_BUF_INIT(SL_BUF_DEFAULT_MAX), out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX),
                  text = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_secbuf pt = SL_SECBUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    size_t n = 0;

    sealed_yaml(&orig, "d");
    /* a comment and another document must survive byte for byte */
    sl_buf_puts(&text, "# keep me\n", NULL);
    sl_buf_puts(&text, orig.ptr, NULL);
    sl_buf_puts(&text, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", NULL);
    assert_int_equal(sl_sealed_reseal_text(text.ptr, text.len, "f", &ids, &rcpt, 1, &out, &n, &err),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(count_lines(out.ptr), count_lines(text.ptr));
    assert_non_null(strstr(out.ptr, "# keep me\napiVersion"));
    assert_non_null(strstr(out.ptr, "kind: ConfigMap"));
    assert_string_not_equal(out.ptr, text.ptr);
    assert_int_equal(unseal_text(strstr(out.ptr, "apiVersion"), "d", &pt), 0);
    assert_memory_equal(pt.ptr, "two", 3);
    sl_secbuf_release(&pt);
    sl_buf_release(&orig);
    sl_buf_release(&out);
    sl_buf_release(&text);
}

static void test_age_resource(void **state)
{
    const char *manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
                           "stringData:\n  token: correct horse battery staple\n";
    const char *bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n";
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_age_encrypt(manifest, strlen(manifest), &rcpt, 1, NULL, true, &a, NULL), 0);
    assert_int_equal(sl_unseal_age_resource("s.yaml.age", a.ptr, a.len, &ids, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.items[0].secret);
    sl_objlist_wipe_secrets(&l);
    sl_objlist_release(&l);
    sl_buf_reset(&a);
    assert_int_equal(sl_age_encrypt(bad, strlen(bad), &rcpt, 1, NULL, false, &a, NULL), 0);
    assert_int_equal(sl_unseal_age_resource("c.yaml.age", a.ptr, a.len, &ids, &l, &err), -1);
    assert_non_null(strstr(err.msg, "only contain v1 Secrets"));
    assert_int_equal(l.n, 0);
    sl_buf_release(&a);
}

/* Values sharing one header: the cache skips X25519 but never the payload checks. */
static void test_shared_header_cache(void **state)
{
    struct sl_age_sealer sealer;
    struct sl_age_scope sc;
    struct sl_buf v1 = SL_BUF_INIT(1 << 20), v2 = SL_BUF_INIT(1 << 20);
    struct sl_secbuf pt = SL_SECBUF_INIT(1 << 20);
    struct sl_age_cache *c = sl_age_cache_new(NULL);
    struct sl_error err = SL_ERROR_INIT;
    enum sl_age_status st;
    char *mac;

    assert_non_null(c);
    assert_int_equal(sl_scope_make(SL_SCOPE_STRICT, "app", "db", &sc, NULL), 0);
    assert_int_equal(sl_age_sealer_init(&sealer, &rcpt, 1, &sc, NULL), 0);
    assert_int_equal(sl_age_seal_with(&sealer, "first", 5, false, &v1, NULL), 0);
    assert_int_equal(sl_age_seal_with(&sealer, "second", 6, false, &v2, NULL), 0);
    sl_age_sealer_release(&sealer);
    /* same header, different payload nonce */
    mac = strstr(v1.ptr, "\n--- ");
    assert_non_null(mac);
    assert_memory_equal(v1.ptr, v2.ptr, (size_t)(mac - v1.ptr) + 48);
    assert_memory_not_equal(v1.ptr + (mac - v1.ptr) + 48, v2.ptr + (mac - v1.ptr) + 48, 16);
    assert_int_equal(sl_age_decrypt_cached(v1.ptr, v1.len, &ids, c, &pt, &sc, &st, &err), 0);
    assert_int_equal(c->n, 1);
    assert_memory_equal(pt.ptr, "first", 5);
    /* tampered payload of the second value: the cached header does not help it */
    v2.ptr[v2.len - 1] ^= 1;
    assert_int_equal(sl_age_decrypt_cached(v2.ptr, v2.len, &ids, c, &pt, &sc, &st, &err), -1);
    assert_int_equal(st, SL_AGE_EPAYLOAD);
    assert_null(pt.ptr);
    v2.ptr[v2.len - 1] ^= 1;
    assert_int_equal(sl_age_decrypt_cached(v2.ptr, v2.len, &ids, c, &pt, &sc, &st, &err), 0);
    assert_memory_equal(pt.ptr, "second", 6);
    /* a MAC changed by one bit: a different header, so a miss and an HMAC failure */
    mac[6] = mac[6] == 'A' ? 'B' : 'A';
    assert_int_equal(sl_age_decrypt_cached(v1.ptr, v1.len, &ids, c, &pt, &sc, &st, &err), -1);
    assert_true(st == SL_AGE_EHMAC || st == SL_AGE_EHEADER);
    sl_secbuf_release(&pt);
    sl_buf_release(&v1);
    sl_buf_release(&v2);
    sl_age_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_strict_ok),
            cmocka_unit_test(test_strict_moved_namespace_fails),
            cmocka_unit_test(test_strict_renamed_fails),
            cmocka_unit_test(test_namespace_scope),
            cmocka_unit_test(test_cluster_scope),
            cmocka_unit_test(test_spec_scope_edited_fails),
            cmocka_unit_test(test_scope_stanza_edited_fails),
            cmocka_unit_test(test_unscoped_value_fails),
            cmocka_unit_test(test_wrong_key_no_match),
            cmocka_unit_test(test_mask_and_dump),
            cmocka_unit_test(test_key_file_permissions),
            cmocka_unit_test(test_identity_text),
            cmocka_unit_test(test_bech32),
            cmocka_unit_test(test_bech32_bip173),
            cmocka_unit_test(test_merge_minimal_diff),
            cmocka_unit_test(test_reseal_text),
            cmocka_unit_test(test_age_resource),
            cmocka_unit_test(test_shared_header_cache),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
