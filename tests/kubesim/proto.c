/*
 * Just enough Kubernetes protobuf to accept what kubectl's imperative
 * generators send (`kubectl create namespace|configmap|secret|serviceaccount`
 * use the protobuf content type for built-in kinds): the "k8s\0" envelope
 * (runtime.Unknown) and the fields of ObjectMeta, Namespace, ConfigMap,
 * Secret and ServiceAccount. Anything else is reported as unsupported and
 * answered 415. All reads are bounds-checked against the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kubesim.h"

struct pb {
    const unsigned char *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            return -1;
        unsigned char c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Next field: number, wire type, and for wire type 2 the sub-buffer. */
static int pb_next(struct pb *b, uint32_t *field, int *wt, struct pb *sub, uint64_t *val)
{
    uint64_t key;
    if (pb_varint(b, &key) != 0)
        return -1;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        return pb_varint(b, val);
    case 1:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case 5:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    case 2: {
        uint64_t len;
        if (pb_varint(b, &len) != 0 || len > (uint64_t)(b->end - b->p))
            return -1;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return 0;
    }
    default:
        return -1;
    }
}

static json_t *pb_string(const struct pb *s)
{
    return json_stringn((const char *)s->p, (size_t)(s->end - s->p));
}

/* map<string,string> (or bytes, base64-encoded, as JSON has it) entry into obj. */
static int pb_map_entry(struct pb *e, json_t *obj, bool bytes)
{
    json_t *k = NULL, *v = NULL;
    uint32_t f;
    int wt;
    struct pb sub;
    uint64_t val;
    while (e->p < e->end) {
        if (pb_next(e, &f, &wt, &sub, &val) != 0)
            goto fail;
        if (wt != 2)
            continue;
        if (f == 1) {
            json_decref(k);
            k = pb_string(&sub);
        } else if (f == 2) {
            json_decref(v);
            if (bytes) {
                char *enc = ks_base64(sub.p, (size_t)(sub.end - sub.p));
                v = enc ? json_string(enc) : NULL;
                free(enc);
            } else {
                v = pb_string(&sub);
            }
        }
    }
    if (!k || !json_is_string(k))
        goto fail;
    json_object_set_new(obj, json_string_value(k), v ? v : json_string(""));
    json_decref(k);
    return 0;
fail:
    json_decref(k);
    json_decref(v);
    return -1;
}

static json_t *ensure(json_t *o, const char *k)
{
    json_t *c = json_object_get(o, k);
    if (!c) {
        c = json_object();
        json_object_set_new(o, k, c);
    }
    return c;
}

static int pb_meta(struct pb *b, json_t *meta)
{
    uint32_t f;
    int wt;
    struct pb sub;
    uint64_t val;
    while (b->p < b->end) {
        if (pb_next(b, &f, &wt, &sub, &val) != 0)
            return -1;
        if (wt == 2 && f == 1)
            json_object_set_new(meta, "name", pb_string(&sub));
        else if (wt == 2 && f == 2)
            json_object_set_new(meta, "generateName", pb_string(&sub));
        else if (wt == 2 && f == 3)
            json_object_set_new(meta, "namespace", pb_string(&sub));
        else if (wt == 2 && f == 6)
            json_object_set_new(meta, "resourceVersion", pb_string(&sub));
        else if (wt == 2 && (f == 11 || f == 12)) {
            if (pb_map_entry(&sub, ensure(meta, f == 11 ? "labels" : "annotations"), false) != 0)
                return -1;
        } else if (wt == 2 && f == 14) {
            json_t *fin = json_object_get(meta, "finalizers");
            if (!fin) {
                fin = json_array();
                json_object_set_new(meta, "finalizers", fin);
            }
            json_array_append_new(fin, pb_string(&sub));
        }
        /* uid, timestamps, ownerReferences, managedFields: server-set or unused by generators */
    }
    return 0;
}

json_t *ks_proto_decode(const char *body, size_t len, char *err, size_t errlen)
{
    if (len < 4 || memcmp(body, "k8s\0", 4) != 0) {
        snprintf(err, errlen, "not a Kubernetes protobuf envelope");
        return NULL;
    }
    struct pb b = {(const unsigned char *)body + 4, (const unsigned char *)body + len};
    json_t *av = NULL, *kind = NULL;
    struct pb raw = {NULL, NULL};
    uint32_t f;
    int wt;
    struct pb sub;
    uint64_t val;
    while (b.p < b.end) {
        if (pb_next(&b, &f, &wt, &sub, &val) != 0)
            goto malformed;
        if (wt == 2 && f == 1) {
            struct pb tm = sub, s2;
            while (tm.p < tm.end) {
                if (pb_next(&tm, &f, &wt, &s2, &val) != 0)
                    goto malformed;
                if (wt == 2 && f == 1) {
                    json_decref(av);
                    av = pb_string(&s2);
                } else if (wt == 2 && f == 2) {
                    json_decref(kind);
                    kind = pb_string(&s2);
                }
            }
        } else if (wt == 2 && f == 2) {
            raw = sub;
        }
    }
    const char *k = json_string_value(kind);
    const char *a = json_string_value(av);
    if (!k || !a || !raw.p || strcmp(a, "v1") != 0 ||
        (strcmp(k, "ConfigMap") != 0 && strcmp(k, "Secret") != 0 && strcmp(k, "Namespace") != 0 &&
         strcmp(k, "ServiceAccount") != 0)) {
        snprintf(err, errlen,
                 "kubesim decodes protobuf only for v1 Namespace, ConfigMap, Secret "
                 "and ServiceAccount (use JSON or YAML)");
        json_decref(av);
        json_decref(kind);
        return NULL;
    }
    json_t *obj = json_pack("{s:o,s:o,s:{}}", "apiVersion", av, "kind", kind, "metadata");
    av = kind = NULL;
    json_t *meta = json_object_get(obj, "metadata");
    while (raw.p < raw.end) {
        if (pb_next(&raw, &f, &wt, &sub, &val) != 0) {
            json_decref(obj);
            goto malformed;
        }
        int rc = 0;
        if (f == 1 && wt == 2) {
            rc = pb_meta(&sub, meta);
        } else if (strcmp(k, "ConfigMap") == 0) {
            if (wt == 2 && (f == 2 || f == 3))
                rc = pb_map_entry(&sub, ensure(obj, f == 2 ? "data" : "binaryData"), f == 3);
            else if (wt == 0 && f == 4)
                json_object_set_new(obj, "immutable", json_boolean(val != 0));
        } else if (strcmp(k, "Secret") == 0) {
            if (wt == 2 && (f == 2 || f == 4))
                rc = pb_map_entry(&sub, ensure(obj, f == 2 ? "data" : "stringData"), f == 2);
            else if (wt == 2 && f == 3)
                json_object_set_new(obj, "type", pb_string(&sub));
            else if (wt == 0 && f == 5)
                json_object_set_new(obj, "immutable", json_boolean(val != 0));
        } else if (strcmp(k, "ServiceAccount") == 0) {
            if (wt == 0 && f == 4)
                json_object_set_new(obj, "automountServiceAccountToken", json_boolean(val != 0));
        }
        if (rc != 0) {
            json_decref(obj);
            goto malformed;
        }
    }
    return obj;
malformed:
    json_decref(av);
    json_decref(kind);
    snprintf(err, errlen, "malformed protobuf body");
    return NULL;
}
