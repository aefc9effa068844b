/* The restore side: an hf_snapshot_reader over one snapshot (tree loaded in memory, content streamed
 * chunk by chunk from packs and authenticated). Thread-safe reads. */
#ifndef HF_OPS_READER_H
#define HF_OPS_READER_H

#include "repo/tree.h"
#include "source/source.h"

typedef struct hf_reader hf_reader;

/* Loads the whole tree of m. ix must hold the tenant's index. */
int hf_reader_open(hf_reader **out, hf_repo *r, const hf_tenant *t, hf_index *ix, const hf_manifest *m);
hf_snapshot_reader *hf_reader_iface(hf_reader *rd);
hf_node *hf_reader_root(hf_reader *rd);
void hf_reader_free(hf_reader *rd);
/* Load all subtrees below dir (recursively). */
int hf_reader_load_tree(hf_repo *r, const hf_tenant *t, hf_index *ix, hf_node *dir);

#endif
