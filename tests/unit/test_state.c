#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"
#include "state.h"

static char tmpdir[256];

static int setup(void **s)
{
    (void)s;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-test-state-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **s)
{
    char *argv[] = {"rm", "-rf", tmpdir, NULL};
    pid_t pid = fork();
    (void)s;
    if (pid == 0) {
        execvp("rm", argv);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    return 0;
}

static void write_file(const char *env, const char *name, const char *text)
{
    char dir[512], path[600];
    struct sl_error err = SL_ERROR_INIT;

    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, env);
    assert_int_equal(sl_mkdir_p(dir, 0700, &err), 0);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(sl_file_write_atomic(path, text, strlen(text), 0600, &err), 0);
}

static void add_ref(struct sl_inventory *inv, const char *g, const char *k, const char *ns,
                    const char *n, const char *digest)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ref r = {strdup(g),  strdup("v1"), strdup(k),
                       strdup(ns), strdup(n),    digest ? strdup(digest) : NULL};
    assert_int_equal(sl_inventory_add(inv, &r, &err), 0);
    sl_ref_release(&r);
}

static void test_missing_is_empty(void **s)
{
    struct sl_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    (void)s;
    assert_int_equal(sl_state_load(tmpdir, "dev", &st, &err), 0);
    assert_non_null(st);
    assert_null(st->last_good_revision);
    assert_int_equal(st->inventory.n, 0);
    assert_int_equal(st->nhistory, 0);
    sl_state_free(st);
}

static void test_roundtrip(void **s)
{
    struct sl_state *st, *back = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_history_entry h = {0};
    struct stat sb;
    char path[600];
    (void)s;

    st = sl_state_new("prod", &err);
    assert_non_null(st);
    st->last_good_revision = strdup("abc123");
    st->last_good_digest = strdup("sha256:00ff");
    st->last_good_time = 1700000000;
    add_ref(&st->inventory, "apps", "Deployment", "shop", "web", "d1");
    add_ref(&st->inventory, "", "Namespace", "", "shop", NULL);
    add_ref(&st->inventory, "apps", "Deployment", "shop", "web", "d2"); /* update in place */
    assert_int_equal(st->inventory.n, 2);
    assert_int_equal(sl_state_mark_bad(st, "bad1", "health timeout", 5, &err), 0);
    h.revision = "abc123";
    h.result = SL_RESULT_HEALTHY;
    h.created = 3;
    h.duration_ms = 1500;
    assert_int_equal(sl_state_add_history(st, &h, &err), 0);
    assert_int_equal(sl_state_save(tmpdir, st, &err), 0);

    snprintf(path, sizeof(path), "%s/prod/state.json", tmpdir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    assert_int_equal(sl_state_load(tmpdir, "prod", &back, &err), 0);
    assert_string_equal(back->last_good_revision, "abc123");
    assert_string_equal(back->last_good_digest, "sha256:00ff");
    assert_int_equal(back->last_good_time, 1700000000);
    assert_int_equal(back->inventory.n, 2);
    assert_int_equal(sl_inventory_find(&back->inventory, "apps", "Deployment", "shop", "web"), 0);
    assert_string_equal(back->inventory.items[0].digest, "d2");
    assert_null(back->inventory.items[1].digest);
    assert_true(sl_state_is_bad(back, "bad1"));
    assert_false(sl_state_is_bad(back, "abc123"));
    assert_int_equal(back->nhistory, 1);
    assert_int_equal(back->history[0].result, SL_RESULT_HEALTHY);
    assert_int_equal(back->history[0].created, 3);
    assert_int_equal(back->history[0].duration_ms, 1500);
    sl_state_clear_bad(back);
    assert_false(sl_state_is_bad(back, "bad1"));
    sl_state_free(st);
    sl_state_free(back);
}

static void test_history_bounded(void **s)
{
    struct sl_state *st;
    struct sl_error err = SL_ERROR_INIT;
    char rev[32];
    (void)s;

    st = sl_state_new("dev", &err);
    for (int i = 0; i < SL_STATE_HISTORY_MAX + 7; i++) {
        struct sl_history_entry h = {0};
        snprintf(rev, sizeof(rev), "r%d", i);
        h.revision = rev;
        h.result = SL_RESULT_HEALTHY;
        assert_int_equal(sl_state_add_history(st, &h, &err), 0);
    }
    assert_int_equal(st->nhistory, SL_STATE_HISTORY_MAX);
    assert_string_equal(st->history[0].revision, "r7");
    snprintf(rev, sizeof(rev), "r%d", SL_STATE_HISTORY_MAX + 6);
    assert_string_equal(st->history[SL_STATE_HISTORY_MAX - 1].revision, rev);
    for (int i = 0; i < SL_STATE_BAD_MAX + 3; i++) {
        snprintf(rev, sizeof(rev), "b%d", i);
        assert_int_equal(sl_state_mark_bad(st, rev, NULL, i, &err), 0);
    }
    assert_int_equal(st->nbad, SL_STATE_BAD_MAX);
    assert_false(sl_state_is_bad(st, "b0"));
    assert_true(sl_state_is_bad(st, "b3"));
    sl_state_free(st);
}

static void test_corrupt_files(void **s)
{
    static const char *const bad[] = {
            "{\"format\":1,\"environment\":\"dev\",\"inventory\":[{\"kind\":\"A\"", /* partial */
            "",                                                                     /* empty */
            "[1,2,3]",                                                              /* not object */
            "{\"format\":99}",                                                      /* format */
            "{\"format\":1,\"environment\":\"prod\"}",                              /* other env */
            "{\"format\":1,\"inventory\":[{\"name\":\"x\"}]}",                      /* no kind */
            "{\"format\":1,\"inventory\":{}}",                                      /* wrong type */
            "{\"format\":1,\"lastGood\":{\"digest\":\"x\"}}", /* no revision */
            "{\"format\":1,\"bad\":[{\"revision\":5}]}",      /* wrong type */
            "{\"format\":1,\"history\":[{\"revision\":[]}]}", /* wrong type */
            "{\"format\":1,\"format\":1}",                    /* duplicate */
    };
    (void)s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_state *st = NULL;
        struct sl_error err = SL_ERROR_INIT;
        write_file("dev", "state.json", bad[i]);
        assert_int_equal(sl_state_load(tmpdir, "dev", &st, &err), -1);
        assert_null(st);
        assert_int_equal(err.code, SL_EPARSE);
        assert_non_null(strstr(err.msg, "state.json"));
    }
}

