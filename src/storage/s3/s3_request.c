/* One S3 request over libcurl: a bounded pool of reusable easy handles, SigV4 signing, retries with
 * exponential backoff and jitter, capture of the response headers we use, and mapping of failures to
 * holdfast codes. Traces (HOLDFAST_S3_TRACE) never show Authorization, session tokens or secrets. */
#include "storage/s3/s3_internal.h"

#include "crypto/crypto.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hex.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ERR_BODY_MAX 16384
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000

typedef struct xfer {
	const hf_s3_req *req;
	hf_s3_resp *resp;
	size_t up_pos;   /* upload cursor into req->body */
	size_t out_base; /* req->out->len before the request */
	hf_buf err;      /* error response body (bounded) */
	int too_big, oom;
} xfer;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	struct sigaction sa;
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* With CURLOPT_NOSIGNAL (needed with threads) a TLS write to a connection the server reset raises
	 * SIGPIPE, whose default action would kill the whole backup silently: ignore it unless the program
	 * installed its own handler. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

int hf_s3_global_init(void)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return hf_error_set(HF_ERROR, "unable to initialise libcurl: %s", curl_easy_strerror(global_rc));
	return 0;
}

/* ---- handle pool: at most s3->parallel handles exist; callers wait for a free one ---- */

static CURL *handle_get(hf_s3 *s3)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s3->mu);
	while (s3->n_idle == 0 && s3->n_busy >= s3->parallel)
		pthread_cond_wait(&s3->cv, &s3->mu);
	if (s3->n_idle > 0)
		h = s3->idle[--s3->n_idle];
	s3->n_busy++;
	pthread_mutex_unlock(&s3->mu);
	if (!h && !(h = curl_easy_init())) {
		pthread_mutex_lock(&s3->mu);
		s3->n_busy--;
		pthread_cond_signal(&s3->cv);
		pthread_mutex_unlock(&s3->mu);
	}
	return h;
}

static void handle_put(hf_s3 *s3, CURL *h)
{
	pthread_mutex_lock(&s3->mu);
	s3->idle[s3->n_idle++] = h;
	s3->n_busy--;
	pthread_cond_signal(&s3->cv);
	pthread_mutex_unlock(&s3->mu);
}

void hf_s3_pool_free(hf_s3 *s3)
{
	for (int i = 0; i < s3->n_idle; i++)
		curl_easy_cleanup(s3->idle[i]);
	s3->n_idle = 0;
}

/* ---- encoding ---- */

int hf_s3_encode(hf_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/'))
			rc = hf_buf_append_u8(out, *p);
		else
			rc = hf_buf_printf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const char *const *)a)[0], ((const char *const *)b)[0]);
}

int hf_s3_query(hf_buf *out, const char *const *pairs)
{
	const char *sorted[32][2];
	size_t n = 0;
	int rc = 0;

	while (pairs[2 * n]) {
		if (n == 32)
			return hf_error_set(HF_ERROR, "too many s3 query parameters");
		sorted[n][0] = pairs[2 * n];
		sorted[n][1] = pairs[2 * n + 1] ? pairs[2 * n + 1] : "";
		n++;
	}
	qsort(sorted, n, sizeof(sorted[0]), pair_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			rc = hf_buf_append_u8(out, '&');
		if (rc == 0)
			rc = hf_s3_encode(out, sorted[i][0], 0);
		if (rc == 0)
			rc = hf_buf_append_u8(out, '=');
		if (rc == 0)
			rc = hf_s3_encode(out, sorted[i][1], 0);
	}
	return rc < 0 ? rc : hf_buf_cstr(out);
}

/* ---- libcurl callbacks (never leave them by longjmp; errors are stored in the xfer) ---- */

