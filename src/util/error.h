/* Raising errors: a code plus a one-line message kept per thread. */
#ifndef HF_UTIL_ERROR_H
#define HF_UTIL_ERROR_H

#include "holdfast/errors.h"

#if defined(__GNUC__)
#define HF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HF_PRINTF(a, b)
#endif

/* Set the thread's error message and return code (so: return hf_error_set(...)). */
int hf_error_set(int code, const char *fmt, ...) HF_PRINTF(2, 3);
/* Same, appending ": strerror(errnum)". */
int hf_error_set_errno(int code, int errnum, const char *fmt, ...) HF_PRINTF(3, 4);
/* Prefix the current message with context: "ctx: <previous message>"; returns code. */
int hf_error_wrap(int code, const char *fmt, ...) HF_PRINTF(2, 3);
/* Attach a hint to the current error. */
void hf_error_set_hint(const char *fmt, ...) HF_PRINTF(1, 2);
void hf_error_clear(void);
/* Keep the thread's error across cleanup that may itself set (and recover from) errors, so the
 * caller still reports the first cause. */
typedef struct hf_error_saved {
	char msg[1024], hint[1024];
} hf_error_saved;
void hf_error_save(hf_error_saved *s);
void hf_error_restore(const hf_error_saved *s);
/* Map errno to a code (ENOSPC -> HF_ENOSPC, ENOENT -> HF_ENOTFOUND, else HF_EIO). */
int hf_error_from_errno(int errnum);

#endif
