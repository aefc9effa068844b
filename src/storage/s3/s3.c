/* The S3 storage driver: opening (endpoint, region, credentials, limits), reads, stat and listing.
 * Writes and retention live in s3_put.c, bucket preparation and removal in s3_bucket.c, HTTP in s3_request.c. */
#include "storage/s3/s3_internal.h"

#include "crypto/crypto.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_PAGE_MAX (64u * 1024 * 1024) /* a ListObjectsV2 page is ~300 KB; refuse absurd answers */
#define KEY_CAP 2048

const char *hf_s3_lock_name(hf_lock_mode mode)
{
	return mode == HF_LOCK_COMPLIANCE ? "COMPLIANCE" : mode == HF_LOCK_GOVERNANCE ? "GOVERNANCE" : "NONE";
}

int hf_s3_http_date(const char *s, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	int d, y, hh, mm, ss;
	const char *m;
	struct tm tm;

	if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &d, mon, &y, &hh, &mm, &ss) != 6 || strlen(mon) != 3 ||
	    !(m = strstr(months, mon)) || (m - months) % 3 != 0)
		return hf_error_set(HF_ECORRUPT, "invalid http date '%.64s'", s);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int hf_s3_head(hf_s3 *s3, const char *key, const char *verb, hf_s3_resp *resp, hf_storage_stat *st)
{
	hf_s3_req req = {0};
	hf_storage_stat r;
	int64_t ns;
	int rc;

	req.verb = verb;
	req.method = "HEAD";
	req.key = key;
	if ((rc = hf_s3_request(s3, &req, resp)) < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.size = resp->content_length > 0 ? (uint64_t)resp->content_length : 0;
	if (resp->last_modified[0] && hf_s3_http_date(resp->last_modified, &r.mtime) < 0)
		r.mtime = 0;
	if (strcmp(resp->lock_mode, "COMPLIANCE") == 0)
		r.lock_mode = HF_LOCK_COMPLIANCE;
	else if (strcmp(resp->lock_mode, "GOVERNANCE") == 0)
		r.lock_mode = HF_LOCK_GOVERNANCE;
	if (resp->lock_until[0] && hf_time_parse(resp->lock_until, &ns) == 0)
		r.lock_until = ns / 1000000000;
	hf_error_clear();
	if (st)
		*st = r;
	return 0;
}

int hf_s3_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	hf_s3_resp resp;
	return hf_s3_head((hf_s3 *)s, key, "stat", &resp, out);
}

static int s3_get(hf_storage *s, const char *key, hf_buf *out)
{
	hf_s3_req req = {0};
	hf_s3_resp resp;
	req.verb = "read";
	req.method = "GET";
	req.key = key;
	req.out = out;
	return hf_s3_request((hf_s3 *)s, &req, &resp);
}

static int s3_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_s3_req req = {0};
	hf_s3_resp resp;
	hf_storage_stat st;
	size_t base = out->len, got;
	int rc;

	if (len == 0) { /* no valid Range header for zero bytes: check the object instead */
		if ((rc = hf_s3_head(s3, key, "read", &resp, &st)) < 0)
			return rc;
		if (off > st.size)
			goto short_read;
		return 0;
	}
	req.verb = "read";
	req.method = "GET";
	req.key = key;
	req.has_range = 1;
	req.range_off = off;
	req.range_len = len;
	req.out = out;
	if ((rc = hf_s3_request(s3, &req, &resp)) < 0) {
		if (resp.status == 416)
			goto short_read;
		return rc;
	}
	got = out->len - base;
	if (resp.status == 206 && got == len)
		return 0;
	if (resp.status == 200 && got >= len && off <= got - len) { /* the server ignored Range */
		memmove(out->data + base, out->data + base + off, len);
		out->len = base + len;
		return 0;
	}
	out->len = base;
short_read:
	return hf_error_set(HF_ECORRUPT, "unable to read '%s' in '%s': object shorter than the requested range "
			    "(%zu bytes at offset %llu)", key, s3->base.url, len, (unsigned long long)off);
}

/* One ListObjectsV2 page: call cb for each key; *next gets the continuation token (or "" at the end). */
static int list_page(hf_s3 *s3, const hf_buf *page, const char *prefix, hf_storage_list_cb cb, void *payload,
		     char *next, size_t cap)
{
	const char *p = (const char *)page->data, *end = p + page->len, *val, *q, *kv;
	char key[KEY_CAP], num[32], trunc[8];
	size_t len, klen, plen = strlen(s3->prefix);
	int rc;

	while ((rc = hf_s3_xml_find(&p, end, "Contents", &val, &len)) == 0) {
		q = val;
		if ((rc = hf_s3_xml_find(&q, val + len, "Key", &kv, &klen)) < 0 ||
		    (rc = hf_s3_xml_text(key, sizeof(key), kv, klen)) < 0)
			goto bad;
		q = val;
		if ((rc = hf_s3_xml_find(&q, val + len, "Size", &kv, &klen)) < 0 ||
		    (rc = hf_s3_xml_text(num, sizeof(num), kv, klen)) < 0)
			goto bad;
		if (strncmp(key, s3->prefix, plen) != 0 || strncmp(key + plen, prefix, strlen(prefix)) != 0)
			continue; /* not ours (a server ignoring prefix=); never hand it out */
		if ((rc = cb(key + plen, strtoull(num, NULL, 10), payload)) != 0)
			return rc;
	}
	if (rc != HF_ENOTFOUND)
		goto bad;
	next[0] = '\0';
	if (hf_s3_xml_get(trunc, sizeof(trunc), page, "IsTruncated") == 0 && strcmp(trunc, "true") == 0 &&
	    ((rc = hf_s3_xml_get(next, cap, page, "NextContinuationToken")) < 0 || !next[0])) {
		rc = rc < 0 ? rc : HF_ECORRUPT;
		goto bad;
	}
	hf_error_clear();
	return 0;
bad:
	return hf_error_wrap(HF_ECORRUPT, "unable to list '%s' in '%s': malformed ListObjectsV2 answer", prefix,
			     s3->base.url);
}

