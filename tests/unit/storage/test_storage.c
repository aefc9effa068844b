/* Storage layer: URL dispatch, key validation, the file and mem drivers, the faulty wrapper, concurrent
 * puts, and a full-disk write on a small tmpfs (needs root: the test fails loudly without it). */
#include "storage/storage.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[4096];
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Number of directory entries under path (recursive) whose name contains needle. */
static int count_names(const char *path, const char *needle)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[4096];
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strstr(de->d_name, needle))
			n++;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		n += count_names(sub, needle);
	}
	closedir(d);
	return n;
}

typedef struct names {
	char items[64][128];
	int n, stop_after, stop_value;
} names;

static int collect(const char *name, uint64_t size, void *payload)
{
	names *ns = payload;
	if (ns->n < 64)
		snprintf(ns->items[ns->n], sizeof(ns->items[0]), "%s=%llu", name, (unsigned long long)size);
	ns->n++;
	return ns->stop_after && ns->n >= ns->stop_after ? ns->stop_value : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The listing under prefix as "name=size" joined by ' ', sorted (drivers list in no particular order). */
static const char *listing(hf_storage *s, const char *prefix)
{
	static names ns;
	static char out[4096];
	size_t o = 0;
	memset(&ns, 0, sizeof(ns));
	CHECK_OK(hf_storage_list(s, prefix, collect, &ns));
	qsort(ns.items, (size_t)(ns.n < 64 ? ns.n : 64), sizeof(ns.items[0]), cmp_str);
	out[0] = '\0';
	for (int i = 0; i < ns.n && i < 64; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", ns.items[i]);
	return out;
}

static int put_str(hf_storage *s, const char *key, const char *v)
{
	return hf_storage_put(s, key, v, strlen(v), NULL);
}

static const char *get_str(hf_storage *s, const char *key)
{
	static char out[256];
	hf_buf b = HF_BUF_INIT;
	int rc = hf_storage_get(s, key, &b);
	snprintf(out, sizeof(out), "%s", "(error)");
	if (rc == 0)
		snprintf(out, sizeof(out), "%.*s", (int)b.len, (const char *)b.data);
	hf_buf_free(&b);
	return out;
}

/* ---- behaviour every driver must have ---- */

static void test_round_trip(hf_storage *s)
{
	hf_buf b = HF_BUF_INIT;
	hf_storage_stat st;
	int64_t now = hf_clock_now_ns() / 1000000000;

	CHECK_OK(put_str(s, "a/b/c", "hello"));
	CHECK_STR(get_str(s, "a/b/c"), "hello");

	/* get appends; a failed get leaves the buffer as it was */
	CHECK_OK(hf_buf_append(&b, "X", 1));
	CHECK_OK(hf_storage_get(s, "a/b/c", &b));
	CHECK(b.len == 6 && memcmp(b.data, "Xhello", 6) == 0);
	CHECK_RC(hf_storage_get(s, "a/b/missing", &b), HF_ENOTFOUND);
	CHECK(strstr(hf_error_message(), s->url) != NULL);
	CHECK(strstr(hf_error_message(), "a/b/missing") != NULL);
	CHECK(b.len == 6);

	/* write-once */
	CHECK_RC(put_str(s, "a/b/c", "other"), HF_EEXISTS);
	CHECK(strstr(hf_error_message(), "a/b/c") != NULL);
	CHECK_STR(get_str(s, "a/b/c"), "hello");

	/* ranges */
	b.len = 0;
	CHECK_OK(hf_storage_get_range(s, "a/b/c", 1, 3, &b));
	CHECK(b.len == 3 && memcmp(b.data, "ell", 3) == 0);
	CHECK_OK(hf_storage_get_range(s, "a/b/c", 5, 0, &b));
	CHECK(b.len == 3);
	CHECK_RC(hf_storage_get_range(s, "a/b/c", 3, 5, &b), HF_ECORRUPT);
	CHECK(strstr(hf_error_message(), "truncated") != NULL);
	CHECK(b.len == 3);
	CHECK_RC(hf_storage_get_range(s, "a/b/c", 6, 1, &b), HF_ECORRUPT);
	CHECK_RC(hf_storage_get_range(s, "nope", 0, 1, &b), HF_ENOTFOUND);
	CHECK(b.len == 3);

	/* stat */
	memset(&st, 0xff, sizeof(st));
	CHECK_OK(hf_storage_stat_object(s, "a/b/c", &st));
	CHECK(st.size == 5);
	CHECK(st.mtime >= now - 5 && st.mtime <= now + 5);
	CHECK(st.lock_mode == HF_LOCK_NONE);
	CHECK_RC(hf_storage_stat_object(s, "a/b", &st), HF_ENOTFOUND); /* a "directory" is not an object */
	CHECK_RC(hf_storage_stat_object(s, "zz", &st), HF_ENOTFOUND);
	CHECK(st.size == 5);

	/* empty objects are objects */
	CHECK_OK(hf_storage_put(s, "empty", "", 0, NULL));
	CHECK_OK(hf_storage_stat_object(s, "empty", &st));
	CHECK(st.size == 0);
	b.len = 0;
	CHECK_OK(hf_storage_get(s, "empty", &b));
	CHECK(b.len == 0);
	hf_buf_free(&b);
}

static void test_list(hf_storage *s)
{
	names ns;
	CHECK_OK(put_str(s, "snapshots/s1", "1"));
	CHECK_OK(put_str(s, "snapshots/s2", "22"));
	CHECK_OK(put_str(s, "snapshotsX", "333"));
	CHECK_OK(put_str(s, "packs/aa/p1", "4444"));
	CHECK_OK(put_str(s, "packs/ab/p2", "55555"));
	CHECK_OK(put_str(s, "config", "c"));

	CHECK_STR(listing(s, "snapshots/"), "snapshots/s1=1 snapshots/s2=2");
	CHECK_STR(listing(s, "snap"), "snapshots/s1=1 snapshots/s2=2 snapshotsX=3");
	CHECK_STR(listing(s, "packs/a"), "packs/aa/p1=4 packs/ab/p2=5");
	CHECK_STR(listing(s, "packs/aa"), "packs/aa/p1=4");
	CHECK_STR(listing(s, "packs/aa/"), "packs/aa/p1=4");
	CHECK_STR(listing(s, "config"), "config=1");
	CHECK_STR(listing(s, "nothing/"), "");
	CHECK_STR(listing(s, "packs/aa/p1/"), "");
	CHECK_STR(listing(s, ""), "a/b/c=5 config=1 empty=0 packs/aa/p1=4 packs/ab/p2=5 snapshots/s1=1 "
	                          "snapshots/s2=2 snapshotsX=3");

	/* a non-zero callback value stops the listing and is returned */
	memset(&ns, 0, sizeof(ns));
	ns.stop_after = 2;
	ns.stop_value = 7;
	CHECK_RC(hf_storage_list(s, "", collect, &ns), 7);
	CHECK(ns.n == 2);
	memset(&ns, 0, sizeof(ns));
	ns.stop_after = 1;
	ns.stop_value = HF_EIO;
	CHECK_RC(hf_storage_list(s, "snapshots/", collect, &ns), HF_EIO);
	CHECK(ns.n == 1);
}

static void test_remove(hf_storage *s)
{
	CHECK_OK(put_str(s, "keys/k1", "secret-wrapped"));
	CHECK_OK(hf_storage_remove(s, "keys/k1"));
	CHECK_STR(get_str(s, "keys/k1"), "(error)");
	CHECK_RC(hf_storage_remove(s, "keys/k1"), HF_ENOTFOUND);
	/* removed keys can be written again (the mutable keys/ area relies on it) */
	CHECK_OK(put_str(s, "keys/k1", "v2"));
	CHECK_STR(get_str(s, "keys/k1"), "v2");
	CHECK_STR(listing(s, "keys/"), "keys/k1=2");
}

static void test_bad_keys(hf_storage *s)
{
	static const char *const bad[] = {"",          "/abs",        "a/../b", "..", ".",
	                                  "./a",       "a/.",         "a//b",   "a/", "a\nb",
	                                  "tab\there", "caf\xc3\xa9", "del\x7f"};
	hf_buf b = HF_BUF_INIT;
	hf_storage_stat st;
	char longkey[1100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_RC(put_str(s, bad[i], "x"), HF_EUSAGE);
		CHECK(strstr(hf_error_message(), "invalid object key") != NULL);
		CHECK(strchr(hf_error_message(), '\n') == NULL);
		CHECK_RC(hf_storage_get(s, bad[i], &b), HF_EUSAGE);
		CHECK_RC(hf_storage_get_range(s, bad[i], 0, 1, &b), HF_EUSAGE);
		CHECK_RC(hf_storage_stat_object(s, bad[i], &st), HF_EUSAGE);
		CHECK_RC(hf_storage_remove(s, bad[i]), HF_EUSAGE);
	}
	CHECK_RC(put_str(s, NULL, "x"), HF_EUSAGE);
	/* 1024 bytes is the limit (components kept short for file systems' NAME_MAX) */
	memset(longkey, 'k', sizeof(longkey) - 1);
	for (size_t i = 100; i < sizeof(longkey) - 1; i += 100)
		longkey[i] = '/';
	longkey[sizeof(longkey) - 1] = '\0';
	CHECK_RC(put_str(s, longkey, "x"), HF_EUSAGE);
	longkey[1024] = '\0';
	CHECK_RC(hf_storage_stat_object(s, longkey, &st), HF_ENOTFOUND);

	/* prefixes: empty, trailing '/' and partial components are fine; the rest is not */
	CHECK_RC(hf_storage_list(s, "/x", collect, &(names){0}), HF_EUSAGE);
	CHECK_RC(hf_storage_list(s, "a//", collect, &(names){0}), HF_EUSAGE);
	CHECK_RC(hf_storage_list(s, "../", collect, &(names){0}), HF_EUSAGE);
	CHECK_OK(hf_storage_list(s, NULL, collect, &(names){0}));
	hf_buf_free(&b);
}

/* ---- concurrency ---- */

typedef struct worker {
	hf_storage *s;
	int id, ok, shared_ok, shared_exists;
} worker;

static void *put_worker(void *arg)
{
	worker *w = arg;
	char key[64], val[64];
	for (int j = 0; j < 50; j++) {
		snprintf(key, sizeof(key), "conc/t%d/k%02d", w->id, j);
		snprintf(val, sizeof(val), "value-%d-%d", w->id, j);
		if (put_str(w->s, key, val) == 0)
			w->ok++;
		/* everyone races for the same key half-way through */
		if (j == 25) {
			snprintf(val, sizeof(val), "winner-%d", w->id);
			int rc = put_str(w->s, "conc/shared", val);
			w->shared_ok += rc == 0;
			w->shared_exists += rc == HF_EEXISTS;
		}
	}
	return NULL;
}

static void test_concurrent(hf_storage *s)
{
	pthread_t th[4];
	worker w[4];
	names ns;
	int shared_ok = 0, shared_exists = 0;
	char key[64], val[64], winner[64];

	for (int i = 0; i < 4; i++) {
		w[i] = (worker){s, i, 0, 0, 0};
		CHECK(pthread_create(&th[i], NULL, put_worker, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].ok == 50);
		shared_ok += w[i].shared_ok;
		shared_exists += w[i].shared_exists;
	}
	CHECK(shared_ok == 1);
	CHECK(shared_exists == 3);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 50; j += 7) {
			snprintf(key, sizeof(key), "conc/t%d/k%02d", i, j);
			snprintf(val, sizeof(val), "value-%d-%d", i, j);
			CHECK_STR(get_str(s, key), val);
		}
		if (w[i].shared_ok)
			snprintf(winner, sizeof(winner), "winner-%d", i);
	}
	CHECK_STR(get_str(s, "conc/shared"), winner);
	memset(&ns, 0, sizeof(ns));
	CHECK_OK(hf_storage_list(s, "conc/", collect, &ns));
	CHECK(ns.n == 201);
}

