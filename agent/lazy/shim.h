/*
 * Machinery shared by the shim files (shim_curl.c, shim_mhd.c, shim_git2.c).
 *
 * A shim file includes the library's own header, defines SL_SHIM_LIB and
 * lists the functions sluice calls as
 *     X(return type, name, (parameters), (arguments))   returns a value
 *     XV(name, (parameters), (arguments))               returns void
 * and the functions it only needs to reach (the real variadic entry points,
 * helpers) as R(name). SL_SHIM_TABLE then defines, per library, one table of
 * function pointers filled by dlsym() under pthread_once() on first use, and
 * one definition per listed function that forwards to the real one. Because
 * the header's declaration is in scope, the compiler rejects any definition
 * whose type differs from the real function's.
 *
 * A new call into one of the libraries anywhere in sluice shows up as an
 * "undefined reference" when linking the sluice executable: add the function
 * to its shim file's list (variadic ones need a hand-written forwarder).
 */
#ifndef SL_LAZY_SHIM_H
#define SL_LAZY_SHIM_H

#include <pthread.h>

#include "lazy_int.h"

#define SL_SHIM_MEMBER(ret, name, params, args) __typeof__(&name) name;
#define SL_SHIM_MEMBER_V(name, params, args)    __typeof__(&name) name;
#define SL_SHIM_MEMBER_R(name)                  __typeof__(&name) name;
/* dlsym() returns an object pointer; POSIX guarantees it converts back to
 * the function pointer it came from. */
#define SL_SHIM_RESOLVE_R(name)                                                                    \
    fn.name = (__typeof__(&name))sl_lazy_sym_or_die(SL_SHIM_LIB, h, #name);
#define SL_SHIM_RESOLVE(ret, name, params, args) SL_SHIM_RESOLVE_R(name)
#define SL_SHIM_RESOLVE_V(name, params, args)    SL_SHIM_RESOLVE_R(name)
#define SL_SHIM_DEFINE(ret, name, params, args)                                                    \
    ret name params                                                                                \
    {                                                                                              \
        shim_ready();                                                                              \
        return fn.name args;                                                                       \
    }
#define SL_SHIM_DEFINE_V(name, params, args)                                                       \
    void name params                                                                               \
    {                                                                                              \
        shim_ready();                                                                              \
        fn.name args;                                                                              \
    }

/* The table is written once inside pthread_once() and only read afterwards. */
#define SL_SHIM_TABLE(FUNCS, EXTRA)                                                                \
    static struct {                                                                                \
        FUNCS(SL_SHIM_MEMBER, SL_SHIM_MEMBER_V)                                                    \
        EXTRA(SL_SHIM_MEMBER_R)                                                                    \
    } fn;                                                                                          \
    static pthread_once_t fn_once = PTHREAD_ONCE_INIT;                                             \
    static void shim_load(void)                                                                    \
    {                                                                                              \
        void *h = sl_lazy_handle_or_die(SL_SHIM_LIB);                                              \
        FUNCS(SL_SHIM_RESOLVE, SL_SHIM_RESOLVE_V)                                                  \
        EXTRA(SL_SHIM_RESOLVE_R)                                                                   \
    }                                                                                              \
    static void shim_ready(void)                                                                   \
    {                                                                                              \
        pthread_once(&fn_once, shim_load);                                                         \
    }                                                                                              \
    FUNCS(SL_SHIM_DEFINE, SL_SHIM_DEFINE_V)

#endif
