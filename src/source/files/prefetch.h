/* Read-ahead for directory walks: a thread that opens the files the walker will read next and asks
 * the kernel to start reading them (posix_fadvise WILLNEED), so that cold-cache metadata and data
 * I/O overlaps with chunking instead of stalling the single reading thread. Purely an optimisation:
 * any failure here is ignored. */
#ifndef HF_SOURCE_FILES_PREFETCH_H
#define HF_SOURCE_FILES_PREFETCH_H

#include <stddef.h>
#include <sys/stat.h>

typedef struct hf_prefetch hf_prefetch;

/* Called from the prefetch thread for a regular file: non-zero when its data will not be read
 * (e.g. unchanged since the previous snapshot), so it is not read ahead either. */
typedef int (*hf_prefetch_skip_cb)(const char *path, const struct stat *st, void *payload);

/* window: how many entries the prefetcher may run ahead of the walker; skip may be NULL.
 * NULL when it cannot start. */
hf_prefetch *hf_prefetch_start(size_t window, hf_prefetch_skip_cb skip, void *payload);
/* The walker listed a directory and will now visit these children in this order (copied). */
void hf_prefetch_dir(hf_prefetch *p, const char *dir, char *const *names, size_t n);
/* The walker has visited one more entry. */
void hf_prefetch_advance(hf_prefetch *p);
void hf_prefetch_stop(hf_prefetch *p);

#endif