static void copy_value(char *dst, size_t cap, const char *v, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n, nlen;
	const char *colon, *v, *end = data + len;
	hf_s3_resp *r = x->resp;

	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after 100 Continue, too) */
		const char *sp = memchr(data, ' ', len);
		long status = sp ? strtol(sp + 1, NULL, 10) : 0;
		memset(r, 0, sizeof(*r));
		r->content_length = -1;
		r->status = status;
		return len;
	}
	if (!(colon = memchr(data, ':', len)))
		return len;
	nlen = (size_t)(colon - data);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(data, h, nlen) == 0)
	if (IS("content-length")) {
		char tmp[32];
		copy_value(tmp, sizeof(tmp), v, (size_t)(end - v));
		r->content_length = strtoll(tmp, NULL, 10);
		if (r->status >= 200 && r->status < 300 && x->req->out && r->content_length > 0 &&
		    (!x->req->out_max || (uint64_t)r->content_length <= x->req->out_max) &&
		    (uint64_t)r->content_length < SIZE_MAX / 2)
			(void)hf_buf_reserve(x->req->out, (size_t)r->content_length); /* a hint only */
	} else if (IS("etag")) {
		copy_value(r->etag, sizeof(r->etag), v, (size_t)(end - v));
	} else if (IS("x-amz-version-id")) {
		copy_value(r->version_id, sizeof(r->version_id), v, (size_t)(end - v));
	} else if (IS("last-modified")) {
		copy_value(r->last_modified, sizeof(r->last_modified), v, (size_t)(end - v));
	} else if (IS("x-amz-object-lock-mode")) {
		copy_value(r->lock_mode, sizeof(r->lock_mode), v, (size_t)(end - v));
	} else if (IS("x-amz-object-lock-retain-until-date")) {
		copy_value(r->lock_until, sizeof(r->lock_until), v, (size_t)(end - v));
	}
#undef IS
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n;
	hf_buf *out = x->req->out;

	if (x->resp->status < 200 || x->resp->status >= 300) {
		size_t room = x->err.len < ERR_BODY_MAX ? ERR_BODY_MAX - x->err.len : 0;
		(void)hf_buf_append(&x->err, data, len < room ? len : room);
		return len;
	}
	if (!out)
		return len;
	if (x->req->out_max && out->len - x->out_base + len > x->req->out_max) {
		x->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (hf_buf_append(out, data, len) < 0) {
		x->oom = 1;
		return 0;
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t room = size * n, left = x->req->body_len - x->up_pos;
	if (room > left)
		room = left;
	if (room)
		memcpy(buf, (const char *)x->req->body + x->up_pos, room);
	x->up_pos += room;
	return room;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	xfer *x = arg;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->up_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* HOLDFAST_S3_TRACE=2: request and response headers, with credentials redacted line by line. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	const char *p = data, *end = data + size;
	(void)h;
	(void)arg;
	if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
		int n = (int)(stop - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			if ((n >= 14 && strncasecmp(p, "authorization:", 14) == 0) ||
			    (n >= 21 && strncasecmp(p, "x-amz-security-token:", 21) == 0)) {
				const char *colon = memchr(p, ':', (size_t)n);
				n = (int)(colon - p);
				fprintf(stderr, "s3 %c %.*s: [redacted]\n", type == CURLINFO_HEADER_OUT ? '>' : '<', n, p);
			} else {
				fprintf(stderr, "s3 %c %.*s\n", type == CURLINFO_HEADER_OUT ? '>' : '<', n, p);
			}
		}
		p = stop + (nl ? 1 : 0);
	}
	return 0;
}

/* ---- building a request ---- */

static int build_url(hf_s3 *s3, const hf_s3_req *req, hf_buf *url)
{
	int rc;
	if (s3->virtual_host) {
		const char *host = strstr(s3->endpoint, "://") + 3;
		rc = hf_buf_printf(url, "%.*s%s.%s/", (int)(host - s3->endpoint), s3->endpoint, s3->bucket, host);
	} else {
		rc = hf_buf_printf(url, "%s/%s", s3->endpoint, s3->bucket);
		if (rc == 0 && req->key)
			rc = hf_buf_append_u8(url, '/');
	}
	if (rc == 0 && req->key) {
		if ((rc = hf_s3_encode(url, s3->prefix, 1)) == 0)
			rc = hf_s3_encode(url, req->key, 1);
	}
	if (rc == 0 && req->query && *req->query)
		rc = hf_buf_printf(url, "?%s", req->query);
	return rc < 0 ? rc : hf_buf_cstr(url);
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);
	if (!l)
		return hf_error_set(HF_ENOMEM, "out of memory");
	*list = l;
	return 0;
}

