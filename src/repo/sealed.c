/* The sealed-object envelope for metadata (tenant records, indexes, snapshot manifests):
 * "HFS1" type comp 0 0 | nonce | ciphertext | tag, AD = header || tenant handle. */
#include "repo/repo.h"
#include "compress/compress.h"
#include "util/error.h"
#include "util/hex.h"

#include <string.h>

#define COMP_NONE 0
#define COMP_ZSTD 1
#define SEALED_MAX_PLAIN (256u * 1024 * 1024)

void hf_object_id(char out[HF_ID_HEX + 1], const void *data, size_t len)
{
	static const uint8_t zero[HF_KEY_BYTES];
	uint8_t id[HF_ID_BYTES];
	hf_mac(id, data, len, zero);
	hf_hex_encode(out, id, sizeof(id));
}

static void make_ad(uint8_t ad[HF_SEALED_HEADER + HF_TID_BYTES], const uint8_t *hdr, const uint8_t *tid)
{
	memcpy(ad, hdr, HF_SEALED_HEADER);
	if (tid)
		memcpy(ad + HF_SEALED_HEADER, tid, HF_TID_BYTES);
	else
		memset(ad + HF_SEALED_HEADER, 0, HF_TID_BYTES);
}

int hf_sealed_seal(hf_buf *out, int type, const uint8_t tid[HF_TID_BYTES], const void *pt, size_t len,
		   const uint8_t key[HF_KEY_BYTES])
{
	uint8_t hdr[HF_SEALED_HEADER] = {'H', 'F', 'S', '1', (uint8_t)type, COMP_NONE, 0, 0};
	uint8_t ad[HF_SEALED_HEADER + HF_TID_BYTES];
	hf_buf z = HF_BUF_INIT;
	hf_zctx *zc = NULL;
	const void *body = pt;
	size_t blen = len, zl = 0;
	int rc;

	if ((rc = hf_zctx_new(&zc, 3)) < 0)
		goto done;
	if ((rc = hf_buf_reserve(&z, hf_zstd_bound(len))) < 0)
		goto done;
	if (hf_zstd_compress(zc, z.data, z.cap, &zl, pt, len) == 0 && zl < len) {
		hdr[5] = COMP_ZSTD;
		body = z.data;
		blen = zl;
	}
	make_ad(ad, hdr, tid);
	if ((rc = hf_buf_reserve(out, HF_SEALED_HEADER + blen + HF_AEAD_OVERHEAD)) < 0)
		goto done;
	memcpy(out->data + out->len, hdr, HF_SEALED_HEADER);
	hf_aead_seal(out->data + out->len + HF_SEALED_HEADER, body, blen, ad, sizeof(ad), key);
	out->len += HF_SEALED_HEADER + blen + HF_AEAD_OVERHEAD;
done:
	hf_zctx_free(zc);
	hf_buf_free(&z);
	return rc;
}

int hf_sealed_open(hf_buf *out, int type, const uint8_t tid[HF_TID_BYTES], const void *data, size_t len,
		   const uint8_t key[HF_KEY_BYTES], const char *what)
{
	const uint8_t *p = data;
	uint8_t ad[HF_SEALED_HEADER + HF_TID_BYTES];
	hf_buf plain = HF_BUF_INIT;
	hf_zctx *zc = NULL;
	size_t plen, raw;
	int rc = 0;

	if (len < HF_SEALED_HEADER + HF_AEAD_OVERHEAD || memcmp(p, "HFS1", 4) != 0)
		return hf_error_set(HF_ECORRUPT, "%s is malformed (bad header or truncated)", what);
	if (p[4] != type || p[5] > COMP_ZSTD)
		return hf_error_set(HF_ECORRUPT, "%s has unexpected type or compression", what);
	plen = len - HF_SEALED_HEADER - HF_AEAD_OVERHEAD;
	make_ad(ad, p, tid);
	if ((rc = hf_buf_reserve(&plain, plen + 1)) < 0)
		goto done;
	if (hf_aead_open(plain.data, p + HF_SEALED_HEADER, len - HF_SEALED_HEADER, ad, sizeof(ad), key) != 0) {
		rc = hf_error_set(HF_EAUTH, "%s failed authentication (wrong key, another tenant's object, or corrupted)",
				  what);
		goto done;
	}
	plain.len = plen;
	if (p[5] == COMP_NONE) {
		rc = hf_buf_append(out, plain.data, plen);
		goto done;
	}
	if (hf_zstd_frame_size(plain.data, plen, &raw) < 0 || raw > SEALED_MAX_PLAIN) {
		rc = hf_error_set(HF_ECORRUPT, "%s has an invalid compressed body", what);
		goto done;
	}
	if ((rc = hf_zctx_new(&zc, 0)) < 0 || (rc = hf_buf_reserve(out, raw + 1)) < 0)
		goto done;
	if ((rc = hf_zstd_decompress(zc, out->data + out->len, raw, plain.data, plen)) < 0) {
		rc = hf_error_wrap(HF_ECORRUPT, "%s", what);
		goto done;
	}
	out->len += raw;
done:
	hf_zctx_free(zc);
	hf_buf_free(&plain);
	return rc;
}
