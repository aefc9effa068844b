/* Object Lock extension: before a snapshot is committed, every pack it references must be locked at
 * least until the snapshot's retain-until. Deduplication makes a new snapshot reference packs written
 * long ago; their locks are extended in batches with slack (so extension is rare), and the dates are
 * tracked in the catalog so that no HEAD request is needed for packs already known to be locked. */
#ifndef HF_OPS_LOCKS_H
#define HF_OPS_LOCKS_H

#include "repo/tree.h"

typedef struct hf_lock_stats {
	uint64_t packs;     /* referenced packs written by earlier backups */
	uint64_t heads;     /* HEAD requests needed (dates unknown to the catalog) */
	uint64_t extended;  /* locks extended */
} hf_lock_stats;

/* root: the snapshot's tree (fully resolved); packs numbered >= first_new were written by this
 * backup with retain-until `needed` already. */
int hf_ops_extend_locks(hf_repo *r, const hf_tenant *t, hf_index *ix, const hf_node *root, size_t first_new,
			int64_t needed, hf_lock_stats *stats);

#endif
