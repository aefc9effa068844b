/* check while backups commit: a storage wrapper around the check's repository handle runs a whole
 * backup (packs, index object, manifest) through a second handle at fixed points of the check (when it
 * lists the tenant's index objects, its packs and its snapshots, and when it reads its first pack), so
 * the interleaving that a weekly check --read-data meets with hourly backups is reproduced exactly on
 * every run. The check must find a healthy repository healthy: it examines only the snapshots that
 * existed when it began, and counts packs written after it loaded the index as unreferenced. */
#include "repo/repo.h"
#include "test.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[] = "/tmp/hf-test-check-concurrent-XXXXXX";
static char url[256], cat[512], pass[512], data[512];

static void write_file(const char *name, size_t size, unsigned seed)
{
	char path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", data, name);
	f = fopen(path, "wb");
	for (size_t i = 0; i < size; i++) {
		seed = seed * 1103515245u + 12345u;
		fputc((int)(seed >> 16) & 0xff, f);
	}
	fclose(f);
}

static void repo_options(hf_repo_options *o)
{
	memset(o, 0, sizeof(*o));
	o->version = HF_REPO_OPTIONS_VERSION;
	o->url = url;
	o->catalog_path = cat;
	o->cred.password_file = pass;
	o->cred.password_fd = -1;
	o->compression = -1;
}

static hf_repo *open_repo(void)
{
	hf_repo_options o;
	hf_repo *r = NULL;
	repo_options(&o);
	CHECK_OK(hf_repo_open(&r, &o));
	return r;
}

/* One backup of new data through its own handle: new packs, a new index object, a new manifest. */
static int backup_new_data(hf_repo *r, unsigned seed)
{
	const char *paths[1] = {data};
	hf_backup_options bo;
	hf_backup_result res;
	char name[32];
	snprintf(name, sizeof(name), "new-%u.bin", seed);
	write_file(name, 3u * 1024 * 1024, seed);
	memset(&bo, 0, sizeof(bo));
	bo.version = HF_BACKUP_OPTIONS_VERSION;
	bo.tenant = "acme";
	bo.paths = paths;
	bo.npaths = 1;
	memset(&res, 0, sizeof(res));
	return hf_backup(r, &bo, &res);
}

/* The points of the check at which a backup commits. */
enum { AT_INDEX_LIST, AT_DATA_LIST, AT_SNAPSHOT_LIST, AT_PACK_READ, AT_N };
static const char *const at_names[AT_N] = {"listing index/", "listing data/", "listing snapshots/",
					   "reading the first pack"};

typedef struct hook_storage {
	hf_storage base;
	hf_storage_vtable vt;
	hf_storage *inner;
	hf_repo *writer; /* the backup's own handle on the same mem:// store */
	pthread_mutex_t mu;
	int done[AT_N], failed;
	unsigned seed;
} hook_storage;

#define HOOK(s) ((hook_storage *)(s))

/* Commit a backup, once per point; packs are read on several threads, so under the mutex. */
static void commit_at(hf_storage *s, int at)
{
	hook_storage *h = HOOK(s);
	pthread_mutex_lock(&h->mu);
	if (!h->done[at]) {
		h->done[at] = 1;
		if (backup_new_data(h->writer, ++h->seed + 100) < 0) {
			fprintf(stderr, "backup while %s failed: %s\n", at_names[at], hf_error_message());
			h->failed++;
		}
	}
	pthread_mutex_unlock(&h->mu);
}

static int h_put(hf_storage *s, const char *key, const void *d, size_t len, const hf_storage_put_opts *o)
{
	return HOOK(s)->inner->vt->put(HOOK(s)->inner, key, d, len, o);
}

static int h_get(hf_storage *s, const char *key, hf_buf *out)
{
	if (!strncmp(key, "data/", 5))
		commit_at(s, AT_PACK_READ);
	return HOOK(s)->inner->vt->get(HOOK(s)->inner, key, out);
}

static int h_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	return HOOK(s)->inner->vt->get_range(HOOK(s)->inner, key, off, len, out);
}

static int h_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	return HOOK(s)->inner->vt->stat(HOOK(s)->inner, key, out);
}

