/* The S3 storage driver against a real S3 server with Object Lock (Ceph RGW from tests/s3/rgw-start, via the
 * HF_TEST_S3_* environment), including faults injected by tests/s3/faultproxy.py. Also prints PUT/GET
 * throughput of 16 MiB objects with 1 and 8 parallel transfers. */
#include "storage/s3/s3.h"
#include "storage/s3/s3_internal.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hex.h"

#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MIB (1024u * 1024)
#define MANY 1100

static hf_storage_options base_opts;
static char tmpdir[64] = "/tmp/hf-s3-test-XXXXXX";
static char bucket[64];

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static int64_t now_s(void) { return hf_clock_now_ns() / 1000000000; }

static hf_storage *open_s3(const char *b, const char *prefix, const hf_storage_options *o)
{
	hf_storage *s = NULL;
	int rc = hf_storage_s3_open(&s, b, prefix, o ? o : &base_opts);
	if (rc < 0) {
		fprintf(stderr, "cannot open s3://%s/%s: %s\n", b, prefix, hf_error_message());
		exit(1);
	}
	return s;
}

static int have_env(void)
{
	static const char *const names[] = {"HF_TEST_S3_ENDPOINT", "HF_TEST_S3_ACCESS_KEY", "HF_TEST_S3_SECRET_KEY",
					    "HF_TEST_S3_REGION", NULL};
	int ok = 1;
	for (int i = 0; names[i]; i++)
		if (!getenv(names[i]) || !*getenv(names[i])) {
			fprintf(stderr, "test_s3_driver: %s is not set: start a server first, e.g.\n"
					"  eval \"$(tests/s3/rgw-start /tmp/rgw)\"   (scripts/test does this)\n", names[i]);
			ok = 0;
		}
	return ok;
}

/* ---- the driver's pure helpers (no server needed) ---- */

static void test_helpers(void)
{
	static const struct { const char *in, *md5; } vec[] = {/* RFC 1321 appendix A.5 */
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"}};
	uint8_t d[16];
	char hex[33], text[64];
	hf_buf q = HF_BUF_INIT, x = HF_BUF_INIT;
	const char *p, *v, *end;
	size_t len;
	int64_t t;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		hf_s3_md5(d, vec[i].in, strlen(vec[i].in));
		hf_hex_encode(hex, d, 16);
		CHECK_STR(hex, vec[i].md5);
	}
	{ /* lengths around the 56- and 64-byte padding boundaries (expected values from Python's hashlib) */
		static const struct { size_t n; const char *md5; } pad[] = {
			{55, "ef1772b6dff9a122358552954ad0df65"}, {56, "3b0c8ac703f828b04c6c197006d17218"},
			{63, "b06521f39153d618550606be297466d5"}, {64, "014842d480b571495a4a0363793f7367"},
			{65, "c743a45e0d2e6a95cb859adae0248435"}, {119, "8a7bd0732ed6a28ce75f6dabc90e1613"},
			{120, "5f61c0ccad4cac44c75ff505e1f1e537"}, {128, "e510683b3f5ffe4093d021808bc6ff70"}};
		char as[128];
		memset(as, 'a', sizeof(as));
		for (size_t i = 0; i < sizeof(pad) / sizeof(pad[0]); i++) {
			hf_s3_md5(d, as, pad[i].n);
			hf_hex_encode(hex, d, 16);
			CHECK_STR(hex, pad[i].md5);
		}
	}
	const char *pairs[] = {"uploadId", "a/b+c=", "partNumber", "3", "retention", NULL, NULL};
	CHECK_OK(hf_s3_query(&q, pairs));
	CHECK_STR((char *)q.data, "partNumber=3&retention=&uploadId=a%2Fb%2Bc%3D");
	hf_buf_clear(&q);
	CHECK_OK(hf_s3_encode(&q, "a b/c~d_e.f-g%", 1));
	CHECK_OK(hf_buf_cstr(&q));
	CHECK_STR((char *)q.data, "a%20b/c~d_e.f-g%25");

	hf_buf_printf(&x, "<R xmlns=\"x\"><KeyCount>2</KeyCount><Key>a&amp;b&lt;&#x41;&#66;</Key><Empty/>"
			  "<Name a=\"1\">n</Name></R>");
	p = (const char *)x.data;
	end = p + x.len;
	CHECK_OK(hf_s3_xml_find(&p, end, "Key", &v, &len)); /* not fooled by <KeyCount> */
	CHECK_OK(hf_s3_xml_text(text, sizeof(text), v, len));
	CHECK_STR(text, "a&b<AB");
	CHECK_OK(hf_s3_xml_get(text, sizeof(text), &x, "Empty"));
	CHECK_STR(text, "");
	CHECK_OK(hf_s3_xml_get(text, sizeof(text), &x, "Name"));
	CHECK_STR(text, "n");
	CHECK_RC(hf_s3_xml_get(text, sizeof(text), &x, "Missing"), HF_ENOTFOUND);
	CHECK_RC(hf_s3_xml_get(text, 3, &x, "Key"), HF_ECORRUPT); /* too long for the buffer */
	CHECK_RC(hf_s3_xml_get(text, sizeof(text), &x, "R"), HF_ECORRUPT); /* nested elements are not text */
	for (size_t cut = 0; cut < x.len; cut++) { /* every truncation is handled inside the bounds */
		p = (const char *)x.data;
		int rc = hf_s3_xml_find(&p, p + cut, "Name", &v, &len);
		CHECK(rc == HF_ENOTFOUND || rc == HF_ECORRUPT || (rc == 0 && v + len <= (const char *)x.data + cut));
	}
	CHECK_RC(hf_s3_xml_text(text, sizeof(text), "a&bogus;", 8), HF_ECORRUPT);
	CHECK_RC(hf_s3_xml_text(text, sizeof(text), "&#0;", 4), HF_ECORRUPT);
	CHECK_RC(hf_s3_xml_text(text, sizeof(text), "&amp", 4), HF_ECORRUPT);
	CHECK_OK(hf_s3_http_date("Wed, 25 Nov 2026 12:00:00 GMT", &t));
	CHECK(t == 1795608000);
	CHECK_RC(hf_s3_http_date("yesterday", &t), HF_ECORRUPT);
	hf_error_clear();
	hf_buf_free(&q);
	hf_buf_free(&x);
}

