/* check while backups commit: a storage wrapper around the check's repository handle runs a whole
 * backup (packs, index object, manifest) through a second handle at fixed points of the check (when it
 * lists the tenant's index objects, its packs and its snapshots, and when it reads its first pack), so
 * the interleaving that a weekly check --read-data meets with hourly backups is reproduced exactly on
 * every run. The check must find a healthy repository healthy: it examines only the snapshots that
 * existed when it began, and counts packs written after it loaded the index as unreferenced. */
#include "repo/repo.h"
#include "hook_storage.h"
#include "ops/fixture.h"
#include "test.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

typedef struct points {
	hf_repo *writer; /* the backup's own handle on the same mem:// store */
	pthread_mutex_t mu;
	int done[AT_N], failed;
	unsigned seed;
} points;

/* Commit a backup, once per point; packs are read on several threads, so under the mutex. */
static void commit_at(points *p, int at)
{
	if (at == AT_N)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->done[at]) {
		p->done[at] = 1;
		if (backup_new_data(p->writer, ++p->seed + 100) < 0) {
			fprintf(stderr, "backup while %s failed: %s\n", at_names[at], hf_error_message());
			p->failed++;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/* Before the first read of a pack, and after each listing (what the check sees from a listing then
 * predates the backup). */
static void at_points(const char *op, const char *key, hook_when when, void *arg)
{
	points *p = arg;
	if (when == HOOK_BEFORE && !strcmp(op, "get") && !strncmp(key, "data/", 5))
		commit_at(p, AT_PACK_READ);
	else if (when == HOOK_AFTER && !strcmp(op, "list"))
		commit_at(p, !strncmp(key, "index/", 6)       ? AT_INDEX_LIST
			     : !strncmp(key, "data/", 5)      ? AT_DATA_LIST
			     : !strncmp(key, "snapshots/", 10) ? AT_SNAPSHOT_LIST
							       : AT_N);
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
	hf_repo *r, *writer;
	points pts;
	hf_storage *h;
	hf_check_report *rep;
	char cmd[1024];
	int rc;

	CHECK_OK(fixture_init("check-concurrent"));
	write_file("base.bin", 2u * 1024 * 1024, 1);
	writer = open_repo();
	r = open_repo();
	if (!r || !writer)
		TEST_MAIN_END();
	CHECK_OK(hf_tenant_add(writer, "acme", "gold"));
	CHECK_OK(backup_new_data(writer, 1));

	/* 1. a backup commits at each point of a full-read check: no problem, one snapshot examined */
	memset(&pts, 0, sizeof(pts));
	pts.writer = writer;
	pthread_mutex_init(&pts.mu, NULL);
	CHECK((h = hook_wrap(r->storage, at_points, &pts)) != NULL);
	if (!h)
		TEST_MAIN_END();
	r->storage = h;
	rep = run_check(r, &rc);
	CHECK_OK(rc);
	for (int at = 0; at < AT_N; at++)
		if (!pts.done[at])
			fprintf(stderr, "no backup committed while %s\n", at_names[at]);
	CHECK(pts.done[AT_INDEX_LIST] && pts.done[AT_DATA_LIST] && pts.done[AT_SNAPSHOT_LIST] &&
	      pts.done[AT_PACK_READ] && !pts.failed);
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
	pthread_mutex_destroy(&pts.mu);

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
