/* Packs: many sealed blobs in one object, with a sealed directory at the end so the index can be
 * rebuilt from packs alone. Layout: "HFP1" tid[16] | blobs | directory | u32 dirlen | "HFPE". */
#ifndef HF_REPO_PACK_H
#define HF_REPO_PACK_H

#include "repo/index.h"

#define HF_PACK_HEADER 20
#define HF_PACK_TRAILER 8
#define HF_BLOB_AD_BYTES (HF_TID_BYTES + HF_ID_BYTES + 2)

/* Seal one blob: out gets nonce | ciphertext | tag (len + HF_AEAD_OVERHEAD bytes). The AD binds the
 * tenant, blob id, type and compression so a blob cannot be moved or re-labelled. */
void hf_blob_seal(uint8_t *out, const uint8_t tid[HF_TID_BYTES], const hf_index_entry *e, const void *data,
		  size_t len, const uint8_t key[HF_KEY_BYTES]);
/* Open a sealed blob into out (e->length - overhead bytes). HF_EAUTH on failure (no message). */
int hf_blob_open(uint8_t *out, const uint8_t tid[HF_TID_BYTES], const hf_index_entry *e, const uint8_t *sealed,
		 const uint8_t key[HF_KEY_BYTES]);

typedef struct hf_pack_builder {
	hf_buf buf;
	hf_index_entry *ents;
	size_t n, cap;
	uint8_t tid[HF_TID_BYTES];
} hf_pack_builder;

int hf_pack_begin(hf_pack_builder *b, const uint8_t tid[HF_TID_BYTES], size_t reserve);
/* Reserve room for a sealed blob of `sealed_len` bytes; returns where to write it and records the entry
 * (offset/length filled in). */
int hf_pack_add(hf_pack_builder *b, const hf_index_entry *e, size_t sealed_len, uint8_t **where);
/* Append the directory and trailer; out_id = content-derived pack id (raw). */
int hf_pack_finish(hf_pack_builder *b, const uint8_t key[HF_KEY_BYTES], uint8_t out_id[HF_ID_BYTES]);
void hf_pack_builder_free(hf_pack_builder *b);

/* Read a pack's directory from its full bytes (check, index rebuild). Entries returned malloc'd. */
int hf_pack_read_dir(const uint8_t *data, size_t len, const uint8_t tid[HF_TID_BYTES],
		     const uint8_t key[HF_KEY_BYTES], hf_index_entry **out, size_t *n, const char *what);

#endif
