#include "pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "log.h"
#include "policy.h"
#include "render.h"
#include "secrets.h"
#include "source.h"

struct sl_pipeline {
    const struct sl_config *cfg;
    struct sl_pipeline_opts opts;
    struct sl_source *src;
    struct sl_identities ids;
    struct sl_policy_set *policies;
    bool polled;
    bool poll_failed; /* the last poll failed: resolved from the cache */
    /* Policy violations by rule of the revision last resolved (for metrics). */
    char resolved_env[64];
    char resolved_rev[64];
    bool counted;
    struct sl_pipeline_violation violations[SL_PIPELINE_MAX_RULES];
    size_t nviolations;
    size_t nexcepted;
};

static int cancel_requested(void *arg)
{
    const volatile sig_atomic_t *flag = (const volatile sig_atomic_t *)(uintptr_t)arg;

    return *flag != 0;
}

int sl_pipeline_open(const struct sl_config *cfg, const struct sl_pipeline_opts *opts,
                     struct sl_pipeline **out, struct sl_error *err)
{
    struct sl_pipeline *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    p->cfg = cfg;
    if (opts != NULL)
        p->opts = *opts;
    if (sl_source_open(cfg, NULL, &p->src, err) != 0)
        goto fail;
    if (p->opts.cancel != NULL)
        sl_source_set_cancel(p->src, cancel_requested, (void *)(uintptr_t)p->opts.cancel);
    if (!p->opts.no_unseal) {
        for (size_t i = 0; i < cfg->nidentities; i++)
            if (sl_identities_load_file(&p->ids, cfg->identities[i], err) != 0)
                goto fail;
    }
    if (sl_policy_set_load(&p->policies, NULL, 0, cfg, NULL, err) != 0) {
        sl_error_wrap(err, "policies");
        goto fail;
    }
    *out = p;
    return 0;
fail:
    sl_pipeline_free(p);
    return -1;
}

void sl_pipeline_free(struct sl_pipeline *p)
{
    if (p == NULL)
        return;
    sl_source_free(p->src);
    sl_identities_release(&p->ids);
    sl_policy_set_free(p->policies);
    free(p);
}

int sl_pipeline_finish(struct sl_pipeline *p, struct sl_error *err)
{
    return sl_source_save_state(p->src, false, err);
}

static int pl_resolve(void *ctx, const struct sl_env_config *env, char **revision, char **ref,
                      struct sl_error *err)
{
    struct sl_pipeline *p = ctx;
    struct sl_source_result res;

    *revision = *ref = NULL;
    if (!p->polled && !p->opts.no_poll) {
        struct sl_source_poll poll;
        struct sl_error perr = SL_ERROR_INIT;

        memset(&poll, 0, sizeof(poll));
        p->poll_failed = false;
        if (sl_source_poll(p->src, &poll, &perr) != 0) {
            /*
             * A failed poll keeps the last good cache: environments go on
             * resolving from what was fetched before (the error is reported and
             * counted); only an empty cache, or a cancel, fails the run.
             */
            if (perr.code == SL_ECANCELED)
                return sl_error_set(err, perr.code, "fetch: %s", perr.msg);
            p->poll_failed = true;
            sl_log_warn("fetch failed; resolving from the last fetched revisions", "error",
                        perr.msg);
        }
    }
    p->polled = true;
    memset(&res, 0, sizeof(res));
    if (sl_source_resolve(p->src, env, &res, err) != 0)
        return p->poll_failed ? sl_error_wrap(err, "fetch failed and the cache has nothing") : -1;
    if (!res.ok) {
        sl_error_set(err, res.err.code != SL_OK ? res.err.code : SL_ENOTFOUND, "%s: %s", env->name,
                     res.err.msg[0] ? res.err.msg : res.reason);
        return -1;
    }
    snprintf(p->resolved_env, sizeof(p->resolved_env), "%s", env->name);
    snprintf(p->resolved_rev, sizeof(p->resolved_rev), "%s", res.commit);
    p->counted = false;
    *revision = strdup(res.commit);
    *ref = strdup(res.ref);
    if (*revision == NULL || *ref == NULL) {
        free(*revision);
        free(*ref);
        *revision = *ref = NULL;
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    return 0;
}

static void pl_release(void *ctx, struct sl_objlist *objs)
{
    (void)ctx;
    sl_objlist_wipe_secrets(objs);
    sl_objlist_release(objs);
}

/*
 * Every finding goes to the log (warn-mode and non-blocking ones included, and
 * exceptions with their reasons, so they stay visible); per-rule counts of the
 * revision the environment resolved to are kept for metrics.
 */
static void report_findings(struct sl_pipeline *p, const struct sl_env_config *env,
                            const char *revision, const struct sl_policy_report *rep)
{
    bool current =
            strcmp(p->resolved_env, env->name) == 0 && strcmp(p->resolved_rev, revision) == 0;

    if (current) {
        p->nviolations = 0;
        p->nexcepted = 0;
        p->counted = true;
    }
    for (size_t i = 0; i < rep->n; i++) {
        const struct sl_policy_finding *f = &rep->items[i];

        if (f->excepted) {
            if (current)
                p->nexcepted++;
            sl_log_info("policy exception", "env", env->name, "rule", f->rule, "object", f->object,
                        "origin", f->origin, "reason", f->reason);
            continue;
        }
        sl_log(f->blocking ? SL_LOG_ERR : SL_LOG_WARN, "policy violation", "env", env->name, "mode",
               sl_policy_mode_name(rep->mode), "rule", f->rule, "object", f->object, "origin",
               f->origin, "message", f->message, "blocking", f->blocking ? "true" : "false", NULL);
        if (!current)
            continue;
        size_t k = 0;
        while (k < p->nviolations && strcmp(p->violations[k].rule, f->rule) != 0)
            k++;
        if (k == p->nviolations) {
            if (k == SL_PIPELINE_MAX_RULES)
                continue;
            snprintf(p->violations[k].rule, sizeof(p->violations[k].rule), "%s", f->rule);
            p->violations[k].count = 0;
            p->nviolations++;
        }
        p->violations[k].count++;
    }
}

static int pl_render(void *ctx, const struct sl_env_config *env, const char *revision,
                     struct sl_objlist *out, struct sl_error *err)
{
    struct sl_pipeline *p = ctx;
    struct sl_tree *tree = NULL;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_buf text = SL_BUF_INIT(64 << 10);
    int n, rc = -1;

