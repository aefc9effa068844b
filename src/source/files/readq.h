/* The hand-over between the two threads of a directory backup. The walking thread lists directories,
 * lstats entries and decides what each one is; the reading thread (the caller's) takes the entries in
 * the same order, reads the files and feeds the sink, which therefore only ever sees one thread.
 * Cold-cache metadata reads and the bookkeeping of unchanged files then overlap with reading and
 * chunking instead of stalling it.
 *
 * The queue also reads ahead: a third thread opens the next files the reading thread will read and
 * asks the kernel for their first bytes (posix_fadvise WILLNEED). That part is purely an
 * optimisation: its failures are ignored. */
#ifndef HF_SOURCE_FILES_READQ_H
#define HF_SOURCE_FILES_READQ_H

#include "source/source.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct hf_readq_item {
	struct hf_readq_item *next;
	uint64_t seq;
	char *path;         /* absolute; the entry name is path + 1 */
	char *target;       /* symlink target, or NULL */
	struct stat st;     /* from lstat (fstat for directories) */
	hf_entry_type type; /* FILE: read it, or take it from the previous snapshot; others: emitted as is */
	int readahead;      /* a FILE whose data will be read */
	size_t cost;        /* memory it holds (set by the queue) */
} hf_readq_item;

typedef struct hf_readq hf_readq;

/* Items waiting hold at most `max_bytes` (one item always fits); read ahead at most `ahead` files.
 * NULL when out of memory. */
hf_readq *hf_readq_new(size_t max_bytes, size_t ahead);
/* Walking thread: queue an item (taking ownership; blocks while the queue is full). -1 once the
 * reading thread gave up (the item is freed): the walk should stop. */
int hf_readq_put(hf_readq *q, hf_readq_item *it);
/* Walking thread: about to do something that may block (list a directory, lstat its entries): wake
 * the reading thread if it waits for items that are there (it is otherwise woken in batches). */
void hf_readq_flush(hf_readq *q);
/* Walking thread: no more items. rc < 0 when the walk failed, with the message to report. */
void hf_readq_close(hf_readq *q, int rc, const char *msg);
/* Reading thread: the next item (free it with hf_readq_item_free), or NULL at the end; then *rc is the
 * walk's result (< 0: its error has been raised on this thread). */
hf_readq_item *hf_readq_get(hf_readq *q, int *rc);
/* Reading thread: stop; the walking thread's next put fails. */
void hf_readq_abort(hf_readq *q);
void hf_readq_item_free(hf_readq_item *it);
/* After both threads are done with it. */
void hf_readq_free(hf_readq *q);

#endif
