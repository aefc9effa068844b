/* Catalog: migrations (empty -> latest, 1 -> latest keeping rows, concurrent openers), refusal of newer,
 * foreign and garbage files, tenant/snapshot/check/audit records, transactions and clear. The test reads
 * the file with sqlite3 directly to see what holdfast wrote. */
#include "catalog/catalog.h"
#include "test.h"
#include "util/error.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/hf-catalog-XXXXXX";

static const char *tpath(const char *name)
{
	static char p[8][512];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmp, name);
	return p[i];
}

/* One integer from a query run on the file directly (-1 on any error). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static const char *raw_text(const char *path, const char *sql)
{
	static char out[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(out, sizeof(out), "(error)");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* ---- collectors ---- */

typedef struct text {
	char s[2048];
	int n, stop_at, stop_value;
} text;

static int add(text *t, const char *fmt, ...) HF_PRINTF(2, 3);
static int add(text *t, const char *fmt, ...)
{
	va_list ap;
	size_t o = strlen(t->s);
	if (o && o < sizeof(t->s) - 1)
		t->s[o++] = '|';
	va_start(ap, fmt);
	vsnprintf(t->s + o, sizeof(t->s) - o, fmt, ap);
	va_end(ap);
	t->n++;
	return t->stop_at && t->n >= t->stop_at ? t->stop_value : 0;
}

static int tenant_cb(const hf_catalog_tenant *x, void *p)
{
	return add(p, "%s,%s,%s,%lld,%s", x->id, x->tid, x->tier, (long long)x->created,
	           x->sources ? x->sources : "-");
}

static int snap_cb(const hf_catalog_snapshot *x, void *p)
{
	return add(p, "%s@%lld:%s/%s", x->id, (long long)x->time, x->tenant, x->source);
}

static int check_cb(const hf_catalog_check *x, void *p)
{
	return add(p, "%lld,%s,%d,%d,%llu,%s", (long long)x->time, x->tenant ? x->tenant : "-", x->read_data,
	           x->status, (unsigned long long)x->errors, x->detail ? x->detail : "-");
}

static int audit_cb(const hf_catalog_audit *x, void *p)
{
	if (!x->actor || !*x->actor)
		return add(p, "NO ACTOR");
	return add(p, "%lld,%s,%s,%s", (long long)x->time, x->action, x->tenant ? x->tenant : "-",
	           x->detail ? x->detail : "-");
}

static const char *tenants(hf_catalog *c)
{
	static text t;
	memset(&t, 0, sizeof(t));
	CHECK_OK(hf_catalog_tenant_list(c, tenant_cb, &t));
	return t.s;
}

static const char *snaps(hf_catalog *c, const char *tenant, const char *source)
{
	static text t;
	memset(&t, 0, sizeof(t));
	CHECK_OK(hf_catalog_snapshot_list(c, tenant, source, snap_cb, &t));
	return t.s;
}

static const char *checks(hf_catalog *c)
{
	static text t;
	memset(&t, 0, sizeof(t));
	CHECK_OK(hf_catalog_check_list(c, check_cb, &t));
	return t.s;
}

static const char *audits(hf_catalog *c, const char *tenant)
{
	static text t;
	memset(&t, 0, sizeof(t));
	CHECK_OK(hf_catalog_audit_list(c, tenant, audit_cb, &t));
	return t.s;
}

static hf_catalog_tenant tenant(const char *id, const char *tid, const char *tier)
{
	hf_catalog_tenant t = {id, tid, tier, 1700000000, NULL};
	return t;
}

static hf_catalog_snapshot snapshot(const char *id, const char *ten, const char *source, int64_t time)
{
	hf_catalog_snapshot s = {id, ten, source, "label", time, time - 5, NULL, NULL, 3, 300, 30, 0, NULL};
	return s;
}

/* ---- migrations ---- */

