/*
 * Unit tests of the SSHSIG parser/verifier and allowed_signers (sources/sshsig.h).
 * Signatures in data/sources were made with `ssh-keygen -Y sign`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sshsig.h"

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    char *buf = malloc(1 << 16);
    size_t n;

    snprintf(path, sizeof(path), "%s/sources/%s", SLUICE_TEST_DATA, name);
    f = fopen(path, "rb");
    if (f == NULL || buf == NULL)
        fail_msg("cannot read %s", path);
    n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static struct ssrc_signers *signers_from(const char *text)
{
    struct ssrc_signers *s = NULL;
    struct ssrc_error e = SSRC_ERROR_INIT;

    if (ssrc_signers_parse(text, strlen(text), "test", &s, &e) != 0)
        fail_msg("%s", e.msg);
    return s;
}

static void test_verify_good(void **state)
{
    static const char *const files[] = {"msg.ed25519.sig", "msg.sha256.sig", NULL};
    size_t mlen, alen;
    char *msg = slurp("msg", &mlen), *allowed = slurp("allowed_signers", &alen);
    struct ssrc_signers *signers = signers_from(allowed);

    (void)state;
    for (int i = 0; files[i] != NULL; i++) {
        size_t slen;
        char *sigtext = slurp(files[i], &slen);
        struct ssrc_sshsig sig;
        struct ssrc_error e = SSRC_ERROR_INIT;
        const char *who = NULL;
        assert_int_equal(ssrc_sshsig_parse_armored(sigtext, slen, &sig, &e), 0);
        assert_string_equal(sig.keytype, "ssh-ed25519");
        assert_string_equal(sig.ns, "git");
        assert_string_equal(sig.hashalg, i == 0 ? "sha512" : "sha256");
        assert_int_equal(ssrc_sshsig_verify(&sig, msg, mlen, "git", &e), 0);
        assert_int_equal(ssrc_signers_check(signers, &sig, "git", 1700000000, &who, &e), 0);
        assert_string_equal(who, "alice@example.com");
        /* One flipped byte of the message breaks it. */
        msg[10] ^= 1;
        assert_int_equal(ssrc_sshsig_verify(&sig, msg, mlen, "git", &e), -1);
        assert_int_equal(e.code, SSRC_ECRYPTO);
        msg[10] ^= 1;
        /* A flipped signature byte too. */
        sig.sig[5] ^= 0x40;
        ssrc_error_clear(&e);
        assert_int_equal(ssrc_sshsig_verify(&sig, msg, mlen, "git", &e), -1);
        assert_int_equal(e.code, SSRC_ECRYPTO);
        free(sigtext);
    }
    ssrc_signers_free(signers);
    free(msg);
    free(allowed);
}

static void test_namespace_and_keytype(void **state)
{
    size_t mlen, slen, rlen;
    char *msg = slurp("msg", &mlen), *fns = slurp("msg.filens.sig", &slen);
    char *rsa = slurp("msg.rsa.sig", &rlen);
    struct ssrc_sshsig sig;
    struct ssrc_error e = SSRC_ERROR_INIT;

    (void)state;
    assert_int_equal(ssrc_sshsig_parse_armored(fns, slen, &sig, &e), 0);
    assert_string_equal(sig.ns, "file");
    assert_int_equal(ssrc_sshsig_verify(&sig, msg, mlen, "git", &e), -1);
    assert_int_equal(e.code, SSRC_ECRYPTO);
    assert_non_null(strstr(e.msg, "namespace"));
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_sshsig_verify(&sig, msg, mlen, "file", &e), 0);
    assert_int_equal(ssrc_sshsig_parse_armored(rsa, rlen, &sig, &e), -1);
    assert_int_equal(e.code, SSRC_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "ssh-rsa"));
    free(msg);
    free(fns);
    free(rsa);
}