    if (sl_source_open_tree(p->src, revision, &tree, err) != 0)
        return -1;
    if (sl_render(tree, env->path, NULL, &objs, err) != 0)
        goto done;
    if (!p->opts.no_unseal && sl_unseal_objects(&objs, &p->ids, err) != 0) {
        sl_error_wrap(err, "unseal");
        goto done;
    }
    n = sl_policy_check(p->policies, &objs, env->name, env->policy, &rep, err);
    if (n < 0)
        goto done;
    /* Point findings at the lines users edit, as `sluice check` does. */
    if (sl_policy_report_locate(&rep, &objs, tree, err) != 0)
        goto done;
    report_findings(p, env, revision, &rep);
    if (n > 0) {
        struct sl_error ferr = SL_ERROR_INIT;
        for (size_t i = 0; i < rep.n; i++)
            if (rep.items[i].blocking && !rep.items[i].excepted)
                sl_buf_printf(&text, &ferr, "%s%s: %s: %s", text.len ? "; " : "",
                              rep.items[i].origin, rep.items[i].rule, rep.items[i].message);
        sl_error_set(err, SL_EPERM, "policy denied %d object%s: %s", n, n == 1 ? "" : "s",
                     text.ptr);
        goto done;
    }
    /* hand the objects over */
    for (size_t i = 0; i < objs.n; i++) {
        struct sl_object *o = &objs.items[i];
        if (sl_objlist_add(out, o->json, o->origin.file, o->origin.line, err) != 0) {
            o->json = NULL;
            goto done;
        }
        out->items[out->n - 1].secret = o->secret;
        o->json = NULL;
    }
    rc = 0;
done:
    sl_buf_release(&text);
    sl_policy_report_release(&rep);
    pl_release(NULL, &objs);
    sl_tree_free(tree);
    return rc;
}

size_t sl_pipeline_violations(const struct sl_pipeline *p, const char *env,
                              const struct sl_pipeline_violation **out)
{
    *out = NULL;
    if (p == NULL || !p->counted || strcmp(p->resolved_env, env) != 0)
        return 0;
    *out = p->violations;
    return p->nviolations;
}

bool sl_pipeline_poll_failed(const struct sl_pipeline *p)
{
    return p != NULL && p->poll_failed;
}

void sl_pipeline_repoll(struct sl_pipeline *p)
{
    p->polled = false;
}

static void pl_findings(void *ctx, const struct sl_env_config *env, const char *revision, char *out,
                        size_t outlen)
{
    struct sl_pipeline *p = ctx;
    size_t off = 0, total = 0;

    out[0] = '\0';
    if (!p->counted || strcmp(p->resolved_env, env->name) != 0 ||
        strcmp(p->resolved_rev, revision) != 0 || (p->nviolations == 0 && p->nexcepted == 0))
        return;
    for (size_t i = 0; i < p->nviolations; i++)
        total += p->violations[i].count;
    if (total > 0) {
        int n = snprintf(out, outlen, "policy (%s): %zu violation%s not blocking:",
                         sl_policy_mode_name(env->policy), total, total == 1 ? "" : "s");
        off = n > 0 && (size_t)n < outlen ? (size_t)n : outlen - 1;
        for (size_t i = 0; i < p->nviolations && off + 1 < outlen; i++) {
            n = snprintf(out + off, outlen - off, " %s x%u", p->violations[i].rule,
                         p->violations[i].count);
            off += n > 0 && (size_t)n < outlen - off ? (size_t)n : outlen - off - 1;
        }
    }
    if (p->nexcepted > 0 && off + 1 < outlen)
        snprintf(out + off, outlen - off, "%s%zu policy exception%s (see the log)",
                 off > 0 ? "; " : "", p->nexcepted, p->nexcepted == 1 ? "" : "s");
}

static void pl_refresh(void *ctx)
{
    sl_pipeline_repoll(ctx);
}

void sl_pipeline_desired(struct sl_pipeline *p, struct sl_desired *d)
{
    d->resolve = pl_resolve;
    d->refresh = pl_refresh;
    d->render = pl_render;
    d->release = pl_release;
    d->findings = pl_findings;
    d->ctx = p;
}
