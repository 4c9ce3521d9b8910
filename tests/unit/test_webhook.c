#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "webhook.h"

/* The example from GitHub's "Validating webhook deliveries" documentation. */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY   "Hello, World!"
#define GH_SIG    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

struct headers {
    const char *names[4];
    const char *values[4];
};

static const char *get_header(void *arg, const char *name)
{
    struct headers *h = arg;
    for (int i = 0; i < 4 && h->names[i] != NULL; i++)
        if (strcasecmp(h->names[i], name) == 0)
            return h->values[i];
    return NULL;
}

static int setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

static struct sl_hook *mem_hook(enum sl_hook_type t, const char *header, const char *secret)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_hook *h = sl_hook_new_mem("h", t, header, secret, strlen(secret), &err);
    assert_non_null(h);
    return h;
}

static void test_github(void **state)
{
    struct sl_hook *h = mem_hook(SL_HOOK_GITHUB, NULL, GH_SECRET);
    struct headers push = {{"X-Hub-Signature-256", "X-GitHub-Event"}, {GH_SIG, "push"}};
    struct headers ping = {{"x-hub-signature-256", "x-github-event"}, {GH_SIG, "ping"}};
    struct headers bad = {
            {"X-Hub-Signature-256", "X-GitHub-Event"},
            {"sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "push"}};
    struct headers sha1 = {
            {"X-Hub-Signature-256", "X-GitHub-Event"},
            {"sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "push"}};
    struct headers shortsig = {{"X-Hub-Signature-256", "X-GitHub-Event"}, {"sha256=7571", "push"}};
    struct headers none = {{"X-GitHub-Event"}, {"push"}};

    assert_int_equal(sl_hook_verify(h, get_header, &push, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_ACCEPT);
    assert_int_equal(sl_hook_verify(h, get_header, &ping, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_IGNORE);
    /* Any change to the body, the signature or its form is rejected. */
    assert_int_equal(sl_hook_verify(h, get_header, &push, "Hello, World?", 13), SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &bad, GH_BODY, strlen(GH_BODY)), SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &sha1, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &shortsig, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &none, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_REJECT);
    sl_hook_free(h);

    /* The same signature under another secret is rejected. */
    h = mem_hook(SL_HOOK_GITHUB, NULL, "It's a Secret to Everybody!");
    assert_int_equal(sl_hook_verify(h, get_header, &push, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_REJECT);
    sl_hook_free(h);
}

static void test_gitlab(void **state)
{
    struct sl_hook *h = mem_hook(SL_HOOK_GITLAB, NULL, "gitlab-token-0123456789");
    struct headers push = {{"X-Gitlab-Token", "X-Gitlab-Event"},
                           {"gitlab-token-0123456789", "Tag Push Hook"}};
    struct headers issue = {{"X-Gitlab-Token", "X-Gitlab-Event"},
                            {"gitlab-token-0123456789", "Issue Hook"}};
    struct headers wrong = {{"X-Gitlab-Token", "X-Gitlab-Event"},
                            {"gitlab-token-012345678", "Push Hook"}};
    struct headers none = {{"X-Gitlab-Event"}, {"Push Hook"}};

    assert_int_equal(sl_hook_verify(h, get_header, &push, "{}", 2), SL_HOOK_ACCEPT);
    assert_int_equal(sl_hook_verify(h, get_header, &issue, "{}", 2), SL_HOOK_IGNORE);
    assert_int_equal(sl_hook_verify(h, get_header, &wrong, "{}", 2), SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &none, "{}", 2), SL_HOOK_REJECT);
    sl_hook_free(h);
}

static void test_generic_hmac(void **state)
{
    struct sl_hook *h = mem_hook(SL_HOOK_HMAC, "X-Sluice-Signature", GH_SECRET);
    struct headers bare = {{"X-Sluice-Signature"}, {&GH_SIG[7]}};
    struct headers prefixed = {{"x-sluice-signature"}, {GH_SIG}};
    struct headers other_header = {{"X-Signature"}, {GH_SIG}};

    assert_int_equal(sl_hook_verify(h, get_header, &bare, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_ACCEPT);
    assert_int_equal(sl_hook_verify(h, get_header, &prefixed, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_ACCEPT);
    assert_int_equal(sl_hook_verify(h, get_header, &other_header, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_REJECT);
    assert_int_equal(sl_hook_verify(h, get_header, &bare, "", 0), SL_HOOK_REJECT);
    sl_hook_free(h);
}

static void write_file(const char *path, const char *data, mode_t mode)
{
    FILE *f;
    unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_files(void **state)
{
    char path[64];
    struct sl_error err = SL_ERROR_INIT;
    struct sl_hook *h;
    struct headers push = {{"X-Hub-Signature-256", "X-GitHub-Event"}, {GH_SIG, "push"}};

    snprintf(path, sizeof(path), "/tmp/sl-hook-%d.secret", (int)getpid());
    /* A trailing newline is not part of the secret. */
    write_file(path, GH_SECRET "\n", 0600);
    h = sl_hook_new("gh", SL_HOOK_GITHUB, NULL, path, &err);
    assert_non_null(h);
    assert_int_equal(sl_hook_verify(h, get_header, &push, GH_BODY, strlen(GH_BODY)),
                     SL_HOOK_ACCEPT);
    sl_hook_free(h);

    /* Readable by others: refused, and the message names the file, not the secret. */
    write_file(path, GH_SECRET "\n", 0644);
    h = sl_hook_new("gh", SL_HOOK_GITHUB, NULL, path, &err);
    assert_null(h);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "webhook gh: secretFile"));
    assert_null(strstr(err.msg, "Secret to"));
    sl_error_clear(&err);

    write_file(path, "short\n", 0600);
    h = sl_hook_new("gh", SL_HOOK_GITHUB, NULL, path, &err);
    assert_null(h);
    assert_int_equal(err.code, SL_EINVAL);
    assert_null(strstr(err.msg, "short\n"));
    sl_error_clear(&err);

    unlink(path);
    h = sl_hook_new("gh", SL_HOOK_GITHUB, NULL, path, &err);
    assert_null(h);
    assert_int_equal(err.code, SL_ENOTFOUND);
}

static void test_rate_limit(void **state)
{
    struct sl_hook *h = mem_hook(SL_HOOK_GITHUB, NULL, GH_SECRET);
    int ok = 0;

    /* 6 a minute: a burst of 6, then one every 10 s. */
    for (int i = 0; i < 20; i++)
        ok += sl_hook_take_token(h, 1000, 6);
    assert_int_equal(ok, 6);
    assert_false(sl_hook_take_token(h, 5000, 6));
    assert_true(sl_hook_take_token(h, 11000, 6));
    assert_false(sl_hook_take_token(h, 11001, 6));
    /* Limit 0: unlimited. */
    for (int i = 0; i < 100; i++)
        assert_true(sl_hook_take_token(h, 11001, 0));
    sl_hook_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_github),       cmocka_unit_test(test_gitlab),
            cmocka_unit_test(test_generic_hmac), cmocka_unit_test(test_secret_files),
            cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
