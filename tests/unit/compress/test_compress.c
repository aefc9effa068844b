/* Unit tests for src/compress: round trips at each level kind, and rejection of bad frames. */
#include "compress/compress.h"
#include "test.h"
#include "util/error.h"

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(next_rand() >> 32);
}

static void fill_text(uint8_t *p, size_t n)
{
	static const char *words[] = {"tenant ", "backup ", "restore ", "snapshot ", "clinic ", "INSERT ", "\n"};
	size_t pos = 0;
	while (pos < n) {
		const char *w = words[next_rand() % 7];
		for (size_t k = 0; w[k] && pos < n; k++)
			p[pos++] = (uint8_t)w[k];
	}
}

/* Compress then decompress n bytes; returns the compressed size (0 on failure). */
static size_t round_trip(hf_zctx *z, const uint8_t *src, size_t n)
{
	size_t cap = hf_zstd_bound(n), clen = 0, fsz = 0, ok = 0;
	uint8_t *c = malloc(cap), *back = malloc(n ? n : 1);

	CHECK(c && back);
	if (!c || !back)
		goto done;
	CHECK_OK(hf_zstd_compress(z, c, cap, &clen, src, n));
	CHECK(clen > 0 && clen <= cap);
	CHECK_OK(hf_zstd_frame_size(c, clen, &fsz));
	CHECK(fsz == n);
	memset(back, 0xa5, n);
	CHECK_OK(hf_zstd_decompress(z, back, n, c, clen));
	CHECK(memcmp(back, src, n) == 0);
	ok = clen;
done:
	free(back);
	free(c);
	return ok;
}

static void test_round_trips(void)
{
	const size_t sizes[] = {0, 1, 255, 256, 65791, 65792, 131072, 131073, 1u << 20, 3u << 20};
	const size_t big = 3u << 20;
	uint8_t *text = malloc(big), *rnd = malloc(big);
	hf_zctx *z3 = NULL, *z19 = NULL, *z0 = NULL;

	CHECK(text && rnd);
	if (!text || !rnd)
		goto done;
	fill_text(text, big);
	fill_random(rnd, big);
	CHECK_OK(hf_zctx_new(&z3, 3));
	CHECK_OK(hf_zctx_new(&z19, 19));
	CHECK_OK(hf_zctx_new(&z0, 0));
	if (!z3 || !z19 || !z0)
		goto done;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		size_t t3 = round_trip(z3, text, n);
		size_t r3 = round_trip(z3, rnd, n);
		size_t s0 = round_trip(z0, rnd, n);
		CHECK(t3 && r3 && s0);
		if (n >= 4096)
			CHECK(t3 < n / 3); /* text compresses */
		CHECK(r3 <= hf_zstd_bound(n));
		CHECK(s0 >= n && s0 <= hf_zstd_bound(n)); /* level 0 stores */
	}
	/* A context is reusable and a stronger level is not larger on text. */
	size_t a = round_trip(z3, text, 1u << 20), b = round_trip(z19, text, 1u << 20);
	CHECK(a && b && b <= a);
	/* Level 0 output is a plain zstd frame: a compressing context decodes it. */
	{
		size_t cap = hf_zstd_bound(1000), clen = 0;
		uint8_t *c = malloc(cap), back[1000];
		CHECK_OK(hf_zstd_compress(z0, c, cap, &clen, text, 1000));
		CHECK_OK(hf_zstd_decompress(z3, back, 1000, c, clen));
		CHECK(memcmp(back, text, 1000) == 0);
		free(c);
	}
done:
	hf_zctx_free(z0);
	hf_zctx_free(z19);
	hf_zctx_free(z3);
	free(rnd);
	free(text);
}

static void test_levels(void)
{
	hf_zctx *z = NULL;
	CHECK_RC(hf_zctx_new(&z, -1), HF_ECONFIG);
	CHECK_RC(hf_zctx_new(&z, 20), HF_ECONFIG);
	CHECK(z == NULL);
	hf_zctx_free(NULL);

	/* Too small an output buffer is an error, not an overflow. */
	CHECK_OK(hf_zctx_new(&z, 1));
	uint8_t src[4096], dst[64];
	size_t clen = 12345;
	fill_random(src, sizeof(src));
	CHECK(hf_zstd_compress(z, dst, sizeof(dst), &clen, src, sizeof(src)) < 0);
	CHECK(clen == 12345);
	hf_zctx_free(z);
	z = NULL;
	CHECK_OK(hf_zctx_new(&z, 0));
	CHECK(hf_zstd_compress(z, dst, sizeof(dst), &clen, src, sizeof(src)) < 0);
	hf_zctx_free(z);
}

