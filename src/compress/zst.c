/* zstd compression contexts and one-shot frame compression/decompression; the only file with <zstd.h>.
 * Frames always record their content size and carry no checksum (chunks are authenticated by AEAD). */
#include "compress/compress.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#define LEVEL_MAX 19
/* RFC 8878: a raw block holds at most min(window, 128 KiB) bytes. */
#define RAW_BLOCK_MAX (128u * 1024)

struct hf_zctx {
	int level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

/* The single translation of zstd error codes into holdfast codes. */
static int zstd_error(size_t rc, int code, const char *what)
{
	if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
		code = HF_ENOMEM;
	return hf_error_set(code, "%s: %s", what, ZSTD_getErrorName(rc));
}

int hf_zctx_new(hf_zctx **out, int level)
{
	hf_zctx *z = NULL;
	size_t rc;
	int err = 0;

	if (level < 0 || level > LEVEL_MAX)
		return hf_error_set(HF_ECONFIG, "invalid zstd level %d (expected 0 to %d)", level, LEVEL_MAX);
	z = calloc(1, sizeof(*z));
	if (!z)
		return hf_error_set(HF_ENOMEM, "unable to allocate a zstd context");
	z->level = level;
	z->cctx = level > 0 ? ZSTD_createCCtx() : NULL; /* level 0 stores raw blocks by hand */
	z->dctx = ZSTD_createDCtx();
	if ((level > 0 && !z->cctx) || !z->dctx) {
		err = hf_error_set(HF_ENOMEM, "unable to allocate a zstd context");
		goto done;
	}
	if (level > 0) {
		rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
		if (!ZSTD_isError(rc))
			rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 0);
		if (!ZSTD_isError(rc))
			rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_contentSizeFlag, 1);
		if (ZSTD_isError(rc)) {
			err = zstd_error(rc, HF_ERROR, "unable to configure zstd compression");
			goto done;
		}
	}
	*out = z;
	z = NULL;
done:
	hf_zctx_free(z);
	return err;
}

void hf_zctx_free(hf_zctx *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

size_t hf_zstd_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

/* Level 0 stores: a standard single-segment frame of raw blocks, so every reader decodes with zstd
 * alone and no "compressed or not" flag is needed anywhere in the format. */
static size_t store_raw(uint8_t *dst, size_t dstcap, const uint8_t *src, size_t n)
{
	size_t nblocks = n ? (n + RAW_BLOCK_MAX - 1) / RAW_BLOCK_MAX : 1, pos = 0;
	uint8_t fcs_flag, fhd;
	size_t fcs_len;

	if (n < 256) {
		fcs_flag = 0, fcs_len = 1;
	} else if (n < 65536 + 256) {
		fcs_flag = 1, fcs_len = 2;
	} else if ((uint64_t)n <= UINT32_MAX) {
		fcs_flag = 2, fcs_len = 4;
	} else {
		fcs_flag = 3, fcs_len = 8;
	}
	if (dstcap < 4 + 1 + fcs_len + 3 * nblocks + n)
		return 0;
	hf_put_le32(dst, ZSTD_MAGICNUMBER);
	fhd = (uint8_t)(fcs_flag << 6 | 1u << 5); /* single segment, no checksum, no dictionary */
	dst[4] = fhd;
	pos = 5;
	if (fcs_len == 1) {
		dst[pos] = (uint8_t)n;
	} else if (fcs_len == 2) {
		dst[pos] = (uint8_t)(n - 256);
		dst[pos + 1] = (uint8_t)((n - 256) >> 8);
	} else if (fcs_len == 4) {
		hf_put_le32(dst + pos, (uint32_t)n);
	} else {
		hf_put_le64(dst + pos, (uint64_t)n);
	}
	pos += fcs_len;
	for (size_t done = 0, b = 0; b < nblocks; b++) {
		size_t len = n - done < RAW_BLOCK_MAX ? n - done : RAW_BLOCK_MAX;
		uint32_t hdr = (uint32_t)len << 3 | (b + 1 == nblocks ? 1u : 0u); /* type 0 = raw */
		dst[pos] = (uint8_t)hdr;
		dst[pos + 1] = (uint8_t)(hdr >> 8);
		dst[pos + 2] = (uint8_t)(hdr >> 16);
		if (len)
			memcpy(dst + pos + 3, src + done, len);
		pos += 3 + len;
		done += len;
	}
	return pos;
}

int hf_zstd_compress(hf_zctx *z, void *dst, size_t dstcap, size_t *outlen, const void *src, size_t n)
{
	size_t rc;

	if (z->level == 0) {
		rc = store_raw(dst, dstcap, src, n);
		if (rc == 0)
			return hf_error_set(HF_EUSAGE, "zstd output buffer too small (%zu bytes for %zu)", dstcap, n);
		*outlen = rc;
		return 0;
	}
	rc = ZSTD_compress2(z->cctx, dst, dstcap, src, n);
	if (ZSTD_isError(rc)) {
		int code = ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall ? HF_EUSAGE : HF_ERROR;
		return zstd_error(rc, code, "unable to compress");
	}
	*outlen = rc;
	return 0;
}

int hf_zstd_frame_size(const void *src, size_t n, size_t *out)
{
	unsigned long long fcs;

	if (n < 4 || hf_le32(src) != ZSTD_MAGICNUMBER)
		return hf_error_set(HF_ECORRUPT, "not a zstd frame");
	fcs = ZSTD_getFrameContentSize(src, n);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return hf_error_set(HF_ECORRUPT, "invalid zstd frame header");
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN)
		return hf_error_set(HF_ECORRUPT, "zstd frame does not record its content size");
	if (fcs > SIZE_MAX)
		return hf_error_set(HF_ECORRUPT, "zstd frame content size %llu too large", fcs);
	*out = (size_t)fcs;
	return 0;
}

/* A holdfast frame is exactly one zstd frame: no skippable frame, nothing after it. */
int hf_zstd_decompress(hf_zctx *z, void *dst, size_t dstcap, const void *src, size_t n)
{
	size_t fcs = 0, flen, rc;
	int err;

	if ((err = hf_zstd_frame_size(src, n, &fcs)) < 0)
		return err;
	if (fcs != dstcap)
		return hf_error_set(HF_ECORRUPT, "zstd frame holds %zu bytes, expected %zu", fcs, dstcap);
	flen = ZSTD_findFrameCompressedSize(src, n);
	if (ZSTD_isError(flen))
		return zstd_error(flen, HF_ECORRUPT, "invalid zstd frame");
	if (flen != n)
		return hf_error_set(HF_ECORRUPT, "%zu unexpected bytes after the zstd frame", n - flen);
	rc = ZSTD_decompressDCtx(z->dctx, dst, dstcap, src, n);
	if (ZSTD_isError(rc))
		return zstd_error(rc, HF_ECORRUPT, "invalid zstd frame");
	if (rc != dstcap)
		return hf_error_set(HF_ECORRUPT, "zstd frame decoded to %zu bytes, expected %zu", rc, dstcap);
	return 0;
}
