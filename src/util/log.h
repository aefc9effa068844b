/* Leveled logging to stderr; never pass secrets to these functions. */
#ifndef HF_UTIL_LOG_H
#define HF_UTIL_LOG_H

#include "util/error.h"

typedef enum { HF_LOG_ERROR = 0, HF_LOG_WARN = 1, HF_LOG_INFO = 2, HF_LOG_DEBUG = 3 } hf_log_level;

void hf_log_set_level(hf_log_level level);
hf_log_level hf_log_get_level(void);
void hf_log(hf_log_level level, const char *fmt, ...) HF_PRINTF(2, 3);

#define hf_log_error(...) hf_log(HF_LOG_ERROR, __VA_ARGS__)
#define hf_log_warn(...) hf_log(HF_LOG_WARN, __VA_ARGS__)
#define hf_log_info(...) hf_log(HF_LOG_INFO, __VA_ARGS__)
#define hf_log_debug(...) hf_log(HF_LOG_DEBUG, __VA_ARGS__)

#endif
