/* Local file helpers: durable atomic writes, whole-file reads, directories. */
#ifndef HF_UTIL_FS_H
#define HF_UTIL_FS_H

#include "util/buf.h"

#include <stddef.h>

/* Write data to path atomically: temp file in the same dir, fsync, rename, fsync dir.
 * With exclusive != 0 fails with HF_EEXISTS if path exists (link(2) instead of rename).
 * Data of 1 MiB or more at a 4096-aligned address is written with O_DIRECT where the file system
 * allows it. */
int hf_fs_write_atomic(const char *path, const void *data, size_t len, int mode, int exclusive);
/* Read a whole file. */
int hf_fs_read_file(const char *path, hf_buf *out);
/* mkdir -p with the given mode. */
int hf_fs_mkdir_p(const char *path, int mode);
/* Fsync a directory. */
int hf_fs_fsync_dir(const char *path);
/* Write all bytes to fd, retrying on EINTR/short writes; errno-style return (0 or errno). */
int hf_fs_write_all(int fd, const void *data, size_t len);
/* Join a and b with '/': malloc'd result. */
char *hf_path_join(const char *a, const char *b);

#endif
