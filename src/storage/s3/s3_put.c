/* Writing objects to S3: single PUT or multipart upload above 64 MiB, Object Lock retention on write,
 * PutObjectRetention after a multipart upload (RGW ignores lock headers on initiate), verification of
 * the lock with HEAD, and extending retention (never shortening it). */
#include "storage/s3/s3_internal.h"

#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPLOAD_ID_CAP 1024
#define MAX_UNTIL 9000000000LL /* year 2255: seconds * 1e9 must fit in int64 (hf_time_format takes ns) */

typedef struct lock_hdrs {
	char mode[64];
	char until[96];
	const char *list[3];
} lock_hdrs;

static const char *const *lock_headers(lock_hdrs *h, hf_lock_mode mode, int64_t until)
{
	char date[32];
	if (mode == HF_LOCK_NONE)
		return NULL;
	hf_time_format(date, sizeof(date), until * 1000000000);
	snprintf(h->mode, sizeof(h->mode), "x-amz-object-lock-mode: %s", hf_s3_lock_name(mode));
	snprintf(h->until, sizeof(h->until), "x-amz-object-lock-retain-until-date: %s", date);
	h->list[0] = h->mode;
	h->list[1] = h->until;
	h->list[2] = NULL;
	return h->list;
}

/* PutObjectRetention on one version (or the current one when version is empty). */
static int put_retention(hf_s3 *s3, const char *key, const char *version, const char *verb, hf_lock_mode mode,
			 int64_t until)
{
	hf_buf body = HF_BUF_INIT, query = HF_BUF_INIT;
	const char *pairs[] = {"retention", "", version && *version ? "versionId" : NULL, version, NULL};
	hf_s3_req req = {0};
	hf_s3_resp resp;
	char date[32];
	int rc;

	hf_time_format(date, sizeof(date), until * 1000000000);
	if ((rc = hf_s3_query(&query, pairs)) < 0 ||
	    (rc = hf_buf_printf(&body, "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>%s</Mode>"
				       "<RetainUntilDate>%s</RetainUntilDate></Retention>", hf_s3_lock_name(mode), date)) < 0)
		goto done;
	req.verb = verb;
	req.method = "PUT";
	req.key = key;
	req.query = (const char *)query.data;
	req.body = body.data;
	req.body_len = body.len;
	rc = hf_s3_request(s3, &req, &resp);
done:
	hf_buf_free(&body);
	hf_buf_free(&query);
	return rc;
}

/* A lock is in force when the server reports at least the mode (COMPLIANCE > GOVERNANCE) and date asked for. */
static int verify_lock(hf_s3 *s3, const char *key, const char *verb, hf_lock_mode mode, int64_t until)
{
	hf_s3_resp resp;
	hf_storage_stat st;
	char want[32], got[32];
	int rc;

	if ((rc = hf_s3_head(s3, key, verb, &resp, &st)) < 0)
		return rc;
	if (st.lock_mode >= mode && st.lock_until >= until)
		return 0;
	hf_time_format(want, sizeof(want), until * 1000000000);
	hf_time_format(got, sizeof(got), st.lock_until * 1000000000);
	hf_error_set(HF_EUNSUPPORTED, "unable to %s '%s' in '%s': Object Lock not in force after writing (asked %s until "
		     "%s, server reports %s until %s)", verb, key, s3->base.url, hf_s3_lock_name(mode), want,
		     hf_s3_lock_name(st.lock_mode), st.lock_until ? got : "-");
	hf_error_set_hint("bucket '%s' needs Object Lock enabled on a server that implements it (AWS S3, Ceph RGW, MinIO)",
			  s3->bucket);
	return HF_EUNSUPPORTED;
}

static int put_single(hf_s3 *s3, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	hf_s3_req req = {0};
	hf_s3_resp resp;
	lock_hdrs lh;

	req.verb = "store";
	req.method = "PUT";
	req.key = key;
	req.headers = lock_headers(&lh, o->lock_mode, o->lock_until);
	req.body = data;
	req.body_len = len;
	return hf_s3_request(s3, &req, &resp); /* same bytes, same name: retrying is idempotent */
}

