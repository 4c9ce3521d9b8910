/*
 * Runs every vector of the C2SP age test kit (shared/testdata/age-testkit)
 * through sl_age_decrypt and checks the `expect:` class; success also needs
 * SHA-256(plaintext) == payload. Vectors without an X25519 identity (scrypt
 * passphrases, post-quantum, none) are counted as skipped, never passed.
 */
#include <dirent.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "age.h"
#include "file.h"

#ifndef AGE_TESTKIT_DIR
#define AGE_TESTKIT_DIR SLUICE_SOURCE_DIR "/../shared/testdata/age-testkit"
#endif

static const char *expect_name(enum sl_age_status s)
{
    switch (s) {
    case SL_AGE_OK:
        return "success";
    case SL_AGE_EARMOR:
        return "armor failure";
    case SL_AGE_EHEADER:
        return "header failure";
    case SL_AGE_EHMAC:
        return "HMAC failure";
    case SL_AGE_EPAYLOAD:
        return "payload failure";
    case SL_AGE_ENOMATCH:
        return "no match";
    case SL_AGE_EUNSUPPORTED:
        return "unsupported";
    default:
        return "other";
    }
}

static int inflate_all(const unsigned char *in, size_t len, struct sl_buf *out)
{
    z_stream zs;
    int zrc;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        return -1;
    zs.next_in = (unsigned char *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        if (sl_buf_grow(out, 65536, NULL) != 0) {
            inflateEnd(&zs);
            return -1;
        }
        zs.next_out = (unsigned char *)out->ptr + out->len;
        zs.avail_out = (uInt)(out->cap - out->len - 1);
        zrc = inflate(&zs, Z_NO_FLUSH);
        out->len = (size_t)((char *)zs.next_out - out->ptr);
        out->ptr[out->len] = '\0';
    } while (zrc == Z_OK);
    inflateEnd(&zs);
    return zrc == Z_STREAM_END ? 0 : -1;
}

enum outcome { PASS, FAIL, SKIP };

static enum outcome run_vector(const char *dir, const char *name)
{
    char path[1024], expect[64] = "", payload[65] = "";
    struct sl_buf raw = SL_BUF_INIT(SL_FILE_MAX), body = SL_BUF_INIT((size_t)64 << 20);
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_secbuf pt = SL_SECBUF_INIT((size_t)64 << 20);
    struct sl_error err = SL_ERROR_INIT;
    enum sl_age_status st = SL_AGE_EOTHER;
    bool compressed = false;
    size_t p = 0;
    enum outcome res = FAIL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (sl_file_read(&raw, path, SL_FILE_MAX, &err) != 0) {
        printf("FAIL %s: %s\n", name, err.msg);
        goto done;
    }
    /* key: value lines, then an empty line, then the file. */
    for (;;) {
        char *nl = memchr(raw.ptr + p, '\n', raw.len - p);
        size_t ll;
        if (nl == NULL) {
            printf("FAIL %s: malformed vector\n", name);
            goto done;
        }
        ll = (size_t)(nl - (raw.ptr + p));
        if (ll == 0) {
            p++;
            break;
        }
        *nl = '\0';
        if (strncmp(raw.ptr + p, "expect: ", 8) == 0)
            snprintf(expect, sizeof(expect), "%s", raw.ptr + p + 8);
        else if (strncmp(raw.ptr + p, "payload: ", 9) == 0)
            snprintf(payload, sizeof(payload), "%s", raw.ptr + p + 9);
        else if (strncmp(raw.ptr + p, "compressed: zlib", 16) == 0)
            compressed = true;
        else if (strncmp(raw.ptr + p, "identity: AGE-SECRET-KEY-1", 26) == 0) {
            const char *k = raw.ptr + p + 10;
            if (sl_identities_add_text(&ids, k, strlen(k), name, &err) != 0) {
                printf("FAIL %s: identity: %s\n", name, err.msg);
                goto done;
            }
        }
        *nl = '\n';
        p += ll + 1;
    }
    if (ids.n == 0) {
        printf("SKIP %s: no X25519 identity (expect %s)\n", name, expect);
        res = SKIP;
        goto done;
    }
    if (compressed) {
        if (inflate_all((unsigned char *)raw.ptr + p, raw.len - p, &body) != 0) {
            printf("FAIL %s: zlib\n", name);
            goto done;
        }
    } else if (sl_buf_append(&body, raw.ptr + p, raw.len - p, NULL) != 0) {
        goto done;
    }
    sl_age_decrypt(body.ptr, body.len, &ids, &pt, NULL, &st, &err);
    if (strcmp(expect_name(st), expect) != 0) {
        printf("FAIL %s: expected \"%s\", got \"%s\" (%s)\n", name, expect, expect_name(st),
               err.msg);
        goto done;
    }
    if (st == SL_AGE_OK) {
        unsigned char h[32];
        char hex[65];
        crypto_hash_sha256(h, pt.ptr, pt.len);
        sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
        if (strcmp(hex, payload) != 0) {
            printf("FAIL %s: plaintext hash %s, expected %s\n", name, hex, payload);
            goto done;
        }
    } else if (pt.ptr != NULL || pt.len != 0) {
        printf("FAIL %s: plaintext released on failure\n", name);
        goto done;
    }
    res = PASS;
done:
    sl_secbuf_release(&pt);
    sl_identities_release(&ids);
    sl_buf_release(&raw);
    sl_buf_release(&body);
    return res;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_testkit(void **state)
{
    const char *dir = getenv("AGE_TESTKIT") != NULL ? getenv("AGE_TESTKIT") : AGE_TESTKIT_DIR;
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[1024];
    size_t n = 0, pass = 0, failn = 0, skip = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL && n < 1024) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "SOURCE.md") == 0)
            continue;
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        switch (run_vector(dir, names[i])) {
        case PASS:
            pass++;
            break;
        case FAIL:
            failn++;
            break;
        case SKIP:
            skip++;
            break;
        }
        free(names[i]);
    }
    printf("age-testkit: %zu passed, %zu failed, %zu skipped\n", pass, failn, skip);
    fflush(stdout);
    assert_int_equal(failn, 0);
    assert_true(pass >= 98);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_testkit)};

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