/* ---- basics ---- */

static void test_basics(hf_storage *s)
{
	uint8_t data[1000];
	hf_buf b = HF_BUF_INIT;
	hf_storage_stat st;
	int64_t t0 = now_s();

	fill(data, sizeof(data), 1);
	CHECK_OK(hf_storage_put(s, "data/a", data, sizeof(data), NULL));
	CHECK_OK(hf_storage_get(s, "data/a", &b));
	CHECK(b.len == sizeof(data) && memcmp(b.data, data, sizeof(data)) == 0);
	hf_buf_clear(&b);
	CHECK_OK(hf_storage_get_range(s, "data/a", 10, 100, &b));
	CHECK(b.len == 100 && memcmp(b.data, data + 10, 100) == 0);
	CHECK_OK(hf_storage_get_range(s, "data/a", 900, 100, &b)); /* appends */
	CHECK(b.len == 200 && memcmp(b.data + 100, data + 900, 100) == 0);
	hf_buf_clear(&b);
	CHECK_RC(hf_storage_get_range(s, "data/a", 990, 20, &b), HF_ECORRUPT);
	CHECK_RC(hf_storage_get_range(s, "data/a", 5000, 20, &b), HF_ECORRUPT);
	CHECK(b.len == 0);
	CHECK_OK(hf_storage_get_range(s, "data/a", 1000, 0, &b));
	CHECK_OK(hf_storage_stat_object(s, "data/a", &st));
	CHECK(st.size == sizeof(data));
	CHECK(st.mtime >= t0 - 300 && st.mtime <= t0 + 300);
	CHECK(st.lock_mode == HF_LOCK_NONE && st.lock_until == 0);
	CHECK_RC(hf_storage_get(s, "data/missing", &b), HF_ENOTFOUND);
	CHECK(strstr(hf_error_message(), "data/missing") != NULL);
	CHECK_RC(hf_storage_stat_object(s, "data/missing", &st), HF_ENOTFOUND);
	CHECK_OK(hf_storage_put(s, "data/empty", "", 0, NULL));
	CHECK_OK(hf_storage_get(s, "data/empty", &b));
	CHECK(b.len == 0);
	/* odd but valid key characters survive URL encoding and signing */
	CHECK_OK(hf_storage_put(s, "data/odd name+%&=~.x", data, 10, NULL));
	CHECK_OK(hf_storage_get(s, "data/odd name+%&=~.x", &b));
	CHECK(b.len == 10 && memcmp(b.data, data, 10) == 0);
	hf_buf_free(&b);
}