static void free_headers(struct curl_slist *list)
{
	/* The session token was copied into the list: wipe it before the memory is released. */
	for (struct curl_slist *l = list; l; l = l->next)
		if (strncasecmp(l->data, "x-amz-security-token:", 21) == 0)
			hf_memzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static int build_headers(hf_s3 *s3, const hf_s3_req *req, struct curl_slist **out)
{
	struct curl_slist *list = NULL;
	uint8_t sha[32], md5[16];
	char line[160], hex[65], b64[32];
	int rc, has_body = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0;

	/* RGW requires the payload hash header and libcurl 7.88 does not add it; given here, curl signs it.
	 * Large bodies (packs) go as UNSIGNED-PAYLOAD: SHA-256 over every pack costs more CPU than the
	 * upload itself, transfer integrity is covered by Content-MD5, and every pack is AEAD-sealed and
	 * named by its own hash, so any alteration is detected when it is read. */
	if (req->body_len > 64 * 1024) {
		snprintf(line, sizeof(line), "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	} else {
		hf_sha256(sha, req->body ? req->body : "", req->body_len);
		hf_hex_encode(hex, sha, sizeof(sha));
		snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
	}
	if ((rc = add_header(&list, line)) < 0)
		goto done;
	if (has_body) {
		int xml = req->key == NULL || (req->query && *req->query && !strstr(req->query, "partNumber="));
		hf_s3_md5(md5, req->body ? req->body : "", req->body_len);
		hf_base64_encode(b64, md5, sizeof(md5));
		snprintf(line, sizeof(line), "Content-MD5: %s", b64);
		if ((rc = add_header(&list, line)) < 0)
			goto done;
		if ((rc = add_header(&list, xml ? "Content-Type: application/xml"
						: "Content-Type: application/octet-stream")) < 0)
			goto done;
	}
	if (req->has_range) {
		snprintf(line, sizeof(line), "Range: bytes=%llu-%llu", (unsigned long long)req->range_off,
			 (unsigned long long)(req->range_off + req->range_len - 1));
		if ((rc = add_header(&list, line)) < 0)
			goto done;
	}
	if (s3->token_header && (rc = add_header(&list, s3->token_header)) < 0)
		goto done;
	for (const char *const *h = req->headers; h && *h; h++)
		if ((rc = add_header(&list, *h)) < 0)
			goto done;
	*out = list;
	list = NULL;
done:
	free_headers(list);
	return rc;
}

static void setup(hf_s3 *s3, CURL *h, const hf_s3_req *req, xfer *x, const char *url, struct curl_slist *hdrs,
		  char *errbuf)
{
	long low_time = s3->timeout_s, connect = s3->timeout_s < 10 ? s3->timeout_s : 10;

	curl_easy_reset(h); /* keeps the connection cache: reuse is the point of the pool */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, s3->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s3->secret_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect);
	/* Less than 1 byte/s for timeout_s seconds (waiting for an answer included) = a hung server. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, low_time);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* No wait for "100 Continue" before every large PUT. (An "Expect:" header to drop it would be signed
	 * by libcurl 7.88 and then not sent: SignatureDoesNotMatch.) */
	curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s3->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s3->insecure ? 0L : 2L);
	if (s3->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, s3->ca_file);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (s3->trace >= 2) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

/* ---- retries and error mapping ---- */

static int curl_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP3:
		return 1;
	default:
		return 0;
	}
}

static int http_retryable(long status, const char *code)
{
	return (status >= 500 && status != 501) || status == 429 || status == 408 || strcmp(code, "SlowDown") == 0 ||
	       strcmp(code, "RequestTimeout") == 0 || strcmp(code, "InternalError") == 0;
}

