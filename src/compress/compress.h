/* zstd compression; the only module that includes <zstd.h>. Contexts are per thread. */
#ifndef HF_COMPRESS_H
#define HF_COMPRESS_H

#include <stddef.h>

typedef struct hf_zctx hf_zctx;

/* A compression+decompression context with the given level (1..19; 0 = no compression). */
int hf_zctx_new(hf_zctx **out, int level);
void hf_zctx_free(hf_zctx *z);

/* Worst-case compressed size for n input bytes. */
size_t hf_zstd_bound(size_t n);
/* Compress src into dst (dstcap >= hf_zstd_bound(n)); *outlen = compressed size. */
int hf_zstd_compress(hf_zctx *z, void *dst, size_t dstcap, size_t *outlen, const void *src, size_t n);
/* Decompress exactly into dst (dstcap = expected size); HF_ECORRUPT if the frame is bad or its
 * size differs from dstcap (message without object name; the caller wraps it). */
int hf_zstd_decompress(hf_zctx *z, void *dst, size_t dstcap, const void *src, size_t n);
/* Content size recorded in a frame header, or HF_ECORRUPT. */
int hf_zstd_frame_size(const void *src, size_t n, size_t *out);

#endif
