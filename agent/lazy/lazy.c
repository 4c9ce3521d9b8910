#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lazy_int.h"

/* agent/lazy/CMakeLists.txt reads the sonames from the libraries the build
 * found, so the loader opens exactly the ABI the shims were compiled against. */
#ifdef SL_LAZY_LINKED
/* Built without SLUICE_LAZY_LIBS: the executable links the libraries. */
#define SL_LAZY_SONAME_CURL "libcurl"
#define SL_LAZY_SONAME_MHD  "libmicrohttpd"
#define SL_LAZY_SONAME_GIT2 "libgit2"
#endif
#if !defined(SL_LAZY_SONAME_CURL) || !defined(SL_LAZY_SONAME_MHD) || !defined(SL_LAZY_SONAME_GIT2)
#error "SL_LAZY_SONAME_* come from agent/lazy/CMakeLists.txt"
#endif

struct lazy_lib {
    const char *soname;
    const char *purpose;
    pthread_once_t once;
    void *handle;
    char why[512];
};

/*
 * The loader's cache, like the dynamic loader's own: each entry is written
 * once inside pthread_once() and only read afterwards, so it needs no lock.
 * The handles are never closed (the libraries stay for the process lifetime).
 */
static struct lazy_lib libs[] = {
        [SL_LAZY_CURL] = {SL_LAZY_SONAME_CURL,
                          "needed to talk to the Kubernetes API and to send notifications",
                          PTHREAD_ONCE_INIT, NULL, ""},
        [SL_LAZY_MHD] = {SL_LAZY_SONAME_MHD, "needed to serve metrics and webhooks over HTTP",
                         PTHREAD_ONCE_INIT, NULL, ""},
        [SL_LAZY_GIT2] = {SL_LAZY_SONAME_GIT2, "needed to read the git repository",
                          PTHREAD_ONCE_INIT, NULL, ""},
};

static void load(struct lazy_lib *l)
{
    /* RTLD_LOCAL: the symbols are reached through dlsym only and must not
     * interpose on anything else in the process. */
    l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (l->handle == NULL) {
        const char *e = dlerror();
        snprintf(l->why, sizeof(l->why), "%s", e != NULL ? e : "unknown dlopen error");
    }
}

static void load_curl(void)
{
    load(&libs[SL_LAZY_CURL]);
}

static void load_mhd(void)
{
    load(&libs[SL_LAZY_MHD]);
}

static void load_git2(void)
{
    load(&libs[SL_LAZY_GIT2]);
}

static struct lazy_lib *ensure(enum sl_lazy_lib lib)
{
    static void (*const loaders[])(void) = {
            [SL_LAZY_CURL] = load_curl, [SL_LAZY_MHD] = load_mhd, [SL_LAZY_GIT2] = load_git2};
    struct lazy_lib *l = &libs[lib];

    pthread_once(&l->once, loaders[lib]);
    return l;
}

int sl_lazy_require(enum sl_lazy_lib lib, struct sl_error *err)
{
#ifdef SL_LAZY_LINKED
    (void)lib;
    (void)err;
    return 0;
#else
    const struct lazy_lib *l = ensure(lib);

    if (l->handle != NULL)
        return 0;
    return sl_error_set(err, SL_ENOTFOUND, "cannot load %s (%s): %s", l->soname, l->purpose,
                        l->why);
#endif
}

const char *sl_lazy_soname(enum sl_lazy_lib lib)
{
    return libs[lib].soname;
}

void *sl_lazy_handle_or_die(enum sl_lazy_lib lib)
{
    const struct lazy_lib *l = ensure(lib);

    if (l->handle == NULL) {
        fprintf(stderr,
                "sluice: internal error: %s is used without sl_lazy_require() and cannot be "
                "loaded (%s): %s\n",
                l->soname, l->purpose, l->why);
        abort();
    }
    return l->handle;
}

void *sl_lazy_sym_or_die(enum sl_lazy_lib lib, void *handle, const char *name)
{
    void *p;

    dlerror();
    p = dlsym(handle, name);
    if (p == NULL) {
        const char *e = dlerror();
        fprintf(stderr,
                "sluice: %s has no function %s (not the version sluice was built for): %s\n",
                libs[lib].soname, name, e != NULL ? e : "symbol is NULL");
        abort();
    }
    return p;
}
