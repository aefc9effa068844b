/* Tests of the files source: backup of a real tree into an in-memory sink, restore from an
 * in-memory reader, tar export/import, stdin import, and the refusals (unsafe names, existing files). */
#define _GNU_SOURCE
#include "source/files/files.h"
#include "source/files/dread.h"
#include "source/files/readq.h"
#include "test.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ---- in-memory snapshot: a sink on the way in, a reader on the way out --------------------- */

typedef struct mem_entry {
	hf_entry_meta m; /* strings owned */
	hf_buf data;
} mem_entry;

typedef struct mem_snap {
	hf_sink sink;
	hf_snapshot_reader reader;
	mem_entry *v;
	size_t len, cap;
	int in_entry;   /* between begin and end */
	int violations; /* protocol misuse seen by the sink */
	/* fault injection for the reader */
	const char *fail_name;
	int fail_rc;
	/* side effect for the sink: unlink this path when an entry named trigger begins */
	const char *trigger, *unlink_path;
	int fail_sink_at; /* 1-based entry_write call that fails, 0 = never */
	const char *rewrite_path; /* side effect: rewrite this file in place (same size) on the first write */
	int writes;
	/* change detection: files unchanged since parent are taken from it */
	const struct mem_snap *parent;
	int reused, offered, begun_files;
} mem_snap;

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int sink_begin(hf_sink *s, const hf_entry_meta *m)
{
	mem_snap *ms = (mem_snap *)s;
	mem_entry *e;
	if (ms->in_entry)
		ms->violations++;
	if (ms->len == ms->cap) {
		ms->cap = ms->cap ? ms->cap * 2 : 64;
		ms->v = realloc(ms->v, ms->cap * sizeof(*ms->v));
	}
	e = &ms->v[ms->len++];
	memset(e, 0, sizeof(*e));
	e->m = *m;
	e->m.name = xstrdup(m->name);
	e->m.user = xstrdup(m->user);
	e->m.group = xstrdup(m->group);
	e->m.link_target = xstrdup(m->link_target);
	ms->in_entry = 1;
	if (m->type == HF_ENTRY_FILE)
		ms->begun_files++;
	if (ms->trigger && !strcmp(m->name, ms->trigger))
		unlink(ms->unlink_path);
	return 0;
}

static int sink_write(hf_sink *s, const void *data, size_t len)
{
	mem_snap *ms = (mem_snap *)s;
	if (!ms->in_entry || ms->v[ms->len - 1].m.type != HF_ENTRY_FILE)
		ms->violations++;
	if (ms->fail_sink_at && ++ms->writes == ms->fail_sink_at)
		return hf_error_set(HF_ENOSPC, "repository full");
	if (ms->rewrite_path) {
		int fd;
		nanosleep(&(struct timespec){0, 20000000}, NULL); /* past the stat's clock tick */
		if ((fd = open(ms->rewrite_path, O_WRONLY)) < 0 || pwrite(fd, "XY", 2, 0) != 2)
			ms->violations++;
		if (fd >= 0)
			close(fd);
		ms->rewrite_path = NULL;
	}
	return hf_buf_append(&ms->v[ms->len - 1].data, data, len);
}

static int sink_end(hf_sink *s)
{
	mem_snap *ms = (mem_snap *)s;
	if (!ms->in_entry)
		ms->violations++;
	ms->in_entry = 0;
	/* Like the real builder: the stored size is what was written. */
	if (ms->v[ms->len - 1].m.type == HF_ENTRY_FILE)
		ms->v[ms->len - 1].m.size = ms->v[ms->len - 1].data.len;
	return 0;
}

static const struct mem_entry *snap_find(const mem_snap *ms, const char *name);

static int sink_reuse(hf_sink *s, const hf_entry_meta *m)
{
	mem_snap *ms = (mem_snap *)s;
	const mem_entry *p;
	ms->offered++;
	if (!ms->parent || !(p = snap_find(ms->parent, m->name)) || p->m.type != HF_ENTRY_FILE ||
	    p->m.size != m->size || p->m.mtime_ns != m->mtime_ns || p->m.ctime_ns != m->ctime_ns ||
	    p->m.inode != m->inode || p->m.dev != m->dev || !m->inode || !m->ctime_ns)
		return 0;
	sink_begin(s, &p->m);
	ms->begun_files--;
	hf_buf_append(&ms->v[ms->len - 1].data, p->data.data, p->data.len);
	sink_end(s);
	ms->reused++;
	return 1;
}

static int sink_rp(hf_sink *s, int64_t t, const char *lsn)
{
	(void)s;
	(void)t;
	(void)lsn;
	return 0;
}
static int sink_info(hf_sink *s, const char *json)
{
	(void)s;
	(void)json;
	return 0;
}

static mem_snap *snap_of(hf_snapshot_reader *r)
{
	return (mem_snap *)((char *)r - offsetof(mem_snap, reader));
}

