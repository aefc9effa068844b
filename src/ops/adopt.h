/* Indexing packs that no index object lists, from their sealed directories. */
#ifndef HF_OPS_ADOPT_H
#define HF_OPS_ADOPT_H

#include "repo/index.h"

/* Adds every readable unindexed pack of the tenant to ix (in memory; the next index flush of a backup
 * stores them). Unreadable packs are left alone with a warning: check reports them. */
int hf_ops_adopt_unindexed(hf_repo *r, const hf_tenant *t, hf_index *ix);

#endif
