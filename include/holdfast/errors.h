/* holdfast public error codes and the thread-local error message. */
#ifndef HOLDFAST_ERRORS_H
#define HOLDFAST_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every function that can fail returns 0 or one of these (fixed values, never renumbered). */
typedef enum hf_error_code {
	HF_OK = 0,
	HF_ERROR = -1,        /* unexpected failure */
	HF_ENOTFOUND = -2,    /* object, tenant, snapshot, key ... does not exist */
	HF_EEXISTS = -3,      /* object already exists */
	HF_EAUTH = -4,        /* wrong passphrase/key, or a key used on foreign data */
	HF_ECORRUPT = -5,     /* integrity check failed, malformed object */
	HF_EIO = -6,          /* local I/O failure */
	HF_ENOSPC = -7,       /* no space left at the target */
	HF_ECONFIG = -8,      /* malformed or inconsistent configuration */
	HF_EUSAGE = -9,       /* invalid arguments */
	HF_ELOCKED = -10,     /* another run holds the lock */
	HF_ENET = -11,        /* network / remote storage failure after retries */
	HF_EUNSUPPORTED = -12,/* feature not supported by this backend/format */
	HF_ENOMEM = -13,      /* out of memory */
	HF_EVERIFY = -14,     /* verification ran and found a problem */
	HF_ESOURCE = -15,     /* source (database, bucket) failure */
	HF_EINTERRUPTED = -16 /* interrupted by a signal */
} hf_error_code;

/* The message of the last error raised on this thread ("" when none). */
const char *hf_error_message(void);
/* Optional hint for the last error (NULL when none). */
const char *hf_error_hint(void);
/* A short name for a code, e.g. "corrupt". */
const char *hf_error_name(int code);

#ifdef __cplusplus
}
#endif
#endif
