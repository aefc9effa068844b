/* Growable byte buffer. */
#ifndef HF_UTIL_BUF_H
#define HF_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} hf_buf;

#define HF_BUF_INIT {NULL, 0, 0}

/* Ensure room for `extra` more bytes; HF_ENOMEM on failure. */
int hf_buf_reserve(hf_buf *b, size_t extra);
int hf_buf_append(hf_buf *b, const void *data, size_t len);
int hf_buf_append_u8(hf_buf *b, uint8_t v);
int hf_buf_append_le32(hf_buf *b, uint32_t v);
int hf_buf_append_le64(hf_buf *b, uint64_t v);
int hf_buf_printf(hf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminate without counting the NUL in len. */
int hf_buf_cstr(hf_buf *b);
void hf_buf_clear(hf_buf *b);
/* Free storage and reset; accepts NULL. */
void hf_buf_free(hf_buf *b);
/* Take ownership of the data (caller frees), reset the buffer. */
uint8_t *hf_buf_detach(hf_buf *b, size_t *len);

/* Room for element n of an array v of *cap elements of elem bytes: v itself when n < *cap, else v
 * reallocated to twice its capacity (first elements the first time) with *cap updated. NULL when out
 * of memory, v then unchanged and still owned by the caller. */
void *hf_array_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first);

static inline uint32_t hf_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t hf_le64(const uint8_t *p)
{
	return (uint64_t)hf_le32(p) | (uint64_t)hf_le32(p + 4) << 32;
}
static inline void hf_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void hf_put_le64(uint8_t *p, uint64_t v)
{
	hf_put_le32(p, (uint32_t)v);
	hf_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