static int map_status(long status, const char *code)
{
	if (strcmp(code, "QuotaExceeded") == 0 || strcmp(code, "EntityTooLarge") == 0 || status == 507)
		return HF_ENOSPC;
	if (status == 404)
		return HF_ENOTFOUND;
	if (status == 401 || status == 403 || strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
	    strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0)
		return HF_EAUTH;
	if (status == 416)
		return HF_ECORRUPT;
	if (strcmp(code, "BucketAlreadyExists") == 0 || strcmp(code, "BucketAlreadyOwnedByYou") == 0)
		return HF_EEXISTS;
	if (status >= 500 || status == 429 || status == 408)
		return HF_ENET;
	if (status == 301 || strcmp(code, "PermanentRedirect") == 0)
		return HF_ECONFIG;
	return HF_ERROR;
}

static void set_hint(hf_s3 *s3, int code, const char *err)
{
	if (strcmp(err, "SignatureDoesNotMatch") == 0)
		hf_error_set_hint("check the secret access key and the region ('%s')", s3->region);
	else if (strcmp(err, "InvalidAccessKeyId") == 0)
		hf_error_set_hint("check the access key id (options, AWS_ACCESS_KEY_ID or the shared credentials file)");
	else if (strcmp(err, "RequestTimeTooSkewed") == 0)
		hf_error_set_hint("this host's clock differs from the server's: synchronise it (NTP)");
	else if (strcmp(err, "AuthorizationHeaderMalformed") == 0 || strcmp(err, "PermanentRedirect") == 0)
		hf_error_set_hint("check the region ('%s') of bucket '%s'", s3->region, s3->bucket);
	else if (strcmp(err, "ExpiredToken") == 0 || strcmp(err, "InvalidToken") == 0)
		hf_error_set_hint("the session token is invalid or expired: refresh the credentials");
	else if (strcmp(err, "NoSuchBucket") == 0)
		hf_error_set_hint("check the bucket name; a new repository location is created with prepare");
	else if (code == HF_EAUTH)
		hf_error_set_hint("the credentials may lack permission on bucket '%s', or Object Lock protects the "
				  "object", s3->bucket);
	else if (code == HF_ENET)
		hf_error_set_hint("check that %s is reachable and healthy", s3->endpoint);
}

/* For answers without an error body (HEAD). */
static const char *status_text(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "";
	}
}

/* Server messages go into ours: keep them printable and short. */
static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int fail(hf_s3 *s3, const hf_s3_req *req, const hf_s3_resp *resp, CURLcode crc, const char *cerr,
		const char *msg, int attempts)
{
	char detail[600], tries[48] = "";
	int code;

	if (attempts > 1)
		snprintf(tries, sizeof(tries), " (after %d attempts)", attempts);
	if (crc != CURLE_OK) {
		code = HF_ENET;
		snprintf(detail, sizeof(detail), "%s%s%s", cerr[0] ? cerr : curl_easy_strerror(crc),
			 resp->status ? "" : ", no response", tries);
	} else {
		code = map_status(resp->status, resp->err_code);
		const char *what = resp->err_code[0] ? resp->err_code : status_text(resp->status);
		snprintf(detail, sizeof(detail), "HTTP %ld%s%s%s%s%s", resp->status, what[0] ? " " : "", what,
			 msg[0] ? ": " : "", msg, tries);
	}
	if (req->key || req->name)
		hf_error_set(code, "unable to %s '%s' in '%s': %s", req->verb, req->name ? req->name : req->key,
			     s3->base.url, detail);
	else
		hf_error_set(code, "unable to %s '%s' (bucket '%s' at %s): %s", req->verb, s3->base.url, s3->bucket,
			     s3->endpoint, detail);
	if (crc == CURLE_PEER_FAILED_VERIFICATION || crc == CURLE_SSL_CACERT_BADFILE)
		hf_error_set_hint("the server's TLS certificate was not trusted: trust its CA with --ca-file FILE "
				  "([s3] ca-file), or fix the endpoint");
	else
		set_hint(s3, code, resp->err_code);
	return code;
}