static int data_cb(const char *name, uint64_t size, void *payload)
{
	int *flags = payload;
	if (strcmp(name, "data/a") == 0 && size == 1000)
		flags[0]++;
	else if (strcmp(name, "data/empty") == 0 && size == 0)
		flags[1]++;
	else if (strcmp(name, "data/odd name+%&=~.x") == 0 && size == 10)
		flags[2]++;
	else
		flags[3]++;
	return 0;
}

static void test_list_names(hf_storage *s)
{
	int flags[4] = {0, 0, 0, 0};
	CHECK_OK(hf_storage_list(s, "data/", data_cb, flags));
	CHECK(flags[0] == 1 && flags[1] == 1 && flags[2] == 1 && flags[3] == 0);
}

/* Virtual-host addressing: rgw-start sets rgw_dns_name=localhost and libcurl resolves BUCKET.localhost. */
static void test_virtual_host(void)
{
	const char *ep = getenv("HF_TEST_S3_ENDPOINT");
	char vh[128];
	hf_storage_options o = base_opts;
	hf_storage *s;
	hf_buf b = HF_BUF_INIT;
	int flags[4] = {0, 0, 0, 0};

	if (strncmp(ep, "http://127.0.0.1:", 17) != 0) {
		fprintf(stderr, "note: virtual-host test needs the local RGW of tests/s3/rgw-start\n");
		return;
	}
	snprintf(vh, sizeof(vh), "http://localhost:%s", ep + 17);
	o.s3_endpoint = vh;
	o.virtual_host = 1;
	s = open_s3(bucket, "repo", &o);
	CHECK_OK(hf_storage_get(s, "data/a", &b));
	CHECK(b.len == 1000);
	CHECK_OK(hf_storage_put(s, "data/vhost", "v", 1, NULL));
	CHECK_OK(hf_storage_list(s, "data/", data_cb, flags));
	CHECK(flags[0] == 1 && flags[2] == 1 && flags[3] == 1);
	CHECK_OK(hf_storage_remove(s, "data/vhost"));
	hf_storage_free(s);
	hf_buf_free(&b);
}

/* ---- listing with pagination, written by parallel threads ---- */

typedef struct putter {
	hf_storage *s;
	int first, step, failures;
} putter;

static void *put_many(void *arg)
{
	putter *p = arg;
	char key[64], val[32];
	for (int i = p->first; i < MANY; i += p->step) {
		snprintf(key, sizeof(key), "many/%05d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		if (hf_storage_put(p->s, key, val, strlen(val), NULL) < 0) {
			fprintf(stderr, "put %s: %s\n", key, hf_error_message());
			p->failures++;
		}
	}
	return NULL;
}

typedef struct seen {
	unsigned char hit[MANY];
	int count, bad, stop_after;
} seen;

static int on_key(const char *name, uint64_t size, void *payload)
{
	seen *sn = payload;
	int i;
	char want[32];
	if (sscanf(name, "many/%05d", &i) != 1 || i < 0 || i >= MANY || sn->hit[i]) {
		sn->bad++;
		return 0;
	}
	snprintf(want, sizeof(want), "value-%d", i);
	if (size != strlen(want))
		sn->bad++;
	sn->hit[i] = 1;
	sn->count++;
	return sn->stop_after && sn->count == sn->stop_after ? 42 : 0;
}

static int count_cb(const char *name, uint64_t size, void *payload)
{
	(void)name;
	(void)size;
	(*(int *)payload)++;
	return 0;
}

