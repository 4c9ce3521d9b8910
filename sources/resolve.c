#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#define STATE_HEADER "sluice-sources-state 1"

/* ---- state text ---- */

static bool is_hex40(const char *s, size_t len)
{
    if (len != 40)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Split a line into up to max space-separated fields; the last takes the rest. */
static size_t fields(const char *s, size_t len, const char **f, size_t *fl, size_t max)
{
    size_t n = 0, i = 0;

    while (i < len && n < max) {
        size_t start = i;
        if (n == max - 1) {
            f[n] = s + i;
            fl[n++] = len - i;
            break;
        }
        while (i < len && s[i] != ' ')
            i++;
        f[n] = s + start;
        fl[n++] = i - start;
        if (i < len)
            i++;
    }
    return n;
}

int ssrc_state_parse(const char *data, size_t len, struct ssrc_state *out, struct ssrc_error *err)
{
    const char *p = data, *end = data + len;
    size_t refcap = 0, envcap = 0;
    int line = 0;

    memset(out, 0, sizeof(*out));
    if (len > SSRC_STATE_MAX)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "state larger than %zu bytes", SSRC_STATE_MAX);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl != NULL ? nl : end;
        const char *f[5];
        size_t fl[5], nf;
        line++;
        nf = fields(p, (size_t)(le - p), f, fl, 5);
        if (line == 1) {
            if ((size_t)(le - p) != strlen(STATE_HEADER) ||
                memcmp(p, STATE_HEADER, (size_t)(le - p)) != 0)
                goto bad;
        } else if (nf == 4 && fl[0] == 3 && memcmp(f[0], "ref", 3) == 0) {
            struct ssrc_ref *e;
            if (!is_hex40(f[1], fl[1]) || (fl[2] != 1 && !is_hex40(f[2], fl[2])) || fl[3] == 0 ||
                fl[3] > SSRC_REFNAME_MAX || memchr(f[3], '\0', fl[3]) != NULL)
                goto bad;
            if (out->refs.n == refcap) {
                size_t nc = refcap == 0 ? 64 : refcap * 2;
                struct ssrc_ref *nv = realloc(out->refs.v, nc * sizeof(*nv));
                if (nv == NULL)
                    goto oom;
                out->refs.v = nv;
                refcap = nc;
            }
            e = &out->refs.v[out->refs.n];
            memset(e, 0, sizeof(*e));
            if ((e->name = strndup(f[3], fl[3])) == NULL)
                goto oom;
            out->refs.n++;
            memcpy(e->oid, f[1], 40);
            if (fl[2] == 40)
                memcpy(e->commit, f[2], 40);
            e->annotated = fl[2] == 40 && memcmp(f[1], f[2], 40) != 0;
        } else if (nf >= 2 && fl[0] == 3 && memcmp(f[0], "url", 3) == 0 && out->url == NULL) {
            size_t ul = (size_t)(le - f[1]);
            if (ul == 0 || ul > 4096 || memchr(f[1], '\0', ul) != NULL)
                goto bad;
            if ((out->url = strndup(f[1], ul)) == NULL)
                goto oom;
        } else if (nf == 5 && fl[0] == 3 && memcmp(f[0], "env", 3) == 0) {
            struct ssrc_envstate *e;
            if (!is_hex40(f[2], fl[2]) || (fl[3] != 1 && !is_hex40(f[3], fl[3])) || fl[4] == 0 ||
                fl[4] > SSRC_REFNAME_MAX || fl[1] == 0 || memchr(f[4], '\0', fl[4]) != NULL ||
                memchr(f[1], '\0', fl[1]) != NULL)
                goto bad;
            if (out->nenvs == envcap) {
                size_t nc = envcap == 0 ? 8 : envcap * 2;
                struct ssrc_envstate *nv = realloc(out->envs, nc * sizeof(*nv));
                if (nv == NULL)
                    goto oom;
                out->envs = nv;
                envcap = nc;
            }
            e = &out->envs[out->nenvs];
            memset(e, 0, sizeof(*e));
            if ((e->env = strndup(f[1], fl[1])) == NULL)
                goto oom;
            out->nenvs++;
            memcpy(e->commit, f[2], 40);
            if (fl[3] == 40)
                memcpy(e->tag, f[3], 40);
            memcpy(e->ref, f[4], fl[4]);
        } else if (le != p) {
            goto bad;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (line == 0)
        goto bad;
    /* Sorted for ssrc_refs_find(); a hand-edited file may not be. */
    for (size_t i = 1; i < out->refs.n; i++)
        if (strcmp(out->refs.v[i - 1].name, out->refs.v[i].name) >= 0)
            goto bad;
    return 0;
bad:
    ssrc_state_release(out);
    return ssrc_error_set(err, SSRC_EPARSE, "state line %d: malformed", line);
oom:
    ssrc_state_release(out);
    return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static int sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t left = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, left, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < left) {
            b->len += (size_t)n;
            return 0;
        }
        {
            size_t nc = (b->cap + (size_t)n + 1) * 2;
            char *np;
            if (nc > SSRC_STATE_MAX)
                return -1;
            np = realloc(b->p, nc);
            if (np == NULL)
                return -1;
            b->p = np;
            b->cap = nc;
        }
    }
}

