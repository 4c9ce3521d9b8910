/*
 * Internal interface between the loader (lazy.c) and the shims (shim_*.c).
 * Only the shims use it; they are linked into the sluice executable alone.
 */
#ifndef SL_LAZY_INT_H
#define SL_LAZY_INT_H

#include "lazy.h"

/* The library's handle; loads it if needed. On failure prints one line to
 * stderr and aborts: a shim was called without sl_lazy_require(). */
void *sl_lazy_handle_or_die(enum sl_lazy_lib lib);

/* dlsym(handle, name), or one line on stderr and abort: the installed library
 * lacks a function the one sluice was built against has. */
void *sl_lazy_sym_or_die(enum sl_lazy_lib lib, void *handle, const char *name);

#endif
