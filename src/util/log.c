/* Leveled logging to stderr. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static hf_log_level current = HF_LOG_WARN;

void hf_log_set_level(hf_log_level level) { current = level; }
hf_log_level hf_log_get_level(void) { return current; }

void hf_log(hf_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	char line[2048];
	va_list ap;
	if (level > current)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "holdfast: %s: %s\n", names[level], line);
}