static int mp_initiate(hf_s3 *s3, const char *key, const hf_storage_put_opts *o, char *upload_id)
{
	hf_buf out = HF_BUF_INIT;
	hf_s3_req req = {0};
	hf_s3_resp resp;
	lock_hdrs lh;
	int rc;

	req.verb = "store";
	req.method = "POST";
	req.key = key;
	req.query = "uploads=";
	req.headers = lock_headers(&lh, o->lock_mode, o->lock_until); /* AWS honours them; RGW does not */
	req.out = &out;
	req.out_max = 1024 * 1024;
	if ((rc = hf_s3_request(s3, &req, &resp)) == 0 &&
	    ((rc = hf_buf_cstr(&out)) < 0 || hf_s3_xml_get(upload_id, UPLOAD_ID_CAP, &out, "UploadId") < 0 || !*upload_id))
		rc = hf_error_set(HF_ECORRUPT, "unable to store '%s' in '%s': no UploadId in the answer to "
				  "CreateMultipartUpload", key, s3->base.url);
	hf_buf_free(&out);
	return rc;
}

static int mp_part(hf_s3 *s3, const char *key, const char *upload_id, int part, const void *data, size_t len,
		   char *etag, size_t cap)
{
	hf_buf query = HF_BUF_INIT;
	char num[16];
	const char *pairs[] = {"partNumber", num, "uploadId", upload_id, NULL};
	hf_s3_req req = {0};
	hf_s3_resp resp;
	int rc;

	snprintf(num, sizeof(num), "%d", part);
	if ((rc = hf_s3_query(&query, pairs)) < 0)
		goto done;
	req.verb = "store";
	req.method = "PUT";
	req.key = key;
	req.query = (const char *)query.data;
	req.body = data;
	req.body_len = len;
	if ((rc = hf_s3_request(s3, &req, &resp)) < 0)
		goto done;
	if (!resp.etag[0] || strlen(resp.etag) >= cap) {
		rc = hf_error_set(HF_ECORRUPT, "unable to store '%s' in '%s': no ETag for part %d", key, s3->base.url, part);
		goto done;
	}
	strcpy(etag, resp.etag);
done:
	hf_buf_free(&query);
	return rc;
}

