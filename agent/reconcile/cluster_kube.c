#include "cluster_kube.h"

#include <stdlib.h>
#include <string.h>

int sl_kube_cluster_open(struct sl_kube_cluster **out, const struct sl_kube_options *opts,
                         struct sl_error *err)
{
    struct sl_kube_cluster *kc = calloc(1, sizeof(*kc));

    *out = NULL;
    if (kc == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    kc->opts = *opts;
    if (sl_kube_open(&kc->kube, &kc->opts, err) != 0) {
        free(kc);
        return -1;
    }
    *out = kc;
    return 0;
}

void sl_kube_cluster_free(struct sl_kube_cluster *kc)
{
    if (kc == NULL)
        return;
    sl_kube_free(kc->kube);
    free(kc);
}

static struct sl_kube *K(void *ctx)
{
    return ((struct sl_kube_cluster *)ctx)->kube;
}

static int ck_resolve(void *ctx, const char *api_version, const char *kind, bool *namespaced,
                      struct sl_error *err)
{
    struct sl_kube_resource res;

    if (sl_kube_resolve(K(ctx), api_version, kind, &res, err) != 0)
        return -1;
    *namespaced = res.namespaced;
    return 0;
}

static void ck_invalidate(void *ctx)
{
    sl_kube_discovery_invalidate(K(ctx));
}

static int ck_list(void *ctx, const char *api_version, const char *kind, const char *ns,
                   const char *label_selector, json_t **items, struct sl_error *err)
{
    struct sl_kube_ref ref = {api_version, kind, ns, NULL};
    struct sl_kube_list_opts lo = {label_selector, NULL, 0};

    return sl_kube_list(K(ctx), &ref, &lo, items, NULL, NULL, err);
}

static int ck_get(void *ctx, const char *api_version, const char *kind, const char *ns,
                  const char *name, json_t **out, struct sl_error *err)
{
    struct sl_kube_ref ref = {api_version, kind, ns && ns[0] ? ns : NULL, name};

    return sl_kube_get(K(ctx), &ref, out, NULL, err);
}

static int ck_apply(void *ctx, const json_t *obj, bool dry_run, bool force, json_t **out,
                    bool *immutable, struct sl_error *err)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube_apply_opts ao = {NULL, force ? 1 : 0, dry_run};
    int rc;

    if (immutable != NULL)
        *immutable = false;
    rc = sl_kube_apply(K(ctx), obj, &ao, out, NULL, &st, err);
    if (rc != 0 && immutable != NULL)
        *immutable = sl_kube_is_immutable(&st);
    sl_kube_status_release(&st);
    return rc;
}

static int ck_del(void *ctx, const char *api_version, const char *kind, const char *ns,
                  const char *name, struct sl_error *err)
{
    struct sl_kube_ref ref = {api_version, kind, ns && ns[0] ? ns : NULL, name};

    return sl_kube_delete(K(ctx), &ref, SL_KUBE_PROPAGATION_BACKGROUND, false, NULL, err);
}

static void *ck_clone(void *ctx, unsigned share, struct sl_error *err)
{
    struct sl_kube_cluster *kc = ctx, *c = NULL;
    struct sl_kube_options o = kc->opts;

    /* the clones together stay within the configured rate */
    if (o.qps > 0 && share > 1)
        o.qps = o.qps / share;
    if (sl_kube_cluster_open(&c, &o, err) != 0)
        return NULL;
    return c;
}

static void ck_release_clone(void *clone)
{
    sl_kube_cluster_free(clone);
}

static const struct sl_cluster_ops kube_ops = {
        ck_resolve, ck_invalidate, ck_list, ck_get, ck_apply, ck_del, ck_clone, ck_release_clone};

void sl_cluster_from_kube(struct sl_cluster *out, struct sl_kube_cluster *kc)
{
    out->ops = &kube_ops;
    out->ctx = kc;
}
