/*
 * Evaluation of a rule set on an object list. Per object the facts every
 * rule needs (kind, namespace, labels, pod spec) are computed once; a rule
 * then walks its scope items (the object, its pod spec, or every container,
 * init container and ephemeral container) and reports the first failing
 * check per item. Strings for findings are built only on failure, so a
 * clean revision costs lookups and compares only.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define VALUE_SHOW_MAX 120

struct objinfo {
    const struct sl_object *o;
    const json_t *json;
    const char *kind, *ns, *name, *group_end; /* group: apiVersion up to group_end */
    const char *api_version;
    const json_t *labels, *annotations;
    const json_t *pod;    /* the pod spec, or NULL */
    const char *pod_path; /* "spec.template.spec" */
};

/* One scope item: the thing paths without $ are relative to. */
struct item {
    const json_t *node;
    const char *list; /* "containers", "initContainers", "ephemeralContainers" or NULL */
    size_t index;
    const char *cname;
};

struct trail {
    const char *keys[PATH_MAX_STEPS];
    size_t idx[PATH_MAX_STEPS];
    bool is_idx[PATH_MAX_STEPS];
    size_t n;
};

struct fail {
    const struct path *path; /* for absence: the first path; else the leaf's path */
    struct trail trail;
    bool have_trail;
    const json_t *value; /* the offending value, NULL when absent */
    const char *message;
    bool outside; /* the check looked only outside the scope item ($pod/$object) */
};

/*
 * Rules look up the same fields over and over (securityContext of every
 * container, by most container rules). A direct-mapped cache of (node,
 * interned key) -> child saves the hash lookups; objects are not modified
 * during a check, so entries never go stale within one sl_policy_check().
 */
#define LCACHE_SIZE 512
struct lcache_entry {
    const json_t *node;
    const char *ikey;
    const json_t *child;
};
struct lcache {
    struct lcache_entry e[LCACHE_SIZE];
};

static const json_t *cached_get(struct lcache *c, const json_t *node, const struct step *st)
{
    uintptr_t h = ((uintptr_t)node >> 4) ^ ((uintptr_t)st->ikey >> 3) * 31u;
    struct lcache_entry *en;

    if (c == NULL || st->ikey == NULL)
        return json_object_get(node, st->key);
    en = &c->e[(h ^ (h >> 9)) % LCACHE_SIZE];
    if (en->node == node && en->ikey == st->ikey)
        return en->child;
    en->node = node;
    en->ikey = st->ikey;
    en->child = json_object_get(node, st->key);
    return en->child;
}

struct ev {
    const struct objinfo *oi;
    const struct item *it;
    struct lcache *cache;
    const struct objinfo *all; /* the whole list, for finding indices */
    size_t base;               /* findings before this check began (another list's) */
};

static const char *str_or(const json_t *j, const char *def)
{
    const char *s = json_string_value(j);
    return s != NULL ? s : def;
}

static void objinfo_init(struct objinfo *oi, const struct sl_object *o)
{
    const json_t *j = o->json, *md = json_object_get(j, "metadata"), *spec;
    const char *slash;

    memset(oi, 0, sizeof(*oi));
    oi->o = o;
    oi->json = j;
    oi->kind = str_or(json_object_get(j, "kind"), "");
    oi->api_version = str_or(json_object_get(j, "apiVersion"), "");
    slash = strchr(oi->api_version, '/');
    oi->group_end = slash != NULL ? slash : oi->api_version;
    oi->ns = str_or(json_object_get(md, "namespace"), "");
    oi->name = str_or(json_object_get(md, "name"), "");
    oi->labels = json_object_get(md, "labels");
    oi->annotations = json_object_get(md, "annotations");
    spec = json_object_get(j, "spec");
    if (strcmp(oi->kind, "Pod") == 0 && json_is_object(spec)) {
        oi->pod = spec;
        oi->pod_path = "spec";
    } else if (strcmp(oi->kind, "CronJob") == 0) {
        const json_t *p;

        p = json_object_get(json_object_get(spec, "jobTemplate"), "spec");
        p = json_object_get(json_object_get(p, "template"), "spec");
        if (json_is_object(p)) {
            oi->pod = p;
            oi->pod_path = "spec.jobTemplate.spec.template.spec";
        }
    } else if (strcmp(oi->kind, "PodTemplate") == 0) {
        const json_t *p = json_object_get(json_object_get(j, "template"), "spec");
        if (json_is_object(p)) {
            oi->pod = p;
            oi->pod_path = "template.spec";
        }
    } else {
        /* Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController, and
         * custom workloads of the same shape. */
        const json_t *p = json_object_get(json_object_get(spec, "template"), "spec");
        if (json_is_object(p) && json_is_array(json_object_get(p, "containers"))) {
            oi->pod = p;
            oi->pod_path = "spec.template.spec";
        }
    }
}

