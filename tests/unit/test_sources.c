/*
 * Unit tests of the source layer's pure parts (resolution rules, state file,
 * known_hosts) and of the git tree view through the agent's tree interface,
 * on a repository made by the real git.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gittree.h"
#include "repo.h"
#include "resolve.h"
#include "source.h"
#include "tree.h"

extern char **environ;

/* ---- synthetic refs ---- */

static const char *H(char c)
{
    static char bufs[16][41];
    static int next;
    char *b = bufs[next++ % 16];
    memset(b, c, 40);
    b[40] = '\0';
    return b;
}

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ssrc_ref *)a)->name, ((const struct ssrc_ref *)b)->name);
}

/* refs("refs/tags/v1.0.0=a", ...): commit c; annotated when written "name=c@t". */
static void refs_make(struct ssrc_refs *r, const char *const *spec)
{
    size_t n = 0;
    while (spec[n] != NULL)
        n++;
    r->v = calloc(n + 1, sizeof(*r->v));
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(spec[i], '=');
        r->v[i].name = strndup(spec[i], (size_t)(eq - spec[i]));
        snprintf(r->v[i].commit, sizeof(r->v[i].commit), "%s", H(eq[1]));
        if (eq[2] == '@') {
            snprintf(r->v[i].oid, sizeof(r->v[i].oid), "%s", H(eq[3]));
            r->v[i].annotated = true;
        } else {
            snprintf(r->v[i].oid, sizeof(r->v[i].oid), "%s", H(eq[1]));
        }
    }
    qsort(r->v, n, sizeof(*r->v), ref_cmp);
}

static void resolve(const struct ssrc_rule *rule, const char *const *spec,
                    const struct ssrc_state *seen, struct ssrc_resolution *out)
{
    struct ssrc_refs refs;
    struct ssrc_error e = SSRC_ERROR_INIT;

    refs_make(&refs, spec);
    assert_int_equal(ssrc_resolve(rule, &refs, seen, "env", NULL, NULL, out, &e), 0);
    ssrc_refs_release(&refs);
}

static void test_rc_and_release_order(void **state)
{
    static const char *const spec[] = {
            "refs/heads/main=m",        "refs/tags/v1.9.0-rc.1=a",   "refs/tags/v1.9.0=a@t",
            "refs/tags/v1.10.0-rc.9=b", "refs/tags/v1.10.0-rc.10=c", "refs/tags/v1.10.0=c",
            "refs/tags/v2.0.0=d",       "refs/tags/v2.0.0-beta.1=d", "refs/tags/vnext=e",
            "refs/tags/v1.11.0-rc.1=f", "refs/tags/x1.20.0-rc.1=e",  NULL};
    struct ssrc_rule rc = {SSRC_RULE_RC, NULL, "v", NULL, false, false};
    struct ssrc_rule rel = {SSRC_RULE_RELEASE, NULL, "v", NULL, true, false};
    struct ssrc_resolution r;

    (void)state;
    resolve(&rc, spec, NULL, &r);
    assert_true(r.ok);
    assert_string_equal(r.ref, "refs/tags/v1.11.0-rc.1");
    assert_string_equal(r.commit, H('f'));
    ssrc_resolution_release(&r);

    resolve(&rel, spec, NULL, &r);
    assert_true(r.ok);
    assert_string_equal(r.ref, "refs/tags/v1.10.0");
    assert_non_null(strstr(r.reason, "gated by v1.10.0-rc.10"));
    assert_non_null(strstr(r.reason, "v2.0.0 skipped: no rc tag on the same commit"));
    assert_string_equal(r.tag, "");
    ssrc_resolution_release(&r);

    rel.require_rc = false;
    resolve(&rel, spec, NULL, &r);
    assert_string_equal(r.ref, "refs/tags/v2.0.0");
    ssrc_resolution_release(&r);

    {
        struct ssrc_range *range = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        assert_int_equal(ssrc_range_parse("<1.10", &range, &e), 0);
        rel.range = range;
        resolve(&rel, spec, NULL, &r);
        assert_string_equal(r.ref, "refs/tags/v1.9.0");
        assert_string_equal(r.tag, H('t'));
        ssrc_resolution_release(&r);
        rc.range = range;
        resolve(&rc, spec, NULL, &r);
        assert_string_equal(r.ref, "refs/tags/v1.9.0-rc.1");
        ssrc_resolution_release(&r);
        ssrc_range_free(range);
    }
    {
        struct ssrc_rule x = {SSRC_RULE_RC, NULL, "x", NULL, false, false};
        resolve(&x, spec, NULL, &r);
        assert_string_equal(r.ref, "refs/tags/x1.20.0-rc.1");
        ssrc_resolution_release(&r);
    }
}

