/* Wall clock with an override for tests, RFC 3339 formatting and parsing. */
#define _GNU_SOURCE
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t forced;

void hf_clock_set(int64_t ns) { forced = ns; }

int64_t hf_clock_now_ns(void)
{
	struct timespec ts;
	const char *env;
	if (forced)
		return forced;
	if ((env = getenv("HOLDFAST_FAKE_NOW")) && *env) {
		int64_t ns;
		if (hf_time_parse(env, &ns) == 0)
			return ns;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double hf_clock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hf_time_format(char *out, size_t cap, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int hf_time_parse(const char *s, int64_t *out_ns)
{
	struct tm tm;
	const char *p;
	long frac_ns = 0, off = 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		goto bad;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			goto bad;
		if (*p == '.') {
			long scale = 100000000;
			for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
				frac_ns += (*p - '0') * scale;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			goto bad;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	}
	if (*p)
		goto bad;
	*out_ns = ((int64_t)timegm(&tm) - off) * 1000000000 + frac_ns;
	return 0;
bad:
	hf_error_set(HF_EUSAGE, "invalid time '%s'", s);
	hf_error_set_hint("use RFC 3339, e.g. 2026-11-25T12:00:00Z");
	return HF_EUSAGE;
}
