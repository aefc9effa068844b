/* Unit tests for src/chunk: parameter checks, size bounds, independence from how input is fed,
 * boundary stability after an insertion, dependence on the secret gear table, average size. */
#include "chunk/chunker.h"
#include "crypto/crypto.h"
#include "test.h"
#include "util/error.h"

#include <stdint.h>

#define MiB (1024u * 1024)
#define DATA_LEN (32u * MiB)

static const hf_chunker_params small = {16u * 1024, 64u * 1024, 256u * 1024};

typedef struct {
	size_t *len;
	size_t n, cap;
} chunk_list;

static void list_push(chunk_list *l, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->len = realloc(l->len, l->cap * sizeof(*l->len));
		if (!l->len) {
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
	l->len[l->n++] = len;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (uint8_t)(x >> 40);
	}
}

static void make_chunker(hf_chunker *c, const hf_chunker_params *p, uint8_t seed_byte)
{
	uint8_t seed[HF_KEY_BYTES];
	uint64_t gear[256];
	memset(seed, seed_byte, sizeof(seed));
	hf_gear_table(gear, seed);
	hf_chunker_init(c, p, gear);
}

/* Whole input in one buffer, eof set. */
static chunk_list chunk_all(const hf_chunker *c, const uint8_t *data, size_t n)
{
	chunk_list l = {0};
	size_t off = 0;
	while (off < n) {
		size_t len = hf_chunker_next(c, data + off, n - off, 1);
		if (len == 0 || len > n - off) {
			CHECK(len > 0 && len <= n - off);
			break;
		}
		list_push(&l, len);
		off += len;
	}
	return l;
}

/* A caller reading in pieces of random size: unconsumed bytes stay in the window, more are appended,
 * and the chunker is asked again; eof only once the input is exhausted. With `resume`, the scan goes on
 * where the previous call stopped (hf_chunker_resume) instead of starting over. */
static chunk_list chunk_streamed(const hf_chunker *c, const uint8_t *data, size_t n, uint64_t seed, int resume)
{
	chunk_list l = {0};
	hf_chunk_scan sc = {0, 0};
	uint8_t *win = malloc(c->p.max_size + 300000);
	size_t have = 0, fed = 0, zeros = 0;
	uint64_t x = seed | 1;

	if (!win)
		exit(2);
	for (;;) {
		int eof = fed == n;
		size_t len = resume ? hf_chunker_resume(c, &sc, win, have, eof) : hf_chunker_next(c, win, have, eof);
		if (resume && len == 0)
			CHECK(sc.pos <= have);
		if (len > have) {
			CHECK(len <= have);
			break;
		}
		if (len > 0) {
			list_push(&l, len);
			memmove(win, win + len, have - len);
			have -= len;
			continue;
		}
		if (eof)
			break; /* nothing left */
		CHECK(have < c->p.max_size); /* 0 only when a decision needs more input */
		zeros++;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t piece = (size_t)(x % 300000) + 1;
		if (piece > n - fed)
			piece = n - fed;
		memcpy(win + have, data + fed, piece);
		have += piece;
		fed += piece;
	}
	CHECK(zeros > 0);
	free(win);
	return l;
}

static int same_list(const chunk_list *a, const chunk_list *b)
{
	return a->n == b->n && memcmp(a->len, b->len, a->n * sizeof(*a->len)) == 0;
}