static void test_nothing_qualifies(void **state)
{
    static const char *const spec[] = {"refs/heads/dev=a", "refs/tags/v1.0.0=a", NULL};
    struct ssrc_rule rc = {SSRC_RULE_RC, NULL, "v", NULL, false, false};
    struct ssrc_rule br = {SSRC_RULE_BRANCH, "main", "v", NULL, false, false};
    struct ssrc_rule rel = {SSRC_RULE_RELEASE, NULL, "v", NULL, true, false};
    struct ssrc_resolution r;

    (void)state;
    resolve(&rc, spec, NULL, &r);
    assert_false(r.ok);
    assert_non_null(strstr(r.reason, "no rc tag"));
    ssrc_resolution_release(&r);
    resolve(&br, spec, NULL, &r);
    assert_false(r.ok);
    assert_string_equal(r.reason, "branch main not found");
    ssrc_resolution_release(&r);
    resolve(&rel, spec, NULL, &r);
    assert_false(r.ok);
    assert_non_null(strstr(r.reason, "v1.0.0 skipped"));
    ssrc_resolution_release(&r);
}

static void seen_make(struct ssrc_state *st, const char *const *spec, const char *env,
                      const char *ref, char commit)
{
    memset(st, 0, sizeof(*st));
    refs_make(&st->refs, spec);
    if (env != NULL) {
        st->envs = calloc(1, sizeof(*st->envs));
        st->nenvs = 1;
        st->envs[0].env = strdup(env);
        snprintf(st->envs[0].ref, sizeof(st->envs[0].ref), "%s", ref);
        snprintf(st->envs[0].commit, sizeof(st->envs[0].commit), "%s", H(commit));
    }
}