static void test_driver(hf_storage *s)
{
	test_round_trip(s);
	test_list(s);
	test_remove(s);
	test_bad_keys(s);
	test_concurrent(s);
}

/* ---- file driver specifics ---- */

static void test_file(const char *tmp)
{
	hf_storage *s = NULL, *s2 = NULL;
	char root[1024], path[4096], cwd[1024];
	hf_storage_prepare_opts create = {1, HF_LOCK_NONE, 0}, check = {0, HF_LOCK_NONE, 0};
	struct stat st;
	int fd;

	snprintf(root, sizeof(root), "%s/repo", tmp);
	snprintf(path, sizeof(path), "file://%s//", root);
	CHECK_OK(hf_storage_open(&s, path, NULL));
	if (!s)
		return;
	snprintf(path, sizeof(path), "file://%s", root);
	CHECK_STR(s->url, path);
	CHECK_STR(s->vt->name, "file");
	CHECK(hf_storage_has(s, HF_STORAGE_FEAT_RANGE | HF_STORAGE_FEAT_LOCAL));
	CHECK(!hf_storage_has(s, HF_STORAGE_FEAT_LOCK));
	CHECK_RC(hf_storage_extend_lock(s, "x", HF_LOCK_COMPLIANCE, 1), HF_EUNSUPPORTED);

	/* prepare: absent is acceptable without create and left absent; create makes it */
	CHECK_OK(hf_storage_prepare(s, &check));
	CHECK(stat(root, &st) < 0 && errno == ENOENT);
	CHECK_STR(listing(s, ""), "");
	CHECK_OK(hf_storage_prepare(s, &create));
	CHECK(stat(root, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_OK(hf_storage_prepare(s, &check));

	test_driver(s);

	/* objects are files with private-ish permissions and no temp files remain */
	snprintf(path, sizeof(path), "%s/a/b/c", root);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0007) == 0 && st.st_size == 5);
	CHECK(count_names(root, ".tmp.") == 0);

	/* temp files of interrupted writes are invisible to list; their names are not valid keys */
	snprintf(path, sizeof(path), "%s/snapshots/s3.tmp.1234.5a", root);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_STR(listing(s, "snapshots/"), "snapshots/s1=1 snapshots/s2=2");
	CHECK_RC(put_str(s, "x.tmp.1.ab", "x"), HF_EUSAGE);
	CHECK_RC(put_str(s, "d/x.tmp.1.ab", "x"), HF_EUSAGE);
	CHECK_OK(put_str(s, "x.tmp.notreally", "x"));

	/* a stale temp file from a crashed run with the same pid and random() sequence is not "exists":
	 * predict the temp name the next put will try (see hf_fs_write_atomic) and occupy it */
	{
		long r;
		srandom(42);
		r = random();
		srandom(42);
		snprintf(path, sizeof(path), "%s/snapshots/s4.tmp.%ld.%lx", root, (long)getpid(),
		         (unsigned long)r);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		CHECK_OK(put_str(s, "snapshots/s4", "4444"));
		CHECK_STR(get_str(s, "snapshots/s4"), "4444");
	}

	/* large objects: a page-aligned buffer is written with O_DIRECT (its unaligned tail through the
	 * page cache), an unaligned one through the page cache; both read back whole */
	{
		size_t len = 3 * 1024 * 1024 + 777;
		uint8_t *big = aligned_alloc(4096, (len + 2 * 4096) / 4096 * 4096);
		hf_buf got = HF_BUF_INIT;
		CHECK(big != NULL);
		for (size_t i = 0; big && i < len + 4096; i++)
			big[i] = (uint8_t)(i * 7 + (i >> 12));
		CHECK_OK(hf_storage_put(s, "packs/aligned", big, len, NULL));
		CHECK_OK(hf_storage_put(s, "packs/unaligned", big + 1, len, NULL));
		CHECK_OK(hf_storage_get(s, "packs/aligned", &got));
		CHECK(got.len == len && !memcmp(got.data, big, len));
		hf_buf_free(&got);
		CHECK_OK(hf_storage_get(s, "packs/unaligned", &got));
		CHECK(got.len == len && !memcmp(got.data, big + 1, len));
		hf_buf_free(&got);
		free(big);
	}

	/* a non-empty location cannot be prepared for a new repository */
	CHECK_RC(hf_storage_prepare(s, &create), HF_EEXISTS);
	CHECK_RC(hf_storage_prepare(s, &check), HF_EEXISTS);

	/* a second handle (plain path form) sees the same objects */
	CHECK_OK(hf_storage_open(&s2, root, NULL));
	if (s2)
		CHECK_STR(get_str(s2, "a/b/c"), "hello");
	hf_storage_free(s2);
	s2 = NULL;

	/* relative paths become absolute */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_OK(hf_storage_open(&s2, "rel/./repo", NULL));
	snprintf(path, sizeof(path), "file://%s/rel/./repo", cwd);
	if (s2)
		CHECK_STR(s2->url, path);
	hf_storage_free(s2);
	hf_storage_free(s);
}

