#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "gittree.h"
#include "lazy.h"
#include "log.h"
#include "repo.h"
#include "resolve.h"
#include "secmem.h"
#include "semver.h"
#include "source.h"
#include "sshsig.h"

#define SECRET_MAX  ((size_t)16 << 10)
#define SIGNERS_MAX ((size_t)1 << 20)

struct done_res {
    char *env;
    struct ssrc_resolution res;
};

struct sl_source {
    const struct sl_config *cfg;
    struct ssrc_repo *cache;
    char *state_path;
    char *lock_path;
    struct sl_secbuf token;
    struct sl_secbuf password;
    struct ssrc_signers *signers;
    struct ssrc_state seen;
    bool have_seen;
    struct done_res *done;
    size_t ndone;
    int (*cancel)(void *arg);
    void *cancel_arg;
};

static enum sl_code conv_code(enum ssrc_code c)
{
    switch (c) {
    case SSRC_OK:
        return SL_OK;
    case SSRC_ENOMEM:
        return SL_ENOMEM;
    case SSRC_EIO:
        return SL_EIO;
    case SSRC_ENOTFOUND:
        return SL_ENOTFOUND;
    case SSRC_EPARSE:
        return SL_EPARSE;
    case SSRC_EINVAL:
        return SL_EINVAL;
    case SSRC_ETOOLARGE:
        return SL_ETOOLARGE;
    case SSRC_EPERM:
        return SL_EPERM;
    case SSRC_EUNSUPPORTED:
        return SL_EUNSUPPORTED;
    case SSRC_EAUTH:
        return SL_EAUTH;
    case SSRC_ETIMEOUT:
        return SL_ETIMEOUT;
    case SSRC_ECONFLICT:
        return SL_ECONFLICT;
    case SSRC_ECRYPTO:
        return SL_ECRYPTO;
    case SSRC_ENET:
        return SL_EIO;
    case SSRC_ECANCELED:
        return SL_ECANCELED;
    case SSRC_EGENERIC:
        break;
    }
    return SL_EGENERIC;
}

/* The one place sources errors become agent errors. */
static int conv(struct sl_error *err, const struct ssrc_error *e)
{
    return sl_error_set(err, conv_code(e->code), "%s", e->msg);
}