static void test_history(void **state)
{
    static const char *const before[] = {"refs/tags/v1.0.0-rc.1=a", "refs/tags/v1.0.0=a",
                                         "refs/tags/v1.1.0-rc.1=b", "refs/tags/v1.1.0=b", NULL};
    static const char *const moved[] = {"refs/tags/v1.0.0-rc.1=a", "refs/tags/v1.0.0=a",
                                        "refs/tags/v1.1.0-rc.1=c", "refs/tags/v1.1.0=c", NULL};
    static const char *const deleted[] = {"refs/tags/v1.0.0-rc.1=a", "refs/tags/v1.0.0=a",
                                          "refs/tags/v1.1.0-rc.1=b", NULL};
    struct ssrc_rule rel = {SSRC_RULE_RELEASE, NULL, "v", NULL, true, false};
    struct ssrc_rule rc = {SSRC_RULE_RC, NULL, "v", NULL, false, false};
    struct ssrc_state seen, next;
    struct ssrc_resolution r;
    struct ssrc_refs now;
    struct ssrc_error e = SSRC_ERROR_INIT;
    const char *envs[] = {"env"};
    const struct ssrc_resolution *res[] = {&r};

    (void)state;
    seen_make(&seen, before, "env", "refs/tags/v1.1.0", 'b');
    /* Moved release tag: refused, the environment keeps b. */
    resolve(&rel, moved, &seen, &r);
    assert_true(r.ok && r.kept);
    assert_string_equal(r.commit, H('b'));
    assert_int_equal(r.nrefused, 1);
    assert_string_equal(r.refused[0], "refs/tags/v1.1.0");
    assert_non_null(strstr(r.notices, "tag v1.1.0 moved from bbbbbbb to ccccccc: refused"));
    /* The next state keeps the old position of the refused tag... */
    refs_make(&now, moved);
    assert_int_equal(ssrc_state_next(&seen, &now, envs, res, 1, false, "u", &next, &e), 0);
    assert_string_equal(ssrc_refs_find(&next.refs, "refs/tags/v1.1.0")->commit, H('b'));
    assert_string_equal(ssrc_refs_find(&next.refs, "refs/tags/v1.1.0-rc.1")->commit, H('c'));
    ssrc_state_release(&next);
    /* ...unless accepted. */
    assert_int_equal(ssrc_state_next(&seen, &now, envs, res, 1, true, NULL, &next, &e), 0);
    assert_string_equal(ssrc_refs_find(&next.refs, "refs/tags/v1.1.0")->commit, H('c'));
    ssrc_state_release(&next);
    ssrc_refs_release(&now);
    ssrc_resolution_release(&r);

    /* A moved rc tag is followed and reported. */
    resolve(&rc, moved, &seen, &r);
    assert_true(r.ok && !r.kept);
    assert_string_equal(r.commit, H('c'));
    assert_non_null(strstr(r.notices, "tag v1.1.0-rc.1 moved"));
    ssrc_resolution_release(&r);

    /* Deleting the running tag rolls back to the next one. */
    resolve(&rel, deleted, &seen, &r);
    assert_true(r.ok && !r.kept);
    assert_string_equal(r.ref, "refs/tags/v1.0.0");
    assert_non_null(strstr(r.reason, "rolled back (tag deleted) from v1.1.0"));
    assert_non_null(strstr(r.notices, "tag v1.1.0 was deleted"));
    ssrc_resolution_release(&r);

    /* Losing the gate while the tag still exists: no silent downgrade... */
    {
        static const char *const nogate[] = {"refs/tags/v1.0.0-rc.1=a", "refs/tags/v1.0.0=a",
                                             "refs/tags/v1.1.0=b", NULL};
        resolve(&rel, nogate, &seen, &r);
        assert_true(r.ok && r.kept);
        assert_string_equal(r.ref, "refs/tags/v1.1.0");
        assert_non_null(strstr(r.reason, "refusing to move down to v1.0.0"));
        ssrc_resolution_release(&r);
        /* ...unless allowed. */
        rel.allow_downgrade = true;
        resolve(&rel, nogate, &seen, &r);
        assert_true(r.ok && !r.kept);
        assert_string_equal(r.ref, "refs/tags/v1.0.0");
        assert_non_null(strstr(r.reason, "downgraded from v1.1.0"));
        ssrc_resolution_release(&r);
    }
    ssrc_state_release(&seen);
}

static int not_ancestor(void *arg, const char *a, const char *d)
{
    (void)arg;
    (void)a;
    (void)d;
    return 0;
}

static void test_force_push(void **state)
{
    static const char *const before[] = {"refs/heads/main=a", NULL};
    static const char *const after[] = {"refs/heads/main=b", NULL};
    struct ssrc_rule br = {SSRC_RULE_BRANCH, "main", "v", NULL, false, false};
    struct ssrc_state seen;
    struct ssrc_refs now;
    struct ssrc_resolution r;
    struct ssrc_error e = SSRC_ERROR_INIT;

    (void)state;
    seen_make(&seen, before, NULL, NULL, 0);
    refs_make(&now, after);
    assert_int_equal(ssrc_resolve(&br, &now, &seen, "dev", not_ancestor, NULL, &r, &e), 0);
    assert_true(r.ok);
    assert_string_equal(r.commit, H('b'));
    assert_non_null(strstr(r.notices, "main was force-pushed"));
    ssrc_resolution_release(&r);
    ssrc_refs_release(&now);
    ssrc_state_release(&seen);
}

