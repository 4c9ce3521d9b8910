/*
 * The objects that flow through the pipeline: render produces them, secrets
 * unseals them, policy checks them, the plan compares them with the cluster.
 * Each carries the file and line of the YAML document it came from, so every
 * later message can point at what users edit.
 *
 * Objects may share scalar values (strings, integers) with each other, to
 * save memory: change a value by replacing it (json_object_set_new), never
 * in place (json_string_set, or writing through json_string_value). The one
 * exception, wiping a secret object's values, is safe because the renderer
 * gives secret objects their own copies.
 */
#ifndef SL_OBJECT_H
#define SL_OBJECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct sl_origin {
    char *file; /* repository-relative path of the document's file */
    int line;   /* line of the document start (1-based), 0 when generated */
};

struct sl_object {
    json_t *json; /* owned: the Kubernetes object */
    struct sl_origin origin;
    /*
     * Holds secret values (a Secret from secretGenerator or unsealing): never
     * print its data, never keep it longer than needed. Unsealed values are in
     * json only while a request is built; see agent/secrets.
     */
    bool secret;
};

struct sl_objlist {
    struct sl_object *items;
    size_t n, cap;
};

#define SL_OBJLIST_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Append; takes ownership of json (also on failure). origin_file is copied. */
int sl_objlist_add(struct sl_objlist *l, json_t *json, const char *origin_file, int origin_line,
                   struct sl_error *err);
void sl_objlist_release(struct sl_objlist *l);

/* "Kind namespace/name" or "Kind name" for messages (into out, always terminated). */
void sl_object_id(const json_t *obj, char *out, size_t outlen);
/* "file:line" of an object's origin (or "generated") into out. */
void sl_origin_str(const struct sl_origin *o, char *out, size_t outlen);

#endif
