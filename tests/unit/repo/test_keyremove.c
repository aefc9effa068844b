/* 'key remove' never leaves a repository without a working key slot: not when two removers race (each
 * removing the other's slot), and not when the only other objects in keys/slots/ are damaged. The race is
 * made deterministic with a storage wrapper that runs the second remover from inside the first one's
 * remove call, i.e. after the first one's listing and before its removal takes effect. */
#include "repo/repo.h"
#include "hook_storage.h"
#include "test.h"
#include "util/buf.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a storage that calls a hook before its first remove ---- */

/* Runs fn(arg) once, just before the first remove through r's storage. */
static hook_once *hook(hf_repo *r, void (*fn)(void *), void *arg)
{
	return hook_before_first(&r->storage, "remove", NULL, fn, arg);
}

/* ---- fixture: a repository on mem:// with slots for two passphrases ---- */

typedef struct fixture {
	char dir[64], pass[128], pass2[128], url[128], cat[128], cat2[128];
	char slot1[33], slot2[33];
	hf_repo_options o;
} fixture;

static int setup(fixture *f, const char *name)
{
	hf_init_options io;
	hf_repo *r = NULL;
	hf_credential c2;
	hf_key_info *k = NULL;
	size_t n = 0;
	FILE *fp;
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/hf-test-keyremove-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->pass, sizeof(f->pass), "%s/pass", f->dir);
	snprintf(f->pass2, sizeof(f->pass2), "%s/pass2", f->dir);
	snprintf(f->url, sizeof(f->url), "mem://%s-%s", name, f->dir + 5);
	snprintf(f->cat, sizeof(f->cat), "%s/catalog.db", f->dir);
	snprintf(f->cat2, sizeof(f->cat2), "%s/catalog2.db", f->dir);
	if (!(fp = fopen(f->pass, "w")))
		return -1;
	fputs("correct horse battery staple\n", fp);
	fclose(fp);
	if (!(fp = fopen(f->pass2, "w")))
		return -1;
	fputs("second admin's passphrase\n", fp);
	fclose(fp);
	f->o.version = HF_REPO_OPTIONS_VERSION;
	f->o.url = f->url;
	f->o.catalog_path = f->cat;
	f->o.cred.password_file = f->pass;
	f->o.cred.password_fd = -1;
	f->o.compression = -1;
	memset(&io, 0, sizeof(io));
	io.compression = -1;
	io.kdf_ops = 1;
	io.kdf_mem = 8u * 1024 * 1024;
	CHECK_OK(hf_repo_init(&f->o, &io, NULL));
	CHECK_OK(hf_repo_open(&r, &f->o));
	if (!r)
		return -1;
	memset(&c2, 0, sizeof(c2));
	c2.password_file = f->pass2;
	c2.password_fd = -1;
	CHECK_OK(hf_key_add(r, &c2, f->slot2));
	CHECK_OK(hf_key_list(r, &k, &n));
	for (size_t i = 0; i < n; i++)
		if (strcmp(k[i].id, f->slot2) != 0)
			snprintf(f->slot1, sizeof(f->slot1), "%s", k[i].id);
	free(k);
	hf_repo_free(r);
	return n == 2 && f->slot1[0] ? 0 : -1;
}

static void teardown(fixture *f)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	CHECK(system(cmd) == 0);
}

/* Opens the fixture's repository with passphrase 1 or 2; 0 when it unlocks. */
static int open_with(fixture *f, int which, hf_repo **out)
{
	hf_repo_options o = f->o;
	o.cred.password_file = which == 1 ? f->pass : f->pass2;
	o.catalog_path = which == 1 ? f->cat : f->cat2;
	return hf_repo_open(out, &o);
}

static size_t count_slots(fixture *f)
{
	hf_repo *r = NULL;
	hf_key_info *k = NULL;
	size_t n = 0;
	if (open_with(f, 1, &r) != 0 && open_with(f, 2, &r) != 0)
		return 0;
	if (hf_key_list(r, &k, &n) != 0)
		n = 0;
	free(k);
	hf_repo_free(r);
	return n;
}

/* ---- the race ---- */

typedef struct race {
	fixture *f;
	int rc;
} race;

/* Admin 2 removes slot 1 while admin 1 is between its listing and its removal of slot 2. */
static void admin2_removes_slot1(void *arg)
{
	race *x = arg;
	hf_repo *r2 = NULL;
	x->rc = -100;
	if (open_with(x->f, 2, &r2) != 0)
		return;
	x->rc = hf_key_remove(r2, x->f->slot1);
	hf_repo_free(r2);
}

static void test_race_two_removers(void)
{
	fixture f;
	race x = {&f, 0};
	hf_repo *r1 = NULL;
	int rc;
	if (setup(&f, "race") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_with(&f, 1, &r1));
	if (!r1)
		return;
	CHECK(hook(r1, admin2_removes_slot1, &x) != NULL);
	rc = hf_key_remove(r1, f.slot2);
	hf_repo_free(r1);
	/* admin 2 saw slot 2 still there and succeeded; admin 1 then found no other slot and put its back */
	CHECK_RC(x.rc, 0);
	CHECK_RC(rc, HF_EUSAGE);
	CHECK(count_slots(&f) == 1);
	r1 = NULL;
	CHECK_OK(open_with(&f, 2, &r1)); /* slot 2, put back, still unlocks */
	hf_repo_free(r1);
	teardown(&f);
}

