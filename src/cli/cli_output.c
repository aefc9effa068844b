/* Human-readable sizes and times, and the terminal progress line. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_human_bytes(char *out, size_t cap, uint64_t n)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

void cli_time(char *out, size_t cap, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int progress_shown;

void cli_progress(const char *phase, uint64_t done_bytes, uint64_t total_bytes, uint64_t items, void *payload)
{
	char b[32];
	(void)payload;
	(void)total_bytes;
	cli_human_bytes(b, sizeof(b), done_bytes);
	fprintf(stderr, "\r%s: %s, %llu items   ", phase, b, (unsigned long long)items);
	progress_shown = 1;
}

void cli_progress_end(cli *c)
{
	(void)c;
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = 0;
}

int cli_print_json(int rc, char **doc)
{
	if (rc < 0)
		return cli_fail(rc, NULL);
	puts(*doc);
	free(*doc);
	*doc = NULL;
	return 0;
}