static void test_bad_frames(void)
{
	enum { N = 200000 };
	uint8_t *src = malloc(N), *back = malloc(N + 1), *c = NULL, *bad = NULL;
	size_t cap = hf_zstd_bound(N), clen = 0, fsz = 0;
	hf_zctx *z = NULL;

	c = malloc(cap + 64);
	bad = malloc(cap + 64);
	CHECK(src && back && c && bad);
	if (!src || !back || !c || !bad)
		goto done;
	fill_text(src, N);
	CHECK_OK(hf_zctx_new(&z, 3));
	if (!z)
		goto done;
	CHECK_OK(hf_zstd_compress(z, c, cap, &clen, src, N));

	/* Wrong expected size, either way. */
	CHECK_RC(hf_zstd_decompress(z, back, N - 1, c, clen), HF_ECORRUPT);
	CHECK_RC(hf_zstd_decompress(z, back, N + 1, c, clen), HF_ECORRUPT);
	CHECK_RC(hf_zstd_decompress(z, back, 0, c, clen), HF_ECORRUPT);

	/* Every truncation is rejected. */
	int accepted = 0;
	for (size_t len = 0; len < clen; len += (len < 64 ? 1 : 97))
		accepted += hf_zstd_decompress(z, back, N, c, len) != HF_ECORRUPT;
	accepted += hf_zstd_decompress(z, back, N, c, clen - 1) != HF_ECORRUPT;
	CHECK(accepted == 0);
	CHECK_RC(hf_zstd_frame_size(c, 3, &fsz), HF_ECORRUPT);

	/* Bad magic, reserved header bit, reserved block type. */
	memcpy(bad, c, clen);
	bad[0] ^= 1;
	CHECK_RC(hf_zstd_decompress(z, back, N, bad, clen), HF_ECORRUPT);
	CHECK_RC(hf_zstd_frame_size(bad, clen, &fsz), HF_ECORRUPT);
	memcpy(bad, c, clen);
	bad[4] |= 0x08;
	CHECK_RC(hf_zstd_decompress(z, back, N, bad, clen), HF_ECORRUPT);

	/* Trailing bytes, and a second frame appended (even an empty one). */
	memcpy(bad, c, clen);
	bad[clen] = 0;
	CHECK_RC(hf_zstd_decompress(z, back, N, bad, clen + 1), HF_ECORRUPT);
	{
		size_t elen = 0;
		CHECK_OK(hf_zstd_compress(z, bad + clen, 64, &elen, src, 0));
		CHECK_RC(hf_zstd_decompress(z, back, N, bad, clen + elen), HF_ECORRUPT);
	}

	/* A skippable frame and a frame without a content size (hand-made, RFC 8878). */
	{
		const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
		const uint8_t no_fcs[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x19, 0x00, 0x00, 'a', 'b', 'c'};
		CHECK_RC(hf_zstd_decompress(z, back, 0, skippable, sizeof(skippable)), HF_ECORRUPT);
		CHECK_RC(hf_zstd_decompress(z, back, 3, no_fcs, sizeof(no_fcs)), HF_ECORRUPT);
		CHECK_RC(hf_zstd_frame_size(no_fcs, sizeof(no_fcs), &fsz), HF_ECORRUPT);
	}

	/* Random garbage. */
	fill_random(bad, 1000);
	CHECK_RC(hf_zstd_decompress(z, back, N, bad, 1000), HF_ECORRUPT);

	/* Flipping any byte never crashes and either fails with HF_ECORRUPT or yields N bytes (the frame has
	 * no checksum: content integrity is the AEAD's job). Header and block-header bytes must fail. */
	int wrong_rc = 0;
	for (size_t i = 0; i < clen; i++) {
		memcpy(bad, c, clen);
		bad[i] ^= 0x5a;
		int rc = hf_zstd_decompress(z, back, N, bad, clen);
		wrong_rc += rc != 0 && rc != HF_ECORRUPT;
		if (i < 6)
			CHECK_RC(rc, HF_ECORRUPT);
	}
	CHECK(wrong_rc == 0);
	/* The context still works after all those errors. */
	CHECK_OK(hf_zstd_decompress(z, back, N, c, clen));
	CHECK(memcmp(back, src, N) == 0);
done:
	hf_zctx_free(z);
	free(bad);
	free(c);
	free(back);
	free(src);
}

int main(void)
{
	test_round_trips();
	test_levels();
	test_bad_frames();
	TEST_MAIN_END();
}