/* ---- matching ---- */

static bool in_list(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static bool glob_list(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (fnmatch(l->v[i], s, 0) == 0)
            return true;
    return false;
}

static bool labels_match(const struct match *m, const json_t *labels)
{
    const char *k;
    const json_t *v;

    if (m->match_labels != NULL) {
        json_object_foreach((json_t *)(uintptr_t)m->match_labels, k, v)
        {
            const char *have = json_string_value(json_object_get(labels, k));
            if (have == NULL || strcmp(have, json_string_value(v)) != 0)
                return false;
        }
    }
    for (size_t i = 0; i < m->nexprs; i++) {
        const struct selector_expr *x = &m->exprs[i];
        const char *have = json_string_value(json_object_get(labels, x->key));
        switch (x->op) {
        case SEL_IN:
            if (have == NULL || !in_list(&x->values, have))
                return false;
            break;
        case SEL_NOT_IN:
            if (have != NULL && in_list(&x->values, have))
                return false;
            break;
        case SEL_EXISTS:
            if (have == NULL)
                return false;
            break;
        case SEL_NOT_EXISTS:
            if (have != NULL)
                return false;
            break;
        }
    }
    return true;
}

static bool rule_matches(const struct rule *r, const struct objinfo *oi, const char *env)
{
    const struct match *m = &r->match;

    if (m->kinds.n > 0 && !in_list(&m->kinds, oi->kind))
        return false;
    if (m->api_groups.n > 0) {
        bool found = false;
        size_t glen = (size_t)(oi->group_end - oi->api_version);
        if (*oi->group_end == '\0')
            glen = 0; /* "v1": the core group "" */
        for (size_t i = 0; i < m->api_groups.n && !found; i++)
            found = strlen(m->api_groups.v[i]) == glen &&
                    strncmp(m->api_groups.v[i], oi->api_version, glen) == 0;
        if (!found)
            return false;
    }
    if (m->plain_in_git == 1 && oi->o->secret)
        return false;
    if (m->plain_in_git == 0 && !oi->o->secret)
        return false;
    if (m->namespaces.n > 0 && !glob_list(&m->namespaces, oi->ns))
        return false;
    if (m->exclude_namespaces.n > 0 && glob_list(&m->exclude_namespaces, oi->ns))
        return false;
    if (m->names.n > 0 && !glob_list(&m->names, oi->name))
        return false;
    if (m->environments.n > 0 && (env == NULL || !in_list(&m->environments, env)))
        return false;
    if (m->exclude_environments.n > 0 && env != NULL && in_list(&m->exclude_environments, env))
        return false;
    if ((m->match_labels != NULL || m->nexprs > 0) && !labels_match(m, oi->labels))
        return false;
    return true;
}

/* ---- paths ---- */

/* Visitor: return 1 to stop the walk. */
typedef int (*leaf_fn)(void *arg, const json_t *v, const struct trail *t);

static int walk(struct lcache *c, const json_t *node, const struct path *p, size_t i,
                struct trail *t, leaf_fn fn, void *arg)
{
    const struct step *st;

    if (node == NULL || json_is_null(node))
        return 0;
    if (i == p->n)
        return fn(arg, node, t);
    st = &p->steps[i];
    t->n = i + 1;
    switch (st->type) {
    case STEP_KEY:
        t->keys[i] = st->key;
        t->is_idx[i] = false;
        return walk(c, cached_get(c, node, st), p, i + 1, t, fn, arg);
    case STEP_INDEX:
        t->is_idx[i] = true;
        t->idx[i] = st->index;
        return walk(c, json_array_get(node, st->index), p, i + 1, t, fn, arg);
    case STEP_ALL:
        if (json_is_array(node)) {
            for (size_t k = 0; k < json_array_size(node); k++) {
                t->n = i + 1;
                t->is_idx[i] = true;
                t->idx[i] = k;
                if (walk(c, json_array_get(node, k), p, i + 1, t, fn, arg))
                    return 1;
            }
        } else if (json_is_object(node)) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)(uintptr_t)node, k, v)
            {
                t->n = i + 1;
                t->is_idx[i] = false;
                t->keys[i] = k;
                if (walk(c, v, p, i + 1, t, fn, arg))
                    return 1;
            }
        }
        return 0;
    }
    return 0;
}