static void test_list(hf_storage *s)
{
	pthread_t th[8];
	putter p[8];
	seen *sn = calloc(1, sizeof(*sn));
	hf_storage *other;
	int n = 0;
	double t0 = hf_clock_mono();

	for (int i = 0; i < 8; i++) {
		p[i] = (putter){s, i, 8, 0};
		pthread_create(&th[i], NULL, put_many, &p[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CHECK(p[i].failures == 0);
	}
	fprintf(stderr, "put %d small objects with 8 threads in %.2f s\n", MANY, hf_clock_mono() - t0);
	CHECK_OK(hf_storage_list(s, "many/", on_key, sn));
	CHECK(sn->count == MANY && sn->bad == 0);
	memset(sn, 0, sizeof(*sn));
	sn->stop_after = 1050; /* stop on the second page: the callback's value comes back */
	CHECK_RC(hf_storage_list(s, "many/", on_key, sn), 42);
	CHECK(sn->count == 1050);
	CHECK_OK(hf_storage_list(s, "many/001", count_cb, &n)); /* prefix ending mid-component */
	CHECK(n == 100);
	n = 0;
	CHECK_OK(hf_storage_list(s, "nothing/", count_cb, &n));
	CHECK(n == 0);
	/* another repository prefix in the same bucket sees none of it */
	other = open_s3(bucket, "other-repo", NULL);
	CHECK_OK(hf_storage_list(other, "", count_cb, &n));
	CHECK(n == 0);
	hf_storage_free(other);
	free(sn);
}

/* ---- remove: every version goes ---- */

static void test_remove(hf_storage *s)
{
	char v1[256];
	hf_buf b = HF_BUF_INIT;
	CHECK_OK(hf_storage_put(s, "keys/k1", "first", 5, NULL));
	CHECK_OK(hf_s3_version_id(s, "keys/k1", v1, sizeof(v1)));
	CHECK_OK(hf_storage_put(s, "keys/k1", "second", 6, NULL)); /* a second version */
	CHECK_OK(hf_storage_remove(s, "keys/k1"));
	CHECK_RC(hf_storage_get(s, "keys/k1", &b), HF_ENOTFOUND);
	/* no delete marker and no older version was left behind */
	CHECK_RC(hf_storage_remove(s, "keys/k1"), HF_ENOTFOUND);
	CHECK_RC(hf_storage_remove(s, "keys/never"), HF_ENOTFOUND);
	hf_buf_free(&b);
}

/* ---- Object Lock ---- */

static void test_lock(hf_storage *s)
{
	hf_storage_put_opts lk = {HF_LOCK_COMPLIANCE, now_s() + 3600};
	hf_storage_put_opts gv = {HF_LOCK_GOVERNANCE, now_s() + 600};
	hf_storage_stat st;
	hf_buf b = HF_BUF_INIT;
	char vid[256];
	int64_t later = lk.lock_until + 3600;

	CHECK_OK(hf_storage_put(s, "snapshots/locked", "immutable", 9, &lk));
	CHECK_OK(hf_storage_stat_object(s, "snapshots/locked", &st));
	CHECK(st.lock_mode == HF_LOCK_COMPLIANCE);
	CHECK(st.lock_until == lk.lock_until);
	CHECK_OK(hf_s3_version_id(s, "snapshots/locked", vid, sizeof(vid)));
	CHECK_RC(hf_s3_delete_version(s, "snapshots/locked", vid), HF_EAUTH);
	CHECK(hf_error_hint() != NULL);
	CHECK_RC(hf_storage_remove(s, "snapshots/locked"), HF_EAUTH);
	CHECK_OK(hf_storage_get(s, "snapshots/locked", &b));
	CHECK(b.len == 9 && memcmp(b.data, "immutable", 9) == 0);

	CHECK_OK(hf_storage_extend_lock(s, "snapshots/locked", HF_LOCK_COMPLIANCE, later));
	CHECK_OK(hf_storage_stat_object(s, "snapshots/locked", &st));
	CHECK(st.lock_mode == HF_LOCK_COMPLIANCE && st.lock_until == later);
	CHECK_OK(hf_storage_extend_lock(s, "snapshots/locked", HF_LOCK_GOVERNANCE, now_s() + 60)); /* never shortens */
	CHECK_OK(hf_storage_stat_object(s, "snapshots/locked", &st));
	CHECK(st.lock_mode == HF_LOCK_COMPLIANCE && st.lock_until == later);

	CHECK_OK(hf_storage_put(s, "snapshots/governed", "g", 1, &gv));
	CHECK_OK(hf_storage_stat_object(s, "snapshots/governed", &st));
	CHECK(st.lock_mode == HF_LOCK_GOVERNANCE && st.lock_until == gv.lock_until);
	CHECK_OK(hf_storage_extend_lock(s, "snapshots/governed", HF_LOCK_GOVERNANCE, gv.lock_until + 100));
	CHECK_OK(hf_storage_stat_object(s, "snapshots/governed", &st));
	CHECK(st.lock_mode == HF_LOCK_GOVERNANCE && st.lock_until == gv.lock_until + 100);
	CHECK_RC(hf_storage_extend_lock(s, "snapshots/absent", HF_LOCK_GOVERNANCE, later), HF_ENOTFOUND);
	hf_buf_free(&b);
}

static void test_multipart(hf_storage *s)
{
	size_t len = 70 * MIB + 12345;
	uint8_t *data = malloc(len);
	hf_storage_put_opts lk = {HF_LOCK_COMPLIANCE, now_s() + 1800};
	hf_storage_stat st;
	hf_buf b = HF_BUF_INIT;
	double t0;

	fill(data, len, 7);
	t0 = hf_clock_mono();
	CHECK_OK(hf_storage_put(s, "packs/big", data, len, &lk));
	fprintf(stderr, "multipart put of %zu MiB (locked) in %.2f s\n", len / MIB, hf_clock_mono() - t0);
	CHECK_OK(hf_storage_stat_object(s, "packs/big", &st));
	CHECK(st.size == len);
	CHECK(st.lock_mode == HF_LOCK_COMPLIANCE && st.lock_until == lk.lock_until);
	CHECK_OK(hf_storage_get(s, "packs/big", &b));
	CHECK(b.len == len && memcmp(b.data, data, len) == 0);
	hf_buf_clear(&b);
	CHECK_OK(hf_storage_get_range(s, "packs/big", 16 * MIB - 10, 20, &b)); /* across a part boundary */
	CHECK(b.len == 20 && memcmp(b.data, data + 16 * MIB - 10, 20) == 0);
	hf_buf_free(&b);
	free(data);
}

/* ---- bucket preparation and credentials ---- */

static void test_buckets(void)
{
	char plain[80], absent[80];
	hf_storage_prepare_opts check = {0, HF_LOCK_COMPLIANCE, 30};
	hf_storage_put_opts lk = {HF_LOCK_COMPLIANCE, now_s() + 600};
	hf_storage *s;

	snprintf(plain, sizeof(plain), "%s-nolock", bucket);
	s = open_s3(plain, "repo", NULL);
	CHECK_OK(hf_s3_create_bucket(s, 0));
	CHECK_RC(hf_storage_prepare(s, &check), HF_ECONFIG);
	CHECK(strstr(hf_error_message(), plain) != NULL && strstr(hf_error_message(), "Object Lock") != NULL);
	CHECK(hf_error_hint() != NULL);
	fprintf(stderr, "expected: %s\n  HINT: %s\n", hf_error_message(), hf_error_hint() ? hf_error_hint() : "");
	CHECK(hf_storage_put(s, "x", "x", 1, &lk) < 0); /* a locked write must never silently succeed */
	hf_storage_free(s);

	snprintf(absent, sizeof(absent), "%s-absent", bucket);
	s = open_s3(absent, "", NULL);
	CHECK_RC(hf_storage_prepare(s, &check), HF_ENOTFOUND);
	CHECK(strstr(hf_error_message(), absent) != NULL);
	hf_storage_free(s);
}

static void test_credentials(void)
{
	hf_storage_options o = base_opts;
	hf_storage *s;
	hf_buf b = HF_BUF_INIT;
	const char *wrong = "WRONGsecretWRONGsecretWRONGsecret0000000";

	o.secret_key = wrong;
	s = open_s3(bucket, "repo", &o);
	CHECK_RC(hf_storage_get(s, "data/a", &b), HF_EAUTH);
	CHECK(strstr(hf_error_message(), wrong) == NULL && strstr(hf_error_message(), base_opts.secret_key) == NULL);
	CHECK(hf_error_hint() != NULL);
	hf_storage_free(s);

	if (getenv("HF_TEST_S3_ACCESS_KEY2")) { /* another user: no access to this bucket */
		o.access_key = getenv("HF_TEST_S3_ACCESS_KEY2");
		o.secret_key = getenv("HF_TEST_S3_SECRET_KEY2");
		s = open_s3(bucket, "repo", &o);
		CHECK_RC(hf_storage_get(s, "data/a", &b), HF_EAUTH);
		CHECK_RC(hf_storage_put(s, "data/intruder", "x", 1, NULL), HF_EAUTH);
		hf_storage_free(s);
	}

	/* credentials from the environment when the options carry none */
	o = base_opts;
	o.access_key = o.secret_key = NULL;
	setenv("AWS_ACCESS_KEY_ID", base_opts.access_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", base_opts.secret_key, 1);
	s = open_s3(bucket, "repo", &o);
	CHECK_OK(hf_storage_get(s, "data/a", &b));
	hf_storage_free(s);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* ... or from a shared credentials file and profile */
	{
		char path[128];
		FILE *f;
		snprintf(path, sizeof(path), "%s/credentials", tmpdir);
		f = fopen(path, "w");
		fprintf(f, "[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n# comment\n"
			   "[hf]\naws_access_key_id = %s\naws_secret_access_key=%s\n",
			base_opts.access_key, base_opts.secret_key);
		fclose(f);
		setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
		setenv("AWS_PROFILE", "hf", 1);
		hf_buf_clear(&b);
		s = open_s3(bucket, "repo", &o);
		CHECK_OK(hf_storage_get(s, "data/a", &b));
		CHECK(b.len == 1000);
		hf_storage_free(s);
		unsetenv("AWS_PROFILE");
		s = open_s3(bucket, "repo", &o); /* profile "default" holds wrong keys */
		CHECK_RC(hf_storage_get(s, "data/a", &b), HF_EAUTH);
		hf_storage_free(s);
		unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	}
	hf_buf_free(&b);
}

/* HOLDFAST_S3_TRACE=2 shows headers but never the signature, the token or the secret. */
static void test_trace_redaction(void)
{
	char path[128];
	hf_storage_options o = base_opts;
	hf_storage *s;
	hf_buf log = HF_BUF_INIT, b = HF_BUF_INIT;
	int saved, fd;
	FILE *f;

	o.session_token = "SESSIONTOKENsecretvalue";
	snprintf(path, sizeof(path), "%s/trace.log", tmpdir);
	setenv("HOLDFAST_S3_TRACE", "2", 1);
	s = open_s3(bucket, "repo", &o);
	unsetenv("HOLDFAST_S3_TRACE");
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	(void)hf_storage_get(s, "data/a", &b); /* RGW rejects the unknown token: the trace is what matters */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	hf_storage_free(s);
	f = fopen(path, "r");
	if (f) {
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			hf_buf_append(&log, chunk, n);
		fclose(f);
	}
	hf_buf_cstr(&log);
	CHECK(log.len > 0 && strstr((char *)log.data, "[redacted]") != NULL);
	CHECK(strstr((char *)log.data, "GET ") != NULL);
	CHECK(strstr((char *)log.data, "SESSIONTOKENsecretvalue") == NULL);
	CHECK(strstr((char *)log.data, base_opts.secret_key) == NULL);
	CHECK(strstr((char *)log.data, "Signature=") == NULL);
	hf_buf_free(&log);
	hf_buf_free(&b);
}

/* ---- the fault proxy ---- */

static pid_t proxy_pid;
static char proxy_endpoint[64];

static void proxy_start(void)
{
	char src[512], script[600], portf[128], ctl[128], stats[128], pidf[128];
	const char *dir = getenv("HF_SOURCE_DIR");
	char *argv[16];
	posix_spawn_file_actions_t fa;
	int i = 0, port = 0, rc;

	if (dir && *dir)
		snprintf(src, sizeof(src), "%s", dir);
	else { /* from the path this file was compiled from */
		snprintf(src, sizeof(src), "%s", __FILE__);
		char *cut = strstr(src, "tests/integration/");
		if (cut)
			*cut = '\0';
		else
			strcpy(src, ".");
	}
	snprintf(script, sizeof(script), "%s/tests/s3/faultproxy.py", src);
	snprintf(portf, sizeof(portf), "%s/proxy.port", tmpdir);
	snprintf(ctl, sizeof(ctl), "%s/proxy.ctl", tmpdir);
	snprintf(stats, sizeof(stats), "%s/proxy.stats", tmpdir);
	snprintf(pidf, sizeof(pidf), "%s/proxy.pid", tmpdir);
	argv[i++] = "python3";
	argv[i++] = script;
	argv[i++] = "--upstream";
	argv[i++] = getenv("HF_TEST_S3_ENDPOINT");
	argv[i++] = "--control";
	argv[i++] = ctl;
	argv[i++] = "--stats";
	argv[i++] = stats;
	argv[i++] = "--port-file";
	argv[i++] = portf;
	argv[i++] = "--pid-file";
	argv[i++] = pidf;
	argv[i] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0); /* it prints its port there too */
	rc = posix_spawnp(&proxy_pid, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "cannot start %s with python3\n", script);
		exit(1);
	}
	for (int tries = 0; tries < 100 && port == 0; tries++) {
		FILE *f = fopen(portf, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (!port)
			usleep(100000);
	}
	if (!port) {
		fprintf(stderr, "faultproxy did not start\n");
		kill(proxy_pid, SIGKILL);
		exit(1);
	}
	snprintf(proxy_endpoint, sizeof(proxy_endpoint), "http://127.0.0.1:%d", port);
}

static void proxy_rule(const char *rule)
{
	char ctl[128];
	FILE *f;
	snprintf(ctl, sizeof(ctl), "%s/proxy.ctl", tmpdir);
	f = fopen(ctl, "w");
	fprintf(f, "%s\n", rule);
	fclose(f);
}

static int proxy_faults(void)
{
	char path[128];
	int req = 0, faults = -1;
	FILE *f;
	snprintf(path, sizeof(path), "%s/proxy.stats", tmpdir);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "requests=%d faults=%d", &req, &faults) != 2)
			faults = -1;
		fclose(f);
	}
	return faults;
}