static void test_state_roundtrip(void **state)
{
    static const char *const spec[] = {"refs/heads/main=a", "refs/tags/v1.0.0=b@c", NULL};
    struct ssrc_state st, back;
    struct ssrc_error e = SSRC_ERROR_INIT;
    char *text = NULL, *text2 = NULL;
    size_t len, len2;

    (void)state;
    seen_make(&st, spec, "prod", "refs/tags/v1.0.0", 'b');
    st.url = strdup("https://git.example/x y.git");
    assert_int_equal(ssrc_state_format(&st, &text, &len, &e), 0);
    assert_int_equal(ssrc_state_parse(text, len, &back, &e), 0);
    assert_int_equal(back.refs.n, 2);
    assert_true(ssrc_refs_find(&back.refs, "refs/tags/v1.0.0")->annotated);
    assert_string_equal(ssrc_state_env(&back, "prod")->ref, "refs/tags/v1.0.0");
    assert_string_equal(back.url, "https://git.example/x y.git");
    assert_int_equal(ssrc_state_format(&back, &text2, &len2, &e), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(text, text2, len);
    {
        static const char *const bad[] = {
                "",
                "wrong header\n",
                "sluice-sources-state 1\nref xyz - refs/heads/a\n",
                "sluice-sources-state 1\nref "
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa - \n",
                "sluice-sources-state 1\nbogus line\n",
                "sluice-sources-state 1\nref aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa - refs/b\n"
                "ref aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa - refs/a\n",
                NULL};
        for (int i = 0; bad[i] != NULL; i++) {
            struct ssrc_state x;
            ssrc_error_clear(&e);
            if (ssrc_state_parse(bad[i], strlen(bad[i]), &x, &e) == 0)
                fail_msg("accepted state: %s", bad[i]);
            assert_int_equal(e.code, SSRC_EPARSE);
        }
    }
    free(text);
    free(text2);
    ssrc_state_release(&st);
    ssrc_state_release(&back);
}

static void test_known_hosts(void **state)
{
    /* A 51-byte ed25519 blob: string "ssh-ed25519" + string(32 bytes of 0x01). */
    static const char b64[] =
            "AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";
    unsigned char key[51] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
                             '2', '5', '5', '1', '9', 0,   0,   0,   32};
    char text[1024];
    struct ssrc_error e = SSRC_ERROR_INIT;

    (void)state;
    memset(key + 19, 1, 32);
    snprintf(text, sizeof(text),
             "# c\n|1|abc=|def= ssh-ed25519 %s\nother,[git.example]:2222 ssh-ed25519 %s\n", b64,
             b64);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "git.example", 2222, key, 51, &e),
                     0);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "other", 22, key, 51, &e), 0);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "git.example", 22, key, 51, &e),
                     -1);
    assert_int_equal(e.code, SSRC_EAUTH);
    assert_non_null(strstr(e.msg, "is not in known_hosts"));
    key[30] ^= 1;
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "other", 22, key, 51, &e), -1);
    assert_non_null(strstr(e.msg, "does not match"));
    key[30] ^= 1;
    snprintf(text, sizeof(text), "@revoked other ssh-ed25519 %s\nother ssh-ed25519 %s\n", b64, b64);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "other", 22, key, 51, &e), -1);
    assert_non_null(strstr(e.msg, "revoked"));
    /* Hashed by `ssh-keygen -H` for [git.example]:2222. */
    snprintf(text, sizeof(text),
             "|1|6swK0+bCf+Hjndoy+hqEMrIJjqY=|RoS9zEL4TCmj0kfbYF4fmqH/Sy4= ssh-ed25519 %s\n", b64);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "git.example", 2222, key, 51, &e),
                     0);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "git.example", 22, key, 51, &e),
                     -1);
    snprintf(text, sizeof(text), "*.example,!bad.example ssh-ed25519 %s\n", b64);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "a.example", 22, key, 51, &e), 0);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_known_hosts_check(text, strlen(text), "bad.example", 22, key, 51, &e),
                     -1);
}

/* ---- the tree view over a repository made by git ---- */

static char repo_dir[256];