/* ---- full disk ---- */

static void test_full_disk(const char *tmp)
{
	char mnt[4096];
	hf_storage *s = NULL;
	hf_storage_stat st;
	uint8_t *big = NULL;
	size_t big_len = 512 * 1024;

	snprintf(mnt, sizeof(mnt), "%s/small", tmp);
	CHECK(mkdir(mnt, 0700) == 0);
	if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k") != 0) {
		fprintf(stderr,
		        "FAIL: the full-disk test mounts a 256 KiB tmpfs and needs root (CAP_SYS_ADMIN): "
		        "mount('%s'): %s\n",
		        mnt, strerror(errno));
		hf_test_failures++;
		return;
	}
	CHECK_OK(hf_storage_file_open(&s, mnt));
	big = calloc(1, big_len);
	if (s && big) {
		CHECK_OK(hf_storage_put(s, "data/small", big, 64 * 1024, NULL));
		CHECK_RC(hf_storage_put(s, "data/big", big, big_len, NULL), HF_ENOSPC);
		CHECK(strstr(hf_error_message(), "data/big") != NULL);
		CHECK(strstr(hf_error_message(), s->url) != NULL);
		CHECK(strchr(hf_error_message(), '\n') == NULL);
		CHECK(count_names(mnt, ".tmp.") == 0);
		CHECK_RC(hf_storage_stat_object(s, "data/big", &st), HF_ENOTFOUND);
		CHECK_OK(hf_storage_stat_object(s, "data/small", &st));
		CHECK(st.size == 64 * 1024);
		CHECK_STR(listing(s, ""), "data/small=65536");
		/* the same with O_DIRECT: a page-aligned object of 2 MiB */
		{
			uint8_t *al = aligned_alloc(4096, 2 * 1024 * 1024);
			CHECK(al != NULL);
			if (al) {
				memset(al, 1, 2 * 1024 * 1024);
				CHECK_RC(hf_storage_put(s, "data/aligned", al, 2 * 1024 * 1024, NULL), HF_ENOSPC);
				CHECK(strstr(hf_error_message(), "data/aligned") != NULL);
				CHECK(count_names(mnt, ".tmp.") == 0);
			}
			free(al);
		}
		/* the space is back: the same object can now be written */
		CHECK_OK(hf_storage_put(s, "data/big2", big, 100 * 1024, NULL));
	}
	free(big);
	hf_storage_free(s);
	CHECK(umount2(mnt, MNT_DETACH) == 0);
	rmdir(mnt);
}