static void test_leftover_tmp_ignored(void **s)
{
    struct sl_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    (void)s;
    write_file("dev", "state.json",
               "{\"format\":1,\"environment\":\"dev\",\"lastGood\":{\"revision\":\"r1\"}}");
    write_file("dev", "state.json.tmp.123", "{\"format\":1,\"lastGood\":{\"rev");
    assert_int_equal(sl_state_load(tmpdir, "dev", &st, &err), 0);
    assert_string_equal(st->last_good_revision, "r1");
    sl_state_free(st);
}

static void test_control(void **s)
{
    struct sl_control c = {0}, back = {0};
    struct sl_error err = SL_ERROR_INIT;
    (void)s;
    assert_int_equal(sl_control_load(tmpdir, "stage", &back, &err), 0);
    assert_false(back.suspended);
    assert_null(back.pin_revision);
    c.suspended = true;
    c.suspended_at = 42;
    c.pin_revision = "r1";
    c.pin_source_revision = "r3";
    c.retry = true;
    assert_int_equal(sl_control_save(tmpdir, "stage", &c, &err), 0);
    assert_int_equal(sl_control_load(tmpdir, "stage", &back, &err), 0);
    assert_true(back.suspended);
    assert_int_equal(back.suspended_at, 42);
    assert_true(back.retry);
    assert_string_equal(back.pin_revision, "r1");
    assert_string_equal(back.pin_source_revision, "r3");
    sl_control_release(&back);
    write_file("stage", "control.json", "{\"suspended\":tru");
    assert_int_equal(sl_control_load(tmpdir, "stage", &back, &err), -1);
    assert_int_equal(err.code, SL_EPARSE);
}

static void test_lock(void **s)
{
    struct sl_error err = SL_ERROR_INIT;
    int fd = -1, fd2 = -1, st;
    pid_t pid;
    (void)s;

    assert_int_equal(sl_state_lock(tmpdir, "dev", &fd, &err), 0);
    /* flock is per open file description: a second open in another process conflicts */
    pid = fork();
    if (pid == 0) {
        struct sl_error e2 = SL_ERROR_INIT;
        int f = -1;
        int rc = sl_state_lock(tmpdir, "dev", &f, &e2);
        _exit(rc == -1 && e2.code == SL_ECONFLICT ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* in-process a second descriptor also conflicts */
    assert_int_equal(sl_state_lock(tmpdir, "dev", &fd2, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    sl_state_unlock(fd);
    sl_error_clear(&err);
    assert_int_equal(sl_state_lock(tmpdir, "dev", &fd2, &err), 0);
    sl_state_unlock(fd2);
    assert_int_equal(sl_control_lock(tmpdir, "dev", 100, &fd, &err), 0);
    assert_int_equal(sl_control_lock(tmpdir, "dev", 60, &fd2, &err), -1);
    assert_int_equal(err.code, SL_ETIMEOUT);
    sl_state_unlock(fd);
}

static void test_bad_env_names(void **s)
{
    struct sl_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    (void)s;
    assert_int_equal(sl_state_load(tmpdir, "../x", &st, &err), -1);
    assert_int_equal(err.code, SL_EINVAL);
    sl_error_clear(&err);
    assert_int_equal(sl_state_load(tmpdir, "..", &st, &err), -1);
}

static void test_ref_from_object(void **s)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ref r;
    char id[256];
    json_t *o = json_loads("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                           "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}}",
                           0, NULL);
    (void)s;
    assert_int_equal(sl_ref_from_object(&r, o, &err), 0);
    assert_string_equal(r.group, "apps");
    assert_string_equal(r.version, "v1");
    sl_ref_id(&r, id, sizeof(id));
    assert_string_equal(id, "shop_web_apps_Deployment");
    sl_ref_release(&r);
    json_decref(o);
    o = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}",
                   0, NULL);
    assert_int_equal(sl_ref_from_object(&r, o, &err), 0);
    assert_string_equal(r.group, "");
    sl_ref_id(&r, id, sizeof(id));
    assert_string_equal(id, "_x__Namespace");
    sl_ref_release(&r);
    json_decref(o);
    o = json_loads("{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}", 0, NULL);
    assert_int_equal(sl_ref_from_object(&r, o, &err), -1);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_missing_is_empty, setup, teardown),
            cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_history_bounded, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
            cmocka_unit_test_setup_teardown(test_leftover_tmp_ignored, setup, teardown),
            cmocka_unit_test_setup_teardown(test_control, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_env_names, setup, teardown),
            cmocka_unit_test(test_ref_from_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