static int h_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	/* after the listing: what the check sees from it predates the backup */
	int rc = HOOK(s)->inner->vt->list(HOOK(s)->inner, prefix, cb, payload);
	if (!strncmp(prefix, "index/", 6))
		commit_at(s, AT_INDEX_LIST);
	else if (!strncmp(prefix, "data/", 5))
		commit_at(s, AT_DATA_LIST);
	else if (!strncmp(prefix, "snapshots/", 10))
		commit_at(s, AT_SNAPSHOT_LIST);
	return rc;
}

static void h_free(hf_storage *s)
{
	hook_storage *h = HOOK(s);
	hf_storage_free(h->inner);
	pthread_mutex_destroy(&h->mu);
	free(h->base.url);
	free(h);
}

static hook_storage *hook_open(hf_storage *inner, hf_repo *writer)
{
	hook_storage *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->vt = (hf_storage_vtable){
	    .name = inner->vt->name,
	    .features = inner->vt->features,
	    .put = h_put,
	    .get = h_get,
	    .get_range = h_get_range,
	    .stat = h_stat,
	    .list = h_list,
	    .free = h_free,
	};
	h->base.vt = &h->vt;
	h->base.url = strdup(inner->url);
	h->inner = inner;
	h->writer = writer;
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

static hf_check_report *run_check(hf_repo *r, int *rc)
{
	hf_check_options co;
	hf_check_report *rep = NULL;
	memset(&co, 0, sizeof(co));
	co.version = HF_CHECK_OPTIONS_VERSION;
	co.read_data_pct = 100;
	*rc = hf_check(r, &co, &rep);
	return rep;
}

int main(void)
{
	hf_repo_options o;
	hf_init_options io;
	hf_repo *r, *writer;
	hook_storage *h;
	hf_check_report *rep;
	char id[HF_ID_HEX + 1], cmd[1024];
	FILE *f;
	int rc;

	CHECK_OK(hf_library_init(0));
	CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "mem://%s", dir + 5);
	snprintf(cat, sizeof(cat), "%s/catalog.db", dir);
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
	f = fopen(pass, "w");
	fputs("a passphrase for tests\n", f);
	fclose(f);
	write_file("base.bin", 2u * 1024 * 1024, 1);
	repo_options(&o);
	memset(&io, 0, sizeof(io));
	io.compression = -1;
	io.kdf_ops = 1;
	io.kdf_mem = 8u * 1024 * 1024;
	io.pack_size = 1024 * 1024;
	io.chunk_min = 64 * 1024;
	io.chunk_avg = 256 * 1024;
	io.chunk_max = 1024 * 1024;
	CHECK_OK(hf_repo_init(&o, &io, id));
	writer = open_repo();
	r = open_repo();
	if (!r || !writer)
		TEST_MAIN_END();
	CHECK_OK(hf_tenant_add(writer, "acme", "gold"));
	CHECK_OK(backup_new_data(writer, 1));

	/* 1. a backup commits at each point of a full-read check: no problem, one snapshot examined */
	CHECK((h = hook_open(r->storage, writer)) != NULL);
	if (!h)
		TEST_MAIN_END();
	r->storage = &h->base;
	rep = run_check(r, &rc);
	CHECK_OK(rc);
	for (int at = 0; at < AT_N; at++)
		if (!h->done[at])
			fprintf(stderr, "no backup committed while %s\n", at_names[at]);
	CHECK(h->done[AT_INDEX_LIST] && h->done[AT_DATA_LIST] && h->done[AT_SNAPSHOT_LIST] &&
	      h->done[AT_PACK_READ] && !h->failed);
	if (rep) {
		for (size_t i = 0; i < rep->nproblems; i++)
			fprintf(stderr, "reported: %s: %s\n", rep->problems[i].object, rep->problems[i].message);
		CHECK(rep->nproblems == 0);
		/* only the snapshot that existed when the check listed them */
		CHECK(rep->snapshots == 1);
		/* packs of the backups that committed after the index was loaded: harmless */
		CHECK(rep->unreferenced_packs > 0);
		CHECK(rep->packs_read == rep->packs);
	}
	hf_check_report_free(rep);
	hf_repo_free(r); /* frees the wrapper and the inner storage */

	/* 2. a check afterwards examines all five snapshots and finds every pack indexed */
	r = open_repo();
	rep = run_check(r, &rc);
	CHECK_OK(rc);
	CHECK(rep && rep->nproblems == 0 && rep->snapshots == 1 + AT_N && rep->unreferenced_packs == 0);
	hf_check_report_free(rep);
	hf_repo_free(r);
	hf_repo_free(writer);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	TEST_MAIN_END();
}
