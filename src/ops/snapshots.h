/* Snapshot listing and resolution: the repository is the truth, the catalog a synced cache. */
#ifndef HF_OPS_SNAPSHOTS_H
#define HF_OPS_SNAPSHOTS_H

#include "repo/tree.h"

/* One tenant's snapshots as catalog rows, synced from the repository, ordered by time. */
typedef struct hf_snaprow {
	char id[HF_ID_HEX + 1];
	char parent[HF_ID_HEX + 1];
	char *source, *label, *lsn;
	int safety; /* an in-place restore's copy of the data it replaced: never "latest" nor picked by --at */
	int64_t time, recovery_ns; /* time in ns (catalog keeps seconds for time, ns via recovery) */
	int64_t time_ns;
	uint64_t files, size, stored;
} hf_snaprow;

/* A manifest that cannot be read is logged, left out and counted in *unreadable (which may be NULL):
 * one damaged snapshot must not hide the others from a restore. */
int hf_ops_snapshot_rows(hf_repo *r, const hf_tenant *t, hf_snaprow **out, size_t *n, size_t *unreadable);
void hf_ops_snaprows_free(hf_snaprow *v, size_t n);

/* Resolve "latest", an id or unique prefix, or the newest at/before `at`, optionally of a source kind.
 * Safety copies are found by id or prefix only. */
int hf_ops_resolve(hf_repo *r, const hf_tenant *t, const char *snapshot, const char *at, const char *source,
		   hf_manifest *out);

/* Record a manifest in the catalog. */
int hf_ops_catalog_record(hf_repo *r, const hf_manifest *m);

#endif
