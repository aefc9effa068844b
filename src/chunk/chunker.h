/* Content-defined chunking (normalized FastCDC, gear hash with a per-tenant secret table).
 * Pure: no I/O, no allocation. */
#ifndef HF_CHUNKER_H
#define HF_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_chunker_params {
	uint32_t min_size; /* default 256 KiB */
	uint32_t avg_size; /* power of two, default 1 MiB */
	uint32_t max_size; /* default 4 MiB */
} hf_chunker_params;

#define HF_CHUNK_MIN_DEFAULT (256u * 1024)
#define HF_CHUNK_AVG_DEFAULT (1024u * 1024)
#define HF_CHUNK_MAX_DEFAULT (4u * 1024 * 1024)

typedef struct hf_chunker {
	hf_chunker_params p;
	uint64_t mask_s, mask_l; /* normalized-chunking masks (stricter below avg, looser above) */
	uint64_t gear[256];
} hf_chunker;

/* Validate params (min < avg < max, avg a power of two, max <= 64 MiB). 0 or HF_ECONFIG. */
int hf_chunker_params_check(const hf_chunker_params *p);
void hf_chunker_init(hf_chunker *c, const hf_chunker_params *p, const uint64_t gear[256]);

/* Given `n` bytes starting at a chunk start, return the length of the next chunk, or 0 when more
 * input is needed to decide (only possible when !eof and n < max_size). At eof, returns min(n, cut). */
size_t hf_chunker_next(const hf_chunker *c, const uint8_t *data, size_t n, int eof);

/* How far the search for the current chunk's end has got (zero it at every chunk start). */
typedef struct hf_chunk_scan {
	size_t pos;  /* bytes of the chunk already looked at */
	uint64_t h;  /* the rolling hash at pos */
} hf_chunk_scan;

/* hf_chunker_next for a caller that appends input to the same chunk between calls: bytes looked at by
 * an earlier call that returned 0 are not scanned again. Same cuts as hf_chunker_next; `s` is reset
 * whenever a length is returned. */
size_t hf_chunker_resume(const hf_chunker *c, hf_chunk_scan *s, const uint8_t *data, size_t n, int eof);

#endif
