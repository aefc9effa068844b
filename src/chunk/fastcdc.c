/* Normalized FastCDC: gear rolling hash, skip of the first min_size bytes, a stricter mask before the
 * average size and a looser one after it. Chunk boundaries are part of what dedups: keep them stable. */
#include "chunk/chunker.h"
#include "util/error.h"

#define MIN_FLOOR (4u * 1024)
#define MAX_CEIL (64u * 1024 * 1024)
/* Mask bits are spread over the top 48 bits of the hash: bit k of h = sum(gear[b_j] << (i - j))
 * depends on the last k+1 bytes only, so low bits would make the effective window tiny. */
#define MASK_SPAN 48

int hf_chunker_params_check(const hf_chunker_params *p)
{
	if (p->min_size < MIN_FLOOR)
		return hf_error_set(HF_ECONFIG, "invalid chunker parameters: minimum size %u below %u", p->min_size,
				    MIN_FLOOR);
	if (p->max_size > MAX_CEIL)
		return hf_error_set(HF_ECONFIG, "invalid chunker parameters: maximum size %u above %u", p->max_size,
				    MAX_CEIL);
	if (!(p->min_size < p->avg_size && p->avg_size < p->max_size))
		return hf_error_set(HF_ECONFIG,
				    "invalid chunker parameters: expected minimum < average < maximum, got %u/%u/%u",
				    p->min_size, p->avg_size, p->max_size);
	if (p->avg_size & (p->avg_size - 1))
		return hf_error_set(HF_ECONFIG, "invalid chunker parameters: average size %u not a power of two",
				    p->avg_size);
	return 0;
}

static unsigned log2_u32(uint32_t v)
{
	unsigned r = 0;
	while (v >>= 1)
		r++;
	return r;
}

/* `bits` one-bits spread evenly from bit 63 downwards over MASK_SPAN positions (bits <= MASK_SPAN). */
static uint64_t spread_mask(unsigned bits)
{
	uint64_t m = 0;
	for (unsigned j = 0; j < bits; j++)
		m |= UINT64_C(1) << (63 - j * MASK_SPAN / bits);
	return m;
}

void hf_chunker_init(hf_chunker *c, const hf_chunker_params *p, const uint64_t gear[256])
{
	unsigned bits = log2_u32(p->avg_size);

	c->p = *p;
	/* Normalization level 2: a cut before avg_size is 4x less likely than 1/avg, after it 4x more. */
	c->mask_s = spread_mask(bits + 2);
	c->mask_l = spread_mask(bits > 2 ? bits - 2 : 1);
	for (int i = 0; i < 256; i++)
		c->gear[i] = gear[i];
}

/* Roll the hash over data[i..end); return the cut length (position after the matching byte) or 0.
 * Unrolled by four: the loop-carried chain is one shift-add per byte, the rest overlaps. */
static inline size_t scan(const uint64_t *restrict gear, const uint8_t *restrict data, size_t i, size_t end,
			  uint64_t mask, uint64_t *hp)
{
	uint64_t h = *hp;

#define HF_STEP(k)                                            \
	do {                                                  \
		h = (h << 1) + gear[data[i + (k)]];           \
		if (__builtin_expect(!(h & mask), 0)) {       \
			*hp = h;                              \
			return i + (k) + 1;                   \
		}                                             \
	} while (0)
	for (; i + 4 <= end; i += 4) {
		HF_STEP(0);
		HF_STEP(1);
		HF_STEP(2);
		HF_STEP(3);
	}
	for (; i < end; i++)
		HF_STEP(0);
#undef HF_STEP
	*hp = h;
	return 0;
}

size_t hf_chunker_resume(const hf_chunker *c, hf_chunk_scan *s, const uint8_t *data, size_t n, int eof)
{
	size_t min = c->p.min_size, avg = c->p.avg_size, max = c->p.max_size;
	size_t end = n < max ? n : max, cut = 0;

	/* The hash starts at min_size, so each decision depends only on bytes of this chunk. */
	if (end <= min)
		return eof ? end : 0;
	if (s->pos < min) {
		s->pos = min;
		s->h = 0;
	}
	if (s->pos < avg) {
		size_t stop = end < avg ? end : avg;
		if (!(cut = scan(c->gear, data, s->pos, stop, c->mask_s, &s->h)))
			s->pos = stop;
	}
	if (!cut && s->pos >= avg && end > s->pos && !(cut = scan(c->gear, data, s->pos, end, c->mask_l, &s->h)))
		s->pos = end;
	if (!cut && (n >= max || eof))
		cut = end;
	if (cut)
		s->pos = 0;
	return cut;
}

size_t hf_chunker_next(const hf_chunker *c, const uint8_t *data, size_t n, int eof)
{
	hf_chunk_scan s = {0, 0};
	return hf_chunker_resume(c, &s, data, n, eof);
}
