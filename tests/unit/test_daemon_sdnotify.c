#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdnotify.h"

/* A receiving datagram socket bound like systemd's, at a path or in the abstract namespace. */
static int bind_receiver(const char *name, bool abstract)
{
    struct sockaddr_un a;
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (abstract) {
        memcpy(a.sun_path + 1, name, strlen(name));
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    } else {
        unlink(name);
        memcpy(a.sun_path, name, strlen(name));
        len = sizeof(a);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    return fd;
}

static void recv_msg(int fd, char *out, size_t outlen)
{
    ssize_t n = recv(fd, out, outlen - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    out[n] = '\0';
}

static void assert_nothing(int fd)
{
    char b[16];
    assert_true(recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0);
}

static void test_disabled_is_noop(void **state)
{
    struct sl_sdnotify n = SL_SDNOTIFY_INIT;
    struct sl_error err = SL_ERROR_INIT;

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(sl_sdnotify_open(&n, true, &err), 0);
    assert_false(sl_sdnotify_enabled(&n));
    assert_int_equal(sl_sdnotify_ready(&n, "x", &err), 0);
    assert_int_equal(sl_sdnotify_watchdog_interval_ms(&n), 0);
    sl_sdnotify_close(&n);
}

static void test_path_socket(void **state)
{
    char path[64], msg[2048];
    struct sl_sdnotify n = SL_SDNOTIFY_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int fd;

    snprintf(path, sizeof(path), "/tmp/sl-notify-%d.sock", (int)getpid());
    fd = bind_receiver(path, false);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "4000000", 1);
    unsetenv("WATCHDOG_PID");
    assert_int_equal(sl_sdnotify_open(&n, true, &err), 0);
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_null(getenv("WATCHDOG_USEC"));
    assert_true(sl_sdnotify_enabled(&n));
    assert_int_equal(sl_sdnotify_watchdog_interval_ms(&n), 2000);

    assert_int_equal(sl_sdnotify_ready(&n, "polling 3 environments", &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_string_equal(msg, "READY=1\nSTATUS=polling 3 environments");

    /* A newline in a status must not inject another assignment. */
    assert_int_equal(sl_sdnotify_status(&n, "a\nREADY=1", &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_string_equal(msg, "STATUS=a READY=1");

    assert_int_equal(sl_sdnotify_reloading(&n, &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_true(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    assert_true(strtoull(msg + 27, NULL, 10) > 0);

    assert_int_equal(sl_sdnotify_watchdog(&n, &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_string_equal(msg, "WATCHDOG=1");

    assert_int_equal(sl_sdnotify_stopping(&n, &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_string_equal(msg, "STOPPING=1");
    assert_nothing(fd);

    sl_sdnotify_close(&n);
    close(fd);
    unlink(path);
}

static void test_abstract_socket(void **state)
{
    char name[64], env[70], msg[256];
    struct sl_sdnotify n = SL_SDNOTIFY_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int fd;

    snprintf(name, sizeof(name), "sl-notify-test-%d", (int)getpid());
    fd = bind_receiver(name, true);
    snprintf(env, sizeof(env), "@%s", name);
    setenv("NOTIFY_SOCKET", env, 1);
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(sl_sdnotify_open(&n, false, &err), 0);
    assert_non_null(getenv("NOTIFY_SOCKET"));
    assert_int_equal(sl_sdnotify_ready(&n, NULL, &err), 0);
    recv_msg(fd, msg, sizeof(msg));
    assert_string_equal(msg, "READY=1");
    /* No watchdog was requested: pinging sends nothing. */
    assert_int_equal(sl_sdnotify_watchdog(&n, &err), 0);
    assert_nothing(fd);
    sl_sdnotify_close(&n);
    close(fd);
}

static void test_watchdog_pid_other_process(void **state)
{
    char path[64];
    struct sl_sdnotify n = SL_SDNOTIFY_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int fd;

    snprintf(path, sizeof(path), "/tmp/sl-notify-wd-%d.sock", (int)getpid());
    fd = bind_receiver(path, false);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    assert_int_equal(sl_sdnotify_open(&n, true, &err), 0);
    assert_int_equal(sl_sdnotify_watchdog_interval_ms(&n), 0);
    sl_sdnotify_close(&n);
    close(fd);
    unlink(path);
}

static void test_bad_socket_value(void **state)
{
    struct sl_sdnotify n = SL_SDNOTIFY_INIT;
    struct sl_error err = SL_ERROR_INIT;

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(sl_sdnotify_open(&n, true, &err), -1);
    assert_int_equal(err.code, SL_EINVAL);
    assert_false(sl_sdnotify_enabled(&n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_disabled_is_noop),
            cmocka_unit_test(test_path_socket),
            cmocka_unit_test(test_abstract_socket),
            cmocka_unit_test(test_watchdog_pid_other_process),
            cmocka_unit_test(test_bad_socket_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
