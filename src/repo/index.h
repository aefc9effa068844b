/* The blob index of one tenant: blob id -> pack, offset, length. In memory a hash table; in the
 * repository a set of sealed index objects (index/<tid>/<id>). Thread-safe. */
#ifndef HF_REPO_INDEX_H
#define HF_REPO_INDEX_H

#include "repo/repo.h"

enum { HF_BLOB_DATA = 0, HF_BLOB_TREE = 1 };
enum { HF_COMP_NONE = 0, HF_COMP_ZSTD = 1 };

#define HF_PACK_PENDING UINT32_MAX

typedef struct hf_index_entry {
	uint8_t id[HF_ID_BYTES];
	uint32_t pack;      /* index into the pack table, or HF_PACK_PENDING */
	uint32_t offset;    /* of the sealed blob within the pack */
	uint32_t length;    /* sealed length */
	uint32_t raw;       /* plaintext length */
	uint8_t type;
	uint8_t comp;
} hf_index_entry;

/* The 46-byte on-disk entry shared by index objects and pack directories:
 * type u8 | comp u8 | id[32] | offset u32 | length u32 | raw u32 (little-endian). */
#define HF_ENTRY_BYTES 46
void hf_index_entry_encode(uint8_t *p, const hf_index_entry *e);
void hf_index_entry_decode(hf_index_entry *e, const uint8_t *p);

typedef struct hf_index hf_index;

int hf_index_new(hf_index **out);
void hf_index_free(hf_index *ix);

/* Load every index object of the tenant. Unreadable index objects are reported through
 * `bad` (may be NULL: then the first failure is returned). */
typedef void (*hf_index_bad_cb)(const char *object, int code, const char *message, void *payload);
int hf_index_load(hf_index *ix, hf_repo *r, const hf_tenant *t, hf_index_bad_cb bad, void *payload);

/* Look up; copies the entry into *out. HF_ENOTFOUND when absent. */
int hf_index_get(hf_index *ix, const uint8_t id[HF_ID_BYTES], hf_index_entry *out);
/* Insert as pending if absent: returns 1 when inserted (caller must store it), 0 when known. */
int hf_index_reserve(hf_index *ix, const uint8_t id[HF_ID_BYTES], uint8_t type, uint32_t raw);
/* Register a written pack's entries (the pack id is raw 32 bytes). Marks them new (to be written
 * to the next index object). */
int hf_index_add_pack(hf_index *ix, const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n);
/* Number of packs registered since the last flush. */
size_t hf_index_unflushed(hf_index *ix);
/* Seal and store an index object with the packs added since the last flush. */
int hf_index_flush(hf_index *ix, hf_repo *r, const hf_tenant *t, uint64_t *stored);
/* Pack id (raw) for a pack number. */
const uint8_t *hf_index_pack_id(hf_index *ix, uint32_t pack);
size_t hf_index_pack_count(hf_index *ix);
size_t hf_index_count(hf_index *ix);
/* Iterate entries (not thread-safe against concurrent inserts). */
typedef int (*hf_index_iter_cb)(const hf_index_entry *e, void *payload);
int hf_index_foreach(hf_index *ix, hf_index_iter_cb cb, void *payload);

/* Parse an index object's plaintext; for check/fuzzing. Calls cb per pack. */
typedef int (*hf_index_pack_cb)(const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n, void *payload);
int hf_index_parse(const uint8_t *data, size_t len, hf_index_pack_cb cb, void *payload, const char *what);

#endif
