/* One record per tenant id: two 'tenant add' of the same id at once leave exactly one record (the race is
 * made deterministic with a storage wrapper that runs the second adder from inside the first one's put of
 * its record, i.e. after both passed the "does it exist?" check), and records duplicated before that was
 * enforced resolve to the same one everywhere: by id, in a scan, in 'tenant list', after a catalog
 * rebuild, and when a catalog caches the other one. */
#include "repo/repo.h"
#include "hook_storage.h"
#include "test.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a storage that calls a hook before its first put of a tenant record ---- */

/* Runs fn(arg) once, just before the first put through r's storage of a tenant record. */
static hook_once *hook(hf_repo *r, void (*fn)(void *), void *arg)
{
	return hook_before_first(&r->storage, "put", "keys/tenants/", fn, arg);
}

/* ---- fixture: a repository on mem://, and a catalog per "host" ---- */

typedef struct fixture {
	char dir[64], pass[128], url[128], src[128];
	hf_repo_options o;
} fixture;

static int setup(fixture *f, const char *name)
{
	hf_init_options io;
	char cat[160], file[192];
	FILE *fp;
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/hf-test-tenantrace-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->pass, sizeof(f->pass), "%s/pass", f->dir);
	snprintf(f->url, sizeof(f->url), "mem://%s-%s", name, f->dir + 5);
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	snprintf(cat, sizeof(cat), "%s/catalog-init.db", f->dir);
	if (!(fp = fopen(f->pass, "w")))
		return -1;
	fputs("correct horse battery staple\n", fp);
	fclose(fp);
	if (mkdir(f->src, 0700) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/a.txt", f->src);
	if (!(fp = fopen(file, "w")))
		return -1;
	fputs("patient record\n", fp);
	fclose(fp);
	f->o.version = HF_REPO_OPTIONS_VERSION;
	f->o.url = f->url;
	f->o.catalog_path = NULL;
	f->o.cred.password_file = f->pass;
	f->o.cred.password_fd = -1;
	f->o.compression = -1;
	memset(&io, 0, sizeof(io));
	io.compression = -1;
	io.kdf_ops = 1;
	io.kdf_mem = 8u * 1024 * 1024;
	f->o.catalog_path = cat;
	CHECK_OK(hf_repo_init(&f->o, &io, NULL));
	f->o.catalog_path = NULL;
	return 0;
}

static void teardown(fixture *f)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	CHECK(system(cmd) == 0);
}

/* Opens the repository as "host" `host`: each host has its own catalog. */
static int open_as(fixture *f, const char *host, hf_repo **out)
{
	hf_repo_options o = f->o;
	char cat[192];
	snprintf(cat, sizeof(cat), "%s/catalog-%s.db", f->dir, host);
	o.catalog_path = cat;
	return hf_repo_open(out, &o);
}

static int count_cb(const char *name, uint64_t size, void *payload)
{
	(void)name;
	(void)size;
	(*(size_t *)payload)++;
	return 0;
}

/* Tenant record objects in the repository, readable or not, whatever their id. */
static size_t count_records(fixture *f)
{
	hf_storage *st = NULL;
	size_t n = 0;
	CHECK_OK(hf_storage_open(&st, f->url, NULL));
	if (st)
		CHECK_OK(hf_storage_list(st, "keys/tenants/", count_cb, &n));
	hf_storage_free(st);
	return n;
}

/* The handle `id` resolves to on host `host` (a fresh catalog resolves through a scan). */
static void resolve(fixture *f, const char *host, const char *id, char tid[HF_TID_HEX + 1])
{
	hf_repo *r = NULL;
	hf_tenant *t = NULL;
	tid[0] = '\0';
	CHECK_OK(open_as(f, host, &r));
	if (!r)
		return;
	CHECK_OK(hf_tenant_load(r, id, &t));
	if (t)
		memcpy(tid, t->tid, HF_TID_HEX + 1);
	hf_tenant_free(t);
	hf_repo_free(r);
}

static void backup(fixture *f, const char *host, const char *id)
{
	hf_repo *r = NULL;
	hf_backup_options o;
	hf_backup_result res;
	const char *paths[] = {f->src};
	CHECK_OK(open_as(f, host, &r));
	if (!r)
		return;
	memset(&o, 0, sizeof(o));
	o.version = HF_BACKUP_OPTIONS_VERSION;
	o.tenant = id;
	o.paths = paths;
	o.npaths = 1;
	CHECK_OK(hf_backup(r, &o, &res));
	hf_repo_free(r);
}

/* ---- the race ---- */