int ssrc_state_format(const struct ssrc_state *st, char **out, size_t *len, struct ssrc_error *err)
{
    struct sbuf b = {NULL, 0, 0};

    *out = NULL;
    *len = 0;
    if (sb_printf(&b, "%s\n", STATE_HEADER) != 0)
        goto fail;
    if (st->url != NULL && strchr(st->url, '\n') == NULL && sb_printf(&b, "url %s\n", st->url) != 0)
        goto fail;
    for (size_t i = 0; i < st->refs.n; i++) {
        const struct ssrc_ref *r = &st->refs.v[i];
        if (sb_printf(&b, "ref %s %s %s\n", r->oid, r->commit[0] ? r->commit : "-", r->name) != 0)
            goto fail;
    }
    for (size_t i = 0; i < st->nenvs; i++) {
        const struct ssrc_envstate *e = &st->envs[i];
        if (sb_printf(&b, "env %s %s %s %s\n", e->env, e->commit, e->tag[0] ? e->tag : "-",
                      e->ref) != 0)
            goto fail;
    }
    *out = b.p;
    *len = b.len;
    return 0;
fail:
    free(b.p);
    return ssrc_error_set(err, SSRC_ENOMEM, "formatting the state: out of memory");
}

void ssrc_state_release(struct ssrc_state *st)
{
    if (st == NULL)
        return;
    free(st->url);
    st->url = NULL;
    ssrc_refs_release(&st->refs);
    for (size_t i = 0; i < st->nenvs; i++)
        free(st->envs[i].env);
    free(st->envs);
    st->envs = NULL;
    st->nenvs = 0;
}

const struct ssrc_envstate *ssrc_state_env(const struct ssrc_state *st, const char *env)
{
    for (size_t i = 0; st != NULL && i < st->nenvs; i++)
        if (strcmp(st->envs[i].env, env) == 0)
            return &st->envs[i];
    return NULL;
}

/* ---- resolution ---- */

struct cand {
    const struct ssrc_ref *ref;
    struct ssrc_semver v;
    const char *tagname; /* after "refs/tags/" */
};

static int cand_cmp_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = ssrc_semver_cmp(&y->v, &x->v);

    return c != 0 ? c : strcmp(y->tagname, x->tagname);
}