static const json_t *path_start(const struct ev *e, const struct path *p)
{
    switch (p->root) {
    case ROOT_POD:
        return e->oi->pod;
    case ROOT_OBJECT:
        return e->oi->json;
    case ROOT_SCOPE:
    default:
        return e->it->node;
    }
}

/* ---- operators ---- */

static bool json_to_quantity(const json_t *v, struct sl_qty *q)
{
    return sl_qty_from_json(v, q) == 0;
}

static bool in_values(const json_t *values, const json_t *v)
{
    for (size_t i = 0; i < json_array_size(values); i++)
        if (json_equal((json_t *)(uintptr_t)json_array_get(values, i), (json_t *)(uintptr_t)v))
            return true;
    return false;
}

static bool array_contains(const json_t *arr, const json_t *v)
{
    return json_is_array(arr) && in_values(arr, v);
}

static bool leaf_ok(const struct check *k, const json_t *v)
{
    struct sl_qty q;

    switch (k->op) {
    case OP_EQUALS:
        return json_equal((json_t *)(uintptr_t)v, k->value);
    case OP_NOT_EQUALS:
        return !json_equal((json_t *)(uintptr_t)v, k->value);
    case OP_IN:
        return in_values(k->values, v);
    case OP_NOT_IN:
        return !in_values(k->values, v);
    case OP_MATCHES:
        return json_is_string(v) && regexec(&k->re, json_string_value(v), 0, NULL, 0) == 0;
    case OP_NOT_MATCHES:
        return !json_is_string(v) || regexec(&k->re, json_string_value(v), 0, NULL, 0) != 0;
    case OP_LT:
        return json_to_quantity(v, &q) && sl_qty_cmp(&q, &k->quantity) < 0;
    case OP_LE:
        return json_to_quantity(v, &q) && sl_qty_cmp(&q, &k->quantity) <= 0;
    case OP_GT:
        return json_to_quantity(v, &q) && sl_qty_cmp(&q, &k->quantity) > 0;
    case OP_GE:
        return json_to_quantity(v, &q) && sl_qty_cmp(&q, &k->quantity) >= 0;
    case OP_CONTAINS:
        return array_contains(v, k->value);
    case OP_NOT_CONTAINS:
        return !array_contains(v, k->value);
    case OP_KEYS_IN: {
        const char *key;
        json_t *x;
        if (!json_is_object(v))
            return false;
        json_object_foreach((json_t *)(uintptr_t)v, key, x)
        {
            bool ok = false;
            for (size_t i = 0; i < json_array_size(k->values) && !ok; i++) {
                const char *allowed = json_string_value(json_array_get(k->values, i));
                ok = allowed != NULL && strcmp(allowed, key) == 0;
            }
            if (!ok)
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

static bool absent_passes(const struct check *k)
{
    if (k->if_absent >= 0)
        return k->if_absent == 1;
    switch (k->op) {
    case OP_NOT_EQUALS:
    case OP_NOT_IN:
    case OP_NOT_MATCHES:
    case OP_NOT_CONTAINS:
    case OP_KEYS_IN:
    case OP_ABSENT:
        return true;
    default:
        return false;
    }
}

struct leafarg {
    const struct check *k;
    struct fail *f;
    bool found;
    bool failed;
};

/* One walk both finds out whether a path resolves and evaluates what it reaches. */
static int leaf_eval(void *arg, const json_t *v, const struct trail *t)
{
    struct leafarg *a = arg;

    a->found = true;
    if (a->k->op == OP_EXISTS)
        return 1;
    if (a->k->op != OP_ABSENT && leaf_ok(a->k, v))
        return 0;
    a->failed = true;
    a->f->value = v;
    a->f->trail = *t;
    a->f->have_trail = true;
    return 1;
}

static const struct path *first_path(const struct check *k)
{
    if (k->npaths > 0)
        return &k->paths[0];
    for (size_t i = 0; i < k->nsub; i++) {
        const struct path *p = first_path(&k->sub[i]);
        if (p != NULL)
            return p;
    }
    return NULL;
}

/* True when k holds; on failure f describes why. */
static bool eval_check(const struct ev *e, const struct check *k, struct fail *f)
{
    memset(f, 0, sizeof(*f));
    switch (k->op) {
    case OP_ALL_OF:
        for (size_t i = 0; i < k->nsub; i++) {
            if (!eval_check(e, &k->sub[i], f)) {
                if (k->message != NULL)
                    f->message = k->message;
                return false;
            }
        }
        return true;
    case OP_ANY_OF: {
        struct fail first;
        for (size_t i = 0; i < k->nsub; i++) {
            if (eval_check(e, &k->sub[i], i == 0 ? &first : f))
                return true;
        }
        *f = first;
        if (k->message != NULL)
            f->message = k->message;
        return false;
    }
    case OP_NOT: {
        struct fail sub;
        if (!eval_check(e, &k->sub[0], &sub))
            return true;
        memset(f, 0, sizeof(*f));
        f->path = first_path(&k->sub[0]);
        f->message = k->message;
        return false;
    }
    default:
        break;
    }
    f->message = k->message;
    f->outside = k->npaths == 1 && k->paths[0].root != ROOT_SCOPE;
    for (size_t i = 0; i < k->npaths; i++) {
        struct leafarg a = {k, f, false, false};
        struct trail t;
        t.n = 0;
        walk(e->cache, path_start(e, &k->paths[i]), &k->paths[i], 0, &t, leaf_eval, &a);
        if (a.found) {
            f->path = &k->paths[i];
            return !a.failed;
        }
    }
    f->path = &k->paths[0];
    return absent_passes(k);
}

/* ---- findings ---- */

static void put_path_prefix(struct sl_buf *b, const struct ev *e, enum path_root root)
{
    if (root == ROOT_OBJECT)
        return;
    if (e->oi->pod_path != NULL &&
        (root == ROOT_POD || e->it->list != NULL || e->it->node == e->oi->pod)) {
        sl_buf_puts(b, e->oi->pod_path, NULL);
        if (root == ROOT_SCOPE && e->it->list != NULL)
            sl_buf_printf(b, NULL, ".%s[%zu]", e->it->list, e->it->index);
    }
}

static void put_step_key(struct sl_buf *b, const char *key)
{
    bool plain = key[0] != '\0';
    for (const char *p = key; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            plain = false;
    if (plain)
        sl_buf_printf(b, NULL, "%s%s", b->len > 0 ? "." : "", key);
    else
        sl_buf_printf(b, NULL, "[\"%s\"]", key);
}

static void field_text(struct sl_buf *b, const struct ev *e, const struct fail *f)
{
    if (f->path == NULL)
        return;
    put_path_prefix(b, e, f->path->root);
    for (size_t i = 0; i < f->path->n; i++) {
        const struct step *st = &f->path->steps[i];
        if (f->have_trail && i < f->trail.n) {
            if (f->trail.is_idx[i])
                sl_buf_printf(b, NULL, "[%zu]", f->trail.idx[i]);
            else
                put_step_key(b, f->trail.keys[i]);
        } else if (st->type == STEP_KEY) {
            put_step_key(b, st->key);
        } else if (st->type == STEP_INDEX) {
            sl_buf_printf(b, NULL, "[%zu]", st->index);
        } else {
            sl_buf_puts(b, "[*]", NULL);
        }
    }
}

static void value_text(struct sl_buf *b, const struct objinfo *oi, const json_t *v)
{
    char *s;
    /* A plain Secret's values are in git already, but logs are read by more people. */
    if (oi->o->secret || (strcmp(oi->kind, "Secret") == 0 && oi->group_end == oi->api_version)) {
        sl_buf_puts(b, "(secret value hidden)", NULL);
        return;
    }
    if (json_is_string(v)) {
        s = strndup(json_string_value(v), VALUE_SHOW_MAX);
    } else {
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s != NULL && strlen(s) > VALUE_SHOW_MAX)
            s[VALUE_SHOW_MAX] = '\0';
    }
    sl_buf_puts(b, s != NULL ? s : "?", NULL);
    free(s);
}

static void expand(struct sl_buf *b, const char *tmpl, const struct ev *e, const struct fail *f,
                   const char *field)
{
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (strncmp(p, "{value}", 7) == 0) {
            if (f->value != NULL)
                value_text(b, e->oi, f->value);
            else
                sl_buf_puts(b, "(unset)", NULL);
            p += 6;
        } else if (strncmp(p, "{field}", 7) == 0) {
            sl_buf_puts(b, field, NULL);
            p += 6;
        } else if (strncmp(p, "{path}", 6) == 0) {
            sl_buf_puts(b, f->path != NULL ? f->path->text : "", NULL);
            p += 5;
        } else if (strncmp(p, "{name}", 6) == 0) {
            sl_buf_puts(b, e->oi->name, NULL);
            p += 5;
        } else if (strncmp(p, "{namespace}", 11) == 0) {
            sl_buf_puts(b, e->oi->ns, NULL);
            p += 10;
        } else {
            sl_buf_putc(b, *p, NULL);
        }
    }
}

static int add_finding(struct sl_policy_report *rep, struct sl_policy_finding *fd,
                       struct sl_error *err)
{
    if (rep->n == rep->cap) {
        size_t nc = rep->cap == 0 ? 16 : rep->cap * 2;
        struct sl_policy_finding *ni = realloc(rep->items, nc * sizeof(*ni));
        if (ni == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        rep->items = ni;
        rep->cap = nc;
    }
    rep->items[rep->n++] = *fd;
    return 0;
}

static void finding_release(struct sl_policy_finding *fd)
{
    free(fd->rule);
    free(fd->description);
    free(fd->reason);
    free(fd->object);
    free(fd->kind);
    free(fd->namespace);
    free(fd->name);
    free(fd->field);
    free(fd->message);
    free(fd->origin);
    free(fd->file);
    memset(fd, 0, sizeof(*fd));
}

static bool blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static int report(const struct rule *r, const struct ev *e, const struct fail *f,
                  const char *default_msg, enum sl_policy_mode mode, struct sl_policy_report *rep,
                  struct sl_error *err)
{
    struct sl_policy_finding fd;
    struct sl_buf field = SL_BUF_INIT(4096), msg = SL_BUF_INIT(8192);
    char id[512], origin[1024], akey[128];
    const char *tmpl = f->message != NULL ? f->message : r->message;
    const char *reason;
    int rc = -1;

    memset(&fd, 0, sizeof(fd));
    field_text(&field, e, f);
    /*
     * A pod-level field checked from every container fails once per container: report it
     * once per object (this object's findings are the last ones in the report).
     */
    for (size_t k = rep->n; k-- > e->base && rep->items[k].index == (size_t)(e->oi - e->all);)
        if (strcmp(rep->items[k].rule, r->id) == 0 && strcmp(rep->items[k].field, field.ptr) == 0) {
            rc = 0;
            goto done;
        }
    sl_object_id(e->oi->json, id, sizeof(id));
    sl_origin_str(&e->oi->o->origin, origin, sizeof(origin));
    sl_buf_puts(&msg, id, NULL);
    /* Name the container unless the failing check looked only at the pod. */
    if (e->it->cname != NULL && !f->outside)
        sl_buf_printf(&msg, NULL, " %s \"%s\"",
                      strcmp(e->it->list, "initContainers") == 0        ? "init container"
                      : strcmp(e->it->list, "ephemeralContainers") == 0 ? "ephemeral container"
                                                                        : "container",
                      e->it->cname);
    sl_buf_putc(&msg, ' ', NULL);
    if (tmpl != NULL) {
        expand(&msg, tmpl, e, f, field.ptr);
    } else if (default_msg != NULL) {
        sl_buf_puts(&msg, default_msg, NULL);
    } else if (f->value == NULL) {
        sl_buf_printf(&msg, NULL, "does not satisfy %s: %s is not set", r->id,
                      f->path != NULL ? f->path->text : "a field");
    } else {
        sl_buf_printf(&msg, NULL, "does not satisfy %s: %s is ", r->id,
                      f->path != NULL ? f->path->text : "a field");
        value_text(&msg, e->oi, f->value);
    }
    snprintf(akey, sizeof(akey), "%s%s", SL_POLICY_EXCEPTION_PREFIX, r->id);
    reason = json_string_value(json_object_get(e->oi->annotations, akey));
    if (reason != NULL && blank(reason)) {
        sl_buf_printf(&msg, NULL, " (exception annotation %s ignored: the reason is empty)", akey);
        reason = NULL;
    }
    fd.rule = strdup(r->id);
    fd.description = strdup(r->description != NULL ? r->description : "");
    fd.severity = r->severity;
    fd.excepted = reason != NULL;
    fd.reason = reason != NULL ? strdup(reason) : NULL;
    fd.blocking = !fd.excepted && mode == SL_POLICY_ENFORCE && r->action == ACTION_DENY;
    fd.object = strdup(id);
    fd.kind = strdup(e->oi->kind);
    fd.namespace = strdup(e->oi->ns);
    fd.name = strdup(e->oi->name);
    fd.field = sl_buf_detach(&field, NULL);
    fd.message = sl_buf_detach(&msg, NULL);
    fd.origin = strdup(origin);
    fd.line = e->oi->o->origin.line;
    fd.index = (size_t)(e->oi - e->all);
    if (e->oi->o->origin.file != NULL && (fd.file = strdup(e->oi->o->origin.file)) == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (fd.rule == NULL || fd.description == NULL || (reason != NULL && fd.reason == NULL) ||
        fd.object == NULL || fd.kind == NULL || fd.namespace == NULL || fd.name == NULL ||
        fd.field == NULL || fd.message == NULL || fd.origin == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (add_finding(rep, &fd, err) != 0)
        goto done;
    if (fd.excepted) {
        rep->nexcepted++;
    } else {
        rep->nviolations++;
        if (fd.blocking)
            rep->nblocking++;
    }
    memset(&fd, 0, sizeof(fd));
    rc = 0;
done:
    finding_release(&fd);
    sl_buf_release(&field);
    sl_buf_release(&msg);
    return rc;
}

/* ---- rules ---- */

static int eval_item(const struct rule *r, const struct ev *e, enum sl_policy_mode mode,
                     struct sl_policy_report *rep, struct sl_error *err)
{
    struct fail f;

    if (r->nchecks == 0 && r->require == NULL) {
        /* forbidden: matching is the violation */
        memset(&f, 0, sizeof(f));
        return report(r, e, &f, "is not allowed", mode, rep, err);
    }
    for (size_t i = 0; i < r->nchecks; i++)
        if (!eval_check(e, &r->checks[i], &f))
            return report(r, e, &f, NULL, mode, rep, err);
    return 0;
}

static int eval_require(const struct rule *r, const struct ev *e, const struct objinfo *all,
                        size_t nall, enum sl_policy_mode mode, struct sl_policy_report *rep,
                        struct sl_error *err)
{
    const struct require *q = r->require;
    const char *want = q->ns == REQ_NS_NAME ? e->oi->name : e->oi->ns;
    struct sl_buf msg = SL_BUF_INIT(1024);
    struct fail f;
    int rc;

    for (size_t i = 0; i < nall; i++) {
        const struct objinfo *o = &all[i];
        struct item it = {o->json, NULL, 0, NULL};
        struct ev oe = {o, &it, e->cache, e->all, e->base};
        bool ok = true;
        if (!in_list(&q->kinds, o->kind))
            continue;
        if (q->ns != REQ_NS_ANY && strcmp(o->ns, want) != 0)
            continue;
        for (size_t k = 0; k < q->nchecks && ok; k++)
            ok = eval_check(&oe, &q->checks[k], &f);
        if (ok)
            return 0;
    }
    memset(&f, 0, sizeof(f));
    sl_buf_puts(&msg, "has no ", NULL);
    for (size_t i = 0; i < q->kinds.n; i++)
        sl_buf_printf(&msg, NULL, "%s%s", i == 0 ? "" : " or ", q->kinds.v[i]);
    if (q->ns != REQ_NS_ANY)
        sl_buf_printf(&msg, NULL, " in namespace \"%s\"", want);
    sl_buf_puts(&msg, q->nchecks > 0 ? " that satisfies the rule" : "", NULL);
    sl_buf_puts(&msg, " in the same render", NULL);
    rc = report(r, e, &f, msg.ptr, mode, rep, err);
    sl_buf_release(&msg);
    return rc;
}

static const char *const container_lists[] = {"initContainers", "containers",
                                              "ephemeralContainers"};

static int eval_rule_obj(const struct rule *r, const struct objinfo *oi, const struct objinfo *all,
                         size_t nall, size_t base, struct lcache *cache, enum sl_policy_mode mode,
                         struct sl_policy_report *rep, struct sl_error *err)
{
    struct item it = {oi->json, NULL, 0, NULL};
    struct ev e = {oi, &it, cache, all, base};

    switch (r->scope) {
    case SCOPE_OBJECT:
        if (r->require != NULL)
            return eval_require(r, &e, all, nall, mode, rep, err);
        return eval_item(r, &e, mode, rep, err);
    case SCOPE_POD:
        if (oi->pod == NULL)
            return 0;
        it.node = oi->pod;
        return eval_item(r, &e, mode, rep, err);
    case SCOPE_CONTAINERS:
        if (oi->pod == NULL)
            return 0;
        for (size_t l = 0; l < 3; l++) {
            const json_t *arr;
            if ((r->container_types & (1u << l)) == 0)
                continue;
            arr = json_object_get(oi->pod, container_lists[l]);
            for (size_t i = 0; i < json_array_size(arr); i++) {
                const json_t *c = json_array_get(arr, i);
                if (!json_is_object(c))
                    continue;
                it.node = c;
                it.list = container_lists[l];
                it.index = i;
                it.cname = str_or(json_object_get(c, "name"), "?");
                if (eval_item(r, &e, mode, rep, err) != 0)
                    return -1;
            }
        }
        return 0;
    }
    return 0;
}

int sl_policy_check(const struct sl_policy_set *set, const struct sl_objlist *objs, const char *env,
                    enum sl_policy_mode mode, struct sl_policy_report *rep, struct sl_error *err)
{
    struct objinfo *info = NULL;
    struct lcache *cache = NULL;
    size_t base = rep->n;
    int rc = -1;

    rep->mode = mode;
    if (env != NULL && rep->env == NULL && (rep->env = strdup(env)) == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    rep->nobjects += objs->n;
    rep->nrules = sl_policy_set_count(set);
    if (mode == SL_POLICY_OFF || objs->n == 0)
        return 0;
    if ((info = calloc(objs->n, sizeof(*info))) == NULL ||
        (cache = calloc(1, sizeof(*cache))) == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < objs->n; i++)
        objinfo_init(&info[i], &objs->items[i]);
    for (size_t i = 0; i < objs->n; i++) {
        for (size_t k = 0; k < set->n; k++) {
            const struct rule *r = &set->rules[k];
            if (!r->enabled || !rule_matches(r, &info[i], env))
                continue;
            if (eval_rule_obj(r, &info[i], info, objs->n, base, cache, mode, rep, err) != 0)
                goto done;
        }
    }
    /* Violations first, then exceptions, each in evaluation order. */
    if (rep->nexcepted > 0) {
        size_t nv = 0;
        struct sl_policy_finding *tmp = malloc((rep->n ? rep->n : 1) * sizeof(*tmp));
        if (tmp == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < rep->n; i++)
            if (!rep->items[i].excepted)
                tmp[nv++] = rep->items[i];
        for (size_t i = 0; i < rep->n; i++)
            if (rep->items[i].excepted)
                tmp[nv++] = rep->items[i];
        memcpy(rep->items, tmp, rep->n * sizeof(*tmp));
        free(tmp);
    }
    rc = rep->nblocking > (size_t)0x7fffffff ? 0x7fffffff : (int)rep->nblocking;
done:
    free(cache);
    free(info);
    return rc;
}

void sl_policy_report_release(struct sl_policy_report *rep)
{
    for (size_t i = 0; i < rep->n; i++)
        finding_release(&rep->items[i]);
    free(rep->items);
    free(rep->env);
    memset(rep, 0, sizeof(*rep));
}

/* ---- formatting ---- */

int sl_policy_report_format(const struct sl_policy_report *rep, struct sl_buf *out,
                            struct sl_error *err)
{
    for (size_t i = 0; i < rep->n; i++) {
        const struct sl_policy_finding *fd = &rep->items[i];
        const char *tag = "";
        if (!fd->excepted && !fd->blocking && rep->mode == SL_POLICY_ENFORCE)
            tag = "[warn] ";
        if (sl_buf_printf(out, err, "%s: %s%s: %s", fd->origin, tag, fd->rule, fd->message) != 0)
            return -1;
        if (fd->excepted && sl_buf_printf(out, err, " (excepted: %s)", fd->reason) != 0)
            return -1;
        if (sl_buf_putc(out, '\n', err) != 0)
            return -1;
    }
    return 0;
}

json_t *sl_policy_report_json(const struct sl_policy_report *rep)
{
    json_t *arr = json_array(), *o;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < rep->n; i++) {
        const struct sl_policy_finding *fd = &rep->items[i];
        json_t *f = json_pack("{s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, "
                              "s:s}",
                              "rule", fd->rule, "description", fd->description, "severity",
                              sl_policy_severity_name(fd->severity), "blocking", fd->blocking,
                              "excepted", fd->excepted, "object", fd->object, "kind", fd->kind,
                              "namespace", fd->namespace, "name", fd->name, "field", fd->field,
                              "origin", fd->origin, "file", fd->file, "line", fd->line, "message",
                              fd->message);
        if (f == NULL ||
            (fd->excepted && json_object_set_new(f, "reason", json_string(fd->reason)) != 0) ||
            json_array_append_new(arr, f) != 0) {
            json_decref(f);
            json_decref(arr);
            return NULL;
        }
    }
    o = json_pack("{s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "environment", rep->env, "mode",
                  sl_policy_mode_name(rep->mode), "objects", (json_int_t)rep->nobjects, "rules",
                  (json_int_t)rep->nrules, "violations", (json_int_t)rep->nviolations, "blocking",
                  (json_int_t)rep->nblocking, "excepted", (json_int_t)rep->nexcepted, "findings",
                  arr);
    return o;
}