typedef struct race {
	fixture *f;
	int rc;
	char tid[HF_TID_HEX + 1];
} race;

/* Host B adds the same tenant while host A is past its "does it exist?" check, about to put its record. */
static void host_b_adds(void *arg)
{
	race *x = arg;
	hf_repo *rb = NULL;
	hf_tenant *t = NULL;
	x->rc = -100;
	if (open_as(x->f, "b", &rb) != 0)
		return;
	x->rc = hf_tenant_create(rb, "clinic", "standard", &t);
	if (t)
		memcpy(x->tid, t->tid, sizeof(x->tid));
	hf_tenant_free(t);
	hf_repo_free(rb);
}

static void test_race_two_adders(void)
{
	fixture f;
	race x = {&f, 0, ""};
	hf_repo *ra = NULL;
	hf_rebuild_result rr;
	hf_catalog_tenant ct;
	hf_tenant_info *info = NULL;
	size_t n = 0;
	char tid[HF_TID_HEX + 1];
	int rc;
	if (setup(&f, "race") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_as(&f, "a", &ra));
	if (!ra)
		return;
	CHECK(hook(ra, host_b_adds, &x) != NULL);
	rc = hf_tenant_create(ra, "clinic", "standard", NULL);
	/* B listed before A's record existed and won; A then saw B's record and withdrew its own */
	CHECK_RC(x.rc, 0);
	CHECK_RC(rc, HF_EEXISTS);
	CHECK(strstr(hf_error_message(), "added concurrently") != NULL);
	hf_repo_free(ra);
	CHECK(count_records(&f) == 1);

	/* A's catalog did not learn A's withdrawn record: A's backup goes to B's record, as does a lookup
	 * from a third host and from a rebuilt catalog */
	backup(&f, "a", "clinic");
	resolve(&f, "a", "clinic", tid);
	CHECK_STR(tid, x.tid);
	resolve(&f, "c", "clinic", tid);
	CHECK_STR(tid, x.tid);
	CHECK_OK(open_as(&f, "d", &ra));
	if (!ra)
		return;
	CHECK_OK(hf_catalog_rebuild(ra, &rr));
	CHECK(rr.tenants == 1 && rr.snapshots == 1);
	CHECK_OK(hf_catalog_tenant_get(ra->catalog, "clinic", &ct));
	CHECK_STR(ct.tid, x.tid);
	CHECK_OK(hf_tenant_list(ra, &info, &n));
	CHECK(n == 1 && info && info[0].snapshots == 1);
	hf_tenant_info_free(info, n);
	hf_repo_free(ra);
	teardown(&f);
}

/* ---- records duplicated before the race was closed ---- */

/* Writes a tenant record the way hf_tenant_create does, but with a chosen handle and creation time and
 * without any check: what two adders of an older version left behind. */
static void put_record(fixture *f, const char *id, const char *tid, int64_t created)
{
	hf_repo *r = NULL;
	uint8_t tid_raw[HF_TID_BYTES], tk[HF_KEY_BYTES], rk[HF_KEY_BYTES];
	char key64[64], key[80], *text = NULL;
	hf_buf obj = HF_BUF_INIT;
	json_t *j;
	CHECK_OK(open_as(f, "writer", &r));
	if (!r)
		return;
	CHECK_OK(hf_hex_decode(tid_raw, sizeof(tid_raw), tid));
	hf_random(tk, sizeof(tk));
	hf_base64_encode(key64, tk, sizeof(tk));
	j = json_pack("{s:i, s:s, s:s, s:I, s:s}", "version", 1, "id", id, "tier", "standard", "created",
		      (json_int_t)created, "key", key64);
	CHECK(j && (text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)));
	hf_kdf_subkey(rk, r->master, "hftenant", 1);
	if (text)
		CHECK_OK(hf_sealed_seal(&obj, HF_SEALED_TENANT, tid_raw, text, strlen(text), rk));
	snprintf(key, sizeof(key), "keys/tenants/%s", tid);
	CHECK_OK(hf_storage_put(r->storage, key, obj.data, obj.len, NULL));
	hf_buf_free(&obj);
	free(text);
	json_decref(j);
	hf_repo_free(r);
}

/* The handle sorts first (so it is listed first), the record was created later. */
#define LATE "00000000000000000000000000000001"
#define EARLY "ffffffffffffffffffffffffffffff01"