/* ---- mem driver specifics ---- */

static void test_mem(void)
{
	hf_storage *s = NULL, *s2 = NULL, *other = NULL;
	hf_storage_prepare_opts check = {0, HF_LOCK_NONE, 0};

	CHECK_OK(hf_storage_open(&s, "mem://unit", NULL));
	if (!s)
		return;
	CHECK_STR(s->url, "mem://unit");
	CHECK_STR(s->vt->name, "mem");
	CHECK(hf_storage_has(s, HF_STORAGE_FEAT_RANGE));
	CHECK(!hf_storage_has(s, HF_STORAGE_FEAT_LOCAL));
	CHECK_OK(hf_storage_prepare(s, &check));
	test_driver(s);
	CHECK_RC(hf_storage_prepare(s, &check), HF_EEXISTS);

	/* same name, same objects; other name, other objects */
	CHECK_OK(hf_storage_mem_open(&s2, "unit"));
	CHECK_OK(hf_storage_open(&other, "mem://other", NULL));
	if (s2 && other) {
		CHECK_STR(get_str(s2, "a/b/c"), "hello");
		CHECK_OK(put_str(s2, "from-s2", "yes"));
		CHECK_STR(get_str(s, "from-s2"), "yes");
		CHECK_STR(listing(other, ""), "");
	}
	hf_storage_free(s2);
	hf_storage_free(s);
	/* a store outlives its handles */
	s = NULL;
	CHECK_OK(hf_storage_open(&s, "mem://unit", NULL));
	if (s)
		CHECK_STR(get_str(s, "from-s2"), "yes");
	hf_storage_free(s);
	hf_storage_free(other);
}