static void test_truncated_and_garbage(void **state)
{
    size_t slen, binlen = 0;
    char *sigtext = slurp("msg.ed25519.sig", &slen);
    unsigned char bin[4096];
    const char *b = strstr(sigtext, "\n") + 1, *end = strstr(sigtext, "-----END");
    struct ssrc_sshsig sig;

    (void)state;
    assert_int_equal(sodium_base642bin(bin, sizeof(bin), b, (size_t)(end - b), "\r\n", &binlen,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    for (size_t n = 0; n < binlen; n++) {
        struct ssrc_error e = SSRC_ERROR_INIT;
        unsigned char *copy = malloc(n + 1); /* exact size so ASan sees overreads */
        memcpy(copy, bin, n);
        assert_int_equal(ssrc_sshsig_parse(copy, n, &sig, &e), -1);
        assert_int_not_equal(e.code, SSRC_OK);
        free(copy);
    }
    {
        struct ssrc_error e = SSRC_ERROR_INIT;
        unsigned char copy[4096];
        memcpy(copy, bin, binlen);
        copy[binlen] = 0;
        assert_int_equal(ssrc_sshsig_parse(copy, binlen + 1, &sig, &e), -1);
        ssrc_error_clear(&e);
        assert_int_equal(ssrc_sshsig_parse(bin, binlen, &sig, &e), 0);
        copy[0] = 'X';
        ssrc_error_clear(&e);
        assert_int_equal(ssrc_sshsig_parse(copy, binlen, &sig, &e), -1);
        assert_int_equal(e.code, SSRC_EPARSE);
    }
    {
        static const char *const bad[] = {"", "-----BEGIN SSH SIGNATURE-----\n",
                                          "-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH "
                                          "SIGNATURE-----\n",
                                          "-----BEGIN PGP SIGNATURE-----\nAAAA\n-----END PGP "
                                          "SIGNATURE-----\n",
                                          NULL};
        for (int i = 0; bad[i] != NULL; i++) {
            struct ssrc_error e = SSRC_ERROR_INIT;
            assert_int_equal(ssrc_sshsig_parse_armored(bad[i], strlen(bad[i]), &sig, &e), -1);
            assert_int_equal(e.code, SSRC_EPARSE);
        }
    }
    free(sigtext);
}

static void test_signers_options(void **state)
{
    size_t slen, mlen, plen;
    char *sigtext = slurp("msg.ed25519.sig", &slen), *msg = slurp("msg", &mlen);
    char *pub = slurp("alice.pub", &plen), key[512], text[2048];
    struct ssrc_sshsig sig;
    struct ssrc_error e = SSRC_ERROR_INIT;
    const char *who = NULL;
    struct ssrc_signers *s;
    int64_t t;

    (void)state;
    snprintf(key, sizeof(key), "%.*s", (int)strcspn(pub, " "), pub);
    snprintf(key + strlen(key), sizeof(key) - strlen(key), " %.*s",
             (int)strcspn(pub + strlen(key) + 1, " \n"), pub + strlen(key) + 1);
    assert_int_equal(ssrc_sshsig_parse_armored(sigtext, slen, &sig, &e), 0);

    /* Expired at the signing time; valid in another entry later in the file. */
    snprintf(text, sizeof(text),
             "# comment\n\n  old@example.com valid-before=\"20200101Z\" %s\n"
             "\"new@example.com,x@y\" valid-after=\"20230101Z\",namespaces=\"gi*\" %s trailing "
             "comment\n",
             key, key);
    s = signers_from(text);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->v[1].line, 4);
    assert_int_equal(ssrc_signers_check(s, &sig, "git", 1700000000, &who, &e), 0);
    assert_string_equal(who, "new@example.com,x@y");
    /* Before the second entry's valid-after, only the expired one is left. */
    assert_int_equal(ssrc_signers_check(s, &sig, "git", 1600000000, &who, &e), -1);
    assert_int_equal(e.code, SSRC_ECRYPTO);
    ssrc_signers_free(s);

    snprintf(text, sizeof(text), "a@b namespaces=\"!git,*\" %s\n", key);
    s = signers_from(text);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_signers_check(s, &sig, "git", 1700000000, &who, &e), -1);
    assert_non_null(strstr(e.msg, "not allowed for namespace"));
    ssrc_signers_free(s);

    snprintf(text, sizeof(text), "a@b cert-authority %s\n", key);
    s = signers_from(text);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_signers_check(s, &sig, "git", 1700000000, &who, &e), -1);
    assert_non_null(strstr(e.msg, "unknown signer"));
    ssrc_signers_free(s);

    ssrc_error_clear(&e);
    assert_int_equal(ssrc_signers_check(NULL, &sig, "git", 1700000000, &who, &e), -1);

    assert_int_equal(ssrc_parse_ssh_time("20240101Z", &t), 0);
    assert_int_equal(t, 1704067200);
    assert_int_equal(ssrc_parse_ssh_time("202401011230Z", &t), 0);
    assert_int_equal(t, 1704067200 + 12 * 3600 + 30 * 60);
    assert_int_equal(ssrc_parse_ssh_time("20240101123045Z", &t), 0);
    assert_int_equal(t, 1704067200 + 12 * 3600 + 30 * 60 + 45);
    assert_int_equal(ssrc_parse_ssh_time("2024010", &t), -1);
    assert_int_equal(ssrc_parse_ssh_time("20241301", &t), -1);
    assert_int_equal(ssrc_parse_ssh_time("2024-1-01", &t), -1);
    free(sigtext);
    free(msg);
    free(pub);
}

static void test_signers_errors(void **state)
{
    static const char *const bad[] = {
            "a@b\n",
            "a@b ssh-ed25519\n",
            "a@b frobnicate ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZ\n",
            "a@b valid-after=\"tomorrow\" ssh-ed25519 AAAA\n",
            "a@b ssh-ed25519 !!!notbase64\n",
            "a@b ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n", /* blob says ssh-rsa */
            "a@b namespaces=\"git ssh-ed25519 AAAA\n",
            "# ok\na@b notakeytype AAAA\n",
            NULL};
    (void)state;
    for (int i = 0; bad[i] != NULL; i++) {
        struct ssrc_signers *s = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        if (ssrc_signers_parse(bad[i], strlen(bad[i]), "allowed", &s, &e) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_null(s);
        assert_int_equal(e.code, SSRC_EPARSE);
        assert_true(strncmp(e.msg, "allowed:", 8) == 0);
    }
    {
        struct ssrc_signers *s = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        assert_int_equal(ssrc_signers_parse("# only\n\n", 8, "x", &s, &e), 0);
        assert_int_equal(s->n, 0);
        ssrc_signers_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_verify_good),
            cmocka_unit_test(test_namespace_and_keytype),
            cmocka_unit_test(test_truncated_and_garbage),
            cmocka_unit_test(test_signers_options),
            cmocka_unit_test(test_signers_errors),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