static void backoff(hf_s3 *s3, int attempt)
{
	uint32_t r;
	long ms = BACKOFF_BASE_MS;
	struct timespec ts;
	for (int i = 0; i < attempt && ms < BACKOFF_CAP_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	hf_random(&r, sizeof(r));
	ms = ms / 2 + (long)(r % (uint32_t)(ms / 2 + 1)); /* "equal jitter": spread retries of many workers */
	if (s3->trace)
		fprintf(stderr, "s3: retrying in %ld ms\n", ms);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void parse_error_body(const hf_buf *err, hf_s3_resp *resp, char *msg, size_t cap)
{
	msg[0] = '\0';
	if (err->len == 0)
		return;
	if (hf_s3_xml_get(resp->err_code, sizeof(resp->err_code), err, "Code") < 0)
		resp->err_code[0] = '\0';
	if (hf_s3_xml_get(msg, cap, err, "Message") < 0)
		msg[0] = '\0';
	hf_error_clear(); /* lookups of absent elements are not errors */
	clean_text(resp->err_code);
	clean_text(msg);
}

int hf_s3_request(hf_s3 *s3, const hf_s3_req *req, hf_s3_resp *resp)
{
	hf_buf url = HF_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	char cerr[CURL_ERROR_SIZE], msg[200];
	CURLcode crc = CURLE_OK;
	CURL *h;
	xfer x;
	int rc, attempt;

	memset(&x, 0, sizeof(x));
	x.req = req;
	x.resp = resp;
	x.out_base = req->out ? req->out->len : 0;
	if ((rc = build_url(s3, req, &url)) < 0 || (rc = build_headers(s3, req, &hdrs)) < 0)
		goto done;
	for (attempt = 1;; attempt++) {
		double t0 = hf_clock_mono();
		memset(resp, 0, sizeof(*resp));
		resp->content_length = -1;
		x.up_pos = 0;
		x.too_big = x.oom = 0;
		hf_buf_clear(&x.err);
		if (req->out)
			req->out->len = x.out_base;
		cerr[0] = '\0';
		if (!(h = handle_get(s3))) {
			rc = hf_error_set(HF_ENOMEM, "unable to create a libcurl handle");
			goto done;
		}
		setup(s3, h, req, &x, (const char *)url.data, hdrs, cerr);
		crc = curl_easy_perform(h);
		if (crc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		handle_put(s3, h);
		parse_error_body(&x.err, resp, msg, sizeof(msg));
		if (s3->trace)
			fprintf(stderr, "s3: %s %s -> %ld%s%s%s%s (%.3f s, attempt %d)\n", req->method, (const char *)url.data,
				resp->status, resp->err_code[0] ? " " : "", resp->err_code, crc ? " curl: " : "",
				crc ? (cerr[0] ? cerr : curl_easy_strerror(crc)) : "", hf_clock_mono() - t0, attempt);
		if (x.oom) {
			rc = hf_error_set(HF_ENOMEM, "out of memory reading '%s' from '%s'", req->key ? req->key : s3->bucket,
					  s3->base.url);
			goto done;
		}
		if (x.too_big) {
			rc = hf_error_set(HF_ECORRUPT, "unable to %s '%s' in '%s': response larger than %zu bytes", req->verb,
					  req->name ? req->name : req->key ? req->key : s3->bucket, s3->base.url, req->out_max);
			goto done;
		}
		if (crc == CURLE_OK && resp->status >= 200 && resp->status < 300) {
			rc = 0;
			goto done;
		}
		if (attempt > s3->retries ||
		    !(crc != CURLE_OK ? curl_retryable(crc) : http_retryable(resp->status, resp->err_code)))
			break;
		backoff(s3, attempt - 1);
	}
	rc = fail(s3, req, resp, crc, cerr, msg, attempt);
done:
	if (rc < 0 && req->out)
		req->out->len = x.out_base;
	free_headers(hdrs);
	hf_buf_free(&x.err);
	hf_buf_free(&url);
	return rc;
}
