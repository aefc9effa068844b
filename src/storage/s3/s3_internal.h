/* Internals shared by the S3 driver's files: the driver struct, one HTTP request with retries
 * (s3_request.c), query/URI encoding, a tiny XML reader (s3_xml.c), credentials (s3_cred.c), MD5.
 * No libcurl types here: only the .c files of this folder include <curl/curl.h>. */
#ifndef HF_STORAGE_S3_INTERNAL_H
#define HF_STORAGE_S3_INTERNAL_H

#include "storage/s3/s3.h"
#include "storage/storage.h"
#include "util/buf.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define HF_S3_MULTIPART_THRESHOLD (64u * 1024 * 1024) /* larger objects go up in parts */
#define HF_S3_PART_SIZE (16u * 1024 * 1024)

typedef struct hf_s3 {
	hf_storage base;
	char *bucket;
	char *prefix;       /* "" or "a/b/": prepended to every key */
	char *endpoint;     /* "scheme://host[:port]" without a trailing '/' */
	char *region;
	char *sigv4;        /* "aws:amz:<region>:s3" */
	char *access_key;
	char *secret_key;   /* hf_secure_alloc'd; never logged */
	char *token_header; /* "x-amz-security-token: ..." (hf_secure_alloc'd) or NULL */
	char *ca_file;
	int insecure, virtual_host, parallel, retries, timeout_s;
	int trace;          /* HOLDFAST_S3_TRACE: 1 request lines, 2 also headers (redacted) */
	pthread_mutex_t mu; /* guards the handle pool */
	pthread_cond_t cv;
	void **idle;        /* CURL * easy handles ready for reuse (connection reuse) */
	int n_idle, n_busy;
} hf_s3;

typedef struct hf_s3_req {
	const char *verb;           /* for messages: "store", "read", "stat", "list", ... */
	const char *method;         /* GET PUT HEAD DELETE POST */
	const char *key;            /* relative to the repository prefix; NULL for a bucket request */
	const char *name;           /* shown in messages instead of key (e.g. a list prefix), or NULL */
	const char *query;          /* canonical query string from hf_s3_query(), or NULL */
	const char *const *headers; /* extra "Name: value" headers, NULL-terminated, or NULL */
	const void *body;
	size_t body_len;
	int has_range;
	uint64_t range_off;
	size_t range_len;
	hf_buf *out;    /* the 2xx response body is appended here (NULL: discarded) */
	size_t out_max; /* larger bodies fail with HF_ECORRUPT (0: no limit) */
} hf_s3_req;

typedef struct hf_s3_resp {
	long status;            /* final HTTP status; 0 when no response */
	int64_t content_length; /* -1 when absent */
	char etag[130];
	char version_id[256];
	char last_modified[64];
	char lock_mode[32];
	char lock_until[64];
	char err_code[64];      /* <Code> of an error body, "" when none */
} hf_s3_resp;

/* curl_global_init, once per process. */
int hf_s3_global_init(void);
/* One request with retries and backoff. 0 on a 2xx answer; otherwise a code mapped from the status or the
 * transfer error, with a message naming the object (resp->status and err_code tell callers which). */
int hf_s3_request(hf_s3 *s3, const hf_s3_req *req, hf_s3_resp *resp);
/* Release the pooled easy handles. */
void hf_s3_pool_free(hf_s3 *s3);

/* Percent-encode all but A-Za-z0-9-._~ (and '/' when keep_slash). */
int hf_s3_encode(hf_buf *out, const char *s, int keep_slash);
/* Canonical query string from a NULL-terminated list of name, value pairs: sorted by name,
 * percent-encoded, "name=" for empty values (S3 sub-resources need the '='). NUL-terminated. */
int hf_s3_query(hf_buf *out, const char *const *pairs);

/* Find the first element <tag> in [*p, end): its inner text in [*val, *val + *len); *p moves past the
 * closing tag. 0, HF_ENOTFOUND when absent, HF_ECORRUPT when unterminated. */
int hf_s3_xml_find(const char **p, const char *end, const char *tag, const char **val, size_t *len);
/* Inner text with entities decoded into out (NUL-terminated); HF_ECORRUPT when malformed or too long. */
int hf_s3_xml_text(char *out, size_t cap, const char *val, size_t len);
/* Convenience: first <tag> anywhere in buf as text; HF_ENOTFOUND when absent. */
int hf_s3_xml_get(char *out, size_t cap, const hf_buf *buf, const char *tag);
/* Append s with &, <, >, ", ' escaped. */
int hf_s3_xml_escape(hf_buf *out, const char *s);

/* Resolve credentials: opts, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the
 * shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE). */
int hf_s3_credentials(hf_s3 *s3, const hf_storage_options *opts);

void hf_s3_md5(uint8_t out[16], const void *data, size_t len);

/* Parse "Tue, 25 Nov 2026 12:00:00 GMT" (RFC 7231 IMF-fixdate) into seconds; HF_ECORRUPT when not. */
int hf_s3_http_date(const char *s, int64_t *out);

/* HEAD an object: resp gets the raw headers, st (when not NULL) the parsed stat. */
int hf_s3_head(hf_s3 *s3, const char *key, const char *verb, hf_s3_resp *resp, hf_storage_stat *st);

/* Operations split out of s3.c. */
int hf_s3_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o);
int hf_s3_extend_lock(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until);
int hf_s3_stat(hf_storage *s, const char *key, hf_storage_stat *out);
int hf_s3_prepare(hf_storage *s, const hf_storage_prepare_opts *o);
int hf_s3_remove(hf_storage *s, const char *key);
const char *hf_s3_lock_name(hf_lock_mode mode);

#endif