static int read_secret(struct sl_secbuf *out, const char *path, struct sl_error *err)
{
    if (sl_file_read_secret(out, path, SECRET_MAX, err) != 0)
        return -1;
    while (out->len > 0 && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r'))
        out->ptr[--out->len] = '\0';
    if (out->len == 0 || memchr(out->ptr, '\0', out->len) != NULL)
        return sl_error_set(err, SL_EINVAL, "%s: empty or contains a NUL byte", path);
    return 0;
}

static bool needs_signers(const struct sl_config *cfg)
{
    for (size_t i = 0; i < cfg->nenvs; i++)
        if (cfg->envs[i].signatures != SL_SIG_NONE)
            return true;
    return false;
}

int sl_source_check_config(const struct sl_config *cfg, struct sl_error *err)
{
    for (size_t i = 0; i < cfg->nenvs; i++) {
        const struct sl_env_config *e = &cfg->envs[i];
        struct ssrc_error se = SSRC_ERROR_INIT;
        struct ssrc_range *r = NULL;
        if (e->track.range != NULL && e->track.type != SL_TRACK_BRANCH) {
            if (ssrc_range_parse(e->track.range, &r, &se) != 0) {
                conv(err, &se);
                return sl_error_wrap(err, "%s:%d: environment %s: track.range", cfg->file, e->line,
                                     e->name);
            }
            ssrc_range_free(r);
        }
        if ((e->signatures == SL_SIG_TAGS || e->signatures == SL_SIG_BOTH) &&
            e->track.type == SL_TRACK_BRANCH)
            return sl_error_set(err, SL_EINVAL,
                                "%s:%d: environment %s: signatures: %s needs a tag-tracking rule "
                                "(a branch head has no tag to verify)",
                                cfg->file, e->line, e->name, sl_sig_mode_name(e->signatures));
        if (e->signatures != SL_SIG_NONE && cfg->source.allowed_signers == NULL)
            return sl_error_set(err, SL_EINVAL,
                                "%s:%d: environment %s: signatures: %s needs source.allowedSigners",
                                cfg->file, e->line, e->name, sl_sig_mode_name(e->signatures));
    }
    return 0;
}

/*
 * The daemon's worker processes (one per running environment) share the
 * bare cache and the state file. Creating the cache, fetching into it and
 * the read-modify-write of the state file happen under an exclusive flock on
 * <stateDir>/sources/lock; reading commits needs no lock (git objects are
 * immutable and packs appear atomically). Returns the locked fd.
 */
static int source_lock(const struct sl_source *s, struct sl_error *err)
{
    int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return sl_error_errno(err, errno, "%s", s->lock_path);
    while (flock(fd, LOCK_EX) != 0) {
        int e = errno;
        /* A signal interrupts the wait (no SA_RESTART): stop if it asked us to. */
        if (e == EINTR && (s->cancel == NULL || s->cancel(s->cancel_arg) == 0))
            continue;
        close(fd);
        if (e == EINTR)
            return sl_error_set(err, SL_ECANCELED, "%s: canceled while waiting for the lock",
                                s->lock_path);
        return sl_error_errno(err, e, "%s: flock", s->lock_path);
    }
    return fd;
}

static void source_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

static int load_state(struct sl_source *s, struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(SSRC_STATE_MAX);
    struct sl_error e = SL_ERROR_INIT;
    struct ssrc_error se = SSRC_ERROR_INIT;
    struct stat st;
    int rc = -1;

    if (stat(s->state_path, &st) != 0 && errno == ENOENT)
        return 0;
    if (sl_file_read(&b, s->state_path, SSRC_STATE_MAX, &e) != 0) {
        sl_error_set(err, e.code, "%s", e.msg);
        goto done;
    }
    if (ssrc_state_parse(b.ptr, b.len, &s->seen, &se) != 0) {
        conv(err, &se);
        sl_error_wrap(err, "%s", s->state_path);
        goto done;
    }
    s->have_seen = true;
    if (s->seen.url == NULL || strcmp(s->seen.url, s->cfg->source.url) != 0) {
        /* Another repository: its refs say nothing about this one's history. */
        sl_log_notice("source URL changed: history of refs and revisions starts over", "url",
                      s->cfg->source.url, NULL);
        ssrc_state_release(&s->seen);
        s->have_seen = false;
    }
    rc = 0;
done:
    sl_buf_release(&b);
    return rc;
}

int sl_source_open(const struct sl_config *cfg, const char *cache_dir, struct sl_source **out,
                   struct sl_error *err)
{
    struct sl_source *s = NULL;
    struct sl_buf path = SL_BUF_INIT(4096);
    struct sl_buf data = SL_BUF_INIT(SIGNERS_MAX);
    struct ssrc_error se = SSRC_ERROR_INIT;
    int rc = -1, lockfd = -1;

    *out = NULL;
    if (sl_lazy_require(SL_LAZY_GIT2, err) != 0 || sl_source_check_config(cfg, err) != 0)
        goto done;
    if (cfg->source.url == NULL || cfg->source.url[0] == '\0') {
        sl_error_set(err, SL_EINVAL, "%s: source.url is not set", cfg->file);
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    s->cfg = cfg;
    s->token.max = SECRET_MAX;
    s->password.max = SECRET_MAX;
    if (cfg->source.token_file != NULL && read_secret(&s->token, cfg->source.token_file, err) != 0)
        goto done;
    if (cfg->source.password_file != NULL &&
        read_secret(&s->password, cfg->source.password_file, err) != 0)
        goto done;
    if (cfg->source.ssh_key_file != NULL &&
        sl_file_check_private(cfg->source.ssh_key_file, err) != 0)
        goto done;
    if (cfg->source.allowed_signers != NULL && needs_signers(cfg)) {
        if (sl_file_read(&data, cfg->source.allowed_signers, SIGNERS_MAX, err) != 0)
            goto done;
        if (ssrc_signers_parse(data.ptr, data.len, cfg->source.allowed_signers, &s->signers, &se) !=
            0) {
            conv(err, &se);
            goto done;
        }
    }
    if (sl_buf_printf(&path, err, "%s/sources", cfg->state_dir) != 0 ||
        sl_mkdir_p(path.ptr, 0700, err) != 0 || sl_buf_puts(&path, "/lock", err) != 0)
        goto done;
    s->lock_path = sl_buf_detach(&path, NULL);
    if (s->lock_path == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (sl_buf_printf(&path, err, "%s/sources/state", cfg->state_dir) != 0)
        goto done;
    s->state_path = sl_buf_detach(&path, NULL);
    if (s->state_path == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    lockfd = source_lock(s, err);
    if (lockfd < 0)
        goto done;
    if (cache_dir == NULL) {
        if (sl_buf_printf(&path, err, "%s/git", cfg->state_dir) != 0 ||
            sl_mkdir_p(path.ptr, 0700, err) != 0)
            goto done;
        cache_dir = path.ptr;
    }
    if (ssrc_cache_open(cache_dir, &s->cache, &se) != 0) {
        conv(err, &se);
        goto done;
    }
    if (load_state(s, err) != 0)
        goto done;
    *out = s;
    s = NULL;
    rc = 0;
done:
    source_unlock(lockfd);
    sl_buf_release(&path);
    sl_buf_release(&data);
    sl_source_free(s);
    return rc;
}

void sl_source_free(struct sl_source *s)
{
    if (s == NULL)
        return;
    ssrc_repo_free(s->cache);
    free(s->state_path);
    free(s->lock_path);
    sl_secbuf_release(&s->token);
    sl_secbuf_release(&s->password);
    ssrc_signers_free(s->signers);
    ssrc_state_release(&s->seen);
    for (size_t i = 0; i < s->ndone; i++) {
        free(s->done[i].env);
        ssrc_resolution_release(&s->done[i].res);
    }
    free(s->done);
    free(s);
}

int sl_source_poll(struct sl_source *s, struct sl_source_poll *res, struct sl_error *err)
{
    const struct sl_source_config *c = &s->cfg->source;
    struct ssrc_remote_opts o;
    struct ssrc_poll_result pr;
    struct ssrc_error se = SSRC_ERROR_INIT;
    int lockfd;

    memset(&o, 0, sizeof(o));
    memset(res, 0, sizeof(*res));
    o.url = c->url;
    o.token = s->token.ptr != NULL ? (const char *)s->token.ptr : NULL;
    o.username = c->username;
    o.password = s->password.ptr != NULL ? (const char *)s->password.ptr : NULL;
    o.ssh_key_file = c->ssh_key_file;
    o.known_hosts_file = c->known_hosts_file;
    o.ca_file = c->ca_file;
    o.insecure = c->insecure;
    o.timeout_ms = c->timeout_ms;
    o.cancel = s->cancel;
    o.cancel_arg = s->cancel_arg;
    /* Another worker may be fetching: after it, the remote's refs match and no fetch runs. */
    lockfd = source_lock(s, err);
    if (lockfd < 0)
        return -1;
    if (ssrc_poll(s->cache, &o, &pr, &se) != 0) {
        source_unlock(lockfd);
        conv(err, &se);
        return sl_error_wrap(err, "fetching");
    }
    source_unlock(lockfd);
    res->changed = pr.changed;
    res->attempts = pr.attempts;
    res->nrefs = pr.nrefs;
    res->received_bytes = pr.received_bytes;
    return 0;
}

void sl_source_set_cancel(struct sl_source *s, int (*cancel)(void *arg), void *arg)
{
    s->cancel = cancel;
    s->cancel_arg = arg;
}

static int cb_ancestor(void *arg, const char *anc, const char *desc)
{
    return ssrc_is_ancestor(arg, anc, desc);
}

static const char *short_ref(const char *ref)
{
    if (strncmp(ref, "refs/tags/", 10) == 0)
        return ref + 10;
    if (strncmp(ref, "refs/heads/", 11) == 0)
        return ref + 11;
    return ref;
}

static void rule_text(const struct sl_env_config *e, char *buf, size_t size)
{
    const struct sl_track *t = &e->track;
    int n;

    if (t->type == SL_TRACK_BRANCH)
        n = snprintf(buf, size, "branch %s", t->branch);
    else if (t->type == SL_TRACK_RC)
        n = snprintf(buf, size, "rc %s*-rc.N", t->tag_prefix);
    else
        n = snprintf(buf, size, "release %s*%s", t->tag_prefix,
                     t->require_rc ? " gated by rc" : "");
    if (t->range != NULL && t->type != SL_TRACK_BRANCH && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " range \"%s\"", t->range);
}

static int verify(struct sl_source *s, const struct sl_env_config *e, struct sl_source_result *out)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    char who_c[256] = "", who_t[256] = "";
    bool want_c = e->signatures == SL_SIG_COMMITS || e->signatures == SL_SIG_BOTH;
    bool want_t = e->signatures == SL_SIG_TAGS || e->signatures == SL_SIG_BOTH;

    if (e->signatures == SL_SIG_NONE) {
        snprintf(out->signature, sizeof(out->signature), "not required");
        return 0;
    }
    if (want_t) {
        if (out->tag[0] == '\0') {
            ssrc_error_set(&se, SSRC_ECRYPTO, "tag %s is lightweight and cannot carry a signature",
                           out->ref);
            goto bad;
        }
        if (ssrc_verify_tag(s->cache, out->tag, s->signers, who_t, sizeof(who_t), &se) != 0)
            goto bad;
    }
    if (want_c &&
        ssrc_verify_commit(s->cache, out->commit, s->signers, who_c, sizeof(who_c), &se) != 0)
        goto bad;
    if (want_c && want_t)
        snprintf(out->signature, sizeof(out->signature), "good: tag by %s, commit by %s", who_t,
                 who_c);
    else
        snprintf(out->signature, sizeof(out->signature), "good: %s by %s",
                 want_t ? "tag" : "commit", want_t ? who_t : who_c);
    return 0;
bad:
    snprintf(out->signature, sizeof(out->signature), "refused: %s", se.msg);
    conv(&out->err, &se);
    sl_error_wrap(&out->err, "%s: %s %.7s refused", e->name, out->ref, out->commit);
    out->ok = false;
    return 0;
}

static int remember(struct sl_source *s, const char *env, struct ssrc_resolution *r,
                    struct sl_error *err)
{
    struct done_res *nv;

    for (size_t i = 0; i < s->ndone; i++) {
        if (strcmp(s->done[i].env, env) == 0) {
            ssrc_resolution_release(&s->done[i].res);
            s->done[i].res = *r;
            memset(r, 0, sizeof(*r));
            return 0;
        }
    }
    nv = realloc(s->done, (s->ndone + 1) * sizeof(*nv));
    if (nv == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    s->done = nv;
    if ((nv[s->ndone].env = strdup(env)) == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    nv[s->ndone].res = *r;
    memset(r, 0, sizeof(*r));
    s->ndone++;
    return 0;
}

int sl_source_resolve(struct sl_source *s, const struct sl_env_config *e,
                      struct sl_source_result *out, struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    struct ssrc_refs now = {0};
    struct ssrc_range *range = NULL;
    struct ssrc_resolution r;
    struct ssrc_rule rule;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    out->env = e->name;
    rule_text(e, out->rule, sizeof(out->rule));
    memset(&rule, 0, sizeof(rule));
    rule.type = e->track.type == SL_TRACK_BRANCH ? SSRC_RULE_BRANCH
                : e->track.type == SL_TRACK_RC   ? SSRC_RULE_RC
                                                 : SSRC_RULE_RELEASE;
    rule.branch = e->track.branch;
    rule.prefix = e->track.tag_prefix;
    rule.require_rc = e->track.require_rc;
    rule.allow_downgrade = e->track.allow_downgrade;
    if (e->track.range != NULL && rule.type != SSRC_RULE_BRANCH) {
        if (ssrc_range_parse(e->track.range, &range, &se) != 0) {
            conv(err, &se);
            sl_error_wrap(err, "environment %s: track.range", e->name);
            goto done;
        }
        rule.range = range;
    }
    if (ssrc_refs_list(s->cache, &now, &se) != 0 ||
        ssrc_resolve(&rule, &now, s->have_seen ? &s->seen : NULL, e->name, cb_ancestor, s->cache,
                     &r, &se) != 0) {
        conv(err, &se);
        goto done;
    }
    out->ok = r.ok;
    out->kept = r.kept;
    snprintf(out->ref, sizeof(out->ref), "%.255s", r.ok ? short_ref(r.ref) : "-");
    snprintf(out->commit, sizeof(out->commit), "%s", r.commit);
    snprintf(out->tag, sizeof(out->tag), "%s", r.tag);
    snprintf(out->reason, sizeof(out->reason), "%s", r.reason);
    snprintf(out->notices, sizeof(out->notices), "%s", r.notices);
    if (!r.ok) {
        snprintf(out->signature, sizeof(out->signature), "-");
        sl_error_set(&out->err, SL_ENOTFOUND, "%s: %s", e->name, r.reason);
    } else {
        verify(s, e, out);
    }
    if (r.notices[0] != '\0')
        sl_log_warn("source history changed", "env", e->name, "notice", r.notices);
    if (out->ok || r.nrefused > 0) {
        /* A refused signature must not become the remembered revision. */
        if (!out->ok)
            r.ok = false;
        if (remember(s, e->name, &r, err) != 0)
            goto done;
    }
    rc = 0;
done:
    ssrc_resolution_release(&r);
    ssrc_range_free(range);
    ssrc_refs_release(&now);
    return rc;
}

int sl_source_save_state(struct sl_source *s, bool accept_moved, struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    struct ssrc_refs now = {0};
    struct ssrc_state next;
    const char **envs = NULL;
    const struct ssrc_resolution **res = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = -1, lockfd;

    memset(&next, 0, sizeof(next));
    /*
     * Under the lock, start from the file as it is now: another worker may
     * have recorded its environment since we read it at open.
     */
    lockfd = source_lock(s, err);
    if (lockfd < 0)
        return -1;
    ssrc_state_release(&s->seen);
    s->have_seen = false;
    if (load_state(s, err) != 0) {
        source_unlock(lockfd);
        return -1;
    }
    envs = calloc(s->ndone + 1, sizeof(*envs));
    res = calloc(s->ndone + 1, sizeof(*res));
    if (envs == NULL || res == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->ndone; i++) {
        envs[i] = s->done[i].env;
        res[i] = &s->done[i].res;
    }
    if (ssrc_refs_list(s->cache, &now, &se) != 0 ||
        ssrc_state_next(s->have_seen ? &s->seen : NULL, &now, envs, res, s->ndone, accept_moved,
                        s->cfg->source.url, &next, &se) != 0 ||
        ssrc_state_format(&next, &text, &len, &se) != 0) {
        conv(err, &se);
        goto done;
    }
    if (sl_file_write_atomic(s->state_path, text, len, 0600, err) != 0)
        goto done;
    ssrc_state_release(&s->seen);
    s->seen = next;
    memset(&next, 0, sizeof(next));
    s->have_seen = true;
    rc = 0;
done:
    free(text);
    ssrc_state_release(&next);
    ssrc_refs_release(&now);
    source_unlock(lockfd);
    free(envs);
    free(res);
    return rc;
}

/* ---- tree adapter ---- */

static int t_stat(void *ctx, const char *path, enum sl_tree_kind *kind, size_t *size,
                  struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    enum ssrc_kind k;

    if (ssrc_tree_stat(ctx, path, &k, size, &se) != 0)
        return conv(err, &se);
    *kind = k == SSRC_KIND_FILE ? SL_TREE_FILE : k == SSRC_KIND_DIR ? SL_TREE_DIR : SL_TREE_NONE;
    return 0;
}

struct sink_arg {
    struct sl_buf *out;
    struct sl_error *err;
};

static int sink(void *arg, const void *data, size_t len)
{
    struct sink_arg *a = arg;

    return sl_buf_append(a->out, data, len, a->err);
}

static int t_read(void *ctx, const char *path, size_t max, struct sl_buf *out, struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    struct sink_arg a = {out, err};

    if (ssrc_tree_read(ctx, path, max, sink, &a, &se) != 0)
        return conv(err, &se);
    return 0;
}

static int t_list(void *ctx, const char *path, char ***names, size_t *n, struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;

    if (ssrc_tree_list(ctx, path, names, n, &se) != 0)
        return conv(err, &se);
    return 0;
}

static void t_free(void *ctx)
{
    ssrc_tree_free(ctx);
}

static const struct sl_tree_ops git_tree_ops = {t_stat, t_read, t_list, t_free};

int sl_source_open_ref_tree(const char *repo_path, const char *rev, struct sl_tree **out,
                            char commit[41], struct sl_error *err)
{
    struct ssrc_error se = SSRC_ERROR_INIT;
    struct ssrc_tree *t = NULL;
    char id[SSRC_OID_HEX], label[64];

    *out = NULL;
    if (sl_lazy_require(SL_LAZY_GIT2, err) != 0)
        return -1;
    if (ssrc_tree_open(repo_path, rev, &t, id, &se) != 0)
        return conv(err, &se);
    snprintf(label, sizeof(label), "git:%.12s", id);
    *out = sl_tree_new(&git_tree_ops, t, label, err);
    if (*out == NULL)
        return -1;
    if (commit != NULL)
        memcpy(commit, id, SSRC_OID_HEX);
    return 0;
}

int sl_source_open_tree(struct sl_source *s, const char *commit, struct sl_tree **out,
                        struct sl_error *err)
{
    return sl_source_open_ref_tree(ssrc_repo_path(s->cache), commit, out, NULL, err);
}
