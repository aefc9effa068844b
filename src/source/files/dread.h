/* Reading large files with O_DIRECT, ahead of their consumer, on a thread of its own.
 *
 * O_DIRECT moves data from the device into our buffers without the page cache: no page allocation,
 * no copy out of the cache, no eviction of the pages the host's applications use. Reading the 1.76
 * GiB of the bench dataset's files of 1 MiB or more cost 0.6-1.4 s of system time through the page
 * cache, 0.1 s with O_DIRECT. But the kernel's read-ahead does not apply to it: read synchronously,
 * the reading thread of a backup waited on the device for 1.0 s of a 2 s second backup while the
 * workers ran out of chunks. So the reads are issued here, up to DREAD_BUFS buffers (backup.c) ahead of the
 * consumer, and the consumer copies each buffer into the chunking window.
 *
 * One file at a time: the consumer begins a file (an fd opened with O_DIRECT), takes its buffers in
 * order, and ends it before closing the fd. */
#ifndef HF_SOURCE_FILES_DREAD_H
#define HF_SOURCE_FILES_DREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HF_DREAD_ALIGN 4096 /* buffer address, size and file offsets are multiples of this */

typedef struct hf_dread hf_dread;

/* Buffers of buf_size bytes (a multiple of HF_DREAD_ALIGN), nbufs of them. NULL when out of memory
 * or no thread could be started. */
hf_dread *hf_dread_new(size_t nbufs, size_t buf_size);
/* Start reading fd from offset 0. */
void hf_dread_begin(hf_dread *d, int fd);
/* The next piece of the file, in order: > 0 its length (at *p, valid until hf_dread_release), 0 at the
 * end of the file, -1 when a read failed (*err: its errno; EINVAL when the file system refuses O_DIRECT
 * at that point: read the rest from *off through the page cache). *off is the piece's file offset. */
ssize_t hf_dread_next(hf_dread *d, const uint8_t **p, uint64_t *off, int *err);
/* The piece from the last hf_dread_next is consumed: its buffer may be filled again. */
void hf_dread_release(hf_dread *d);
/* Stop reading the current file; on return the thread no longer uses its fd. */
void hf_dread_end(hf_dread *d);
void hf_dread_free(hf_dread *d);

#endif