static void test_fresh(void)
{
	hf_catalog *c = NULL;
	const char *path = tpath("new/sub/dir/catalog.db");
	int v = -1, latest = hf_catalog_latest_version();

	CHECK(latest >= 2);
	CHECK_OK(hf_catalog_open(&c, path));
	if (!c)
		return;
	CHECK_OK(hf_catalog_schema_version(c, &v));
	CHECK(v == latest);
	CHECK_STR(raw_text(path, "PRAGMA journal_mode"), "wal");
	CHECK(raw_int(path, "SELECT count(*) FROM schema_migrations") == latest);
	CHECK_STR(raw_text(path, "SELECT name FROM schema_migrations WHERE version = 1"), "001_init.sql");
	CHECK_STR(raw_text(path, "SELECT name FROM schema_migrations WHERE version = 2"), "002_audit.sql");
	CHECK(raw_int(path, "SELECT min(applied_at) FROM schema_migrations") > 1700000000);
	CHECK(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
	                    "('tenant', 'snapshot', 'check_result', 'audit_event')") == 4);
	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"t1", "00112233445566778899aabbccddeeff", "gold", 5, "{}"}));
	hf_catalog_free(c);
	c = NULL;

	/* reopening changes nothing and keeps the rows */
	CHECK_OK(hf_catalog_open(&c, path));
	if (!c)
		return;
	CHECK_OK(hf_catalog_schema_version(c, &v));
	CHECK(v == latest);
	CHECK(raw_int(path, "SELECT count(*) FROM schema_migrations") == latest);
	CHECK_STR(tenants(c), "t1,00112233445566778899aabbccddeeff,gold,5,{}");
	hf_catalog_free(c);

	/* in memory works too (no WAL there) */
	c = NULL;
	CHECK_OK(hf_catalog_open(&c, ":memory:"));
	if (c) {
		CHECK_OK(hf_catalog_schema_version(c, &v));
		CHECK(v == latest);
	}
	hf_catalog_free(c);
}

