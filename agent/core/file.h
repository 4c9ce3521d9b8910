/*
 * Bounded file I/O. Every read has a byte cap (a file over it is an error,
 * never a truncated read); writes that must survive a crash are atomic:
 * write to a temporary file in the same directory, fsync, rename, fsync the
 * directory.
 */
#ifndef SL_FILE_H
#define SL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "secmem.h"

/* 16 MiB: the cap for any one file sluice reads from a repository. */
#define SL_FILE_MAX ((size_t)16 << 20)

/* Append the contents of a regular file to out; fails if it has more than max bytes. */
int sl_file_read(struct sl_buf *out, const char *path, size_t max, struct sl_error *err);
/* Same from an open descriptor (not closed); name is used in messages. */
int sl_file_read_fd(struct sl_buf *out, int fd, const char *name, size_t max, struct sl_error *err);

/*
 * Refuse a key or credential file that others could read: it must be a
 * regular file owned by the running user with no group/other permission
 * bits. The error says how to fix it.
 */
int sl_file_check_private(const char *path, struct sl_error *err);
/* sl_file_check_private, then read into secure memory. */
int sl_file_read_secret(struct sl_secbuf *out, const char *path, size_t max, struct sl_error *err);

/* Atomically replace path with data (mode applies to the new file). */
int sl_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct sl_error *err);
/*
 * Create path with O_EXCL (never overwriting) and write data; used for
 * identities. The file is removed again if writing fails.
 */
int sl_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
                      struct sl_error *err);

/* mkdir -p with mode for created components. */
int sl_mkdir_p(const char *path, mode_t mode, struct sl_error *err);

#endif
