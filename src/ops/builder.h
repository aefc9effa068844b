/* The snapshot builder: an hf_sink that chunks, deduplicates, compresses, encrypts and packs what a
 * source pushes into it, with worker threads and bounded memory; then writes trees, index and manifest. */
#ifndef HF_OPS_BUILDER_H
#define HF_OPS_BUILDER_H

#include "repo/tree.h"
#include "source/source.h"

typedef struct hf_builder hf_builder;

/* parent: the previous snapshot's loaded tree (borrowed, may be NULL): unchanged files reuse its chunks.
 * params: chunking parameters (NULL: the repository's). */
int hf_builder_new(hf_builder **out, hf_repo *r, hf_tenant *t, hf_index *ix, hf_node *parent,
		   const hf_chunker_params *params, hf_progress_cb progress, void *progress_payload);
hf_sink *hf_builder_sink(hf_builder *b);
/* Finish: write trees, flush packs and index, then the manifest (visible only now). m holds tenant,
 * source, label, parent; stats, tree, time and recovery point are filled in. */
int hf_builder_commit(hf_builder *b, hf_manifest *m);
/* Stop workers and flush what was already packed (so a later backup can reuse it); no manifest. */
void hf_builder_abort(hf_builder *b);
void hf_builder_free(hf_builder *b);

#endif