/* The other slot simply disappears between the listing and the removal (a remover on another host whose
 * own re-listing has not run yet): the removed slot is put back. */
static void other_slot_vanishes(void *arg)
{
	fixture *f = arg;
	hf_storage *st = NULL;
	char key[64];
	snprintf(key, sizeof(key), "keys/slots/%s", f->slot1);
	CHECK_OK(hf_storage_open(&st, f->url, NULL));
	if (st)
		CHECK_OK(hf_storage_remove(st, key));
	hf_storage_free(st);
}

static void test_race_other_vanishes(void)
{
	fixture f;
	hf_repo *r1 = NULL;
	if (setup(&f, "vanish") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_with(&f, 1, &r1));
	if (!r1)
		return;
	CHECK(hook(r1, other_slot_vanishes, &f) != NULL);
	CHECK_RC(hf_key_remove(r1, f.slot2), HF_EUSAGE);
	CHECK(strstr(hf_error_message(), "put back") != NULL);
	hf_repo_free(r1);
	r1 = NULL;
	CHECK_OK(open_with(&f, 2, &r1));
	hf_repo_free(r1);
	teardown(&f);
}

/* Putting the slot back fails too: the error says so, and the slot's bytes are saved next to the catalog. */
static void test_put_back_fails(void)
{
	fixture f;
	hf_repo *r1 = NULL;
	hf_storage *faulty = NULL;
	char saved[256];
	if (setup(&f, "putfail") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_with(&f, 1, &r1));
	if (!r1)
		return;
	CHECK_OK(hf_storage_faulty_open(&faulty, r1->storage, "put", 1, HF_ENET));
	if (faulty)
		r1->storage = faulty;
	CHECK(hook(r1, other_slot_vanishes, &f) != NULL);
	CHECK_RC(hf_key_remove(r1, f.slot2), HF_ENET);
	CHECK(strstr(hf_error_message(), "putting it back failed") != NULL);
	hf_repo_free(r1);
	snprintf(saved, sizeof(saved), "%s/keyslot-%s.json", f.dir, f.slot2);
	CHECK(access(saved, R_OK) == 0);
	teardown(&f);
}

/* ---- damaged slots do not count as remaining ---- */

static void put_slot(fixture *f, const char *id, const char *text)
{
	hf_storage *st = NULL;
	char key[64];
	snprintf(key, sizeof(key), "keys/slots/%s", id);
	CHECK_OK(hf_storage_open(&st, f->url, NULL));
	if (st)
		CHECK_OK(hf_storage_put(st, key, text, strlen(text), NULL));
	hf_storage_free(st);
}

static void test_damaged_slots_do_not_count(void)
{
	fixture f;
	hf_repo *r = NULL;
	hf_storage *st = NULL;
	hf_buf b = HF_BUF_INIT;
	char key[64], *bad;
	json_t *j;
	if (setup(&f, "damaged") < 0) {
		CHECK(!"setup");
		return;
	}
	CHECK_OK(open_with(&f, 1, &r));
	if (!r)
		return;
	/* leave only slot 1 working, plus: garbage, a truncated slot, and a copy of slot 1 whose Argon2id
	 * passes are out of bounds */
	CHECK_OK(hf_key_remove(r, f.slot2));
	put_slot(&f, "00000000000000000000000000000001", "not json");
	put_slot(&f, "00000000000000000000000000000002", "{\"type\": \"passphrase\", \"ops\": 3}");
	snprintf(key, sizeof(key), "keys/slots/%s", f.slot1);
	CHECK_OK(hf_storage_open(&st, f.url, NULL));
	if (st && hf_storage_get(st, key, &b) == 0 && (j = json_loadb((char *)b.data, b.len, 0, NULL))) {
		json_object_set_new(j, "ops", json_integer(1000));
		CHECK((bad = json_dumps(j, JSON_SORT_KEYS)) != NULL);
		if (bad)
			put_slot(&f, "00000000000000000000000000000003", bad);
		free(bad);
		json_decref(j);
	}
	hf_buf_free(&b);
	hf_storage_free(st);

	CHECK_RC(hf_key_remove(r, f.slot1), HF_EUSAGE);
	CHECK(strstr(hf_error_message(), "last valid") != NULL);
	/* the damaged ones can go: the working slot remains */
	CHECK_OK(hf_key_remove(r, "00000000000000000000000000000001"));
	CHECK_OK(hf_key_remove(r, "00000000000000000000000000000003"));
	hf_repo_free(r);
	r = NULL;
	CHECK_OK(open_with(&f, 1, &r));
	hf_repo_free(r);
	teardown(&f);
}

int main(void)
{
	CHECK_OK(hf_crypto_init());
	hf_set_verbosity(0);
	test_race_two_removers();
	test_race_other_vanishes();
	test_put_back_fails();
	test_damaged_slots_do_not_count();
	TEST_MAIN_END();
}