static void proxy_stop(void)
{
	int status;
	if (proxy_pid > 0) {
		kill(proxy_pid, SIGTERM);
		waitpid(proxy_pid, &status, 0);
		proxy_pid = 0;
	}
}

static void test_faults(void)
{
	hf_storage_options o = base_opts;
	hf_storage *s, *quick;
	size_t len = 2 * MIB;
	uint8_t *data = malloc(len);
	hf_buf b = HF_BUF_INIT;
	double t0, took;

	proxy_start();
	fill(data, len, 3);
	o.s3_endpoint = proxy_endpoint;
	o.timeout_s = 2;
	s = open_s3(bucket, "repo", &o);

	proxy_rule("mode=pass");
	CHECK_OK(hf_storage_put(s, "faults/pass", data, 100, NULL));
	CHECK(proxy_faults() == 0);

	proxy_rule("mode=fail status=500 first=3");
	CHECK_OK(hf_storage_put(s, "faults/after500", data, len, NULL));
	CHECK(proxy_faults() == 3);
	proxy_rule("mode=fail status=503 first=2");
	CHECK_OK(hf_storage_get(s, "faults/after500", &b));
	CHECK(b.len == len && memcmp(b.data, data, len) == 0);
	CHECK(proxy_faults() == 2);

	proxy_rule("mode=reset first=2");
	CHECK_OK(hf_storage_put(s, "faults/afterreset", data, len, NULL));
	CHECK(proxy_faults() == 2);
	proxy_rule("mode=reset first=1 ");
	hf_buf_clear(&b);
	CHECK_OK(hf_storage_get(s, "faults/afterreset", &b));
	CHECK(b.len == len && memcmp(b.data, data, len) == 0);
	CHECK(proxy_faults() == 1);
	proxy_rule("mode=reset every=3");
	for (int i = 0; i < 6; i++) {
		hf_storage_stat st;
		CHECK_OK(hf_storage_stat_object(s, "faults/afterreset", &st));
		CHECK(st.size == len);
	}
	CHECK(proxy_faults() >= 2);

	proxy_rule("mode=pass ");
	CHECK_RC(hf_storage_get(s, "faults/missing", &b), HF_ENOTFOUND); /* a 404 is an answer: no retries */
	CHECK(proxy_faults() == 0);

	/* always failing, then a hung server: HF_ENET after the retries, in bounded time */
	o.retries = 2;
	quick = open_s3(bucket, "repo", &o);
	proxy_rule("mode=fail status=500");
	t0 = hf_clock_mono();
	CHECK_RC(hf_storage_put(quick, "faults/never", data, 100, NULL), HF_ENET);
	CHECK(strstr(hf_error_message(), "faults/never") != NULL && strstr(hf_error_message(), "500") != NULL);
	CHECK(proxy_faults() == 3);
	fprintf(stderr, "expected: %s (%.2f s)\n", hf_error_message(), hf_clock_mono() - t0);

	hf_storage_free(quick);

	/* libcurl measures speed over a ~5 s window, so silence is noticed after timeout_s + up to 6 s */
	o.retries = 1;
	o.timeout_s = 1;
	quick = open_s3(bucket, "repo", &o);
	proxy_rule("mode=stall stall=60");
	t0 = hf_clock_mono();
	CHECK_RC(hf_storage_put(quick, "faults/hung", data, 100, NULL), HF_ENET);
	took = hf_clock_mono() - t0;
	fprintf(stderr, "expected: %s (%.2f s)\n", hf_error_message(), took);
	CHECK(strstr(hf_error_message(), "faults/hung") != NULL);
	CHECK(proxy_faults() == 2);
	CHECK(took >= 2.0 && took < 2 * (1 + 7) + 1.0);
	hf_storage_free(quick);

	/* connection refused: the proxy is gone */
	proxy_stop();
	t0 = hf_clock_mono();
	o.retries = 1;
	quick = open_s3(bucket, "repo", &o);
	CHECK_RC(hf_storage_get(quick, "faults/after500", &b), HF_ENET);
	CHECK(hf_clock_mono() - t0 < 10.0);
	hf_storage_free(quick);
	hf_storage_free(s);
	hf_buf_free(&b);
	free(data);
}