/* Completes the upload; version gets the new object's version id when the server names it. */
static int mp_complete(hf_s3 *s3, const char *key, const char *upload_id, char (*etags)[130], int nparts, size_t len,
		       char *version, size_t vcap)
{
	hf_buf body = HF_BUF_INIT, query = HF_BUF_INIT, out = HF_BUF_INIT;
	const char *pairs[] = {"uploadId", upload_id, NULL};
	hf_s3_req req = {0};
	hf_s3_resp resp;
	hf_storage_stat st;
	char code[64];
	int rc;

	rc = hf_buf_printf(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (int i = 0; i < nparts && rc == 0; i++) {
		rc = hf_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
		if (rc == 0 && (rc = hf_s3_xml_escape(&body, etags[i])) == 0)
			rc = hf_buf_printf(&body, "</ETag></Part>");
	}
	if (rc < 0 || (rc = hf_buf_printf(&body, "</CompleteMultipartUpload>")) < 0 || (rc = hf_s3_query(&query, pairs)) < 0)
		goto done;
	req.verb = "store";
	req.method = "POST";
	req.key = key;
	req.query = (const char *)query.data;
	req.body = body.data;
	req.body_len = body.len;
	req.out = &out;
	req.out_max = 1024 * 1024;
	rc = hf_s3_request(s3, &req, &resp);
	if (rc == HF_ENOTFOUND && strcmp(resp.err_code, "NoSuchUpload") == 0) {
		/* A retry after a lost answer: the first attempt completed it. Accept it only if it is all there. */
		if (hf_s3_head(s3, key, "store", &resp, &st) == 0 && st.size == len) {
			snprintf(version, vcap, "%s", resp.version_id);
			rc = 0;
		}
		goto done;
	}
	if (rc < 0)
		goto done;
	/* S3 may answer 200 and report the failure in the body. */
	if ((rc = hf_buf_cstr(&out)) < 0)
		goto done;
	if (hf_s3_xml_get(code, sizeof(code), &out, "Code") == 0 && strstr((const char *)out.data, "<Error")) {
		rc = hf_error_set(HF_ENET, "unable to store '%s' in '%s': CompleteMultipartUpload failed: %s", key,
				  s3->base.url, code);
		goto done;
	}
	hf_error_clear();
	snprintf(version, vcap, "%s", resp.version_id);
done:
	hf_buf_free(&out);
	hf_buf_free(&body);
	hf_buf_free(&query);
	return rc;
}

/* Best effort, keeping the original error: parts of an aborted upload would otherwise be billed forever. */
static void mp_abort(hf_s3 *s3, const char *key, const char *upload_id)
{
	char msg[1024], hint[1024];
	const char *h = hf_error_hint();
	hf_buf query = HF_BUF_INIT;
	const char *pairs[] = {"uploadId", upload_id, NULL};
	hf_s3_req req = {0};
	hf_s3_resp resp;

	snprintf(msg, sizeof(msg), "%s", hf_error_message());
	snprintf(hint, sizeof(hint), "%s", h ? h : "");
	if (hf_s3_query(&query, pairs) == 0) {
		req.verb = "abort the upload of";
		req.method = "DELETE";
		req.key = key;
		req.query = (const char *)query.data;
		(void)hf_s3_request(s3, &req, &resp);
	}
	hf_buf_free(&query);
	hf_error_set(HF_ERROR, "%s", msg); /* the caller returns its own code */
	if (hint[0])
		hf_error_set_hint("%s", hint);
}

static int put_multipart(hf_s3 *s3, const char *key, const uint8_t *data, size_t len, const hf_storage_put_opts *o)
{
	char upload_id[UPLOAD_ID_CAP], version[256] = "";
	char(*etags)[130] = NULL;
	int nparts = (int)((len + HF_S3_PART_SIZE - 1) / HF_S3_PART_SIZE), rc;

	if (nparts > 10000)
		return hf_error_set(HF_EUSAGE, "unable to store '%s' in '%s': %zu bytes need more than 10000 parts", key,
				    s3->base.url, len);
	if (!(etags = calloc((size_t)nparts, sizeof(*etags))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = mp_initiate(s3, key, o, upload_id)) < 0)
		goto done;
	for (int i = 0; i < nparts && rc == 0; i++) {
		size_t off = (size_t)i * HF_S3_PART_SIZE, n = len - off < HF_S3_PART_SIZE ? len - off : HF_S3_PART_SIZE;
		rc = mp_part(s3, key, upload_id, i + 1, data + off, n, etags[i], sizeof(etags[i]));
	}
	if (rc == 0)
		rc = mp_complete(s3, key, upload_id, etags, nparts, len, version, sizeof(version));
	if (rc < 0)
		mp_abort(s3, key, upload_id);
	else if (o->lock_mode != HF_LOCK_NONE)
		rc = put_retention(s3, key, version, "store", o->lock_mode, o->lock_until);
done:
	free(etags);
	return rc;
}

int hf_s3_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	hf_s3 *s3 = (hf_s3 *)s;
	int rc;

	if (o->lock_mode != HF_LOCK_NONE && (o->lock_until <= 0 || o->lock_until > MAX_UNTIL))
		return hf_error_set(HF_EUSAGE, "unable to store '%s' in '%s': invalid retain-until time %lld", key,
				    s3->base.url, (long long)o->lock_until);
	if (len > HF_S3_MULTIPART_THRESHOLD)
		rc = put_multipart(s3, key, data, len, o);
	else
		rc = put_single(s3, key, data, len, o);
	if (rc == 0 && o->lock_mode != HF_LOCK_NONE)
		rc = verify_lock(s3, key, "store", o->lock_mode, o->lock_until);
	return rc;
}

int hf_s3_extend_lock(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until)
{
	hf_s3 *s3 = (hf_s3 *)s;
	hf_s3_resp resp;
	hf_storage_stat st;
	int rc;

	if (mode != HF_LOCK_GOVERNANCE && mode != HF_LOCK_COMPLIANCE)
		return hf_error_set(HF_EUSAGE, "unable to extend the lock of '%s' in '%s': no lock mode given", key,
				    s3->base.url);
	if (until <= 0 || until > MAX_UNTIL)
		return hf_error_set(HF_EUSAGE, "unable to extend the lock of '%s' in '%s': invalid retain-until time %lld",
				    key, s3->base.url, (long long)until);
	if ((rc = hf_s3_head(s3, key, "extend the lock of", &resp, &st)) < 0)
		return rc;
	if (st.lock_mode >= mode && st.lock_until >= until)
		return 0; /* already held at least that long: never shorten, never weaken */
	if (st.lock_mode > mode)
		mode = st.lock_mode;
	if (st.lock_until > until)
		until = st.lock_until;
	if ((rc = put_retention(s3, key, resp.version_id, "extend the lock of", mode, until)) < 0)
		return rc;
	return verify_lock(s3, key, "extend the lock of", mode, until);
}
