/* libsodium setup, guarded memory for secrets, process hardening, randomness and base64.
 * The primitives themselves (KDF, AEAD, MAC, hashes, signatures) live in primitives.c. */
#include "crypto/crypto.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <sodium.h>

int hf_crypto_init(void)
{
	/* sodium_init() is itself thread-safe and returns 1 when already initialised. */
	if (sodium_init() < 0)
		return hf_error_set(HF_ERROR, "unable to initialise libsodium");
	return 0;
}

void hf_crypto_harden_process(void)
{
	struct rlimit rl = {0, 0};
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		hf_log_debug("unable to disable core dumps: %s", strerror(errno));
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		hf_log_debug("unable to mark the process non-dumpable: %s", strerror(errno));
#endif
}

/* sodium_malloc() mlocks the region and, where libsodium was built with madvise support, excludes it
 * from core dumps; advise again so the exclusion does not depend on how libsodium was built. The
 * pages around the user pointer up to the guard page belong to this allocation. */
static void exclude_from_dumps(void *p, size_t n)
{
#if defined(MADV_DONTDUMP)
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		return;
	uintptr_t lo = (uintptr_t)p & ~((uintptr_t)page - 1);
	uintptr_t hi = ((uintptr_t)p + n + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTDUMP);
#else
	(void)p;
	(void)n;
#endif
}

void *hf_secure_alloc(size_t n)
{
	void *p = sodium_malloc(n);
	if (!p)
		return NULL;
	exclude_from_dumps(p, n);
	return p;
}

void hf_secure_free(void *p)
{
	/* sodium_free() wipes the region, unlocks it and accepts NULL. */
	sodium_free(p);
}

void hf_memzero(void *p, size_t n)
{
	sodium_memzero(p, n);
}

int hf_memcmp_ct(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0 ? 0 : 1;
}

void hf_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

size_t hf_base64_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

void hf_base64_encode(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, hf_base64_len(n), in, n, sodium_base64_VARIANT_ORIGINAL);
}

int hf_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in)
{
	size_t len = 0;

	/* The value may be a key: never quote it in the message. With no end pointer libsodium also
	 * rejects trailing characters. */
	errno = 0;
	if (sodium_base642bin(out, cap, in, strlen(in), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		if (errno == ERANGE)
			return hf_error_set(HF_ECORRUPT, "base64 value too long (more than %zu bytes)", cap);
		return hf_error_set(HF_ECORRUPT, "invalid base64 value");
	}
	*outlen = len;
	return 0;
}