static void test_params(void)
{
	hf_chunker_params d = {HF_CHUNK_MIN_DEFAULT, HF_CHUNK_AVG_DEFAULT, HF_CHUNK_MAX_DEFAULT};
	CHECK_OK(hf_chunker_params_check(&d));
	CHECK_OK(hf_chunker_params_check(&small));
	hf_chunker_params edge = {4096, 8192, 64u * MiB};
	CHECK_OK(hf_chunker_params_check(&edge));

	const hf_chunker_params bad[] = {
	    {4095, 8192, 65536},          /* min too small */
	    {16384, 16384, 65536},        /* min == avg */
	    {16384, 65536, 65536},        /* avg == max */
	    {65536, 32768, 131072},       /* min > avg */
	    {16384, 65536 + 4096, 262144}, /* avg not a power of two */
	    {16384, 65536, 64u * MiB + 1}, /* max too large */
	    {0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(hf_chunker_params_check(&bad[i]), HF_ECONFIG);
}

static void test_masks(void)
{
	hf_chunker c;
	make_chunker(&c, &small, 1);
	CHECK(__builtin_popcountll(c.mask_s) == 16 + 2);
	CHECK(__builtin_popcountll(c.mask_l) == 16 - 2);
	/* No bit in the low 16: those depend on too few bytes. */
	CHECK((c.mask_s & 0xffff) == 0 && (c.mask_l & 0xffff) == 0);
}

static void test_bounds_and_determinism(const uint8_t *data)
{
	hf_chunker c;
	make_chunker(&c, &small, 1);
	chunk_list a = chunk_all(&c, data, DATA_LEN), b = chunk_all(&c, data, DATA_LEN);
	size_t total = 0, out_of_bounds = 0;

	CHECK(same_list(&a, &b));
	CHECK(a.n > 100);
	for (size_t i = 0; i < a.n; i++) {
		total += a.len[i];
		if (i + 1 < a.n && (a.len[i] < small.min_size || a.len[i] > small.max_size))
			out_of_bounds++;
	}
	CHECK(out_of_bounds == 0);
	CHECK(total == DATA_LEN);
	CHECK(a.len[a.n - 1] <= small.max_size);

	/* Average on random data within a factor 1.5 of avg_size. */
	double mean = (double)DATA_LEN / (double)a.n;
	printf("%zu chunks, mean %.0f bytes (avg_size %u)\n", a.n, mean, small.avg_size);
	CHECK(mean > small.avg_size / 1.5 && mean < small.avg_size * 1.5);
	/* Normalization: chunk sizes cluster around avg, few hit max. */
	size_t at_max = 0;
	for (size_t i = 0; i < a.n; i++)
		at_max += a.len[i] == small.max_size;
	CHECK(at_max * 20 < a.n);

	/* "Need more input" exactly until the first cut is inside the buffer. */
	size_t first = a.len[0];
	if (first < small.max_size) {
		CHECK(hf_chunker_next(&c, data, first - 1, 0) == 0);
		CHECK(hf_chunker_next(&c, data, first, 0) == first);
		CHECK(hf_chunker_next(&c, data, first - 1, 1) == first - 1);
	}
	CHECK(hf_chunker_next(&c, data, small.min_size, 0) == 0);
	CHECK(hf_chunker_next(&c, data, small.min_size - 1, 1) == small.min_size - 1);
	CHECK(hf_chunker_next(&c, data, 0, 1) == 0);
	size_t at = hf_chunker_next(&c, data, small.max_size, 0);
	CHECK(at > small.min_size && at <= small.max_size);
	free(a.len);
	free(b.len);
}

static void test_constant_input(void)
{
	/* Zeros: the hash is constant after 64 bytes, so every chunk has the same length, within bounds. */
	uint8_t *zeros = calloc(4 * MiB, 1);
	hf_chunker c;
	make_chunker(&c, &small, 1);
	chunk_list l = chunk_all(&c, zeros, 4 * MiB);
	CHECK(l.n >= 2);
	for (size_t i = 0; i + 1 < l.n; i++)
		CHECK(l.len[i] == l.len[0] && l.len[i] >= small.min_size && l.len[i] <= small.max_size);
	free(l.len);
	free(zeros);
}

static void test_no_cut(const uint8_t *data)
{
	/* With every gear entry 1 << 63 the hash is always 1 << 63: no content cut ever, so each decision
	 * is "max_size" or "need more". */
	uint64_t gear[256];
	hf_chunker c;
	size_t max = small.max_size;
	for (int i = 0; i < 256; i++)
		gear[i] = UINT64_C(1) << 63;
	hf_chunker_init(&c, &small, gear);
	CHECK(hf_chunker_next(&c, data, max - 1, 0) == 0);
	CHECK(hf_chunker_next(&c, data, max, 0) == max);
	CHECK(hf_chunker_next(&c, data, max + 1000, 0) == max);
	CHECK(hf_chunker_next(&c, data, max - 1, 1) == max - 1);
	CHECK(hf_chunker_next(&c, data, max + 1000, 1) == max);
	CHECK(hf_chunker_next(&c, data, small.avg_size + 1, 1) == small.avg_size + 1);
}

static void test_streamed_equals_whole(const uint8_t *data)
{
	hf_chunker c;
	make_chunker(&c, &small, 1);
	size_t n = 8 * MiB;
	chunk_list whole = chunk_all(&c, data, n);
	for (uint64_t seed = 1; seed <= 6; seed++) {
		chunk_list s = chunk_streamed(&c, data, n, seed * 7919, seed > 3);
		CHECK(same_list(&whole, &s));
		free(s.len);
	}
	/* Also with the default parameters, where chunks exceed most pieces. */
	hf_chunker_params d = {HF_CHUNK_MIN_DEFAULT, HF_CHUNK_AVG_DEFAULT, HF_CHUNK_MAX_DEFAULT};
	make_chunker(&c, &d, 2);
	chunk_list whole2 = chunk_all(&c, data, 16 * MiB), s2 = chunk_streamed(&c, data, 16 * MiB, 42, 0);
	chunk_list r2 = chunk_streamed(&c, data, 16 * MiB, 43, 1);
	CHECK(same_list(&whole2, &s2));
	CHECK(same_list(&whole2, &r2));
	free(whole2.len);
	free(s2.len);
	free(r2.len);
	free(whole.len);
}

/* Pausing the scan a few bytes before a cut must not move the cut: the rolling hash carries over. */
static void test_resume_near_cut(const uint8_t *data)
{
	hf_chunker c;
	hf_chunker_params d = {HF_CHUNK_MIN_DEFAULT, HF_CHUNK_AVG_DEFAULT, HF_CHUNK_MAX_DEFAULT};
	const size_t back[] = {1, 2, 7, 33, 63, 64, 65, 4096};
	size_t off = 0, checked = 0;
	make_chunker(&c, &d, 3);
	for (int k = 0; k < 12 && off + d.max_size <= DATA_LEN; k++) {
		size_t cut = hf_chunker_next(&c, data + off, d.max_size, 0);
		for (size_t b = 0; b < sizeof(back) / sizeof(back[0]); b++) {
			hf_chunk_scan sc = {0, 0};
			if (cut <= back[b] + d.min_size || cut == d.max_size)
				continue;
			CHECK(hf_chunker_resume(&c, &sc, data + off, cut - back[b], 0) == 0);
			CHECK(sc.pos == cut - back[b]);
			CHECK(hf_chunker_resume(&c, &sc, data + off, d.max_size, 0) == cut);
			CHECK(sc.pos == 0);
			checked++;
		}
		off += cut;
	}
	CHECK(checked > 40);
}

/* Fraction of chunks of `mod` (by content position) also present in `orig`. Offsets in `mod` past
 * `at` are mapped back by `shift` bytes; chunks are identified by (original start, length). */
static double shared_fraction(const chunk_list *orig, const chunk_list *mod, size_t at, long shift)
{
	size_t i = 0, j = 0, oi = 0, mj = 0, same = 0;
	while (i < orig->n && j < mod->n) {
		if (mj < at + (size_t)(shift > 0 ? shift : 0)) { /* before or across the edit: not comparable */
			mj += mod->len[j++];
			continue;
		}
		long mstart = (long)mj - shift;
		if ((long)oi < mstart) {
			oi += orig->len[i++];
		} else if ((long)oi > mstart) {
			mj += mod->len[j++];
		} else {
			same += orig->len[i] == mod->len[j];
			oi += orig->len[i++];
			mj += mod->len[j++];
		}
	}
	return (double)same / (double)mod->n;
}

static void test_boundary_stability(const uint8_t *data)
{
	hf_chunker c;
	uint8_t *mod = malloc(DATA_LEN + 16);
	const size_t at = 5000; /* inside the first chunk */
	const uint8_t ins[7] = {'h', 'o', 'l', 'd', 'f', 'a', 's'};

	make_chunker(&c, &small, 1);
	chunk_list orig = chunk_all(&c, data, DATA_LEN);

	memcpy(mod, data, at);
	memcpy(mod + at, ins, sizeof(ins));
	memcpy(mod + at + sizeof(ins), data + at, DATA_LEN - at);
	chunk_list l1 = chunk_all(&c, mod, DATA_LEN + sizeof(ins));
	double f1 = shared_fraction(&orig, &l1, at, (long)sizeof(ins));
	printf("insert 7 bytes at %zu: %.1f%% of %zu chunks unchanged\n", at, 100 * f1, l1.n);
	CHECK(f1 >= 0.8);

	/* Insertion in the middle: the first half is untouched, the second realigns. */
	const size_t mid = DATA_LEN / 2 + 12345;
	memcpy(mod, data, mid);
	memcpy(mod + mid, ins, 3);
	memcpy(mod + mid + 3, data + mid, DATA_LEN - mid);
	chunk_list l2 = chunk_all(&c, mod, DATA_LEN + 3);
	size_t prefix_same = 0;
	while (prefix_same < l2.n && prefix_same < orig.n && l2.len[prefix_same] == orig.len[prefix_same])
		prefix_same++;
	CHECK(prefix_same * 3 > orig.n); /* the chunks wholly before the edit are kept */
	/* The edit is an insertion, so compare the tail with the shift applied. */
	size_t ok_tail = 0, k = l2.n, m = orig.n;
	while (k > 0 && m > 0 && l2.len[k - 1] == orig.len[m - 1])
		ok_tail++, k--, m--;
	printf("insert 3 bytes at %zu: %zu + %zu of %zu chunks unchanged\n", mid, prefix_same, ok_tail, l2.n);
	CHECK(prefix_same + ok_tail + 3 >= l2.n * 95 / 100);

	/* Deleting bytes near the start. */
	memcpy(mod, data, at);
	memcpy(mod + at, data + at + 11, DATA_LEN - at - 11);
	chunk_list l3 = chunk_all(&c, mod, DATA_LEN - 11);
	double f3 = shared_fraction(&orig, &l3, at, -11);
	printf("delete 11 bytes at %zu: %.1f%% of %zu chunks unchanged\n", at, 100 * f3, l3.n);
	CHECK(f3 >= 0.8);

	free(l3.len);
	free(l2.len);
	free(l1.len);
	free(orig.len);
	free(mod);
}

static void test_gear_dependence(const uint8_t *data)
{
	hf_chunker c1, c2;
	make_chunker(&c1, &small, 1);
	make_chunker(&c2, &small, 2);
	chunk_list a = chunk_all(&c1, data, 4 * MiB), b = chunk_all(&c2, data, 4 * MiB);
	CHECK(!same_list(&a, &b));
	/* Boundaries (cumulative offsets) barely coincide: per-tenant tables hide content structure. */
	size_t common = 0, i = 0, j = 0, oa = 0, ob = 0;
	while (i < a.n && j < b.n) {
		if (oa + a.len[i] == ob + b.len[j])
			common++, oa += a.len[i++], ob += b.len[j++];
		else if (oa + a.len[i] < ob + b.len[j])
			oa += a.len[i++];
		else
			ob += b.len[j++];
	}
	CHECK(common <= 2); /* the final boundary (end of input) is always shared */
	free(a.len);
	free(b.len);
}

int main(void)
{
	uint8_t *data = malloc(DATA_LEN);
	if (!data)
		return 2;
	CHECK_OK(hf_crypto_init());
	fill_random(data, DATA_LEN, 0x2545f4914f6cdd1dULL);
	test_params();
	test_masks();
	test_bounds_and_determinism(data);
	test_constant_input();
	test_no_cut(data);
	test_streamed_equals_whole(data);
	test_resume_near_cut(data);
	test_boundary_stability(data);
	test_gear_dependence(data);
	free(data);
	TEST_MAIN_END();
}