static int s3_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_buf page = HF_BUF_INIT, query = HF_BUF_INIT;
	char *full = NULL, token[KEY_CAP] = "", next[KEY_CAP];
	hf_s3_resp resp;
	int rc;

	if (!(full = malloc(strlen(s3->prefix) + strlen(prefix) + 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	strcpy(full, s3->prefix);
	strcat(full, prefix);
	for (;;) {
		const char *pairs[] = {"list-type", "2", "prefix", full, token[0] ? "continuation-token" : NULL, token, NULL};
		hf_s3_req req = {0};
		hf_buf_clear(&query);
		hf_buf_clear(&page);
		if ((rc = hf_s3_query(&query, pairs)) < 0)
			goto done;
		req.verb = "list";
		req.method = "GET";
		req.name = prefix;
		req.query = (const char *)query.data;
		req.out = &page;
		req.out_max = LIST_PAGE_MAX;
		if ((rc = hf_s3_request(s3, &req, &resp)) < 0)
			goto done;
		if ((rc = list_page(s3, &page, prefix, cb, payload, next, sizeof(next))) != 0 || !next[0])
			goto done;
		if (strcmp(next, token) == 0) {
			rc = hf_error_set(HF_ECORRUPT, "unable to list '%s' in '%s': the server repeated a continuation token",
					  prefix, s3->base.url);
			goto done;
		}
		strcpy(token, next);
	}
done:
	hf_buf_free(&page);
	hf_buf_free(&query);
	free(full);
	return rc;
}

static void s3_free(hf_storage *s)
{
	hf_s3 *s3 = (hf_s3 *)s;
	if (!s3)
		return;
	hf_s3_pool_free(s3);
	pthread_mutex_destroy(&s3->mu);
	pthread_cond_destroy(&s3->cv);
	free(s3->idle);
	hf_secure_free(s3->secret_key);
	hf_secure_free(s3->token_header);
	free(s3->access_key);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->endpoint);
	free(s3->region);
	free(s3->sigv4);
	free(s3->ca_file);
	free(s3->base.url);
	free(s3);
}

static const hf_storage_vtable s3_vtable = {
	"s3",
	HF_STORAGE_FEAT_RANGE | HF_STORAGE_FEAT_LOCK | HF_STORAGE_FEAT_VERSIONING,
	hf_s3_put,
	s3_get,
	s3_get_range,
	hf_s3_stat,
	s3_list,
	hf_s3_remove,
	hf_s3_extend_lock,
	hf_s3_prepare,
	s3_free,
};

/* Bucket names: S3's rules are stricter, but other servers allow upper case and '_'; never '/' or spaces. */
static int bucket_check(const char *b)
{
	size_t n = strlen(b);
	if (n == 0 || n > 255)
		return hf_error_set(HF_EUSAGE, "invalid s3 bucket name '%.64s'", b);
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= '0' && b[i] <= '9') ||
		      b[i] == '-' || b[i] == '.' || b[i] == '_'))
			return hf_error_set(HF_EUSAGE, "invalid s3 bucket name '%.64s'", b);
	return 0;
}

/* "/a/b" and "a/b/" both become "a/b/"; "" stays "". Components must be printable and not "." or "..". */
static int prefix_norm(const char *in, char **out)
{
	hf_buf b = HF_BUF_INIT;
	const char *p = in;
	int rc = 0;

	while (*p == '/')
		p++;
	while (*p && rc == 0) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			rc = hf_error_set(HF_EUSAGE, "invalid s3 prefix '%.200s': '.' or '..' component", in);
		for (size_t i = 0; i < n && rc == 0; i++)
			if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
				rc = hf_error_set(HF_EUSAGE, "invalid s3 prefix: not printable ASCII");
		if (n && rc == 0 && (rc = hf_buf_append(&b, p, n)) == 0)
			rc = hf_buf_append_u8(&b, '/');
		p += n;
		while (*p == '/')
			p++;
	}
	if (rc == 0 && (rc = hf_buf_cstr(&b)) == 0)
		*out = b.data ? (char *)hf_buf_detach(&b, NULL) : strdup("");
	hf_buf_free(&b);
	return rc == 0 && !*out ? hf_error_set(HF_ENOMEM, "out of memory") : rc;
}