/* ---- faulty wrapper ---- */

static void test_faulty(void)
{
	hf_storage *inner = NULL, *f = NULL;
	hf_storage_stat st;
	hf_buf b = HF_BUF_INIT;

	CHECK_OK(hf_storage_mem_open(&inner, "faulty1"));
	CHECK_RC(hf_storage_faulty_open(&f, inner, "open", 1, HF_EIO), HF_EUSAGE);
	CHECK_RC(hf_storage_faulty_open(&f, inner, "put", 0, HF_EIO), HF_EUSAGE);
	CHECK(f == NULL);
	CHECK_OK(hf_storage_faulty_open(&f, inner, "put", 3, HF_ENOSPC));
	if (!f)
		return;
	CHECK_STR(f->url, "mem://faulty1");
	CHECK(hf_storage_has(f, HF_STORAGE_FEAT_RANGE));
	CHECK_OK(put_str(f, "k1", "1"));
	CHECK_OK(put_str(f, "k2", "2"));
	CHECK_RC(hf_storage_get(f, "k3", &b), HF_ENOTFOUND); /* other ops do not count */
	CHECK_RC(put_str(f, "k3", "3"), HF_ENOSPC);
	CHECK(strstr(hf_error_message(), "injected failure") != NULL);
	CHECK(strstr(hf_error_message(), "k3") != NULL);
	CHECK(strstr(hf_error_message(), "mem://faulty1") != NULL);
	CHECK_RC(hf_storage_stat_object(f, "k3", &st), HF_ENOTFOUND); /* the failed put stored nothing */
	CHECK_OK(put_str(f, "k3", "3"));                              /* only the Nth call fails */
	CHECK_OK(put_str(f, "k4", "4"));
	CHECK_STR(get_str(f, "k3"), "3");
	CHECK_STR(listing(f, ""), "k1=1 k2=1 k3=1 k4=1");
	hf_storage_free(f); /* frees inner too */
	f = inner = NULL;

	/* "*" counts every operation */
	CHECK_OK(hf_storage_mem_open(&inner, "faulty1"));
	CHECK_OK(hf_storage_faulty_open(&f, inner, "*", 2, HF_ENET));
	if (!f)
		return;
	CHECK_OK(hf_storage_get(f, "k1", &b));
	CHECK_RC(hf_storage_get_range(f, "k1", 0, 1, &b), HF_ENET);
	CHECK(b.len == 1);
	CHECK_OK(hf_storage_stat_object(f, "k1", &st));
	CHECK_OK(hf_storage_remove(f, "k4"));
	hf_storage_free(f);
	f = inner = NULL;

	/* list and get_range failures */
	CHECK_OK(hf_storage_mem_open(&inner, "faulty1"));
	CHECK_OK(hf_storage_faulty_open(&f, inner, "list", 1, HF_ENET));
	if (f) {
		names ns;
		memset(&ns, 0, sizeof(ns));
		CHECK_RC(hf_storage_list(f, "", collect, &ns), HF_ENET);
		CHECK(ns.n == 0);
		CHECK_STR(listing(f, ""), "k1=1 k2=1 k3=1");
	}
	hf_storage_free(f);
	f = inner = NULL;
	CHECK_OK(hf_storage_mem_open(&inner, "faulty1"));
	CHECK_OK(hf_storage_faulty_open(&f, inner, "get_range", 2, HF_ECORRUPT));
	if (f) {
		b.len = 0;
		CHECK_OK(hf_storage_get_range(f, "k1", 0, 1, &b));
		CHECK_RC(hf_storage_get_range(f, "k1", 0, 1, &b), HF_ECORRUPT);
		CHECK_OK(hf_storage_get_range(f, "k1", 0, 1, &b));
		CHECK(b.len == 2);
	}
	hf_storage_free(f);
	hf_buf_free(&b);
}

