/* Pack building and parsing; blob sealing. */
#include "repo/pack.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>


static void blob_ad(uint8_t *ad, const uint8_t *tid, const hf_index_entry *e)
{
	memcpy(ad, tid, HF_TID_BYTES);
	memcpy(ad + HF_TID_BYTES, e->id, HF_ID_BYTES);
	ad[HF_TID_BYTES + HF_ID_BYTES] = e->type;
	ad[HF_TID_BYTES + HF_ID_BYTES + 1] = e->comp;
}

void hf_blob_seal(uint8_t *out, const uint8_t tid[HF_TID_BYTES], const hf_index_entry *e, const void *data,
		  size_t len, const uint8_t key[HF_KEY_BYTES])
{
	uint8_t ad[HF_BLOB_AD_BYTES];
	blob_ad(ad, tid, e);
	hf_aead_seal(out, data, len, ad, sizeof(ad), key);
}

int hf_blob_open(uint8_t *out, const uint8_t tid[HF_TID_BYTES], const hf_index_entry *e, const uint8_t *sealed,
		 const uint8_t key[HF_KEY_BYTES])
{
	uint8_t ad[HF_BLOB_AD_BYTES];
	blob_ad(ad, tid, e);
	return hf_aead_open(out, sealed, e->length, ad, sizeof(ad), key);
}

int hf_pack_begin(hf_pack_builder *b, const uint8_t tid[HF_TID_BYTES], size_t reserve)
{
	int rc;
	b->buf.len = 0;
	b->n = 0;
	memcpy(b->tid, tid, HF_TID_BYTES);
	if ((rc = hf_buf_reserve(&b->buf, reserve)) < 0)
		return rc;
	hf_buf_append(&b->buf, "HFP1", 4);
	return hf_buf_append(&b->buf, tid, HF_TID_BYTES);
}

int hf_pack_add(hf_pack_builder *b, const hf_index_entry *e, size_t sealed_len, uint8_t **where)
{
	hf_index_entry *ne;
	int rc;
	if (b->buf.len + sealed_len > UINT32_MAX)
		return hf_error_set(HF_ERROR, "pack too large");
	if (!(ne = hf_array_grow(b->ents, &b->cap, b->n, sizeof(*ne), 64)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	b->ents = ne;
	if ((rc = hf_buf_reserve(&b->buf, sealed_len)) < 0)
		return rc;
	b->ents[b->n] = *e;
	b->ents[b->n].offset = (uint32_t)b->buf.len;
	b->ents[b->n].length = (uint32_t)sealed_len;
	b->n++;
	*where = b->buf.data + b->buf.len;
	b->buf.len += sealed_len;
	return 0;
}

int hf_pack_finish(hf_pack_builder *b, const uint8_t key[HF_KEY_BYTES], uint8_t out_id[HF_ID_BYTES])
{
	static const uint8_t zero[HF_KEY_BYTES];
	hf_buf dir = HF_BUF_INIT;
	uint8_t ad[4 + HF_TID_BYTES];
	size_t dlen;
	int rc;

	if ((rc = hf_buf_append_le32(&dir, (uint32_t)b->n)) < 0 || (rc = hf_buf_reserve(&dir, b->n * HF_ENTRY_BYTES)) < 0)
		goto done;
	for (size_t i = 0; i < b->n; i++) {
		hf_index_entry_encode(dir.data + dir.len, &b->ents[i]);
		dir.len += HF_ENTRY_BYTES;
	}
	memcpy(ad, "HFPD", 4);
	memcpy(ad + 4, b->tid, HF_TID_BYTES);
	dlen = dir.len + HF_AEAD_OVERHEAD;
	if ((rc = hf_buf_reserve(&b->buf, dlen + HF_PACK_TRAILER)) < 0)
		goto done;
	hf_aead_seal(b->buf.data + b->buf.len, dir.data, dir.len, ad, sizeof(ad), key);
	b->buf.len += dlen;
	hf_buf_append_le32(&b->buf, (uint32_t)dlen);
	hf_buf_append(&b->buf, "HFPE", 4);
	hf_mac(out_id, b->buf.data, b->buf.len, zero);
done:
	hf_buf_free(&dir);
	return rc;
}

void hf_pack_builder_free(hf_pack_builder *b)
{
	if (!b)
		return;
	hf_buf_free(&b->buf);
	free(b->ents);
	b->ents = NULL;
	b->n = b->cap = 0;
}

int hf_pack_read_dir(const uint8_t *data, size_t len, const uint8_t tid[HF_TID_BYTES],
		     const uint8_t key[HF_KEY_BYTES], hf_index_entry **out, size_t *n, const char *what)
{
	uint8_t ad[4 + HF_TID_BYTES], *plain = NULL;
	hf_index_entry *ents = NULL;
	uint32_t dlen, count;
	int rc = 0;

	if (len < HF_PACK_HEADER + HF_PACK_TRAILER + HF_AEAD_OVERHEAD + 4 || memcmp(data, "HFP1", 4) != 0 ||
	    memcmp(data + len - 4, "HFPE", 4) != 0)
		return hf_error_set(HF_ECORRUPT, "%s is malformed or truncated (bad header or trailer)", what);
	if (memcmp(data + 4, tid, HF_TID_BYTES) != 0)
		return hf_error_set(HF_EAUTH, "%s belongs to another tenant", what);
	dlen = hf_le32(data + len - 8);
	if (dlen < HF_AEAD_OVERHEAD + 4 || dlen > len - HF_PACK_HEADER - HF_PACK_TRAILER)
		return hf_error_set(HF_ECORRUPT, "%s has an invalid directory length", what);
	if (!(plain = malloc(dlen)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	memcpy(ad, "HFPD", 4);
	memcpy(ad + 4, tid, HF_TID_BYTES);
	if (hf_aead_open(plain, data + len - HF_PACK_TRAILER - dlen, dlen, ad, sizeof(ad), key) != 0) {
		rc = hf_error_set(HF_ECORRUPT, "%s directory failed authentication", what);
		goto done;
	}
	count = hf_le32(plain);
	if ((size_t)count * HF_ENTRY_BYTES != dlen - HF_AEAD_OVERHEAD - 4) {
		rc = hf_error_set(HF_ECORRUPT, "%s directory has an invalid size", what);
		goto done;
	}
	if (count && !(ents = calloc(count, sizeof(*ents)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (uint32_t i = 0; i < count; i++) {
		hf_index_entry_decode(&ents[i], plain + 4 + (size_t)i * HF_ENTRY_BYTES);
		if ((uint64_t)ents[i].offset + ents[i].length > len - HF_PACK_TRAILER - dlen ||
		    ents[i].offset < HF_PACK_HEADER || ents[i].length < HF_AEAD_OVERHEAD) {
			rc = hf_error_set(HF_ECORRUPT, "%s directory entry %u is out of bounds", what, i);
			goto done;
		}
	}
	*out = ents;
	*n = count;
	ents = NULL;
done:
	free(ents);
	free(plain);
	return rc;
}
