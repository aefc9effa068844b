/* Bucket-level S3 work: preparing a repository location (exists, versioning and Object Lock on, or created
 * with them), and removing an object for good (every version, so removed key material is really gone). */
#include "storage/s3/s3_internal.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSIONS_PAGE_MAX (64u * 1024 * 1024)

static int bucket_get(hf_s3 *s3, const char *subresource, hf_buf *out, hf_s3_resp *resp)
{
	hf_s3_req req = {0};
	req.verb = "prepare";
	req.method = "GET";
	req.query = subresource;
	req.out = out;
	req.out_max = 1024 * 1024;
	return hf_s3_request(s3, &req, resp);
}

static int create_bucket(hf_s3 *s3, int object_lock, hf_s3_resp *resp)
{
	hf_buf body = HF_BUF_INIT;
	const char *headers[] = {object_lock ? "x-amz-bucket-object-lock-enabled: true" : NULL, NULL};
	hf_s3_req req = {0};
	int rc = 0;

	/* us-east-1 is the one region that takes no LocationConstraint (and what RGW calls its default). */
	if (strcmp(s3->region, "us-east-1") != 0) {
		rc = hf_buf_printf(&body, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
					  "<LocationConstraint>");
		if (rc == 0 && (rc = hf_s3_xml_escape(&body, s3->region)) == 0)
			rc = hf_buf_printf(&body, "</LocationConstraint></CreateBucketConfiguration>");
	}
	if (rc == 0) {
		req.verb = "create";
		req.method = "PUT";
		req.headers = headers;
		req.body = body.data;
		req.body_len = body.len;
		rc = hf_s3_request(s3, &req, resp);
	}
	hf_buf_free(&body);
	return rc;
}

int hf_s3_create_bucket(hf_storage *s, int object_lock)
{
	hf_s3_resp resp;
	return create_bucket((hf_s3 *)s, object_lock, &resp);
}

static int check_lock(hf_s3 *s3)
{
	hf_buf out = HF_BUF_INIT;
	hf_s3_resp resp;
	char val[32];
	const char *p, *dr;
	size_t drlen;
	int rc;

	rc = bucket_get(s3, "object-lock=", &out, &resp);
	if (rc == HF_ENOTFOUND && strcmp(resp.err_code, "NoSuchBucket") != 0) /* ObjectLockConfigurationNotFoundError */
		goto off;
	if (rc < 0)
		goto done;
	if (hf_s3_xml_get(val, sizeof(val), &out, "ObjectLockEnabled") < 0 || strcmp(val, "Enabled") != 0)
		goto off;
	p = (const char *)out.data;
	if (hf_s3_xml_find(&p, p + out.len, "DefaultRetention", &dr, &drlen) == 0)
		hf_log_warn("bucket '%s' has a default retention: objects holdfast writes without a lock (the keys/ area) "
			    "get locked too and cannot be removed (crypto-shredding needs that)", s3->bucket);
	hf_error_clear();
	rc = 0;
	goto done;
off:
	rc = hf_error_set(HF_ECONFIG, "unable to prepare '%s': bucket '%s' at %s does not have Object Lock enabled",
			  s3->base.url, s3->bucket, s3->endpoint);
	hf_error_set_hint("backups must be immutable: use a bucket created with Object Lock (e.g. aws s3api "
			  "create-bucket --object-lock-enabled-for-bucket), or let holdfast create a new one");
done:
	hf_buf_free(&out);
	return rc;
}

static int check_versioning(hf_s3 *s3)
{
	hf_buf out = HF_BUF_INIT;
	hf_s3_resp resp;
	char val[32];
	int rc;

	if ((rc = bucket_get(s3, "versioning=", &out, &resp)) < 0)
		goto done;
	if (hf_s3_xml_get(val, sizeof(val), &out, "Status") < 0 || strcmp(val, "Enabled") != 0) {
		rc = hf_error_set(HF_ECONFIG, "unable to prepare '%s': bucket '%s' at %s does not have versioning enabled",
				  s3->base.url, s3->bucket, s3->endpoint);
		hf_error_set_hint("Object Lock needs versioning; a bucket created with Object Lock has it");
	}
done:
	hf_buf_free(&out);
	return rc;
}

int hf_s3_prepare(hf_storage *s, const hf_storage_prepare_opts *o)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_s3_req req = {0};
	hf_s3_resp resp;
	int rc;

	req.verb = "prepare";
	req.method = "HEAD";
	rc = hf_s3_request(s3, &req, &resp);
	if (rc == HF_ENOTFOUND && o->create) {
		if ((rc = create_bucket(s3, 1, &resp)) == HF_EEXISTS && strcmp(resp.err_code, "BucketAlreadyOwnedByYou") == 0)
			rc = 0; /* created meanwhile by someone with our credentials: check it like any other */
		if (rc < 0)
			return rc;
		hf_log_info("created bucket '%s' with Object Lock at %s", s3->bucket, s3->endpoint);
	} else if (rc == HF_ENOTFOUND) {
		hf_error_set(HF_ENOTFOUND, "unable to prepare '%s': bucket '%s' does not exist at %s", s3->base.url,
			     s3->bucket, s3->endpoint);
		hf_error_set_hint("create it with Object Lock enabled, or ask holdfast to create it");
		return HF_ENOTFOUND;
	} else if (rc < 0) {
		return rc;
	}
	if ((rc = check_lock(s3)) < 0)
		return rc;
	return check_versioning(s3);
}