static void test_upgrade(void)
{
	hf_catalog *c = NULL;
	const char *path = tpath("v1.db"), *p0 = tpath("v0.db");
	hf_catalog_tenant t = tenant("acme", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "silver");
	int v = -1;

	CHECK_OK(hf_catalog_open_at_version(&c, p0, 0));
	if (c) {
		CHECK_OK(hf_catalog_schema_version(c, &v));
		CHECK(v == 0);
	}
	hf_catalog_free(c);
	c = NULL;
	CHECK(raw_int(p0, "SELECT count(*) FROM sqlite_master") == 0);

	CHECK_OK(hf_catalog_open_at_version(&c, path, 1));
	if (!c)
		return;
	CHECK_OK(hf_catalog_schema_version(c, &v));
	CHECK(v == 1);
	CHECK(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_event'") == 0);
	CHECK(hf_catalog_audit_add(c, 1, "x", NULL, NULL) < 0); /* no audit table at version 1 */
	CHECK_OK(hf_catalog_tenant_put(c, &t));
	CHECK_OK(hf_catalog_check_put(c, &(hf_catalog_check){50, "acme", 10, 0, 0, NULL}));
	hf_catalog_free(c);
	c = NULL;
	/* rows as version 1 wrote them: a backup and an in-place restore's safety copy */
	CHECK(raw_exec(path, "INSERT INTO snapshot (id, tenant, source, label, time, recovery_time, files, size, "
	                     "stored) VALUES ('s1', 'acme', 'files', 'label', 100, 95, 3, 300, 30), "
	                     "('s2', 'acme', 'postgres', 'safety copy before in-place restore of s0', 150, 150, "
	                     "1, 10, 10)") == 0);

	CHECK_OK(hf_catalog_open(&c, path));
	if (!c)
		return;
	CHECK_OK(hf_catalog_schema_version(c, &v));
	CHECK(v == hf_catalog_latest_version());
	CHECK_STR(tenants(c), "acme,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,silver,1700000000,-");
	CHECK_STR(snaps(c, NULL, NULL), "s1@100:acme/files|s2@150:acme/postgres");
	/* migration 4 recognises the safety copy by its label */
	CHECK_STR(raw_text(path, "SELECT group_concat(id || '=' || kind) FROM snapshot"), "s1=,s2=safety");
	CHECK_STR(checks(c), "50,acme,10,0,0,-");
	CHECK_OK(hf_catalog_audit_add(c, 60, "tenant.create", "acme", "tier silver"));
	CHECK_STR(audits(c, NULL), "60,tenant.create,acme,tier silver");
	hf_catalog_free(c);
}

typedef struct opener {
	const char *path;
	int rc, version;
	char msg[512]; /* the worker's error message (messages are per thread) */
} opener;

static void *open_worker(void *arg)
{
	opener *o = arg;
	hf_catalog *c = NULL;
	o->rc = hf_catalog_open(&c, o->path);
	if (o->rc == 0)
		o->rc = hf_catalog_schema_version(c, &o->version);
	if (o->rc < 0)
		snprintf(o->msg, sizeof(o->msg), "%s", hf_error_message());
	hf_catalog_free(c);
	return NULL;
}

/* Several processes (here: connections) may create the same catalog at once. */
static void test_concurrent_open(void)
{
	pthread_t th[4];
	opener o[4];
	const char *path = tpath("race.db");
	for (int i = 0; i < 4; i++) {
		o[i] = (opener){path, -100, -1, ""};
		CHECK(pthread_create(&th[i], NULL, open_worker, &o[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (o[i].rc != 0)
			fprintf(stderr, "opener %d: %s\n", i, o[i].msg);
		CHECK_RC(o[i].rc, 0);
		CHECK(o[i].version == hf_catalog_latest_version());
	}
	CHECK(raw_int(path, "SELECT count(*) FROM schema_migrations") == hf_catalog_latest_version());
}

static void test_refusals(void)
{
	hf_catalog *c = NULL;
	const char *newer = tpath("newer.db"), *garbage = tpath("garbage.db"), *foreign = tpath("foreign.db");
	char want[1024];
	struct stat st;
	FILE *f;

	/* a schema from the future */
	CHECK_OK(hf_catalog_open(&c, newer));
	hf_catalog_free(c);
	c = NULL;
	CHECK(raw_exec(newer, "INSERT INTO schema_migrations VALUES (99, '099_future.sql', 1)") == SQLITE_OK);
	CHECK_RC(hf_catalog_open(&c, newer), HF_ECONFIG);
	snprintf(want, sizeof(want), "catalog '%s' has schema version 99, newer than this holdfast (%d)",
	         newer, hf_catalog_latest_version());
	CHECK_STR(hf_error_message(), want);
	CHECK(c == NULL);

	/* not a database at all: refused, named, and left as it was */
	f = fopen(garbage, "w");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 400; i++)
			fputs("this is not an sqlite database\n", f);
		fclose(f);
	}
	CHECK_RC(hf_catalog_open(&c, garbage), HF_ECORRUPT);
	CHECK(strstr(hf_error_message(), garbage) != NULL);
	CHECK(strstr(hf_error_message(), "not a database") != NULL);
	CHECK(hf_error_hint() != NULL);
	CHECK(stat(garbage, &st) == 0 && st.st_size == 400 * 31);
	CHECK(c == NULL);

	/* someone else's SQLite database */
	CHECK(raw_exec(foreign, "CREATE TABLE accounts (id INTEGER)") == SQLITE_OK);
	CHECK_RC(hf_catalog_open(&c, foreign), HF_ECONFIG);
	CHECK(strstr(hf_error_message(), "not a holdfast catalog") != NULL);
	CHECK(raw_int(foreign, "SELECT count(*) FROM sqlite_master") == 1);

	/* a directory where the file should be */
	CHECK(mkdir(tpath("adir"), 0700) == 0);
	CHECK(hf_catalog_open(&c, tpath("adir")) < 0);
	CHECK(strstr(hf_error_message(), tpath("adir")) != NULL);
	CHECK_RC(hf_catalog_open(&c, ""), HF_EUSAGE);
	CHECK(c == NULL);
}

/* ---- records ---- */

static void test_tenants(hf_catalog *c)
{
	hf_catalog_tenant t, g;

	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"zeta", "ffffffffffffffffffffffffffffff01", "bronze", 3, NULL}));
	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"alpha", "ffffffffffffffffffffffffffffff02", "gold", 1, "[1]"}));
	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"mid", "ffffffffffffffffffffffffffffff03", "silver", 2, NULL}));
	CHECK_STR(tenants(c), "alpha,ffffffffffffffffffffffffffffff02,gold,1,[1]|"
	                      "mid,ffffffffffffffffffffffffffffff03,silver,2,-|"
	                      "zeta,ffffffffffffffffffffffffffffff01,bronze,3,-");

	memset(&g, 0, sizeof(g));
	CHECK_OK(hf_catalog_tenant_get(c, "alpha", &g));
	CHECK_STR(g.id, "alpha");
	CHECK_STR(g.tid, "ffffffffffffffffffffffffffffff02");
	CHECK_STR(g.tier, "gold");
	CHECK(g.created == 1);
	CHECK_STR(g.sources, "[1]");
	CHECK_OK(hf_catalog_tenant_get(c, "zeta", &g));
	CHECK(g.sources == NULL);
	CHECK_RC(hf_catalog_tenant_get(c, "nobody", &g), HF_ENOTFOUND);
	CHECK(strstr(hf_error_message(), "nobody") != NULL);
	CHECK_STR(g.id, "zeta"); /* untouched on failure */

	/* put replaces */
	t = tenant("mid", "ffffffffffffffffffffffffffffff03", "gold");
	CHECK_OK(hf_catalog_tenant_put(c, &t));
	CHECK_OK(hf_catalog_tenant_get(c, "mid", &g));
	CHECK_STR(g.tier, "gold");
	CHECK(g.created == 1700000000);

	/* tids are unique; ids and tiers required */
	t = tenant("other", "ffffffffffffffffffffffffffffff01", "gold");
	CHECK_RC(hf_catalog_tenant_put(c, &t), HF_EEXISTS);
	CHECK(strstr(hf_error_message(), "other") != NULL);
	t = tenant("other", "ffffffffffffffffffffffffffffff09", NULL);
	CHECK_RC(hf_catalog_tenant_put(c, &t), HF_EUSAGE);
	CHECK_RC(hf_catalog_tenant_get(c, "other", &g), HF_ENOTFOUND);

	/* hostile ids are data, never SQL */
	t = tenant("x'); DROP TABLE tenant; --", "ffffffffffffffffffffffffffffff0a", "gold");
	CHECK_OK(hf_catalog_tenant_put(c, &t));
	CHECK_OK(hf_catalog_tenant_get(c, "x'); DROP TABLE tenant; --", &g));
	CHECK_STR(g.tid, "ffffffffffffffffffffffffffffff0a");
}

