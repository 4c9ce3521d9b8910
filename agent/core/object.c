#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "object.h"

int sl_objlist_add(struct sl_objlist *l, json_t *json, const char *origin_file, int origin_line,
                   struct sl_error *err)
{
    struct sl_object *o;

    if (l->n == l->cap) {
        size_t nc = l->cap == 0 ? 16 : l->cap * 2;
        struct sl_object *it = realloc(l->items, nc * sizeof(*it));
        if (it == NULL) {
            json_decref(json);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
        l->items = it;
        l->cap = nc;
    }
    o = &l->items[l->n];
    memset(o, 0, sizeof(*o));
    if (origin_file != NULL && (o->origin.file = strdup(origin_file)) == NULL) {
        json_decref(json);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    o->json = json;
    o->origin.line = origin_line;
    l->n++;
    return 0;
}

void sl_objlist_release(struct sl_objlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->items[i].json);
        free(l->items[i].origin.file);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

void sl_object_id(const json_t *obj, char *out, size_t outlen)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));

    if (ns != NULL && ns[0] != '\0')
        snprintf(out, outlen, "%s %s/%s", kind ? kind : "?", ns, name ? name : "?");
    else
        snprintf(out, outlen, "%s %s", kind ? kind : "?", name ? name : "?");
}

void sl_origin_str(const struct sl_origin *o, char *out, size_t outlen)
{
    if (o->file == NULL)
        snprintf(out, outlen, "generated");
    else if (o->line > 0)
        snprintf(out, outlen, "%s:%d", o->file, o->line);
    else
        snprintf(out, outlen, "%s", o->file);
}

/* ---- jansson's small blocks from slabs ---- */

#define SLAB_SIZE      ((uintptr_t)64 * 1024)
#define SLAB_MASK      (~(SLAB_SIZE - 1))
#define SLAB_MAX_BLOCK 256
#define SLAB_CLASSES   (SLAB_MAX_BLOCK / 8)

struct slab_free {
    struct slab_free *next;
};

/*
 * The allocator jansson calls (its callbacks take no context, so this is
 * process state, like malloc's own). Every slab holds blocks of one class;
 * the set of slabs (base address | class, open addressing) lets free() tell
 * a slab block, and its class, from a block malloc made.
 */
static struct {
    pthread_mutex_t lock;
    struct slab_free *free[SLAB_CLASSES];
    char *bump[SLAB_CLASSES]; /* next fresh block in the class's newest slab */
    char *bump_end[SLAB_CLASSES];
    uintptr_t *slabs; /* base | class; 0 = empty slot */
    size_t nslabs, capslabs;
} sj = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t slab_slot(uintptr_t base, size_t cap)
{
    return (size_t)(((uint64_t)(base / SLAB_SIZE) * 11400714819323198485ull) >> 20) & (cap - 1);
}

/* The class of the slab at base, or -1 when base is not a slab. */
static int slab_lookup(uintptr_t base)
{
    if (sj.capslabs == 0)
        return -1;
    for (size_t i = slab_slot(base, sj.capslabs);; i = (i + 1) & (sj.capslabs - 1)) {
        if (sj.slabs[i] == 0)
            return -1;
        if ((sj.slabs[i] & SLAB_MASK) == base)
            return (int)(sj.slabs[i] & ~SLAB_MASK);
    }
}

static int slab_remember(uintptr_t base, size_t cls)
{
    size_t j;

    if ((sj.nslabs + 1) * 2 > sj.capslabs) {
        size_t nc = sj.capslabs == 0 ? 256 : sj.capslabs * 2;
        uintptr_t *ns = calloc(nc, sizeof(*ns));
        if (ns == NULL)
            return -1;
        for (size_t i = 0; i < sj.capslabs; i++) {
            if (sj.slabs[i] == 0)
                continue;
            j = slab_slot(sj.slabs[i] & SLAB_MASK, nc);
            while (ns[j] != 0)
                j = (j + 1) & (nc - 1);
            ns[j] = sj.slabs[i];
        }
        free(sj.slabs);
        sj.slabs = ns;
        sj.capslabs = nc;
    }
    j = slab_slot(base, sj.capslabs);
    while (sj.slabs[j] != 0)
        j = (j + 1) & (sj.capslabs - 1);
    sj.slabs[j] = base | cls;
    sj.nslabs++;
    return 0;
}

/* A SLAB_SIZE-aligned slab: map twice the size and unmap the unaligned ends. */
static char *slab_map(void)
{
    size_t len = 2 * SLAB_SIZE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t base, end;

    if (p == MAP_FAILED)
        return NULL;
    base = ((uintptr_t)p + SLAB_SIZE - 1) & SLAB_MASK;
    end = base + SLAB_SIZE;
    if (base > (uintptr_t)p)
        munmap(p, base - (uintptr_t)p);
    if ((uintptr_t)p + len > end)
        munmap((void *)end, (uintptr_t)p + len - end);
    return (char *)base;
}

static void *slab_malloc(size_t size)
{
    size_t cls, bs;
    void *out;

    if (size == 0 || size > SLAB_MAX_BLOCK)
        return malloc(size);
    cls = (size + 7) / 8 - 1;
    bs = (cls + 1) * 8;
    pthread_mutex_lock(&sj.lock);
    if (sj.free[cls] != NULL) {
        out = sj.free[cls];
        sj.free[cls] = sj.free[cls]->next;
    } else {
        if (sj.bump[cls] == NULL || (size_t)(sj.bump_end[cls] - sj.bump[cls]) < bs) {
            char *slab = slab_map();
            if (slab == NULL || slab_remember((uintptr_t)slab, cls) != 0) {
                if (slab != NULL)
                    munmap(slab, SLAB_SIZE);
                pthread_mutex_unlock(&sj.lock);
                return NULL;
            }
            sj.bump[cls] = slab;
            sj.bump_end[cls] = slab + SLAB_SIZE - SLAB_SIZE % bs;
        }
        out = sj.bump[cls];
        sj.bump[cls] += bs;
    }
    pthread_mutex_unlock(&sj.lock);
    return out;
}

static void slab_free(void *p)
{
    struct slab_free *f = p;
    int cls;

    if (p == NULL)
        return;
    pthread_mutex_lock(&sj.lock);
    cls = slab_lookup((uintptr_t)p & SLAB_MASK);
    if (cls >= 0) {
        f->next = sj.free[cls];
        sj.free[cls] = f;
    }
    pthread_mutex_unlock(&sj.lock);
    if (cls < 0)
        free(p); /* from malloc: large, or made before the slabs were in use */
}

int sl_json_use_slabs(struct sl_error *err)
{
    (void)err;
    json_set_alloc_funcs(slab_malloc, slab_free);
    return 0;
}