static void note(char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;

    if (len + 3 >= size)
        return;
    if (len > 0) {
        memcpy(buf + len, "; ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/* Parse refs/tags/PREFIX<semver>; returns false for anything else. */
static bool tag_version(const char *refname, const char *prefix, struct ssrc_semver *v,
                        const char **tagname)
{
    size_t pl = strlen(prefix);

    if (strncmp(refname, "refs/tags/", 10) != 0)
        return false;
    *tagname = refname + 10;
    if (strncmp(*tagname, prefix, pl) != 0)
        return false;
    return ssrc_semver_parse(*tagname + pl, strlen(*tagname + pl), v, NULL) == 0;
}

static bool rule_accepts(const struct ssrc_rule *rule, const struct ssrc_semver *v)
{
    struct ssrc_semver core;

    if (rule->type == SSRC_RULE_RC) {
        if (ssrc_semver_rc(v) < 0)
            return false;
        core = *v;
        core.pre[0] = '\0';
        return rule->range == NULL || ssrc_range_match(rule->range, &core);
    }
    if (v->pre[0] != '\0')
        return false;
    return rule->range == NULL || ssrc_range_match(rule->range, v);
}

static void set_result(struct ssrc_resolution *out, const char *ref, const char *commit,
                       const char *tag)
{
    out->ok = true;
    snprintf(out->ref, sizeof(out->ref), "%s", ref);
    snprintf(out->commit, sizeof(out->commit), "%s", commit);
    snprintf(out->tag, sizeof(out->tag), "%s", tag != NULL ? tag : "");
}

static int resolve_branch(const struct ssrc_rule *rule, const struct ssrc_refs *now,
                          const struct ssrc_state *seen, ssrc_ancestor_fn is_ancestor, void *arg,
                          struct ssrc_resolution *out)
{
    char name[SSRC_REFNAME_MAX + 1];
    const struct ssrc_ref *r, *old;

    snprintf(name, sizeof(name), "refs/heads/%s", rule->branch);
    r = ssrc_refs_find(now, name);
    old = seen != NULL ? ssrc_refs_find(&seen->refs, name) : NULL;
    if (r == NULL || r->commit[0] == '\0') {
        snprintf(out->reason, sizeof(out->reason), "branch %s not found%s", rule->branch,
                 old != NULL ? " (it was deleted)" : "");
        return 0;
    }
    if (old != NULL && old->commit[0] != '\0' && strcmp(old->commit, r->commit) != 0 &&
        is_ancestor != NULL && !is_ancestor(arg, old->commit, r->commit))
        note(out->notices, sizeof(out->notices),
             "%s was force-pushed: %.7s is no longer an ancestor of %.7s", rule->branch,
             old->commit, r->commit);
    set_result(out, name, r->commit, NULL);
    snprintf(out->reason, sizeof(out->reason), "%s at %.7s", rule->branch, r->commit);
    return 0;
}

static bool has_gate(const struct ssrc_refs *now, const char *prefix, const struct cand *c,
                     const char **gate)
{
    const char *best = NULL;
    struct ssrc_semver bestv;

    for (size_t i = 0; i < now->n; i++) {
        struct ssrc_semver v;
        const char *tn;
        if (!tag_version(now->v[i].name, prefix, &v, &tn) || ssrc_semver_rc(&v) < 0 ||
            v.major != c->v.major || v.minor != c->v.minor || v.patch != c->v.patch ||
            strcmp(now->v[i].commit, c->ref->commit) != 0)
            continue;
        if (best == NULL || ssrc_semver_cmp(&v, &bestv) > 0) {
            best = tn;
            bestv = v;
        }
    }
    *gate = best;
    return best != NULL;
}

static int add_refused(struct ssrc_resolution *out, const char *name, struct ssrc_error *err)
{
    char **nv = realloc(out->refused, (out->nrefused + 1) * sizeof(*nv));

    if (nv == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    out->refused = nv;
    if ((nv[out->nrefused] = strdup(name)) == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    out->nrefused++;
    return 0;
}

static bool is_refused(const struct ssrc_resolution *out, const char *name)
{
    for (size_t i = 0; i < out->nrefused; i++)
        if (strcmp(out->refused[i], name) == 0)
            return true;
    return false;
}

static void keep_prev(struct ssrc_resolution *out, const struct ssrc_envstate *prev)
{
    set_result(out, prev->ref, prev->commit, prev->tag);
    out->kept = true;
}

static int resolve_tags(const struct ssrc_rule *rule, const struct ssrc_refs *now,
                        const struct ssrc_state *seen, const char *env, struct ssrc_resolution *out,
                        struct ssrc_error *err)
{
    const char *what = rule->type == SSRC_RULE_RC ? "rc" : "release";
    struct cand *c = NULL, *chosen = NULL;
    const struct ssrc_envstate *prev = ssrc_state_env(seen, env);
    struct ssrc_semver prevv;
    const char *prevtn = NULL, *gate = NULL;
    bool have_prevv = false;
    char skipped[512] = "";
    size_t nc = 0;
    int rc = -1;

    c = calloc(now->n + 1, sizeof(*c));
    if (c == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    for (size_t i = 0; i < now->n; i++) {
        const struct ssrc_ref *r = &now->v[i], *old;
        struct cand k;
        if (!tag_version(r->name, rule->prefix, &k.v, &k.tagname) || r->commit[0] == '\0' ||
            !rule_accepts(rule, &k.v))
            continue;
        k.ref = r;
        old = seen != NULL ? ssrc_refs_find(&seen->refs, r->name) : NULL;
        if (old != NULL && old->commit[0] != '\0' && strcmp(old->commit, r->commit) != 0) {
            if (rule->type == SSRC_RULE_RELEASE) {
                note(out->notices, sizeof(out->notices),
                     "tag %s moved from %.7s to %.7s: refused (accept with `sluice sources "
                     "--accept-moved`)",
                     k.tagname, old->commit, r->commit);
                if (add_refused(out, r->name, err) != 0)
                    goto done;
                continue;
            }
            note(out->notices, sizeof(out->notices), "tag %s moved from %.7s to %.7s", k.tagname,
                 old->commit, r->commit);
        }
        c[nc++] = k;
    }
    /* Deleted tags of this rule. */
    for (size_t i = 0; seen != NULL && i < seen->refs.n; i++) {
        struct ssrc_semver v;
        const char *tn;
        if (tag_version(seen->refs.v[i].name, rule->prefix, &v, &tn) && rule_accepts(rule, &v) &&
            ssrc_refs_find(now, seen->refs.v[i].name) == NULL)
            note(out->notices, sizeof(out->notices), "tag %s was deleted", tn);
    }
    if (nc > 0)
        qsort(c, nc, sizeof(*c), cand_cmp_desc);
    for (size_t i = 0; i < nc && chosen == NULL; i++) {
        if (rule->type == SSRC_RULE_RELEASE && rule->require_rc &&
            !has_gate(now, rule->prefix, &c[i], &gate)) {
            size_t l = strlen(skipped);
            snprintf(skipped + l, sizeof(skipped) - l, "%s%s skipped: no rc tag on the same commit",
                     l ? "; " : "", c[i].tagname);
            continue;
        }
        chosen = &c[i];
    }
    if (prev != NULL && tag_version(prev->ref, rule->prefix, &prevv, &prevtn))
        have_prevv = true;

    if (chosen != NULL && (!have_prevv || ssrc_semver_cmp(&chosen->v, &prevv) >= 0)) {
        set_result(out, chosen->ref->name, chosen->ref->commit,
                   chosen->ref->annotated ? chosen->ref->oid : NULL);
        if (gate != NULL)
            snprintf(out->reason, sizeof(out->reason), "%s (%.7s) gated by %s", chosen->tagname,
                     chosen->ref->commit, gate);
        else
            snprintf(out->reason, sizeof(out->reason), "%s (%.7s): highest %s tag", chosen->tagname,
                     chosen->ref->commit, what);
    } else if (have_prevv && is_refused(out, prev->ref)) {
        keep_prev(out, prev);
        snprintf(out->reason, sizeof(out->reason), "keeping %s (%.7s): the tag moved", prevtn,
                 prev->commit);
    } else if (have_prevv) {
        const struct ssrc_ref *still = ssrc_refs_find(now, prev->ref);
        bool same = still != NULL && strcmp(still->commit, prev->commit) == 0;
        if (chosen != NULL && (!same || rule->allow_downgrade)) {
            set_result(out, chosen->ref->name, chosen->ref->commit,
                       chosen->ref->annotated ? chosen->ref->oid : NULL);
            snprintf(out->reason, sizeof(out->reason), "%s (%.7s)%s%s: %s from %s", chosen->tagname,
                     chosen->ref->commit, gate != NULL ? " gated by " : "",
                     gate != NULL ? gate : "",
                     still == NULL ? "rolled back (tag deleted)" : "downgraded", prevtn);
        } else if (chosen != NULL) {
            keep_prev(out, prev);
            snprintf(out->reason, sizeof(out->reason),
                     "keeping %s (%.7s): refusing to move down to %s (allowDowngrade is off)",
                     prevtn, prev->commit, chosen->tagname);
        } else if (same && !rule->allow_downgrade) {
            keep_prev(out, prev);
            snprintf(out->reason, sizeof(out->reason),
                     "keeping %s (%.7s): no tag qualifies any more", prevtn, prev->commit);
        } else {
            snprintf(out->reason, sizeof(out->reason), "no %s tag %s*%s qualifies", what,
                     rule->prefix, rule->type == SSRC_RULE_RC ? "-rc.N" : "");
        }
    } else {
        snprintf(out->reason, sizeof(out->reason), "no %s tag %s*%s qualifies", what, rule->prefix,
                 rule->type == SSRC_RULE_RC ? "-rc.N" : "");
    }
    if (skipped[0] != '\0') {
        size_t l = strlen(out->reason);
        snprintf(out->reason + l, sizeof(out->reason) - l, "; %s", skipped);
    }
    rc = 0;
done:
    free(c);
    return rc;
}

int ssrc_resolve(const struct ssrc_rule *rule, const struct ssrc_refs *now,
                 const struct ssrc_state *seen, const char *env, ssrc_ancestor_fn is_ancestor,
                 void *arg, struct ssrc_resolution *out, struct ssrc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (rule->type == SSRC_RULE_BRANCH)
        return resolve_branch(rule, now, seen, is_ancestor, arg, out);
    if (resolve_tags(rule, now, seen, env, out, err) != 0) {
        ssrc_resolution_release(out);
        return -1;
    }
    return 0;
}

void ssrc_resolution_release(struct ssrc_resolution *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nrefused; i++)
        free(r->refused[i]);
    free(r->refused);
    r->refused = NULL;
    r->nrefused = 0;
}

int ssrc_state_next(const struct ssrc_state *prev, const struct ssrc_refs *now,
                    const char *const *envs, const struct ssrc_resolution *const *res, size_t n,
                    bool accept_moved, const char *url, struct ssrc_state *out,
                    struct ssrc_error *err)
{
    size_t ne = 0;

    memset(out, 0, sizeof(*out));
    if (url != NULL && (out->url = strdup(url)) == NULL)
        goto oom;
    out->refs.v = calloc(now->n + 1, sizeof(out->refs.v[0]));
    out->envs = calloc((prev != NULL ? prev->nenvs : 0) + n + 1, sizeof(out->envs[0]));
    if (out->refs.v == NULL || out->envs == NULL)
        goto oom;
    for (size_t i = 0; i < now->n; i++) {
        const struct ssrc_ref *src = &now->v[i];
        bool refused = false;
        for (size_t j = 0; j < n && !accept_moved && !refused; j++)
            refused = res[j] != NULL && is_refused(res[j], src->name);
        if (refused && prev != NULL) {
            const struct ssrc_ref *old = ssrc_refs_find(&prev->refs, src->name);
            if (old != NULL)
                src = old;
        }
        out->refs.v[i] = *src;
        out->refs.v[i].name = strdup(src->name);
        if (out->refs.v[i].name == NULL)
            goto oom;
        out->refs.n++;
    }
    for (size_t i = 0; prev != NULL && i < prev->nenvs; i++) {
        out->envs[ne] = prev->envs[i];
        if ((out->envs[ne].env = strdup(prev->envs[i].env)) == NULL)
            goto oom;
        ne++;
        out->nenvs = ne;
    }
    for (size_t j = 0; j < n; j++) {
        struct ssrc_envstate *e = NULL;
        if (res[j] == NULL || !res[j]->ok)
            continue;
        for (size_t i = 0; i < ne && e == NULL; i++)
            if (strcmp(out->envs[i].env, envs[j]) == 0)
                e = &out->envs[i];
        if (e == NULL) {
            e = &out->envs[ne];
            memset(e, 0, sizeof(*e));
            if ((e->env = strdup(envs[j])) == NULL)
                goto oom;
            ne++;
            out->nenvs = ne;
        }
        snprintf(e->ref, sizeof(e->ref), "%s", res[j]->ref);
        snprintf(e->commit, sizeof(e->commit), "%s", res[j]->commit);
        snprintf(e->tag, sizeof(e->tag), "%s", res[j]->tag);
    }
    return 0;
oom:
    ssrc_state_release(out);
    return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
}