static int fields_cb(const hf_catalog_snapshot *x, void *p)
{
	int *ok = p;
	*ok += !strcmp(x->id, "c") && !strcmp(x->tenant, "alpha") && !strcmp(x->source, "postgres") &&
	       !strcmp(x->label, "db") && x->time == 200 && x->recovery_time == 190 && x->recovery_lsn &&
	       !strcmp(x->recovery_lsn, "0/3000028") && x->parent == NULL && x->files == 10 &&
	       x->size == 5000000000000ull && x->stored == 123 && x->retain_until == 1900000000;
	return 0;
}

static void test_snapshots(hf_catalog *c)
{
	hf_catalog_snapshot s;
	text t;
	int ok = 0;

	CHECK_OK(hf_catalog_snapshot_put(c, &(hf_catalog_snapshot){"c", "alpha", "postgres", "db", 200, 190,
	                                                           "0/3000028", NULL, 10, 5000000000000ull,
	                                                           123, 1900000000, NULL}));
	s = snapshot("b", "alpha", "files", 200);
	CHECK_OK(hf_catalog_snapshot_put(c, &s));
	s = snapshot("a", "zeta", "files", 300);
	CHECK_OK(hf_catalog_snapshot_put(c, &s));
	s = snapshot("d", "alpha", "files", 100);
	s.parent = "b";
	CHECK_OK(hf_catalog_snapshot_put(c, &s));

	CHECK_STR(snaps(c, NULL, NULL),
	          "d@100:alpha/files|b@200:alpha/files|c@200:alpha/postgres|a@300:zeta/files");
	CHECK_STR(snaps(c, "alpha", NULL), "d@100:alpha/files|b@200:alpha/files|c@200:alpha/postgres");
	CHECK_STR(snaps(c, NULL, "files"), "d@100:alpha/files|b@200:alpha/files|a@300:zeta/files");
	CHECK_STR(snaps(c, "alpha", "postgres"), "c@200:alpha/postgres");
	CHECK_STR(snaps(c, "mid", NULL), "");

	/* a callback can stop the listing */
	memset(&t, 0, sizeof(t));
	t.stop_at = 2;
	t.stop_value = 42;
	CHECK_RC(hf_catalog_snapshot_list(c, NULL, NULL, snap_cb, &t), 42);
	CHECK(t.n == 2);

	/* every field round-trips (checked in the callback) */
	CHECK_OK(hf_catalog_snapshot_list(c, "alpha", "postgres", fields_cb, &ok));
	CHECK(ok == 1);

	/* replace by id; unknown tenants are refused */
	s = snapshot("a", "zeta", "s3", 50);
	CHECK_OK(hf_catalog_snapshot_put(c, &s));
	CHECK_STR(snaps(c, "zeta", NULL), "a@50:zeta/s3");
	s = snapshot("e", "ghost", "files", 1);
	CHECK_RC(hf_catalog_snapshot_put(c, &s), HF_ENOTFOUND);
	CHECK(strstr(hf_error_message(), "ghost") != NULL);
	s = snapshot("e", "alpha", NULL, 1);
	CHECK_RC(hf_catalog_snapshot_put(c, &s), HF_EUSAGE);

	/* replacing a tenant record keeps its snapshots */
	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"alpha", "ffffffffffffffffffffffffffffff02", "silver", 1, NULL}));
	CHECK_STR(snaps(c, "alpha", NULL), "d@100:alpha/files|b@200:alpha/files|c@200:alpha/postgres");
}