/* ---- removing every version of one key ---- */

typedef struct vlist {
	char **ids;
	size_t n, cap;
} vlist;

static int vlist_add(vlist *v, const char *id)
{
	char **ids = hf_array_grow(v->ids, &v->cap, v->n, sizeof(*ids), 8);
	if (!ids)
		return hf_error_set(HF_ENOMEM, "out of memory");
	v->ids = ids;
	if (!(v->ids[v->n] = strdup(id)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	v->n++;
	return 0;
}

static void vlist_free(vlist *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->ids[i]);
	free(v->ids);
}

/* Versions and delete markers of exactly `full` in one ListObjectVersions page. */
static int versions_page(const hf_buf *page, const char *full, vlist *v)
{
	static const char *const kinds[] = {"Version", "DeleteMarker"};
	char key[2048], id[256];
	int rc;

	for (int k = 0; k < 2; k++) {
		const char *p = (const char *)page->data, *end = p + page->len, *val, *q, *f;
		size_t len, flen;
		while ((rc = hf_s3_xml_find(&p, end, kinds[k], &val, &len)) == 0) {
			q = val;
			if ((rc = hf_s3_xml_find(&q, val + len, "Key", &f, &flen)) < 0 ||
			    (rc = hf_s3_xml_text(key, sizeof(key), f, flen)) < 0)
				return HF_ECORRUPT;
			q = val;
			if ((rc = hf_s3_xml_find(&q, val + len, "VersionId", &f, &flen)) < 0 ||
			    (rc = hf_s3_xml_text(id, sizeof(id), f, flen)) < 0)
				return HF_ECORRUPT;
			if (strcmp(key, full) == 0 && (rc = vlist_add(v, id)) < 0)
				return rc;
		}
		if (rc != HF_ENOTFOUND)
			return HF_ECORRUPT;
	}
	return 0;
}

static int list_versions(hf_s3 *s3, const char *key, vlist *v)
{
	hf_buf page = HF_BUF_INIT, query = HF_BUF_INIT;
	char *full = NULL, kmark[2048] = "", vmark[256] = "", trunc[8];
	hf_s3_resp resp;
	int rc, pages = 0;

	if (!(full = malloc(strlen(s3->prefix) + strlen(key) + 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	strcpy(full, s3->prefix);
	strcat(full, key);
	for (;;) {
		const char *pairs[] = {"versions", "", "prefix", full, "key-marker", kmark, "version-id-marker", vmark, NULL};
		hf_s3_req req = {0};
		if (!kmark[0])
			pairs[4] = NULL;
		hf_buf_clear(&query);
		hf_buf_clear(&page);
		if ((rc = hf_s3_query(&query, pairs)) < 0)
			goto done;
		req.verb = "remove";
		req.method = "GET";
		req.name = key;
		req.query = (const char *)query.data;
		req.out = &page;
		req.out_max = VERSIONS_PAGE_MAX;
		if ((rc = hf_s3_request(s3, &req, &resp)) < 0)
			goto done;
		if ((rc = versions_page(&page, full, v)) < 0)
			goto bad;
		if (hf_s3_xml_get(trunc, sizeof(trunc), &page, "IsTruncated") < 0 || strcmp(trunc, "true") != 0)
			break;
		if (hf_s3_xml_get(kmark, sizeof(kmark), &page, "NextKeyMarker") < 0 || !kmark[0] ||
		    hf_s3_xml_get(vmark, sizeof(vmark), &page, "NextVersionIdMarker") < 0 || ++pages > 100000)
			goto bad;
	}
	hf_error_clear();
	rc = 0;
	goto done;
bad:
	if (rc != HF_ENOMEM)
		rc = hf_error_set(HF_ECORRUPT, "unable to remove '%s' in '%s': malformed ListObjectVersions answer", key,
				  s3->base.url);
done:
	hf_buf_free(&page);
	hf_buf_free(&query);
	free(full);
	return rc;
}

int hf_s3_remove(hf_storage *s, const char *key)
{
	hf_s3 *s3 = (hf_s3 *)s;
	vlist v = {NULL, 0, 0};
	int rc;

	/* A plain DELETE on a versioned bucket only adds a delete marker and keeps the bytes: delete every
	 * version instead (removal is for the mutable keys/ area, where "gone" must mean gone). */
	if ((rc = list_versions(s3, key, &v)) < 0)
		goto done;
	if (v.n == 0) {
		rc = hf_error_set(HF_ENOTFOUND, "unable to remove '%s' in '%s': no such object", key, s3->base.url);
		goto done;
	}
	for (size_t i = 0; i < v.n && rc == 0; i++)
		rc = hf_s3_delete_version(s, key, v.ids[i]);
done:
	vlist_free(&v);
	return rc;
}