/* ---- URL dispatch ---- */

static void test_open_errors(void)
{
	hf_storage *s = NULL;
	CHECK_RC(hf_storage_open(&s, "", NULL), HF_EUSAGE);
	CHECK_RC(hf_storage_open(&s, NULL, NULL), HF_EUSAGE);
	CHECK_RC(hf_storage_open(&s, "file://relative/path", NULL), HF_EUSAGE);
	CHECK_RC(hf_storage_open(&s, "ftp://host/x", NULL), HF_EUSAGE);
	CHECK(strstr(hf_error_message(), "ftp://host/x") != NULL);
	CHECK_RC(hf_storage_open(&s, "mem://", NULL), HF_EUSAGE);
	CHECK_RC(hf_storage_open(&s, "s3://", NULL), HF_EUSAGE);
	CHECK_RC(hf_storage_open(&s, "s3:///prefix", NULL), HF_EUSAGE);
	CHECK(s == NULL);
	hf_storage_free(NULL);
}

int main(void)
{
	char tmp[] = "/tmp/hf-storage-XXXXXX";
	char cwd[4096];

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	/* relative-path tests resolve against the temp dir */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(tmp) == 0);
	test_open_errors();
	test_file(tmp);
	test_full_disk(tmp);
	test_mem();
	test_faulty();
	CHECK(chdir(cwd) == 0);
	rm_rf(tmp);
	TEST_MAIN_END();
}