static void test_checks(hf_catalog *c)
{
	CHECK_OK(hf_catalog_check_put(c, &(hf_catalog_check){300, NULL, 100, 1, 2, "{\"bad\":2}"}));
	CHECK_OK(hf_catalog_check_put(c, &(hf_catalog_check){100, "alpha", 0, 0, 0, NULL}));
	CHECK_OK(hf_catalog_check_put(c, &(hf_catalog_check){200, "zeta", 5, 2, 0, "could not run"}));
	CHECK_STR(checks(c), "100,alpha,0,0,0,-|200,zeta,5,2,0,could not run|300,-,100,1,2,{\"bad\":2}");
	CHECK_RC(hf_catalog_check_put(c, &(hf_catalog_check){1, NULL, 101, 0, 0, NULL}), HF_EUSAGE);
	CHECK_RC(hf_catalog_check_put(c, &(hf_catalog_check){1, NULL, 0, 3, 0, NULL}), HF_EUSAGE);
}

static void test_audit(hf_catalog *c, const char *path)
{
	CHECK_OK(hf_catalog_audit_add(c, 20, "tenant.shred", "zeta", NULL));
	CHECK_OK(hf_catalog_audit_add(c, 10, "tenant.create", "alpha", "tier gold"));
	CHECK_OK(hf_catalog_audit_add(c, 20, "repo.check", NULL, "ok"));
	CHECK_STR(audits(c, NULL),
	          "10,tenant.create,alpha,tier gold|20,tenant.shred,zeta,-|20,repo.check,-,ok");
	CHECK_STR(audits(c, "zeta"), "20,tenant.shred,zeta,-");
	CHECK_RC(hf_catalog_audit_add(c, 1, "", NULL, NULL), HF_EUSAGE);
	/* append-only, even for someone with the file */
	CHECK(raw_exec(path, "DELETE FROM audit_event") != SQLITE_OK);
	CHECK(raw_exec(path, "UPDATE audit_event SET action = 'nothing'") != SQLITE_OK);
	CHECK(raw_int(path, "SELECT count(*) FROM audit_event") == 3);
}

