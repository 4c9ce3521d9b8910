#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