static int endpoint_norm(const char *in, char **out)
{
	const char *host;
	size_t n = strlen(in);
	if (strncmp(in, "http://", 7) == 0)
		host = in + 7;
	else if (strncmp(in, "https://", 8) == 0)
		host = in + 8;
	else
		goto bad;
	while (n > (size_t)(host - in) && in[n - 1] == '/')
		n--;
	if (n == (size_t)(host - in) || memchr(host, '/', n - (size_t)(host - in)) || memchr(host, '@', n - (size_t)(host - in)))
		goto bad;
	if (!(*out = strndup(in, n)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
bad:
	hf_error_set(HF_ECONFIG, "invalid s3 endpoint '%.200s'", in);
	hf_error_set_hint("use http(s)://host[:port] without a path, e.g. https://s3.eu-west-1.amazonaws.com");
	return HF_ECONFIG;
}

static int fmt_dup(char **out, const char *fmt, ...) HF_PRINTF(2, 3);
static int fmt_dup(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(*out = malloc((size_t)n + 1)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(*out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return 0;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

static int configure(hf_s3 *s3, const char *bucket, const char *prefix, const hf_storage_options *o)
{
	const char *region = o->s3_region && *o->s3_region ? o->s3_region
			     : env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
	const char *endpoint = o->s3_endpoint && *o->s3_endpoint ? o->s3_endpoint : env_or("HOLDFAST_S3_ENDPOINT", NULL);
	char aws[128];
	int rc;

	if ((rc = bucket_check(bucket)) < 0 || (rc = prefix_norm(prefix ? prefix : "", &s3->prefix)) < 0)
		return rc;
	if (!(s3->bucket = strdup(bucket)) || !(s3->region = strdup(region)) ||
	    (o->ca_file && !(s3->ca_file = strdup(o->ca_file))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (!endpoint) {
		snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", region);
		endpoint = aws;
	}
	if ((rc = endpoint_norm(endpoint, &s3->endpoint)) < 0)
		return rc;
	if ((rc = fmt_dup(&s3->sigv4, "aws:amz:%s:s3", region)) < 0 ||
	    (rc = fmt_dup(&s3->base.url, "s3://%s%s%.*s", bucket, s3->prefix[0] ? "/" : "",
			  (int)(s3->prefix[0] ? strlen(s3->prefix) - 1 : 0), s3->prefix)) < 0)
		return rc;
	s3->insecure = o->insecure;
	s3->virtual_host = o->virtual_host;
	s3->parallel = o->parallel > 0 ? o->parallel : 8;
	s3->retries = o->retries > 0 ? o->retries : o->retries < 0 ? 0 : 6; /* < 0: no retries */
	s3->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
	s3->trace = atoi(env_or("HOLDFAST_S3_TRACE", "0"));
	if (!(s3->idle = calloc((size_t)s3->parallel, sizeof(*s3->idle))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return hf_s3_credentials(s3, o);
}

int hf_storage_s3_open(hf_storage **out, const char *bucket, const char *prefix, const hf_storage_options *opts)
{
	hf_storage_options none;
	hf_s3 *s3 = NULL;
	int rc;

	if (!opts) {
		memset(&none, 0, sizeof(none));
		opts = &none;
	}
	if (!bucket)
		return hf_error_set(HF_EUSAGE, "missing s3 bucket name");
	if ((rc = hf_crypto_init()) < 0 || (rc = hf_s3_global_init()) < 0)
		return rc;
	if (!(s3 = calloc(1, sizeof(*s3))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	s3->base.vt = &s3_vtable;
	pthread_mutex_init(&s3->mu, NULL);
	pthread_cond_init(&s3->cv, NULL);
	if ((rc = configure(s3, bucket, prefix, opts)) < 0)
		goto done;
	*out = &s3->base;
	s3 = NULL;
done:
	s3_free(s3 ? &s3->base : NULL);
	return rc;
}

int hf_s3_version_id(hf_storage *s, const char *key, char *out, size_t cap)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_s3_resp resp;
	int rc;
	if ((rc = hf_s3_head(s3, key, "stat", &resp, NULL)) < 0)
		return rc;
	if (!resp.version_id[0] || strlen(resp.version_id) >= cap)
		return hf_error_set(HF_EUNSUPPORTED, "no usable version id for '%s' in '%s'", key, s3->base.url);
	strcpy(out, resp.version_id);
	return 0;
}

int hf_s3_delete_version(hf_storage *s, const char *key, const char *version_id)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_buf query = HF_BUF_INIT;
	const char *pairs[] = {"versionId", version_id, NULL};
	hf_s3_req req = {0};
	hf_s3_resp resp;
	int rc;

	if ((rc = hf_s3_query(&query, pairs)) == 0) {
		req.verb = "delete a version of";
		req.method = "DELETE";
		req.key = key;
		req.query = (const char *)query.data;
		rc = hf_s3_request(s3, &req, &resp);
	}
	hf_buf_free(&query);
	return rc;
}