static void test_transactions(hf_catalog *c)
{
	hf_catalog_tenant g, t = tenant("tx", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "gold");
	hf_catalog_snapshot s = snapshot("tx1", "tx", "files", 1);

	CHECK_RC(hf_catalog_commit(c), HF_EUSAGE);
	CHECK_RC(hf_catalog_rollback(c), HF_EUSAGE);
	CHECK_OK(hf_catalog_begin(c));
	CHECK_RC(hf_catalog_begin(c), HF_EUSAGE);
	CHECK_OK(hf_catalog_tenant_put(c, &t));
	CHECK_OK(hf_catalog_snapshot_put(c, &s));
	CHECK_OK(hf_catalog_rollback(c));
	CHECK_RC(hf_catalog_tenant_get(c, "tx", &g), HF_ENOTFOUND);
	CHECK_STR(snaps(c, "tx", NULL), "");

	CHECK_OK(hf_catalog_begin(c));
	CHECK_OK(hf_catalog_tenant_put(c, &t));
	CHECK_OK(hf_catalog_snapshot_put(c, &s));
	CHECK_OK(hf_catalog_commit(c));
	CHECK_OK(hf_catalog_tenant_get(c, "tx", &g));
	CHECK_STR(snaps(c, "tx", NULL), "tx1@1:tx/files");
}

static void test_clear(hf_catalog *c)
{
	/* a rebuild: clear and refill in one transaction; a rollback restores everything */
	CHECK_OK(hf_catalog_begin(c));
	CHECK_OK(hf_catalog_clear(c));
	CHECK_STR(tenants(c), "");
	CHECK_STR(snaps(c, NULL, NULL), "");
	CHECK_STR(checks(c), "");
	CHECK_OK(hf_catalog_rollback(c));
	CHECK(strstr(tenants(c), "alpha,") != NULL);
	CHECK(strstr(snaps(c, NULL, NULL), "tx1@1") != NULL);

	CHECK_OK(hf_catalog_begin(c));
	CHECK_OK(hf_catalog_clear(c));
	CHECK_OK(hf_catalog_tenant_put(
	    c, &(hf_catalog_tenant){"new", "dddddddddddddddddddddddddddddddd", "gold", 7, NULL}));
	CHECK_OK(hf_catalog_commit(c));
	CHECK_STR(tenants(c), "new,dddddddddddddddddddddddddddddddd,gold,7,-");
	CHECK_STR(snaps(c, NULL, NULL), "");
	CHECK_STR(checks(c), "");
	CHECK(strstr(audits(c, NULL), "tenant.shred") != NULL); /* the audit trail survives */

	/* clear also works outside a transaction */
	CHECK_OK(hf_catalog_clear(c));
	CHECK_STR(tenants(c), "");
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[1024];
	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
	}
	closedir(d);
	rmdir(path);
}

int main(void)
{
	hf_catalog *c = NULL;
	const char *path;

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_fresh();
	test_upgrade();
	test_concurrent_open();
	test_refusals();

	path = tpath("records.db");
	CHECK_OK(hf_catalog_open(&c, path));
	if (c) {
		test_tenants(c);
		test_snapshots(c);
		test_checks(c);
		test_audit(c, path);
		test_transactions(c);
		test_clear(c);
	}
	hf_catalog_free(c);
	hf_catalog_free(NULL);
	rm_rf(tmp);
	TEST_MAIN_END();
}