static int reader_walk(hf_snapshot_reader *r, hf_reader_entry_cb cb, void *payload)
{
	mem_snap *ms = snap_of(r);
	for (size_t i = 0; i < ms->len; i++) {
		int rc = cb(&ms->v[i].m, payload);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int reader_read(hf_snapshot_reader *r, const char *name, int (*cb)(const void *, size_t, void *),
                       void *payload)
{
	mem_snap *ms = snap_of(r);
	const size_t piece = (size_t)1 << 20;
	for (size_t i = 0; i < ms->len; i++) {
		const mem_entry *e = &ms->v[i];
		if (strcmp(e->m.name, name) != 0 || e->m.type != HF_ENTRY_FILE)
			continue;
		for (size_t off = 0; off < e->data.len; off += piece) {
			size_t n = e->data.len - off < piece ? e->data.len - off : piece;
			int rc;
			if (ms->fail_name && !strcmp(ms->fail_name, name) && off > 0)
				return hf_error_set(ms->fail_rc, "chunk of '%s' failed its integrity check",
				                    name);
			if ((rc = cb(e->data.data + off, n, payload)) < 0)
				return rc;
		}
		if (ms->fail_name && !strcmp(ms->fail_name, name))
			return hf_error_set(ms->fail_rc, "chunk of '%s' failed its integrity check", name);
		return 0;
	}
	return hf_error_set(HF_ENOTFOUND, "no file '%s' in snapshot", name);
}

static const char *reader_info(hf_snapshot_reader *r)
{
	(void)r;
	return NULL;
}

static void snap_init(mem_snap *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sink = (hf_sink){.entry_begin = sink_begin,
	                     .entry_write = sink_write,
	                     .entry_end = sink_end,
	                     .set_recovery_point = sink_rp,
	                     .entry_reuse = sink_reuse,
	                     .set_source_info = sink_info};
	ms->reader =
	    (hf_snapshot_reader){.walk = reader_walk, .read = reader_read, .source_info = reader_info};
}

static void snap_free(mem_snap *ms)
{
	for (size_t i = 0; i < ms->len; i++) {
		free((char *)ms->v[i].m.name);
		free((char *)ms->v[i].m.user);
		free((char *)ms->v[i].m.group);
		free((char *)ms->v[i].m.link_target);
		hf_buf_free(&ms->v[i].data);
	}
	free(ms->v);
	memset(ms, 0, sizeof(*ms));
}

static const mem_entry *snap_find(const mem_snap *ms, const char *name)
{
	for (size_t i = 0; i < ms->len; i++)
		if (!strcmp(ms->v[i].m.name, name))
			return &ms->v[i];
	return NULL;
}

static void snap_add(mem_snap *ms, const char *name, hf_entry_type type, const char *target, const char *data)
{
	hf_entry_meta m = {0};
	m.name = name;
	m.type = type;
	m.mode = type == HF_ENTRY_DIR ? 0755 : 0644;
	m.mtime_ns = 1600000000LL * 1000000000;
	m.link_target = target;
	m.uid = (uint32_t)getuid();
	m.gid = (uint32_t)getgid();
	sink_begin(&ms->sink, &m);
	if (data)
		sink_write(&ms->sink, data, strlen(data));
	sink_end(&ms->sink);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char base_dir[256];    /* the test's temp dir, e.g. /tmp/hf_files_ab12cd */
static const char *base_name; /* base_dir without the leading '/' */

static char *pj(const char *a, const char *b)
{
	static char bufs[8][PATH_MAX];
	static int k;
	char *o = bufs[k++ % 8];
	snprintf(o, PATH_MAX, "%s/%s", a, b);
	return o;
}

/* The snapshot name of a path under base_dir/src. */
static char *sn(const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int k;
	char *o = bufs[k++ % 8];
	if (rel && *rel)
		snprintf(o, PATH_MAX, "%s/src/%s", base_name, rel);
	else
		snprintf(o, PATH_MAX, "%s/src", base_name);
	return o;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	chmod(path, mode);
}

static int read_whole(const char *path, hf_buf *out)
{
	hf_buf_clear(out);
	int fd = open(path, O_RDONLY);
	uint8_t tmp[65536];
	ssize_t n;
	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		hf_buf_append(out, tmp, (size_t)n);
	close(fd);
	return 0;
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	CHECK(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;
		chmod(path, 0700);
		if ((d = opendir(path))) {
			while ((de = readdir(d)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					rm_rf(pj(path, de->d_name));
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int msg_has(const char *needle)
{
	if (strstr(hf_error_message(), needle))
		return 1;
	fprintf(stderr, "message '%s' lacks '%s'\n", hf_error_message(), needle);
	return 0;
}

/* Component-wise order: "a" < "a/b" < "a-b"; parents precede children. */
static int name_cmp(const char *x, const char *y)
{
	for (; *x && *x == *y; x++, y++)
		;
	int a = *x == '/' ? 1 : *x ? (unsigned char)*x + 1 : 0;
	int b = *y == '/' ? 1 : *y ? (unsigned char)*y + 1 : 0;
	return a - b;
}

static void check_order(const mem_snap *ms)
{
	for (size_t i = 1; i < ms->len; i++)
		if (name_cmp(ms->v[i - 1].m.name, ms->v[i].m.name) >= 0) {
			fprintf(stderr, "out of order: '%s' then '%s'\n", ms->v[i - 1].m.name,
			        ms->v[i].m.name);
			CHECK(0);
		}
	for (size_t i = 0; i < ms->len; i++) {
		char parent[PATH_MAX];
		char *slash;
		snprintf(parent, sizeof(parent), "%s", ms->v[i].m.name);
		if (!(slash = strrchr(parent, '/')))
			continue;
		*slash = '\0';
		const mem_entry *p = snap_find(ms, parent);
		CHECK(p && p->m.type == HF_ENTRY_DIR && p < &ms->v[i]);
	}
}

/* ---- the test tree ------------------------------------------------------------------------ */

#define UNI_DIR                                                                                              \
	"\xc3\xbc"                                                                                           \
	"n"                                                                                                  \
	"\xc3\xaf"                                                                                           \
	"c"                                                                                                  \
	"\xc3\xb6"                                                                                           \
	"d"                                                                                                  \
	"\xc3\xa9"                                               /* ünïcödé */
#define UNI_FILE UNI_DIR "/\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.txt" /* ünïcödé/файл.txt */
#define BIG_SIZE ((size_t)5 << 20)
#define MIB ((size_t)1 << 20)

static uint8_t *big_data;

static void make_tree(const char *src)
{
	static const char hole_data[] = "data around the hole";
	uint8_t *blk = malloc(MIB);
	uint32_t x = 12345;
	int fd;

	big_data = malloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x = x * 1103515245 + 12345;
		big_data[i] = (uint8_t)(x >> 16);
	}
	CHECK(mkdir(src, 0755) == 0);
	CHECK(mkdir(pj(src, "a"), 0750) == 0);
	CHECK(mkdir(pj(src, "a/b"), 0755) == 0);
	CHECK(mkdir(pj(src, "a/b/c"), 0700) == 0);
	write_file(pj(src, "a/b/c/deep.txt"), "deep\n", 5, 0640);
	write_file(pj(src, "empty"), "", 0, 0600);
	write_file(pj(src, "big.bin"), big_data, BIG_SIZE, 0644);
	/* sparse.bin: 1 MiB data, 2 MiB hole, 1 MiB data */
	memset(blk, 'x', MIB);
	memcpy(blk, hole_data, sizeof(hole_data));
	fd = open(pj(src, "sparse.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && pwrite(fd, blk, MIB, 0) == (ssize_t)MIB &&
	      pwrite(fd, blk, MIB, 3 * MIB) == (ssize_t)MIB);
	close(fd);
	CHECK(symlink("a/b/c/deep.txt", pj(src, "link")) == 0);
	CHECK(symlink("/nonexistent/dangling", pj(src, "dangling")) == 0);
	write_file(pj(src, "hl1"), "shared inode\n", 13, 0604);
	CHECK(link(pj(src, "hl1"), pj(src, "hl2")) == 0);
	CHECK(mkfifo(pj(src, "fifo"), 0620) == 0 && chmod(pj(src, "fifo"), 0620) == 0);
	CHECK(mkdir(pj(src, UNI_DIR), 0755) == 0);
	write_file(pj(src, UNI_FILE), "unicode\n", 8, 0644);
	CHECK(mkdir(pj(src, "ro"), 0755) == 0);
	write_file(pj(src, "ro/inside"), "read-only dir\n", 14, 0444);
	CHECK(mkdir(pj(src, "cache"), 0755) == 0);
	write_file(pj(src, "cache/skip.log"), "excluded\n", 9, 0644);
	write_file(pj(src, "keep.log.txt"), "kept\n", 5, 0644);
	write_file(pj(src, "zz_vanish"), "gone soon\n", 10, 0644);
	if (geteuid() == 0) {
		CHECK(mknod(pj(src, "null_dev"), S_IFCHR | 0666, makedev(1, 3)) == 0);
		write_file(pj(src, "owned"), "owned by a number\n", 18, 0644);
		CHECK(chown(pj(src, "owned"), 54321, 54322) == 0);
	}
	/* distinctive mtimes, with nanoseconds, children first */
	set_mtime(pj(src, "a/b/c/deep.txt"), 1500000000, 111111111);
	set_mtime(pj(src, "a/b/c"), 1500000001, 222222222);
	set_mtime(pj(src, "a/b"), 1500000002, 0);
	set_mtime(pj(src, "a"), 1500000003, 333333333);
	set_mtime(pj(src, "big.bin"), 1400000000, 5);
	set_mtime(pj(src, "link"), 1300000000, 7);
	set_mtime(pj(src, "fifo"), 1200000000, 9);
	set_mtime(pj(src, "ro/inside"), 1100000000, 0);
	CHECK(chmod(pj(src, "ro"), 0555) == 0);
	set_mtime(pj(src, "ro"), 1100000001, 1);
	free(blk);
}

static const char *const excludes[] = {"*.log", "/nothing/here"};

static int backup_src(mem_snap *ms, hf_files_stats *st, const char *const *paths, size_t n)
{
	hf_files_backup_opts o = {0, excludes, 2};
	snap_init(ms);
	memset(st, 0, sizeof(*st));
	return hf_files_backup(paths, n, &o, &ms->sink, st);
}

/* The snapshot describes the source tree exactly. */
static void check_backup(const mem_snap *ms, const hf_files_stats *st, const char *src)
{
	const mem_entry *e;
	struct stat s;

	CHECK(ms->violations == 0);
	check_order(ms);
	/* parents of the argument come first, with their real metadata */
	CHECK(ms->len > 2 && !strcmp(ms->v[0].m.name, "tmp") && ms->v[0].m.type == HF_ENTRY_DIR);
	CHECK(!strcmp(ms->v[1].m.name, base_name) && ms->v[1].m.type == HF_ENTRY_DIR);
	CHECK(stat("/tmp", &s) == 0 && ms->v[0].m.mode == (s.st_mode & 07777));

	const char *files[] = {"a/b/c/deep.txt", "empty",  "big.bin",  "sparse.bin", "hl1",
	                       "keep.log.txt",   UNI_FILE, "ro/inside"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		hf_buf content = HF_BUF_INIT;
		e = snap_find(ms, sn(files[i]));
		CHECK(e && e->m.type == HF_ENTRY_FILE);
		if (!e)
			continue;
		CHECK(lstat(pj(src, files[i]), &s) == 0);
		CHECK(e->m.mode == (s.st_mode & 07777));
		CHECK(e->m.mtime_ns == mtime_ns(&s));
		CHECK(e->m.uid == s.st_uid && e->m.gid == s.st_gid);
		CHECK(read_whole(pj(src, files[i]), &content) == 0);
		CHECK(e->data.len == content.len &&
		      (!content.len || !memcmp(e->data.data, content.data, content.len)));
		hf_buf_free(&content);
	}
	e = snap_find(ms, sn("big.bin"));
	CHECK(e && e->data.len == BIG_SIZE && !memcmp(e->data.data, big_data, BIG_SIZE));
	CHECK(e && e->m.mtime_ns == 1400000000LL * 1000000000 + 5);
	e = snap_find(ms, sn("a/b/c/deep.txt"));
	CHECK(e && e->m.user && !strcmp(e->m.user, getuid() == 0 ? "root" : e->m.user));
	e = snap_find(ms, sn("hl2"));
	CHECK(e && e->m.type == HF_ENTRY_HARDLINK && e->m.link_target &&
	      !strcmp(e->m.link_target, sn("hl1")));
	CHECK(e && e->data.len == 0);
	e = snap_find(ms, sn("link"));
	CHECK(e && e->m.type == HF_ENTRY_SYMLINK && !strcmp(e->m.link_target, "a/b/c/deep.txt"));
	CHECK(e && e->m.mtime_ns == 1300000000LL * 1000000000 + 7);
	e = snap_find(ms, sn("dangling"));
	CHECK(e && e->m.type == HF_ENTRY_SYMLINK && !strcmp(e->m.link_target, "/nonexistent/dangling"));
	e = snap_find(ms, sn("fifo"));
	CHECK(e && e->m.type == HF_ENTRY_FIFO && e->m.mode == 0620);
	e = snap_find(ms, sn("a"));
	CHECK(e && e->m.type == HF_ENTRY_DIR && e->m.mode == 0750 && e->m.mtime_ns == 1500000003333333333LL);
	e = snap_find(ms, sn("ro"));
	CHECK(e && e->m.mode == 0555);
	/* excludes: "*.log" matches the base name anywhere, not "keep.log.txt" */
	CHECK(snap_find(ms, sn("cache")) != NULL);
	CHECK(snap_find(ms, sn("cache/skip.log")) == NULL);
	if (geteuid() == 0) {
		e = snap_find(ms, sn("null_dev"));
		CHECK(e && e->m.type == HF_ENTRY_CHR && e->m.rdev == makedev(1, 3));
		e = snap_find(ms, sn("owned"));
		CHECK(e && e->m.uid == 54321 && e->m.gid == 54322);
	}
	CHECK(st->bytes == 5 + BIG_SIZE + 4 * MIB + 13 + 5 + 8 + 14 + 10 + (geteuid() == 0 ? 18 : 0));
	CHECK(st->warnings == 0);
}

/* The restored tree under dst matches the snapshot. */
static void check_restored(const mem_snap *ms, const char *dst, int check_owner)
{
	hf_buf content = HF_BUF_INIT;
	for (size_t i = 0; i < ms->len; i++) {
		const mem_entry *e = &ms->v[i];
		const char *p = pj(dst, e->m.name);
		struct stat s;
		if (lstat(p, &s) < 0) {
			fprintf(stderr, "missing after restore: %s\n", p);
			CHECK(0);
			continue;
		}
		switch (e->m.type) {
		case HF_ENTRY_FILE:
			CHECK(S_ISREG(s.st_mode));
			CHECK(read_whole(p, &content) == 0 && content.len == e->data.len &&
			      (!content.len || !memcmp(content.data, e->data.data, content.len)));
			break;
		case HF_ENTRY_DIR:
			CHECK(S_ISDIR(s.st_mode));
			break;
		case HF_ENTRY_SYMLINK: {
			char t[PATH_MAX];
			ssize_t n = readlink(p, t, sizeof(t) - 1);
			CHECK(S_ISLNK(s.st_mode) && n > 0);
			if (n > 0) {
				t[n] = '\0';
				CHECK_STR(t, e->m.link_target);
			}
			break;
		}
		case HF_ENTRY_HARDLINK: {
			struct stat t;
			CHECK(lstat(pj(dst, e->m.link_target), &t) == 0 && t.st_ino == s.st_ino &&
			      s.st_nlink >= 2);
			break;
		}
		case HF_ENTRY_FIFO:
			CHECK(S_ISFIFO(s.st_mode));
			break;
		case HF_ENTRY_CHR:
			CHECK(S_ISCHR(s.st_mode) && s.st_rdev == e->m.rdev);
			break;
		case HF_ENTRY_BLK:
			CHECK(S_ISBLK(s.st_mode) && s.st_rdev == e->m.rdev);
			break;
		}
		if (e->m.type != HF_ENTRY_SYMLINK && (s.st_mode & 07777) != e->m.mode) {
			fprintf(stderr, "mode of %s: %o, want %o\n", p, s.st_mode & 07777, e->m.mode);
			CHECK(0);
		}
		if (e->m.type != HF_ENTRY_HARDLINK && mtime_ns(&s) != e->m.mtime_ns) {
			fprintf(stderr, "mtime of %s: %lld, want %lld\n", p, (long long)mtime_ns(&s),
			        (long long)e->m.mtime_ns);
			CHECK(0);
		}
		if (check_owner && e->m.type != HF_ENTRY_HARDLINK)
			CHECK(s.st_uid == e->m.uid && s.st_gid == e->m.gid);
	}
	hf_buf_free(&content);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_backup_restore(mem_snap *snap, const char *src)
{
	hf_files_stats st, rst = {0};
	hf_files_restore_opts ro = {0};
	const char *paths[] = {src};
	char dst[PATH_MAX];
	struct stat s;

	CHECK_OK(backup_src(snap, &st, paths, 1));
	check_backup(snap, &st, src);

	/* deterministic, and relative or overlapping arguments name the same entries */
	{
		mem_snap again;
		hf_files_stats st2;
		char cwd[PATH_MAX];
		const char *rel[] = {"src/a", "src", "./src/a/b/"};
		CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
		CHECK(chdir(base_dir) == 0);
		CHECK_OK(backup_src(&again, &st2, rel, 3));
		CHECK(chdir(cwd) == 0);
		CHECK(again.len == snap->len);
		for (size_t i = 0; i < again.len && i < snap->len; i++) {
			CHECK_STR(again.v[i].m.name, snap->v[i].m.name);
			CHECK(again.v[i].m.type == snap->v[i].m.type);
		}
		snap_free(&again);
	}

	/* unchanged files are offered to the sink and not read again; a changed one is */
	{
		mem_snap next;
		hf_files_stats st3 = {0};
		hf_files_backup_opts o = {0, excludes, 2};
		const mem_entry *e;
		CHECK(snap->offered > 0 && snap->reused == 0);
		write_file(pj(src, "keep.log.txt"), "KEPT\n", 5, 0644);
		snap_init(&next);
		next.parent = snap;
		CHECK_OK(hf_files_backup(paths, 1, &o, &next.sink, &st3));
		CHECK(next.violations == 0);
		CHECK(next.begun_files == 1); /* only keep.log.txt was read */
		CHECK(next.reused == next.offered - 1 && next.reused >= 8);
		CHECK(st3.files == st.files && st3.bytes == st.bytes);
		e = snap_find(&next, sn("keep.log.txt"));
		CHECK(e && e->data.len == 5 && !memcmp(e->data.data, "KEPT\n", 5));
		e = snap_find(&next, sn("hl2")); /* the second name still links to the reused first one */
		CHECK(e && e->m.type == HF_ENTRY_HARDLINK);
		CHECK(next.len == snap->len);
		snap_free(&next);
	}

	snprintf(dst, sizeof(dst), "%s/restore/deeper", base_dir);
	ro.threads = 3;
	CHECK_OK(hf_files_restore(&snap->reader, dst, &ro, &rst));
	check_restored(snap, dst, geteuid() == 0);
	CHECK(rst.bytes == st.bytes);
	CHECK(rst.errors == 0 && rst.dirs == st.dirs && rst.files == st.files);
	/* the 2 MiB hole is still a hole */
	CHECK(lstat(pj(dst, sn("sparse.bin")), &s) == 0 && s.st_size == (off_t)(4 * MIB));
	CHECK((uint64_t)s.st_blocks * 512 < 3 * MIB);
	/* hardlinks share the inode */
	{
		struct stat a, b;
		CHECK(lstat(pj(dst, sn("hl1")), &a) == 0 && lstat(pj(dst, sn("hl2")), &b) == 0);
		CHECK(a.st_ino == b.st_ino && a.st_nlink == 2);
	}
	if (geteuid() == 0) {
		CHECK(lstat(pj(dst, sn("owned")), &s) == 0 && s.st_uid == 54321 && s.st_gid == 54322);
	}
}

static void test_vanished_and_sink_failure(const char *src)
{
	mem_snap ms;
	hf_files_stats st;
	const char *paths[] = {src};
	char trigger[PATH_MAX];

	/* a file listed by readdir disappears before it is opened: warned, counted, skipped */
	snprintf(trigger, sizeof(trigger), "%s", sn("a"));
	snap_init(&ms);
	ms.trigger = trigger;
	ms.unlink_path = pj(src, "zz_vanish");
	memset(&st, 0, sizeof(st));
	CHECK_OK(hf_files_backup(paths, 1, NULL, &ms.sink, &st));
	CHECK(st.warnings == 1);
	CHECK(snap_find(&ms, sn("zz_vanish")) == NULL);
	CHECK(snap_find(&ms, sn("keep.log.txt")) != NULL); /* no excludes given */
	snap_free(&ms);

	/* a file rewritten in place (same size) while it is read: warned and counted, not silent */
	{
		char one[PATH_MAX];
		const char *onepath[] = {one};
		FILE *f;
		snprintf(one, sizeof(one), "%s/rewritten", src);
		mkdir(one, 0755);
		snprintf(one, sizeof(one), "%s/rewritten/f.txt", src);
		f = fopen(one, "w");
		fputs("abcdefgh\n", f);
		fclose(f);
		snap_init(&ms);
		ms.rewrite_path = one;
		memset(&st, 0, sizeof(st));
		CHECK_OK(hf_files_backup(onepath, 1, NULL, &ms.sink, &st));
		CHECK(st.warnings == 1 && st.files == 1 && ms.violations == 0);
		snap_free(&ms);
		unlink(one);
		snprintf(one, sizeof(one), "%s/rewritten", src);
		rmdir(one);
	}

	/* the sink fails: the backup stops with its error */
	snap_init(&ms);
	ms.fail_sink_at = 2;
	memset(&st, 0, sizeof(st));
	CHECK_RC(hf_files_backup(paths, 1, NULL, &ms.sink, &st), HF_ENOSPC);
	CHECK(msg_has("repository full"));
	snap_free(&ms);

	/* a missing argument fails before anything is emitted */
	const char *missing[] = {src, "/nonexistent/hf-path"};
	snap_init(&ms);
	CHECK_RC(hf_files_backup(missing, 2, NULL, &ms.sink, &st), HF_ENOTFOUND);
	CHECK(msg_has("/nonexistent/hf-path"));
	CHECK(ms.len == 0);
	snap_free(&ms);
}

static void test_one_file_system(void)
{
	struct stat dev, pts, ptmx;
	mem_snap ms;
	hf_files_stats st = {0};
	const char *paths[] = {"/dev"};
	const char *const ex[] = {"dev/shm"};
	hf_files_backup_opts o = {1, ex, 1};

	if (stat("/dev", &dev) < 0 || stat("/dev/pts", &pts) < 0 || dev.st_dev == pts.st_dev ||
	    lstat("/dev/pts/ptmx", &ptmx) < 0) {
		fprintf(stderr,
		        "note: /dev/pts is not a separate mount here; one_file_system not exercised\n");
		return;
	}
	snap_init(&ms);
	CHECK_OK(hf_files_backup(paths, 1, &o, &ms.sink, &st));
	CHECK(snap_find(&ms, "dev/pts") != NULL);      /* the mount point itself is recorded */
	CHECK(snap_find(&ms, "dev/pts/ptmx") == NULL); /* its content is not */
	CHECK(snap_find(&ms, "dev/shm") == NULL);      /* excluded */
	CHECK(snap_find(&ms, "dev/null") && snap_find(&ms, "dev/null")->m.type == HF_ENTRY_CHR);
	snap_free(&ms);
	o.one_file_system = 0;
	snap_init(&ms);
	CHECK_OK(hf_files_backup(paths, 1, &o, &ms.sink, &st));
	CHECK(snap_find(&ms, "dev/pts/ptmx") != NULL);
	snap_free(&ms);
}

static void test_restore_refusals(mem_snap *snap)
{
	hf_files_restore_opts ro = {0};
	hf_files_stats st = {0};
	hf_buf content = HF_BUF_INIT;
	char dst[PATH_MAX], outside[PATH_MAX];
	const char *deep = sn("a/b/c/deep.txt");

	/* an existing file is refused before anything is written */
	snprintf(dst, sizeof(dst), "%s/existing", base_dir);
	CHECK_OK(hf_files_restore(&snap->reader, dst, &ro, &st));
	chmod(pj(dst, sn("a/b/c")), 0700);
	write_file(pj(dst, deep), "changed\n", 8, 0644);
	unlink(pj(dst, sn("big.bin")));
	CHECK_RC(hf_files_restore(&snap->reader, dst, &ro, &st), HF_EEXISTS);
	CHECK(msg_has(deep) && msg_has("already exists"));
	CHECK(access(pj(dst, sn("big.bin")), F_OK) < 0); /* nothing was written */
	CHECK(read_whole(pj(dst, deep), &content) == 0 && content.len == 8);
	/* overwrite replaces it */
	ro.overwrite = 1;
	CHECK_OK(hf_files_restore(&snap->reader, dst, &ro, &st));
	check_restored(snap, dst, 0);
	ro.overwrite = 0;

	/* a symlink planted in the target is never followed, even with overwrite */
	snprintf(dst, sizeof(dst), "%s/planted", base_dir);
	snprintf(outside, sizeof(outside), "%s/outside", base_dir);
	CHECK(mkdir(outside, 0755) == 0);
	CHECK(mkdir(dst, 0755) == 0);
	CHECK(symlink(outside, pj(dst, "tmp")) == 0);
	CHECK_RC(hf_files_restore(&snap->reader, dst, &ro, &st), HF_EEXISTS);
	ro.overwrite = 1;
	CHECK_OK(hf_files_restore(&snap->reader, dst, &ro, &st));
	ro.overwrite = 0;
	{
		struct stat s;
		DIR *d = opendir(outside);
		int n = 0;
		struct dirent *de;
		while (d && (de = readdir(d)))
			n++;
		if (d)
			closedir(d);
		CHECK(n == 2); /* only . and .. */
		CHECK(lstat(pj(dst, "tmp"), &s) == 0 && S_ISDIR(s.st_mode));
	}

	/* unsafe snapshots: ".." names, entries below a symlink */
	{
		mem_snap bad;
		snap_init(&bad);
		snap_add(&bad, "../escape", HF_ENTRY_FILE, NULL, "x");
		CHECK_RC(hf_files_restore(&bad.reader, pj(base_dir, "bad1"), &ro, &st), HF_ECORRUPT);
		CHECK(msg_has("../escape"));
		snap_free(&bad);
		snap_init(&bad);
		snap_add(&bad, "evil", HF_ENTRY_SYMLINK, outside, NULL);
		snap_add(&bad, "evil/x", HF_ENTRY_FILE, NULL, "x");
		CHECK_RC(hf_files_restore(&bad.reader, pj(base_dir, "bad2"), &ro, &st), HF_ECORRUPT);
		CHECK(msg_has("evil/x"));
		CHECK(access(pj(outside, "x"), F_OK) < 0);
		snap_free(&bad);
		snap_init(&bad);
		snap_add(&bad, "lnk", HF_ENTRY_HARDLINK, "nowhere", NULL);
		CHECK_RC(hf_files_restore(&bad.reader, pj(base_dir, "bad3"), &ro, &st), HF_ECORRUPT);
		snap_free(&bad);
	}
	hf_buf_free(&content);
}

static void test_include(mem_snap *snap)
{
	hf_files_restore_opts ro = {0};
	hf_files_stats st = {0};
	char dst[PATH_MAX], inc_a[PATH_MAX], inc_h[PATH_MAX];
	const char *incs[2];
	hf_buf content = HF_BUF_INIT;
	struct stat s;

	snprintf(dst, sizeof(dst), "%s/include", base_dir);
	snprintf(inc_a, sizeof(inc_a), "/%s/", sn("a/b")); /* leading and trailing '/' are tolerated */
	snprintf(inc_h, sizeof(inc_h), "%s", sn("hl2"));
	incs[0] = inc_a;
	incs[1] = inc_h;
	ro.include = incs;
	ro.ninclude = 2;
	CHECK_OK(hf_files_restore(&snap->reader, dst, &ro, &st));
	CHECK(read_whole(pj(dst, sn("a/b/c/deep.txt")), &content) == 0 && content.len == 5);
	CHECK(lstat(pj(dst, sn("a")), &s) == 0 && (s.st_mode & 07777) == 0750); /* parents with metadata */
	CHECK(mtime_ns(&s) == 1500000003333333333LL);
	CHECK(access(pj(dst, sn("big.bin")), F_OK) < 0);
	CHECK(access(pj(dst, sn("hl1")), F_OK) < 0);
	/* hl2 alone: restored as a file with the shared content */
	CHECK(read_whole(pj(dst, sn("hl2")), &content) == 0 && content.len == 13 &&
	      !memcmp(content.data, "shared inode\n", 13));
	CHECK(st.files == 2);

	incs[0] = "no/such/entry";
	ro.ninclude = 1;
	CHECK_RC(hf_files_restore(&snap->reader, pj(base_dir, "include2"), &ro, &st), HF_ENOTFOUND);
	CHECK(msg_has("no/such/entry"));
	incs[0] = "../x";
	CHECK_RC(hf_files_restore(&snap->reader, pj(base_dir, "include3"), &ro, &st), HF_EUSAGE);
	hf_buf_free(&content);
}

/* Every regular file left under dir (restored from ms into dir) holds its snapshot content; returns how
 * many there are. rel is the path below dir, which is the snapshot name. */
static size_t check_left_complete(const mem_snap *ms, const char *dir, const char *rel)
{
	char path[2 * PATH_MAX + 2], name[2 * PATH_MAX + 2];
	size_t n = 0;
	DIR *d;
	struct dirent *de;
	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char full[sizeof(path) + sizeof(name)];
		struct stat s;
		const mem_entry *e;
		hf_buf got = HF_BUF_INIT;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(name, sizeof(name), "%.*s%s%s", PATH_MAX, rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (lstat(full, &s) < 0)
			continue;
		if (S_ISDIR(s.st_mode)) {
			n += check_left_complete(ms, dir, name);
			continue;
		}
		if (!S_ISREG(s.st_mode))
			continue;
		n++;
		e = snap_find(ms, name);
		if (e && e->m.type == HF_ENTRY_HARDLINK)
			e = snap_find(ms, e->m.link_target);
		CHECK(e && read_whole(full, &got) == 0 && got.len == e->data.len &&
		      (!got.len || !memcmp(got.data, e->data.data, got.len)));
		if (!(e && got.len == e->data.len))
			fprintf(stderr, "left incomplete after a failed restore: %s (%zu bytes)\n", name, got.len);
		hf_buf_free(&got);
	}
	closedir(d);
	return n;
}

static void test_keep_going(mem_snap *snap)
{
	hf_files_restore_opts ro = {0};
	hf_files_stats st = {0};
	char dst[PATH_MAX];
	hf_buf content = HF_BUF_INIT;

	/* without keep_going the first damaged file fails the restore */
	snap->fail_name = sn("big.bin");
	snap->fail_rc = HF_ECORRUPT;
	ro.threads = 2;
	CHECK_RC(hf_files_restore(&snap->reader, pj(base_dir, "damaged1"), &ro, &st), HF_ECORRUPT);
	CHECK(msg_has("integrity check"));
	snprintf(dst, sizeof(dst), "%s/damaged1", base_dir);
	CHECK(access(pj(dst, sn("big.bin")), F_OK) < 0); /* written early, then removed: not left half done */
	check_left_complete(snap, dst, ""); /* files created but never written are not left empty */

	/* a small file fails while the big one is written (before every small file exists): the restore
	 * stops with that error, and what is left of the big file is all of it or nothing */
	snap->fail_name = sn("a/b/c/deep.txt");
	snprintf(dst, sizeof(dst), "%s/damaged0", base_dir);
	CHECK_RC(hf_files_restore(&snap->reader, dst, &ro, &st), HF_ECORRUPT);
	CHECK(msg_has("deep.txt"));
	CHECK(access(pj(dst, sn("a/b/c/deep.txt")), F_OK) < 0);
	CHECK(access(pj(dst, sn("big.bin")), F_OK) < 0 ||
	      (read_whole(pj(dst, sn("big.bin")), &content) == 0 && content.len == BIG_SIZE &&
	       !memcmp(content.data, big_data, BIG_SIZE)));
	check_left_complete(snap, dst, "");

	/* a hardlinked file fails: its other name goes with it; on one writer, the files written before
	 * it stay complete */
	snap->fail_name = sn("hl1");
	snprintf(dst, sizeof(dst), "%s/damaged-link", base_dir);
	ro.threads = 1;
	CHECK_RC(hf_files_restore(&snap->reader, dst, &ro, &st), HF_ECORRUPT);
	ro.threads = 2;
	CHECK(access(pj(dst, sn("hl1")), F_OK) < 0 && access(pj(dst, sn("hl2")), F_OK) < 0);
	CHECK(check_left_complete(snap, dst, "") > 0);
	CHECK(read_whole(pj(dst, sn("big.bin")), &content) == 0 && content.len == BIG_SIZE);

	/* with keep_going the others restore; the damaged file and its names are not left behind */
	snap->fail_name = sn("hl1");
	snprintf(dst, sizeof(dst), "%s/damaged2", base_dir);
	ro.keep_going = 1;
	memset(&st, 0, sizeof(st));
	CHECK_RC(hf_files_restore(&snap->reader, dst, &ro, &st), HF_ECORRUPT);
	CHECK(msg_has("1 file(s)") && msg_has("hl1"));
	CHECK(st.errors == 1);
	CHECK(access(pj(dst, sn("hl1")), F_OK) < 0 && access(pj(dst, sn("hl2")), F_OK) < 0);
	CHECK(read_whole(pj(dst, sn("big.bin")), &content) == 0 && content.len == BIG_SIZE &&
	      !memcmp(content.data, big_data, BIG_SIZE));
	CHECK(read_whole(pj(dst, sn("a/b/c/deep.txt")), &content) == 0 && content.len == 5);

	/* keep_going does not hide other failures (here: an I/O error from the reader) */
	snap->fail_rc = HF_EIO;
	CHECK_RC(hf_files_restore(&snap->reader, pj(base_dir, "damaged3"), &ro, &st), HF_EIO);
	snap->fail_name = NULL;
	hf_buf_free(&content);
}

static void compare_snaps(const mem_snap *a, const mem_snap *b)
{
	CHECK(a->len == b->len);
	for (size_t i = 0; i < a->len && i < b->len; i++) {
		const hf_entry_meta *x = &a->v[i].m, *y = &b->v[i].m;
		CHECK_STR(x->name, y->name);
		CHECK(x->type == y->type);
		CHECK(x->mode == y->mode);
		CHECK(x->uid == y->uid && x->gid == y->gid);
		if (x->mtime_ns != y->mtime_ns) {
			fprintf(stderr, "mtime of %s: %lld vs %lld\n", x->name, (long long)x->mtime_ns,
			        (long long)y->mtime_ns);
			CHECK(0);
		}
		CHECK(x->rdev == y->rdev);
		CHECK(x->size == y->size);
		if (x->user || y->user)
			CHECK_STR(x->user, y->user);
		if (x->link_target || y->link_target)
			CHECK_STR(x->link_target, y->link_target);
		CHECK(a->v[i].data.len == b->v[i].data.len &&
		      (!a->v[i].data.len || !memcmp(a->v[i].data.data, b->v[i].data.data, a->v[i].data.len)));
	}
}

/* One ustar header (and its data) appended to out. */
static void ustar_add(hf_buf *out, const char *name, char type, unsigned mode, unsigned uid, unsigned mtime,
                      const char *data)
{
	uint8_t hdr[512] = {0}, pad[512] = {0};
	size_t len = data ? strlen(data) : 0;
	unsigned sum = 0;
	snprintf((char *)hdr, 100, "%s", name);
	snprintf((char *)hdr + 100, 8, "%07o", mode);
	snprintf((char *)hdr + 108, 8, "%07o", uid);
	snprintf((char *)hdr + 116, 8, "%07o", 0u);
	snprintf((char *)hdr + 124, 12, "%011o", (unsigned)len);
	snprintf((char *)hdr + 136, 12, "%011o", mtime);
	memset(hdr + 148, ' ', 8);
	hdr[156] = (uint8_t)type;
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += hdr[i];
	snprintf((char *)hdr + 148, 8, "%06o", sum);
	CHECK(hf_buf_append(out, hdr, 512) == 0);
	if (len)
		CHECK(hf_buf_append(out, data, len) == 0 && hf_buf_append(out, pad, (512 - len % 512) % 512) == 0);
}

/* A one-member ustar archive: a file with content "hi" ('0') or a directory ('5'); truncate_data
 * keeps only the header. */
static void write_ustar(const char *path, const char *name, char type, int truncate_data)
{
	hf_buf b = HF_BUF_INIT;
	uint8_t end[1024] = {0};
	int fd;
	ustar_add(&b, name, type, 0644, 0, 014000000000u, type == '0' ? "hi" : NULL);
	if (truncate_data)
		b.len = 512;
	else
		CHECK(hf_buf_append(&b, end, sizeof(end)) == 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
	close(fd);
	hf_buf_free(&b);
}

static void test_tar(mem_snap *snap)
{
	mem_snap back;
	hf_files_stats st = {0};
	hf_files_restore_opts ro = {0};
	char tar[PATH_MAX], bad[PATH_MAX];
	struct stat s;

	/* export -> import gives the same entries and contents */
	snprintf(tar, sizeof(tar), "%s/out.tar", base_dir);
	CHECK_OK(hf_tar_export(&snap->reader, tar, &ro, &st));
	CHECK(stat(tar, &s) == 0 && (s.st_mode & 0777) == 0600);
	CHECK(st.bytes == snap_find(snap, sn("big.bin"))->data.len + 4 * MIB + 5 + 13 + 5 + 8 + 14 + 10 +
	                      (geteuid() == 0 ? 18 : 0));
	snap_init(&back);
	memset(&st, 0, sizeof(st));
	CHECK_OK(hf_tar_import(tar, &back.sink, &st));
	CHECK(back.violations == 0);
	compare_snaps(snap, &back);
	snap_free(&back);

	/* from stdin */
	{
		int saved = dup(0), fd = open(tar, O_RDONLY);
		CHECK(fd >= 0 && dup2(fd, 0) == 0);
		close(fd);
		snap_init(&back);
		CHECK_OK(hf_tar_import("-", &back.sink, &st));
		dup2(saved, 0);
		close(saved);
		compare_snaps(snap, &back);
		snap_free(&back);
	}

	/* the output exists: refused unless overwrite */
	CHECK_RC(hf_tar_export(&snap->reader, tar, &ro, &st), HF_EEXISTS);
	CHECK(msg_has(tar));
	ro.overwrite = 1;
	CHECK_OK(hf_tar_export(&snap->reader, tar, &ro, &st));

	/* full disk names the output and leaves the device alone */
	CHECK_RC(hf_tar_export(&snap->reader, "/dev/full", &ro, &st), HF_ENOSPC);
	CHECK(msg_has("/dev/full"));
	CHECK(stat("/dev/full", &s) == 0 && S_ISCHR(s.st_mode));
	ro.overwrite = 0;

	/* a closed pipe on stdout is an error, not a SIGPIPE */
	{
		int p[2], saved = dup(1);
		CHECK(pipe(p) == 0);
		close(p[0]);
		fflush(stdout);
		dup2(p[1], 1);
		close(p[1]);
		int rc = hf_tar_export(&snap->reader, "-", &ro, &st);
		dup2(saved, 1);
		close(saved);
		CHECK_RC(rc, HF_EIO);
		CHECK(msg_has("standard output"));
	}

	/* include applies to export */
	{
		const char *inc[] = {sn("a")};
		hf_files_restore_opts io = {0};
		io.include = inc;
		io.ninclude = 1;
		snprintf(bad, sizeof(bad), "%s/subset.tar", base_dir);
		CHECK_OK(hf_tar_export(&snap->reader, bad, &io, &st));
		snap_init(&back);
		CHECK_OK(hf_tar_import(bad, &back.sink, &st));
		CHECK(back.len == 2 + 5); /* tmp, base, src, a, b, c, deep.txt */
		CHECK(snap_find(&back, sn("a/b/c/deep.txt")) != NULL);
		snap_free(&back);
	}

	/* truncated archive */
	{
		hf_buf all = HF_BUF_INIT;
		snprintf(bad, sizeof(bad), "%s/truncated.tar", base_dir);
		CHECK(read_whole(tar, &all) == 0);
		write_file(bad, all.data, all.len / 2, 0644);
		snap_init(&back);
		CHECK_RC(hf_tar_import(bad, &back.sink, &st), HF_ECORRUPT);
		CHECK(msg_has("unable to read tar archive") && msg_has(bad));
		snap_free(&back);
		hf_buf_free(&all);
	}
	/* a truncated member, garbage, a missing file */
	snprintf(bad, sizeof(bad), "%s/short.tar", base_dir);
	write_ustar(bad, "file", '0', 1);
	snap_init(&back);
	CHECK_RC(hf_tar_import(bad, &back.sink, &st), HF_ECORRUPT);
	snap_free(&back);
	snprintf(bad, sizeof(bad), "%s/garbage.tar", base_dir);
	{
		uint8_t junk[4096];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 7 + 3);
		write_file(bad, junk, sizeof(junk), 0644);
	}
	snap_init(&back);
	CHECK_RC(hf_tar_import(bad, &back.sink, &st), HF_ECORRUPT);
	snap_free(&back);
	snap_init(&back);
	CHECK_RC(hf_tar_import(pj(base_dir, "no-such.tar"), &back.sink, &st), HF_ENOTFOUND);
	snap_free(&back);

	/* "../evil" is rejected, naming the entry */
	snprintf(bad, sizeof(bad), "%s/evil.tar", base_dir);
	write_ustar(bad, "../evil", '0', 0);
	snap_init(&back);
	CHECK_RC(hf_tar_import(bad, &back.sink, &st), HF_ECORRUPT);
	CHECK(msg_has("../evil"));
	CHECK(back.len == 0);
	snap_free(&back);
	write_ustar(bad, "ok/../../evil", '0', 0);
	snap_init(&back);
	CHECK_RC(hf_tar_import(bad, &back.sink, &st), HF_ECORRUPT);
	snap_free(&back);

	/* absolute and "./" names are made relative; missing parents are synthesized */
	write_ustar(bad, "/etc//app/./conf", '0', 0);
	snap_init(&back);
	memset(&st, 0, sizeof(st));
	CHECK_OK(hf_tar_import(bad, &back.sink, &st));
	CHECK(back.len == 3);
	if (back.len == 3) {
		CHECK_STR(back.v[0].m.name, "etc");
		CHECK(back.v[0].m.type == HF_ENTRY_DIR);
		CHECK_STR(back.v[1].m.name, "etc/app");
		CHECK_STR(back.v[2].m.name, "etc/app/conf");
		CHECK(back.v[2].data.len == 2 && !memcmp(back.v[2].data.data, "hi", 2));
		CHECK(back.v[2].m.mtime_ns == 014000000000LL * 1000000000);
	}
	CHECK(st.files == 1 && st.dirs == 2 && st.bytes == 2);
	snap_free(&back);
	write_ustar(bad, "./", '5', 0); /* the archive root alone: nothing to import */
	snap_init(&back);
	CHECK_OK(hf_tar_import(bad, &back.sink, &st));
	CHECK(back.len == 0);
	snap_free(&back);
}

/* One newc cpio entry appended to out. */
static void newc_add(hf_buf *out, const char *name, unsigned ino, unsigned mode, unsigned nlink, const char *data)
{
	char hdr[111];
	size_t nlen = strlen(name) + 1, len = data ? strlen(data) : 0;
	uint8_t zero[4] = {0};
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u,
	         0u, nlink, 1700000000u, (unsigned)len, 0u, 0u, 0u, 0u, (unsigned)nlen, 0u);
	CHECK(hf_buf_append(out, hdr, 110) == 0 && hf_buf_append(out, name, nlen) == 0);
	CHECK(hf_buf_append(out, zero, (4 - (110 + nlen) % 4) % 4) == 0);
	if (len)
		CHECK(hf_buf_append(out, data, len) == 0 && hf_buf_append(out, zero, (4 - len % 4) % 4) == 0);
}

/* Orders real writers use: a directory entry after its contents (find -depth), and newc cpio hard
 * links with the data on the last link. */
static void test_tar_orders(void)
{
	hf_buf a = HF_BUF_INIT;
	uint8_t end[1024] = {0};
	char path[PATH_MAX];
	hf_files_stats st = {0};
	mem_snap back;
	const mem_entry *e;

	snprintf(path, sizeof(path), "%s/late.tar", base_dir);
	ustar_add(&a, "d/f", '0', 0644, 0, 1600000000, "hi");
	ustar_add(&a, "d/", '5', 0700, 65534, 1500000000, NULL);
	ustar_add(&a, "d/", '5', 0777, 0, 1, NULL); /* a true duplicate: the first one wins */
	CHECK(hf_buf_append(&a, end, sizeof(end)) == 0);
	write_file(path, a.data, a.len, 0644);
	snap_init(&back);
	CHECK_OK(hf_tar_import(path, &back.sink, &st));
	CHECK(back.violations == 0);
	CHECK(st.dirs == 1 && st.files == 1 && st.bytes == 2);
	/* the synthesized parent first (parents before children), then the directory's own metadata */
	CHECK(back.len == 3);
	if (back.len == 3) {
		CHECK_STR(back.v[0].m.name, "d");
		CHECK(back.v[0].m.mode == 0755);
		CHECK_STR(back.v[2].m.name, "d");
		CHECK(back.v[2].m.type == HF_ENTRY_DIR && back.v[2].m.mode == 0700 && back.v[2].m.uid == 65534 &&
		      back.v[2].m.mtime_ns == 1500000000LL * 1000000000);
	}
	snap_free(&back);

	hf_buf_clear(&a);
	snprintf(path, sizeof(path), "%s/links.cpio", base_dir);
	newc_add(&a, "dir", 1, 040755, 2, NULL);
	newc_add(&a, "dir/first", 2, 0100644, 3, NULL);
	newc_add(&a, "dir/middle", 2, 0100644, 3, NULL);
	newc_add(&a, "dir/zz-last", 2, 0100644, 3, "record");
	newc_add(&a, "dir/empty", 3, 0100600, 2, NULL); /* never gets data: an empty file at the end */
	newc_add(&a, "TRAILER!!!", 0, 0, 1, NULL);
	CHECK(hf_buf_append(&a, end, sizeof(end)) == 0);
	write_file(path, a.data, a.len, 0644);
	snap_init(&back);
	memset(&st, 0, sizeof(st));
	CHECK_OK(hf_tar_import(path, &back.sink, &st));
	CHECK(back.violations == 0);
	CHECK(st.files == 4 && st.dirs == 1 && st.bytes == 6);
	CHECK(back.len == 5);
	/* the data under the name the links point to, emitted before the links */
	if (back.len == 5) {
		CHECK_STR(back.v[1].m.name, "dir/first");
		CHECK(back.v[1].m.type == HF_ENTRY_FILE && back.v[1].data.len == 6 &&
		      !memcmp(back.v[1].data.data, "record", 6));
		CHECK_STR(back.v[2].m.name, "dir/middle");
		CHECK(back.v[2].m.type == HF_ENTRY_HARDLINK);
		CHECK_STR(back.v[2].m.link_target, "dir/first");
		CHECK_STR(back.v[3].m.name, "dir/zz-last");
		CHECK(back.v[3].m.type == HF_ENTRY_HARDLINK);
		CHECK_STR(back.v[3].m.link_target, "dir/first");
		CHECK_STR(back.v[4].m.name, "dir/empty");
		CHECK(back.v[4].m.type == HF_ENTRY_FILE && back.v[4].data.len == 0 && back.v[4].m.mode == 0600);
	}
	e = snap_find(&back, "dir/zz-last");
	CHECK(e && e->data.len == 0);
	snap_free(&back);
	hf_buf_free(&a);
}

static void test_stdin_import(void)
{
	mem_snap ms;
	hf_files_stats st = {0};
	char path[PATH_MAX];
	int fd;
	int64_t before = hf_clock_now_ns();

	snprintf(path, sizeof(path), "%s/dump.sql", base_dir);
	write_file(path, big_data, 3 * MIB + 17, 0644);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	snap_init(&ms);
	CHECK_OK(hf_stdin_import(fd, "dumps/app.sql", &ms.sink, &st));
	close(fd);
	CHECK(ms.violations == 0);
	CHECK(ms.len == 2);
	if (ms.len == 2) {
		CHECK_STR(ms.v[0].m.name, "dumps");
		CHECK(ms.v[0].m.type == HF_ENTRY_DIR);
		CHECK_STR(ms.v[1].m.name, "dumps/app.sql");
		CHECK(ms.v[1].m.type == HF_ENTRY_FILE && ms.v[1].m.mode == 0600);
		CHECK(ms.v[1].m.mtime_ns >= before && ms.v[1].m.mtime_ns <= hf_clock_now_ns());
		CHECK(ms.v[1].data.len == 3 * MIB + 17 && !memcmp(ms.v[1].data.data, big_data, 3 * MIB + 17));
	}
	CHECK(st.files == 1 && st.bytes == 3 * MIB + 17);
	snap_free(&ms);

	snap_init(&ms);
	CHECK_RC(hf_stdin_import(0, "../x", &ms.sink, &st), HF_EUSAGE);
	CHECK(msg_has("../x"));
	CHECK_RC(hf_stdin_import(0, "/abs", &ms.sink, &st), HF_EUSAGE);
	CHECK_RC(hf_stdin_import(0, "", &ms.sink, &st), HF_EUSAGE);
	CHECK_RC(hf_stdin_import(0, "a//b", &ms.sink, &st), HF_EUSAGE);
	CHECK(ms.len == 0);
	snap_free(&ms);
}

/* The queue between the walking and the reading thread: order, end, a failed walk, a reader that gives
 * up while the walker waits for room, and read-ahead of files that are being taken and freed. */
typedef struct rq_producer {
	hf_readq *q;
	const char *dir;
	int count, put_failed, close_rc;
} rq_producer;

static void *rq_produce(void *arg)
{
	rq_producer *p = arg;
	for (int i = 0; i < p->count; i++) {
		hf_readq_item *it = calloc(1, sizeof(*it));
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", p->dir, i % 2 ? "a" : "big.bin");
		it->path = strdup(path);
		it->type = HF_ENTRY_FILE;
		it->readahead = 1;
		it->st.st_size = 1000 + i; /* the order check reads it back */
		if (hf_readq_put(p->q, it) < 0) {
			p->put_failed = 1;
			break;
		}
	}
	hf_readq_close(p->q, p->close_rc, p->close_rc ? "walk failed at 'x'" : NULL);
	return NULL;
}

/* A walker that queues a few entries and then blocks (on a cold directory, say) must not keep them
 * from the reader: hf_readq_flush hands them over before the reader's batch is full. */
typedef struct rq_flusher {
	hf_readq *q;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int got;           /* items the reader has taken */
	int seen_in_time;  /* the reader had all three before the walker gave up waiting */
} rq_flusher;

static void *rq_flush_walk(void *arg)
{
	rq_flusher *f = arg;
	struct timespec until;
	for (int i = 0; i < 3; i++) {
		hf_readq_item *it = calloc(1, sizeof(*it));
		it->path = strdup("/nonexistent/hf-readq");
		it->type = HF_ENTRY_DIR;
		hf_readq_put(f->q, it);
	}
	hf_readq_flush(f->q);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&f->mu);
	while (f->got < 3 && pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0)
		;
	f->seen_in_time = f->got == 3;
	pthread_mutex_unlock(&f->mu);
	hf_readq_close(f->q, 0, NULL);
	return NULL;
}

static void test_readq(const char *src)
{
	pthread_t th;
	hf_readq_item *it;
	int rc, n = 0, in_order = 1;

	/* every item arrives, in order, through a queue that holds about one at a time */
	rq_producer p = {hf_readq_new(1, 4), src, 500, 0, 0};
	CHECK(p.q != NULL);
	CHECK(pthread_create(&th, NULL, rq_produce, &p) == 0);
	while ((it = hf_readq_get(p.q, &rc))) {
		in_order &= it->st.st_size == 1000 + n;
		n++;
		hf_readq_item_free(it);
	}
	pthread_join(th, NULL);
	CHECK(rc == 0 && n == 500 && in_order && !p.put_failed);
	hf_readq_free(p.q);

	/* a failed walk is raised on the reading thread, queued items or not */
	rq_producer f = {hf_readq_new((size_t)1 << 20, 4), src, 3, 0, HF_EIO};
	CHECK(pthread_create(&th, NULL, rq_produce, &f) == 0);
	pthread_join(th, NULL);
	CHECK(hf_readq_get(f.q, &rc) == NULL);
	CHECK(rc == HF_EIO && msg_has("walk failed at 'x'"));
	hf_readq_free(f.q); /* frees the three items still queued */

	/* the reading thread gives up: a walker waiting for room is released and stops */
	rq_producer a = {hf_readq_new(1, 4), src, 100000, 0, 0};
	CHECK(pthread_create(&th, NULL, rq_produce, &a) == 0);
	for (int i = 0; i < 3 && (it = hf_readq_get(a.q, &rc)); i++)
		hf_readq_item_free(it);
	hf_readq_abort(a.q);
	pthread_join(th, NULL);
	CHECK(a.put_failed);
	hf_readq_free(a.q);

	/* entries queued before the walker blocks reach the reader without waiting for a full batch */
	rq_flusher fl = {hf_readq_new((size_t)1 << 20, 0), PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	CHECK(pthread_create(&th, NULL, rq_flush_walk, &fl) == 0);
	while ((it = hf_readq_get(fl.q, &rc))) {
		hf_readq_item_free(it);
		pthread_mutex_lock(&fl.mu);
		fl.got++;
		pthread_cond_signal(&fl.cv);
		pthread_mutex_unlock(&fl.mu);
	}
	pthread_join(th, NULL);
	CHECK(rc == 0 && fl.got == 3 && fl.seen_in_time);
	hf_readq_free(fl.q);
}

/* Files of 1 MiB or more are read with O_DIRECT ahead of the reading thread: every size (aligned or
 * not, below and above the reader's ring) comes back whole; the direct reader itself, file after
 * file, ended early, and on an fd it cannot read. */
static void test_direct_read(void)
{
	static const size_t sizes[] = {MIB - 1, MIB, 3 * MIB + 1234, 21 * MIB + 77, 16 * MIB};
	char dir[512], name[64];
	const char *paths[1] = {dir};
	uint64_t want_direct = 0;
	hf_files_stats st;
	mem_snap ms;
	uint8_t *data = malloc(22 * MIB);
	int fd, can_direct;

	snprintf(dir, sizeof(dir), "%s/direct", base_dir);
	CHECK(mkdir(dir, 0755) == 0);
	for (size_t i = 0; i < 22 * MIB; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
		snprintf(name, sizeof(name), "f%zu.bin", k);
		write_file(pj(dir, name), data + k, sizes[k], 0644);
		if (sizes[k] >= MIB)
			want_direct += sizes[k];
	}
	/* where the file system has no O_DIRECT (the fallback), only the content can be checked */
	fd = open(pj(dir, "f1.bin"), O_RDONLY | O_DIRECT);
	can_direct = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		fprintf(stderr, "note: no O_DIRECT on %s (%s): the page-cache fallback was tested\n", dir,
		        strerror(errno));

	CHECK_OK(backup_src(&ms, &st, paths, 1));
	CHECK(ms.violations == 0);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
		const mem_entry *e;
		char rel[1024];
		snprintf(rel, sizeof(rel), "%s/f%zu.bin", dir + 1, k);
		e = snap_find(&ms, rel);
		CHECK(e && e->data.len == sizes[k] && !memcmp(e->data.data, data + k, sizes[k]));
	}
	CHECK(st.bytes == want_direct + MIB - 1);
	CHECK(st.direct_bytes == (can_direct ? want_direct : 0));

	/* restored from the worker's aligned buffer with O_DIRECT, all but each file's unaligned tail */
	{
		hf_files_restore_opts ro = {0};
		hf_files_stats rst = {0};
		hf_buf got = HF_BUF_INIT;
		char dst[600], path[1200];
		uint64_t want = 0;
		snprintf(dst, sizeof(dst), "%s/direct-restored", base_dir);
		ro.threads = 2;
		CHECK_OK(hf_files_restore(&ms.reader, dst, &ro, &rst));
		for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
			snprintf(path, sizeof(path), "%s%s/f%zu.bin", dst, dir, k);
			got.len = 0;
			CHECK_OK(hf_fs_read_file(path, &got));
			CHECK(got.len == sizes[k] && !memcmp(got.data, data + k, sizes[k]));
			if (sizes[k] >= MIB)
				want += sizes[k] & ~(uint64_t)4095;
		}
		CHECK(rst.bytes == st.bytes && rst.files == st.files);
		CHECK(rst.direct_bytes == (can_direct ? want : 0));
		hf_buf_free(&got);
	}
	snap_free(&ms);

	/* the reader alone: two files in a row, one ended after its first piece */
	{
		hf_dread *d = hf_dread_new(2, MIB);
		const uint8_t *p;
		uint64_t off, got;
		ssize_t n;
		int err, fds[2];
		CHECK(d != NULL);
		for (int round = 0; d && round < 3; round++) {
			fd = open(pj(dir, "f3.bin"), O_RDONLY);
			CHECK(fd >= 0);
			hf_dread_begin(d, fd);
			for (got = 0; (n = hf_dread_next(d, &p, &off, &err)) > 0; got += (uint64_t)n) {
				CHECK(off == got && !memcmp(p, data + 3 + got, (size_t)n));
				hf_dread_release(d);
				if (round == 1)
					break;
			}
			/* the file ends unaligned: after that short read, the reader can only go on through
			 * the page cache, from there */
			if (round != 1)
				CHECK(n == -1 && err == EINVAL && off == sizes[3] && got == sizes[3]);
			hf_dread_end(d);
			close(fd);
		}
		/* a read that fails reports its errno and offset */
		CHECK(pipe(fds) == 0);
		if (d) {
			hf_dread_begin(d, fds[0]);
			CHECK(hf_dread_next(d, &p, &off, &err) == -1 && err == ESPIPE && off == 0);
			hf_dread_end(d);
		}
		close(fds[0]);
		close(fds[1]);
		hf_dread_free(d);
	}
	free(data);
}

int main(void)
{
	mem_snap snap;
	char src[PATH_MAX];

	hf_log_set_level(HF_LOG_ERROR);
	snprintf(base_dir, sizeof(base_dir), "/tmp/hf_files_XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	base_name = base_dir + 1;
	snprintf(src, sizeof(src), "%s/src", base_dir);
	make_tree(src);

	test_backup_restore(&snap, src);
	test_restore_refusals(&snap);
	test_include(&snap);
	test_keep_going(&snap);
	test_tar(&snap);
	test_tar_orders();
	test_stdin_import();
	test_vanished_and_sink_failure(src);
	test_one_file_system();
	test_readq(src);
	test_direct_read();

	snap_free(&snap);
	free(big_data);
	rm_rf(base_dir);
	TEST_MAIN_END();
}
