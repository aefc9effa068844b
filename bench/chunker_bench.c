/* Throughput of the hot-path stages over 256 MiB: chunking, keyed BLAKE2b, zstd-3 and AEAD. Not a test.
 * Build and run from the repository root:
 *   gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc -Iinclude bench/chunker_bench.c \
 *       src/chunk/fastcdc.c src/crypto/crypto.c src/crypto/primitives.c src/compress/zst.c \
 *       src/util/error.c src/util/log.c src/util/clock.c src/util/buf.c \
 *       $(pkg-config --cflags --libs libsodium libzstd) -o /tmp/chunker_bench && /tmp/chunker_bench */
#include "chunk/chunker.h"
#include "compress/compress.h"
#include "crypto/crypto.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL (256u * 1024 * 1024)
#define PIECE (1024u * 1024) /* hashing, compression and encryption work chunk-sized pieces */

static void report(const char *what, double secs, size_t bytes)
{
	printf("%-34s %8.0f MB/s  (%.2f s)\n", what, (double)bytes / 1e6 / secs, secs);
}

/* Word salad with digits and punctuation: roughly as compressible as SQL dumps and config files. */
static void fill_text(uint8_t *buf, size_t n)
{
	static const char *words[] = {"patient", "tenant", "INSERT", "INTO", "VALUES", "clinic", "2024-05-01",
				      "NULL", "encounter", "id", "status", "active", "true", "false", "name",
				      "'Smith'", "'Jones'", "appointment", "provider", "note", "{", "}", "=",
				      "SELECT", "FROM", "WHERE", "dose", "mg", "\n", ",", "(", ")"};
	size_t nw = sizeof(words) / sizeof(words[0]), pos = 0;
	uint32_t x = 2463534242u;
	while (pos < n) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		const char *w = words[x % nw];
		size_t l = strlen(w);
		if (x & 0x100) {
			char num[16];
			l = (size_t)snprintf(num, sizeof(num), "%u ", (x >> 9) % 100000);
			w = num;
			for (size_t k = 0; k < l && pos < n; k++)
				buf[pos++] = (uint8_t)w[k];
			continue;
		}
		for (size_t k = 0; k < l && pos < n; k++)
			buf[pos++] = (uint8_t)w[k];
		if (pos < n)
			buf[pos++] = ' ';
	}
}

static int bench_chunker(const uint8_t *data)
{
	uint8_t seed[HF_KEY_BYTES] = {1};
	uint64_t gear[256];
	hf_chunker_params p = {HF_CHUNK_MIN_DEFAULT, HF_CHUNK_AVG_DEFAULT, HF_CHUNK_MAX_DEFAULT};
	hf_chunker c;
	size_t off = 0, count = 0;

	hf_gear_table(gear, seed);
	hf_chunker_init(&c, &p, gear);
	/* Four passes: one takes well under a second. */
	double t0 = hf_clock_mono();
	for (int pass = 0; pass < 4; pass++) {
		for (off = 0, count = 0; off < TOTAL; count++)
			off += hf_chunker_next(&c, data + off, TOTAL - off, 1);
	}
	double t = hf_clock_mono() - t0;
	report("fastcdc 256K/1M/4M (random, 4x)", t, 4 * (size_t)TOTAL);
	printf("%-34s %8zu chunks, mean %.0f KiB\n", "", count, (double)TOTAL / (double)count / 1024);
	return 0;
}

static int bench_mac(const uint8_t *data)
{
	uint8_t key[HF_KEY_BYTES] = {2}, id[HF_ID_BYTES];
	unsigned sink = 0;
	double t0 = hf_clock_mono();
	for (size_t off = 0; off < TOTAL; off += PIECE) {
		hf_mac(id, data + off, PIECE, key);
		sink += id[0];
	}
	report("keyed blake2b-256 (1 MiB pieces)", hf_clock_mono() - t0, TOTAL);
	return (int)(sink & 0);
}

static int bench_zstd(const uint8_t *text)
{
	hf_zctx *z = NULL;
	uint8_t *dst = NULL, *back = NULL;
	size_t cap = hf_zstd_bound(PIECE), out = 0, total_out = 0;
	int err = 0;

	if ((err = hf_zctx_new(&z, 3)) < 0)
		goto done;
	dst = malloc(cap);
	back = malloc(PIECE);
	if (!dst || !back) {
		err = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	double t0 = hf_clock_mono();
	for (size_t off = 0; off < TOTAL; off += PIECE) {
		if ((err = hf_zstd_compress(z, dst, cap, &out, text + off, PIECE)) < 0)
			goto done;
		total_out += out;
	}
	report("zstd -3 compress (text-like)", hf_clock_mono() - t0, TOTAL);
	printf("%-34s %8.2f ratio\n", "", (double)TOTAL / (double)total_out);
	/* Decompress the first piece TOTAL/PIECE times. */
	if ((err = hf_zstd_compress(z, dst, cap, &out, text, PIECE)) < 0)
		goto done;
	t0 = hf_clock_mono();
	for (size_t off = 0; off < TOTAL; off += PIECE)
		if ((err = hf_zstd_decompress(z, back, PIECE, dst, out)) < 0)
			goto done;
	report("zstd decompress (text-like)", hf_clock_mono() - t0, TOTAL);
done:
	free(back);
	free(dst);
	hf_zctx_free(z);
	return err;
}

static int bench_aead(const uint8_t *data)
{
	uint8_t key[HF_KEY_BYTES] = {3}, ad[HF_ID_BYTES] = {4};
	uint8_t *dst = malloc(PIECE + HF_AEAD_OVERHEAD);
	if (!dst)
		return hf_error_set(HF_ENOMEM, "out of memory");
	double t0 = hf_clock_mono();
	for (size_t off = 0; off < TOTAL; off += PIECE)
		hf_aead_seal(dst, data + off, PIECE, ad, sizeof(ad), key);
	report("xchacha20-poly1305 seal (1 MiB)", hf_clock_mono() - t0, TOTAL);
	free(dst);
	return 0;
}

int main(void)
{
	uint8_t *data = NULL, *text = NULL;
	uint8_t seed[HF_KEY_BYTES] = {9};
	int err = 0;

	if ((err = hf_crypto_init()) < 0)
		goto done;
	data = malloc(TOTAL);
	text = malloc(TOTAL);
	if (!data || !text) {
		err = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	/* Deterministic pseudo-random bytes: the gear table generator doubles as a keystream. */
	for (size_t off = 0; off < TOTAL; off += 2048) {
		seed[0] = (uint8_t)(off >> 11), seed[1] = (uint8_t)(off >> 19), seed[2] = (uint8_t)(off >> 27);
		hf_gear_table((uint64_t *)(void *)(data + off), seed);
	}
	fill_text(text, TOTAL);
	if ((err = bench_chunker(data)) < 0 || (err = bench_mac(data)) < 0 || (err = bench_zstd(text)) < 0 ||
	    (err = bench_aead(data)) < 0)
		goto done;
done:
	if (err < 0)
		fprintf(stderr, "chunker_bench: %s\n", hf_error_message());
	free(text);
	free(data);
	return err < 0 ? 1 : 0;
}
