/*
 * Target selection: anchored regular expressions (kustomize wraps each
 * selector field in ^(?:x)$) and Kubernetes label-selector syntax
 * (a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a).
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

void regex_cache_release(struct render_ctx *c)
{
    for (size_t i = 0; i < c->nrx; i++) {
        regfree(c->rx[i].re);
        free(c->rx[i].re);
        free(c->rx[i].pat);
    }
    free(c->rx);
    c->rx = NULL;
    c->nrx = c->caprx = 0;
}

int regex_full_match(struct render_ctx *c, const char *pattern, const char *s, bool *match)
{
    regex_t *re = NULL;
    if (strpbrk(pattern, ".[]()*+?{}|^$\\") == NULL) {
        *match = strcmp(pattern, s) == 0;
        return 0;
    }
    for (size_t i = 0; i < c->nrx; i++)
        if (strcmp(c->rx[i].pat, pattern) == 0)
            re = c->rx[i].re;
    if (re == NULL) {
        size_t len = strlen(pattern) + 8;
        char *full = malloc(len);
        if (c->nrx == c->caprx) {
            size_t nc = c->caprx ? c->caprx * 2 : 8;
            struct rxcache *it = realloc(c->rx, nc * sizeof(*it));
            if (it == NULL) {
                free(full);
                return sl_error_set(c->err, SL_ENOMEM, "out of memory");
            }
            c->rx = it;
            c->caprx = nc;
        }
        re = malloc(sizeof(*re));
        char *pat = strdup(pattern);
        if (full == NULL || re == NULL || pat == NULL) {
            free(full);
            free(re);
            free(pat);
            return sl_error_set(c->err, SL_ENOMEM, "out of memory");
        }
        snprintf(full, len, "^(%s)$", pattern);
        int rc = regcomp(re, full, REG_EXTENDED | REG_NOSUB);
        free(full);
        if (rc != 0) {
            free(re);
            free(pat);
            return sl_error_set(c->err, SL_EINVAL, "invalid regular expression \"%s\"", pattern);
        }
        c->rx[c->nrx].pat = pat;
        c->rx[c->nrx].re = re;
        c->nrx++;
    }
    *match = regexec(re, s, 0, NULL, 0) == 0;
    return 0;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static size_t token(const char *p)
{
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || strchr("-_./", p[n])))
        n++;
    return n;
}

int label_selector_match(const char *sel, const json_t *labels, bool *match, struct sl_error *err)
{
    const char *p = skip_ws(sel);
    *match = true;
    while (*p) {
        bool neg = false;
        char key[256];
        size_t n;
        if (*p == '!') {
            neg = true;
            p = skip_ws(p + 1);
        }
        n = token(p);
        if (n == 0 || n >= sizeof(key))
            return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
        memcpy(key, p, n);
        key[n] = '\0';
        p = skip_ws(p + n);
        const char *have = json_string_value(json_object_get(labels, key));
        if (neg) {
            if (have != NULL)
                *match = false;
        } else if (*p == '=' || (*p == '!' && p[1] == '=')) {
            bool ne = *p == '!';
            p += ne ? 2 : (p[1] == '=' ? 2 : 1);
            p = skip_ws(p);
            n = token(p);
            char val[256];
            if (n >= sizeof(val))
                return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
            memcpy(val, p, n);
            val[n] = '\0';
            p = skip_ws(p + n);
            bool eq = have != NULL && strcmp(have, val) == 0;
            if (ne ? eq : !eq)
                *match = false;
        } else if (strncmp(p, "in", 2) == 0 || strncmp(p, "notin", 5) == 0) {
            bool notin = p[0] == 'n';
            bool found = false;
            p = skip_ws(p + (notin ? 5 : 2));
            if (*p != '(')
                return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
            p = skip_ws(p + 1);
            while (*p && *p != ')') {
                n = token(p);
                if (have != NULL && strlen(have) == n && strncmp(have, p, n) == 0)
                    found = true;
                p = skip_ws(p + n);
                if (*p == ',')
                    p = skip_ws(p + 1);
                else if (*p != ')')
                    return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
            }
            if (*p != ')')
                return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
            p = skip_ws(p + 1);
            if (notin ? found : !found)
                *match = false;
        } else {
            if (have == NULL)
                *match = false;
        }
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p != '\0')
            return sl_error_set(err, SL_EINVAL, "invalid label selector \"%s\"", sel);
    }
    return 0;
}
