/* Minimal unit-test harness: CHECK macros that report file:line and count failures. */
#ifndef HF_TEST_H
#define HF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hf_test_failures;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			hf_test_failures++;                                                  \
		}                                                                            \
	} while (0)

#define CHECK_OK(expr)                                                                          \
	do {                                                                                    \
		int hf_rc_ = (expr);                                                            \
		if (hf_rc_ != 0) {                                                              \
			fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, \
				hf_rc_, hf_error_message());                                    \
			hf_test_failures++;                                                     \
		}                                                                               \
	} while (0)

#define CHECK_RC(expr, want)                                                                        \
	do {                                                                                        \
		int hf_rc_ = (expr);                                                                \
		if (hf_rc_ != (want)) {                                                             \
			fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n", __FILE__, __LINE__, \
				#expr, hf_rc_, (int)(want), hf_error_message());                    \
			hf_test_failures++;                                                         \
		}                                                                                   \
	} while (0)

#define CHECK_STR(a, b)                                                                               \
	do {                                                                                          \
		const char *hf_a_ = (a), *hf_b_ = (b);                                                \
		if (!hf_a_ || !hf_b_ || strcmp(hf_a_, hf_b_) != 0) {                                  \
			fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, hf_a_ ? hf_a_ : "(null)", \
				hf_b_ ? hf_b_ : "(null)");                                            \
			hf_test_failures++;                                                           \
		}                                                                                     \
	} while (0)

#define TEST_MAIN_END()                                                  \
	do {                                                             \
		if (hf_test_failures)                                    \
			fprintf(stderr, "%d check(s) failed\n", hf_test_failures); \
		return hf_test_failures ? 1 : 0;                         \
	} while (0)

#endif
