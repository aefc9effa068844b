/* Wall clock with an override for tests (HOLDFAST_FAKE_NOW or hf_clock_set). */
#ifndef HF_UTIL_CLOCK_H
#define HF_UTIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds since the Unix epoch. */
int64_t hf_clock_now_ns(void);
/* Monotonic seconds, for durations. */
double hf_clock_mono(void);
/* Force the wall clock (0 = real clock again). */
void hf_clock_set(int64_t ns);
/* Format as RFC 3339 UTC with seconds ("2026-11-25T12:00:00Z"); out needs 32 bytes. */
void hf_time_format(char *out, size_t cap, int64_t ns);
/* Parse RFC 3339 ("2026-11-25T12:00:00Z", "+01:00" offsets, optional fraction),
 * "2026-11-25 12:00:00" (UTC) or "2026-11-25" (midnight UTC). 0 or HF_EUSAGE. */
int hf_time_parse(const char *s, int64_t *out_ns);

#endif
