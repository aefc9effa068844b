/* Thread-local error message storage and code names. */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static _Thread_local char msg[MSG_MAX];
static _Thread_local char hint[MSG_MAX];

const char *hf_error_message(void) { return msg; }
const char *hf_error_hint(void) { return hint[0] ? hint : NULL; }

void hf_error_clear(void)
{
	msg[0] = '\0';
	hint[0] = '\0';
}

_Static_assert(sizeof(((hf_error_saved *)0)->msg) == MSG_MAX && sizeof(((hf_error_saved *)0)->hint) == MSG_MAX,
	       "hf_error_saved holds a whole message and hint");

void hf_error_save(hf_error_saved *s)
{
	memcpy(s->msg, msg, sizeof(s->msg));
	memcpy(s->hint, hint, sizeof(s->hint));
}

void hf_error_restore(const hf_error_saved *s)
{
	memcpy(msg, s->msg, sizeof(msg));
	memcpy(hint, s->hint, sizeof(hint));
}

int hf_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hint[0] = '\0';
	return code;
}

/* Append ": tail" to msg, truncating at the buffer's end. */
static void append_tail(const char *tail)
{
	size_t l = strlen(msg), t = strlen(tail);
	if (l + 2 >= sizeof(msg))
		return;
	msg[l++] = ':';
	msg[l++] = ' ';
	if (t > sizeof(msg) - 1 - l)
		t = sizeof(msg) - 1 - l;
	memcpy(msg + l, tail, t);
	msg[l + t] = '\0';
}

int hf_error_set_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	append_tail(strerror(errnum));
	hint[0] = '\0';
	return code;
}

int hf_error_wrap(int code, const char *fmt, ...)
{
	char prev[MSG_MAX];
	va_list ap;
	memcpy(prev, msg, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prev[0])
		append_tail(prev);
	return code;
}

void hf_error_set_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hint, sizeof(hint), fmt, ap);
	va_end(ap);
}

int hf_error_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return HF_ENOSPC;
	case ENOENT:
		return HF_ENOTFOUND;
	case EEXIST:
		return HF_EEXISTS;
	case ENOMEM:
		return HF_ENOMEM;
	case EINTR:
		return HF_EINTERRUPTED;
	default:
		return HF_EIO;
	}
}

const char *hf_error_name(int code)
{
	switch (code) {
	case HF_OK: return "ok";
	case HF_ENOTFOUND: return "not found";
	case HF_EEXISTS: return "exists";
	case HF_EAUTH: return "authentication failed";
	case HF_ECORRUPT: return "corrupt";
	case HF_EIO: return "i/o error";
	case HF_ENOSPC: return "no space";
	case HF_ECONFIG: return "configuration error";
	case HF_EUSAGE: return "usage error";
	case HF_ELOCKED: return "locked";
	case HF_ENET: return "network error";
	case HF_EUNSUPPORTED: return "unsupported";
	case HF_ENOMEM: return "out of memory";
	case HF_EVERIFY: return "verification failed";
	case HF_ESOURCE: return "source error";
	case HF_EINTERRUPTED: return "interrupted";
	default: return "error";
	}
}
