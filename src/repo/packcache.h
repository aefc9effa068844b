/* A small LRU cache of whole packs for remote storage: a restore reads many small blobs that sit
 * together in a few packs, and one GET of a pack beats hundreds of ranged GETs of its blobs.
 * Thread-safe; a pack being fetched by one thread is waited for, not fetched twice. */
#ifndef HF_REPO_PACKCACHE_H
#define HF_REPO_PACKCACHE_H

#include "storage/storage.h"

typedef struct hf_pack_cache hf_pack_cache;

int hf_pack_cache_new(hf_pack_cache **out, size_t max_packs);
void hf_pack_cache_free(hf_pack_cache *c);
/* Append bytes [off, off+len) of object `key` to out, fetching the whole object on a miss. */
int hf_pack_cache_read(hf_pack_cache *c, hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out);

#endif