static void check_all_resolve(fixture *f, const char *host, const char *want)
{
	hf_repo *r = NULL;
	hf_tenant **all = NULL;
	hf_tenant_info *info = NULL;
	size_t n = 0, clinic = 0;
	char tid[HF_TID_HEX + 1];
	resolve(f, host, "clinic", tid);
	CHECK_STR(tid, want);
	CHECK_OK(open_as(f, host, &r));
	if (!r)
		return;
	CHECK_OK(hf_tenant_load_all(r, &all, &n));
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(all[i]->id, "clinic")) {
			clinic++;
			CHECK_STR(all[i]->tid, want);
		}
		hf_tenant_free(all[i]);
	}
	free(all);
	CHECK(clinic == 1);
	n = clinic = 0;
	CHECK_OK(hf_tenant_list(r, &info, &n));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(info[i].id, "clinic")) {
			clinic++;
			CHECK_STR(info[i].tid, want);
		}
	CHECK(clinic == 1);
	hf_tenant_info_free(info, n);
	hf_repo_free(r);
}

static void test_existing_duplicates(void)
{
	fixture f;
	hf_repo *r = NULL;
	hf_catalog_tenant ct = {"clinic", LATE, "standard", 2000, NULL};
	char tid[HF_TID_HEX + 1];
	if (setup(&f, "dups") < 0) {
		CHECK(!"setup");
		return;
	}
	put_record(&f, "other", "80000000000000000000000000000000", 1500);
	put_record(&f, "clinic", LATE, 2000);
	put_record(&f, "clinic", EARLY, 1000);

	/* neither has snapshots: the earliest created, whatever the listing order */
	check_all_resolve(&f, "a", EARLY);
	/* a catalog that cached the other record (filled by an older version) does not send backups there */
	CHECK_OK(open_as(&f, "b", &r));
	if (r)
		CHECK_OK(hf_catalog_tenant_put(r->catalog, &ct));
	hf_repo_free(r);
	resolve(&f, "b", "clinic", tid);
	CHECK_STR(tid, EARLY);
	CHECK_OK(open_as(&f, "b", &r)); /* and the catalog now says so */
	if (r && hf_catalog_tenant_get(r->catalog, "clinic", &ct) == 0)
		CHECK_STR(ct.tid, EARLY);
	hf_repo_free(r);

	/* a backup goes to the chosen record, and the choice stays */
	backup(&f, "b", "clinic");
	check_all_resolve(&f, "c", EARLY);
	teardown(&f);
}

/* Only the later record has snapshots (older versions backed up into the one listed first): that one is
 * chosen, so no snapshot seems to vanish. */
static void test_duplicates_with_snapshots(void)
{
	fixture f;
	hf_repo *r = NULL;
	hf_rebuild_result rr;
	hf_catalog_tenant ct;
	if (setup(&f, "snaps") < 0) {
		CHECK(!"setup");
		return;
	}
	put_record(&f, "clinic", LATE, 2000);
	backup(&f, "a", "clinic"); /* the only record then */
	put_record(&f, "clinic", EARLY, 1000);
	check_all_resolve(&f, "b", LATE);
	check_all_resolve(&f, "a", LATE);
	CHECK_OK(open_as(&f, "c", &r));
	if (!r)
		return;
	CHECK_OK(hf_catalog_rebuild(r, &rr));
	CHECK(rr.tenants == 1 && rr.snapshots == 1);
	CHECK_OK(hf_catalog_tenant_get(r->catalog, "clinic", &ct));
	CHECK_STR(ct.tid, LATE);
	hf_repo_free(r);
	teardown(&f);
}

/* An adder whose re-listing shows another record of the id (its writer crashed, or loses too) withdraws its
 * own; the other, left behind, is then the tenant. */
static void other_record_appears(void *arg)
{
	put_record(arg, "clinic", EARLY, 1000);
}

static void test_loser_withdraws(void)
{
	fixture f;
	hf_repo *r = NULL;
	char tid[HF_TID_HEX + 1];
	if (setup(&f, "withdraw") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_as(&f, "a", &r));
	if (!r)
		return;
	CHECK(hook(r, other_record_appears, &f) != NULL);
	CHECK_RC(hf_tenant_create(r, "clinic", "standard", NULL), HF_EEXISTS);
	hf_repo_free(r);
	CHECK(count_records(&f) == 1);
	resolve(&f, "a", "clinic", tid);
	CHECK_STR(tid, EARLY);
	teardown(&f);
}

int main(void)
{
	CHECK_OK(hf_crypto_init());
	hf_set_verbosity(0);
	test_race_two_adders();
	test_existing_duplicates();
	test_duplicates_with_snapshots();
	test_loser_withdraws();
	TEST_MAIN_END();
}
