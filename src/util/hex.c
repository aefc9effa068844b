/* Hex encoding of ids. */
#include "util/hex.h"
#include "util/error.h"

#include <string.h>

void hf_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hf_hex_decode(uint8_t *out, size_t n, const char *in)
{
	if (strlen(in) != 2 * n)
		return hf_error_set(HF_ECORRUPT, "invalid hex id '%.80s': expected %zu characters", in, 2 * n);
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return hf_error_set(HF_ECORRUPT, "invalid hex id '%.80s'", in);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hf_hex_valid(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}