/* ---- throughput (reported, not asserted) ---- */

typedef struct bench {
	hf_storage *s;
	const uint8_t *data;
	int first, step, n, get, failures;
} bench;

static void *bench_run(void *arg)
{
	bench *bn = arg;
	hf_buf b = HF_BUF_INIT;
	char key[64];
	for (int i = bn->first; i < bn->n; i += bn->step) {
		snprintf(key, sizeof(key), "bench/%03d", i);
		hf_buf_clear(&b);
		if ((bn->get ? hf_storage_get(bn->s, key, &b) : hf_storage_put(bn->s, key, bn->data, 16 * MIB, NULL)) < 0 ||
		    (bn->get && (b.len != 16 * MIB || memcmp(b.data, bn->data, 16 * MIB) != 0)))
			bn->failures++;
	}
	hf_buf_free(&b);
	return NULL;
}

static double bench_phase(hf_storage *s, const uint8_t *data, int n, int threads, int get)
{
	pthread_t th[8];
	bench bn[8];
	double t0 = hf_clock_mono();
	for (int i = 0; i < threads; i++) {
		bn[i] = (bench){s, data, i, threads, n, get, 0};
		pthread_create(&th[i], NULL, bench_run, &bn[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		CHECK(bn[i].failures == 0);
	}
	return n * 16.0 * MIB / 1e6 / (hf_clock_mono() - t0);
}

static void test_throughput(hf_storage *s)
{
	int n = getenv("HF_TEST_S3_BENCH_N") ? atoi(getenv("HF_TEST_S3_BENCH_N")) : 8;
	uint8_t *data = malloc(16 * MIB);
	double put1, get1, put8, get8;

	if (n < 8 || n > 999)
		n = 8;
	fill(data, 16 * MIB, 11);
	put1 = bench_phase(s, data, n, 1, 0);
	get1 = bench_phase(s, data, n, 1, 1);
	put8 = bench_phase(s, data, n, 8, 0);
	get8 = bench_phase(s, data, n, 8, 1);
	fprintf(stderr, "throughput, %d x 16 MiB: PUT %.0f MB/s (1 stream), %.0f MB/s (8 parallel); "
			"GET %.0f MB/s (1 stream), %.0f MB/s (8 parallel)\n", n, put1, put8, get1, get8);
	for (int i = 0; i < n; i++) { /* every version: memstore keeps the server's data in RAM */
		char key[32];
		snprintf(key, sizeof(key), "bench/%03d", i);
		CHECK_OK(hf_storage_remove(s, key));
	}
	free(data);
}

int main(void)
{
	hf_storage *s;
	hf_storage_prepare_opts create = {1, HF_LOCK_COMPLIANCE, 30};
	const char *only = getenv("HF_TEST_S3_ONLY"); /* e.g. "bench" while measuring */

	test_helpers();
	if (!have_env())
		return 1;
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	base_opts.s3_endpoint = getenv("HF_TEST_S3_ENDPOINT");
	base_opts.s3_region = getenv("HF_TEST_S3_REGION");
	base_opts.access_key = getenv("HF_TEST_S3_ACCESS_KEY");
	base_opts.secret_key = getenv("HF_TEST_S3_SECRET_KEY");
	base_opts.timeout_s = 30;
	snprintf(bucket, sizeof(bucket), "hf-driver-%ld-%d", (long)time(NULL), (int)getpid());

	s = open_s3(bucket, "repo", NULL);
	CHECK(hf_storage_has(s, HF_STORAGE_FEAT_LOCK | HF_STORAGE_FEAT_RANGE | HF_STORAGE_FEAT_VERSIONING));
	CHECK(!hf_storage_has(s, HF_STORAGE_FEAT_LOCAL));
	{
		char url[128];
		snprintf(url, sizeof(url), "s3://%s/repo", bucket);
		CHECK_STR(s->url, url);
	}
	CHECK_OK(hf_storage_prepare(s, &create));
	create.create = 0;
	CHECK_OK(hf_storage_prepare(s, &create)); /* an existing, correct bucket passes */

	if (!only || strcmp(only, "bench") != 0) {
		test_basics(s);
		test_list_names(s);
		test_virtual_host();
		test_list(s);
		test_remove(s);
		test_lock(s);
		test_multipart(s);
		test_buckets();
		test_credentials();
		test_trace_redaction();
		test_faults();
	}
	test_throughput(s);
	hf_storage_free(s);
	proxy_stop();
	TEST_MAIN_END();
}
