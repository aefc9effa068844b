/* Hex encoding of ids. */
#ifndef HF_UTIL_HEX_H
#define HF_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex chars plus NUL into out. */
void hf_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decodes exactly 2*n hex chars; returns 0 or HF_ECORRUPT (with a message naming what). */
int hf_hex_decode(uint8_t *out, size_t n, const char *in);
/* 1 if s is exactly n lowercase hex chars. */
int hf_hex_valid(const char *s, size_t n);

#endif
