/* The generic half of the storage interface: opening by URL, object-key validation, and the wrappers that
 * check optional operations and add the storage url to error messages. Drivers live in file/, mem/, s3/. */
#include "storage/storage.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 1024 /* the S3 limit; every driver must accept what the others accept */

/* A printable copy of a (possibly hostile) key for messages: at most 200 chars, '?' for non-printables. */
static const char *key_show(const char *key, char *buf, size_t cap)
{
	size_t i;
	for (i = 0; key[i] && i + 4 < cap && i < 200; i++)
		buf[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
	if (key[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Keys are relative '/'-separated paths of printable ASCII with no empty, "." or ".." components.
 * A list prefix may be empty, end with '/', or end in the middle of a component. */
static int key_check(const char *key, int is_prefix)
{
	char show[256];
	const char *why = NULL, *comp;
	size_t len;

	if (!key)
		return hf_error_set(HF_EUSAGE, "missing object %s", is_prefix ? "prefix" : "key");
	len = strlen(key);
	if (len == 0 && !is_prefix)
		why = "empty";
	else if (len > KEY_MAX)
		why = "longer than 1024 bytes";
	else if (key[0] == '/')
		why = "absolute";
	for (size_t i = 0; !why && i < len; i++)
		if (key[i] < 0x20 || key[i] >= 0x7f)
			why = "not printable ASCII";
	for (comp = key; !why && *comp;) {
		const char *end = strchr(comp, '/');
		size_t n = end ? (size_t)(end - comp) : strlen(comp);
		if (n == 0)
			why = "has an empty component";
		else if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			why = "has a '.' or '..' component";
		else if (!end)
			break;
		else if (end[1] == '\0' && !is_prefix)
			why = "ends with '/'";
		comp = end ? end + 1 : comp + n;
	}
	if (why)
		return hf_error_set(HF_EUSAGE, "invalid object %s '%s': %s", is_prefix ? "prefix" : "key",
		                    key_show(key, show, sizeof(show)), why);
	return 0;
}

/* Add "unable to <verb> '<key>' in '<url>'" unless the driver already named the storage. */
static int add_context(const hf_storage *s, int rc, const char *verb, const char *key)
{
	char show[256];
	if (rc >= 0 || strstr(hf_error_message(), s->url))
		return rc;
	if (key)
		return hf_error_wrap(rc, "unable to %s '%s' in '%s'", verb, key_show(key, show, sizeof(show)),
		                     s->url);
	return hf_error_wrap(rc, "unable to %s '%s'", verb, s->url);
}

static int unsupported(const hf_storage *s, const char *what)
{
	return hf_error_set(HF_EUNSUPPORTED, "%s storage '%s' does not support %s", s->vt->name, s->url,
	                    what);
}

static int has_scheme(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);
	return strncmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

/* A URL-like "word://" prefix that is not one of ours must not silently become a relative path. */
static int looks_like_url(const char *url)
{
	size_t i = 0;
	while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
	       (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' || url[i] == '.')
		i++;
	return i > 0 && strncmp(url + i, "://", 3) == 0;
}

static int open_s3(hf_storage **out, const char *url, const char *rest, const hf_storage_options *opts)
{
	hf_storage_options defaults;
	char *bucket = NULL;
	const char *slash = strchr(rest, '/'), *prefix = slash ? slash + 1 : "";
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
	int rc;

	if (blen == 0)
		return hf_error_set(HF_EUSAGE, "invalid storage url '%s': missing bucket name", url);
	if (!(bucket = strndup(rest, blen)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (!opts) {
		memset(&defaults, 0, sizeof(defaults));
		opts = &defaults;
	}
	rc = hf_storage_s3_open(out, bucket, prefix, opts);
	free(bucket);
	return rc;
}

int hf_storage_open(hf_storage **out, const char *url, const hf_storage_options *opts)
{
	if (!url || !*url)
		return hf_error_set(HF_EUSAGE, "missing storage url");
	if (has_scheme(url, "file")) {
		if (url[7] != '/')
			return hf_error_set(HF_EUSAGE,
			                    "invalid storage url '%s': expected file:///absolute/path", url);
		return hf_storage_file_open(out, url + 7);
	}
	if (has_scheme(url, "mem")) {
		if (!url[6])
			return hf_error_set(HF_EUSAGE, "invalid storage url '%s': missing name", url);
		return hf_storage_mem_open(out, url + 6);
	}
	if (has_scheme(url, "s3"))
		return open_s3(out, url, url + 5, opts);
	if (looks_like_url(url))
		return hf_error_set(HF_EUSAGE, "unsupported storage url '%s'", url);
	return hf_storage_file_open(out, url);
}

void hf_storage_free(hf_storage *s)
{
	if (s)
		s->vt->free(s);
}

int hf_storage_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	static const hf_storage_put_opts none = {HF_LOCK_NONE, 0};
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	return add_context(s, s->vt->put(s, key, data, len, o ? o : &none), "store", key);
}

int hf_storage_get(hf_storage *s, const char *key, hf_buf *out)
{
	size_t had = out->len;
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	if ((rc = s->vt->get(s, key, out)) < 0)
		out->len = had;
	return add_context(s, rc, "read", key);
}

int hf_storage_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	size_t had = out->len;
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	if (off > (uint64_t)INT64_MAX || len > (size_t)INT64_MAX - off)
		return hf_error_set(HF_EUSAGE, "invalid range of '%s' in '%s': offset %llu length %zu", key,
		                    s->url, (unsigned long long)off, len);
	if (!s->vt->get_range)
		return unsupported(s, "range reads");
	if ((rc = s->vt->get_range(s, key, off, len, out)) < 0)
		out->len = had;
	return add_context(s, rc, "read", key);
}

int hf_storage_stat_object(hf_storage *s, const char *key, hf_storage_stat *out)
{
	hf_storage_stat st;
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	memset(&st, 0, sizeof(st));
	if ((rc = s->vt->stat(s, key, &st)) < 0)
		return add_context(s, rc, "stat", key);
	*out = st;
	return 0;
}

int hf_storage_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	int rc = key_check(prefix ? prefix : "", 1);
	if (rc < 0)
		return rc;
	rc = s->vt->list(s, prefix ? prefix : "", cb, payload);
	/* A positive value is the callback's own stop value: pass it through untouched. */
	return rc < 0 ? add_context(s, rc, "list", prefix ? prefix : "") : rc;
}

int hf_storage_remove(hf_storage *s, const char *key)
{
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	if (!s->vt->remove)
		return unsupported(s, "removing objects");
	return add_context(s, s->vt->remove(s, key), "remove", key);
}

int hf_storage_extend_lock(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until)
{
	int rc = key_check(key, 0);
	if (rc < 0)
		return rc;
	if (!s->vt->extend_lock)
		return unsupported(s, "object lock");
	return add_context(s, s->vt->extend_lock(s, key, mode, until), "extend the lock of", key);
}

int hf_storage_prepare(hf_storage *s, const hf_storage_prepare_opts *o)
{
	static const hf_storage_prepare_opts none = {0, HF_LOCK_NONE, 0};
	if (!s->vt->prepare)
		return unsupported(s, "preparing a repository location");
	return add_context(s, s->vt->prepare(s, o ? o : &none), "prepare", NULL);
}