static int sh(const char *script)
{
    char a0[] = "sh", a1[] = "-ec";
    char *copy = strdup(script);
    char *argv[] = {a0, a1, copy, NULL};
    pid_t pid;
    int status;
    int rc;

    rc = posix_spawnp(&pid, "sh", NULL, NULL, argv, environ);
    free(copy);
    if (rc != 0)
        return -1;

    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int make_repo(void **state)
{
    char script[4096];

    (void)state;
    snprintf(repo_dir, sizeof(repo_dir), "/tmp/sluice-test-sources.%d", (int)getpid());
    snprintf(
            script, sizeof(script),
            "export HOME=%s.home GIT_CONFIG_NOSYSTEM=1; mkdir -p $HOME; R=%s; rm -rf $R; "
            "git init -q -b main $R; cd $R; git config user.email t@e; git config user.name T; "
            "mkdir -p base overlays/prod deep/a/b; echo 'kind: A' > base/a.yaml; "
            "printf 'one' > overlays/prod/k.yaml; echo deep > deep/a/b/c.txt; "
            "ln -s ../../base overlays/prod/base; ln -s base/a.yaml alink; "
            "ln -s ../../etc/passwd escape; ln -s /etc/passwd absolute; "
            "ln -s loop1 loop2; ln -s loop2 loop1; ln -s missing dangling; "
            "ln -s deep/a/b/../../a dotdot; "
            "head -c 5000 /dev/zero > big.bin; git add -A; git commit -qm one; git tag -a -m r v1; "
            "echo two > base/a.yaml; git commit -qam two",
            repo_dir, repo_dir);
    return sh(script) == 0 ? 0 : -1;
}

static int drop_repo(void **state)
{
    char script[1024];

    (void)state;
    snprintf(script, sizeof(script), "rm -rf %s %s.home", repo_dir, repo_dir);
    return sh(script);
}

static char *read_all(struct sl_tree *t, const char *path, struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(1 << 20);

    if (sl_tree_read(t, path, &b, err) != 0) {
        sl_buf_release(&b);
        return NULL;
    }
    if (err->code != SL_OK)
        fail_msg("error set on success: %s", err->msg);
    return sl_buf_detach(&b, NULL);
}

static void expect_file(struct sl_tree *t, const char *path, const char *want)
{
    struct sl_error err = SL_ERROR_INIT;
    char *s = read_all(t, path, &err);

    if (s == NULL)
        fail_msg("%s: %s", path, err.msg);
    assert_string_equal(s, want);
    free(s);
}

static void test_tree_view(void **state)
{
    struct sl_tree *t = NULL;
    struct sl_error err = SL_ERROR_INIT;
    enum sl_tree_kind kind;
    char commit[41];
    char **names = NULL;
    size_t n = 0, size;

    (void)state;
    assert_int_equal(sl_source_open_ref_tree(repo_dir, "v1", &t, commit, &err), 0);
    assert_int_equal(strlen(commit), 40);
    assert_int_equal(strncmp(t->label, "git:", 4), 0);
    expect_file(t, "base/a.yaml", "kind: A\n");               /* the tagged commit, not HEAD */
    expect_file(t, "overlays/prod/base/a.yaml", "kind: A\n"); /* through a symlinked dir */
    expect_file(t, "alink", "kind: A\n");
    expect_file(t, "dotdot/b/c.txt", "deep\n");
    assert_int_equal(sl_tree_stat(t, "overlays/prod/base", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_DIR);
    assert_int_equal(sl_tree_stat(t, "big.bin", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_FILE);
    assert_int_equal(size, 5000);
    assert_int_equal(sl_tree_stat(t, "nope/x", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_NONE);
    assert_int_equal(sl_tree_stat(t, "dangling", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_NONE);
    assert_int_equal(sl_tree_stat(t, "base/a.yaml/x", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_NONE);

    assert_int_equal(sl_tree_list(t, ".", &names, &n, &err), 0);
    assert_int_equal(n, 11);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    sl_tree_names_free(names, n);
    assert_int_equal(sl_tree_list(t, "overlays/prod/base", &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "a.yaml");
    sl_tree_names_free(names, n);

    /* Confinement. */
    static const char *const refused[] = {"escape", "absolute",    "loop1",
                                          "../x",   "/etc/passwd", NULL};
    for (int i = 0; refused[i] != NULL; i++) {
        sl_error_clear(&err);
        assert_null(read_all(t, refused[i], &err));
        if (err.code != SL_EPERM)
            fail_msg("%s: %s (%s)", refused[i], err.msg, sl_code_name(err.code));
    }
    sl_error_clear(&err);
    assert_int_equal(sl_tree_list(t, "escape", &names, &n, &err), -1);
    assert_int_equal(err.code, SL_EPERM);

    /* The per-tree byte budget applies as for directories. */
    t->max_bytes = t->bytes_read + 100;
    sl_error_clear(&err);
    assert_null(read_all(t, "big.bin", &err));
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_tree_free(t);

    {
        char sub[300];
        snprintf(sub, sizeof(sub), "%s/overlays", repo_dir); /* found from inside the work tree */
        assert_int_equal(sl_source_open_ref_tree(sub, "main", &t, NULL, &err), 0);
    }
    expect_file(t, "base/a.yaml", "two\n");
    sl_tree_free(t);

    sl_error_clear(&err);
    assert_int_equal(sl_source_open_ref_tree(repo_dir, "no-such-ref", &t, NULL, &err), -1);
    assert_null(t);
    assert_int_equal(err.code, SL_ENOTFOUND);
}

static int sink_count(void *arg, const void *data, size_t len)
{
    (void)data;
    *(size_t *)arg += len;
    return 0;
}

static void test_tree_read_cap(void **state)
{
    struct ssrc_tree *t = NULL;
    struct ssrc_error e = SSRC_ERROR_INIT;
    size_t got = 0;

    (void)state;
    assert_int_equal(ssrc_tree_open(repo_dir, "HEAD", &t, NULL, &e), 0);
    assert_int_equal(ssrc_tree_read(t, "big.bin", 4999, sink_count, &got, &e), -1);
    assert_int_equal(e.code, SSRC_ETOOLARGE);
    assert_int_equal(got, 0);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_tree_read(t, "big.bin", 5000, sink_count, &got, &e), 0);
    assert_int_equal(got, 5000);
    ssrc_error_clear(&e);
    assert_int_equal(ssrc_tree_read(t, "base", 5000, sink_count, &got, &e), -1);
    assert_int_equal(e.code, SSRC_EINVAL);
    ssrc_tree_free(t);
}

static int cancel_after(void *arg)
{
    return ++*(int *)arg > 4; /* about a second of waiting */
}

/* A server that accepts connections but never answers: the cancel callback ends the poll. */
static void test_poll_cancel(void **state)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), calls = 0;
    char url[128], dir[128];
    struct ssrc_repo *cache = NULL;
    struct ssrc_error e = SSRC_ERROR_INIT;
    struct ssrc_remote_opts o = {0};
    struct ssrc_poll_result res;
    struct timespec a, b;

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/repo.git", ntohs(sa.sin_port));
    snprintf(dir, sizeof(dir), "/tmp/sluice-test-cancel.%d", (int)getpid());
    assert_int_equal(ssrc_cache_open(dir, &cache, &e), 0);
    o.url = url;
    o.timeout_ms = 60000;
    o.cancel = cancel_after;
    o.cancel_arg = &calls;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(ssrc_poll(cache, &o, &res, &e), -1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(e.code, SSRC_ECANCELED);
    assert_true(b.tv_sec - a.tv_sec < 10);
    ssrc_repo_free(cache);
    close(fd);
    {
        char script[256];
        snprintf(script, sizeof(script), "rm -rf %s", dir);
        assert_int_equal(sh(script), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rc_and_release_order),
            cmocka_unit_test(test_nothing_qualifies),
            cmocka_unit_test(test_history),
            cmocka_unit_test(test_force_push),
            cmocka_unit_test(test_state_roundtrip),
            cmocka_unit_test(test_known_hosts),
            cmocka_unit_test(test_poll_cancel),
            cmocka_unit_test_setup_teardown(test_tree_view, make_repo, drop_repo),
            cmocka_unit_test_setup_teardown(test_tree_read_cap, make_repo, drop_repo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
