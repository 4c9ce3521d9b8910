/*
 * Lazy loading of the heavy shared libraries (libcurl, libmicrohttpd, libgit2).
 *
 * With the CMake option SLUICE_LAZY_LIBS (default on Linux/glibc) the sluice
 * executable does not link these libraries: shims in this module define
 * exactly the functions sluice calls and forward them to the real ones,
 * resolved with dlopen()/dlsym() on first use. A verb that never talks to the
 * cluster, a git remote or an HTTP peer (build DIR, check-config, keygen, ...)
 * then never maps them or the ~40 libraries they pull in (TLS, Kerberos, LDAP).
 *
 * Contract: a module calls sl_lazy_require() at its boundary, before the first
 * call into the library (creating a kube client, opening a git source,
 * starting the HTTP server, sending a notification), and turns a missing
 * library into an ordinary sl_error. A shim reached without a successful
 * require loads on demand and, if that fails, prints one line and aborts:
 * that is a missing require call, a programming error.
 *
 * In builds without the option (and in test binaries, which link the real
 * libraries) sl_lazy_require() still checks that the library can be opened,
 * which is then always true and cheap.
 */
#ifndef SL_LAZY_H
#define SL_LAZY_H

#include "error.h"

enum sl_lazy_lib {
    SL_LAZY_CURL, /* libcurl: the Kubernetes API, notifications */
    SL_LAZY_MHD,  /* libmicrohttpd: the daemon's HTTP endpoint */
    SL_LAZY_GIT2, /* libgit2: the git source, the demo repository */
};

/* Load lib (once per process, thread-safe). 0, or -1 with a message naming
 * the soname, what it is needed for and the loader's reason. */
int sl_lazy_require(enum sl_lazy_lib lib, struct sl_error *err);

/* The soname sluice was built against ("libcurl.so.4"). */
const char *sl_lazy_soname(enum sl_lazy_lib lib);

#endif
