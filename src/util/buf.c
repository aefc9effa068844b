/* Growable byte buffer. */
#include "util/buf.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hf_buf_reserve(hf_buf *b, size_t extra)
{
	size_t need = b->len + extra, cap;
	uint8_t *p;
	if (need < b->len)
		return hf_error_set(HF_ENOMEM, "buffer size overflow");
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return hf_error_set(HF_ENOMEM, "out of memory allocating %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

void *hf_array_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t ncap;
	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : first;
	if (ncap <= n || ncap > SIZE_MAX / elem)
		return NULL;
	if ((v = realloc(v, ncap * elem)))
		*cap = ncap;
	return v;
}

int hf_buf_append(hf_buf *b, const void *data, size_t len)
{
	int rc;
	if (len == 0)
		return 0;
	if ((rc = hf_buf_reserve(b, len)) < 0)
		return rc;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int hf_buf_append_u8(hf_buf *b, uint8_t v) { return hf_buf_append(b, &v, 1); }

int hf_buf_append_le32(hf_buf *b, uint32_t v)
{
	uint8_t t[4];
	hf_put_le32(t, v);
	return hf_buf_append(b, t, 4);
}

int hf_buf_append_le64(hf_buf *b, uint64_t v)
{
	uint8_t t[8];
	hf_put_le64(t, v);
	return hf_buf_append(b, t, 8);
}

int hf_buf_printf(hf_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	int n, rc;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return hf_error_set(HF_ERROR, "format error");
	}
	if ((rc = hf_buf_reserve(b, (size_t)n + 1)) < 0) {
		va_end(ap2);
		return rc;
	}
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
	return 0;
}

int hf_buf_cstr(hf_buf *b)
{
	int rc = hf_buf_reserve(b, 1);
	if (rc < 0)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

void hf_buf_clear(hf_buf *b) { b->len = 0; }

void hf_buf_free(hf_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint8_t *hf_buf_detach(hf_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
