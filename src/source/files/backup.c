/* Backup of directory trees: a depth-first walk (lstat, sorted names, parents first) that streams
 * file content to the sink in large reads and records hardlinks, symlinks and special files.
 *
 * Two threads (readq.h): the walking thread lists, lstats and classifies entries and queues them in
 * walk order; the calling thread takes them from the queue, reads files and makes every sink call. */
#define _GNU_SOURCE /* O_NOATIME */
#include "source/files/dread.h"
#include "source/files/internal.h"
#include "source/files/readq.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The state of one of the two threads (fields marked W: walking thread only, R: reading thread only). */
typedef struct walker {
	hf_sink *sink; /* W: only entry_unchanged, which may be called from another thread */
	const hf_files_backup_opts *o;
	hf_files_stats st;
	hf_files_owners owners; /* R */
	hf_files_map inodes;    /* R: "dev:ino" -> first name, for st_nlink > 1 */
	hf_files_map emitted;   /* W: intermediate parents already queued */
	hf_buf path;            /* absolute path of the current item; its name is path + 1 */
	char *long_dir;         /* R: the directory open as long_fd (see open_long) */
	int long_fd;            /* R */
	uint8_t *buf;           /* R */
	hf_dread *dread;        /* R (W: only whether there is one) */
	int noatime;            /* R */
	dev_t root_dev;         /* W */
	hf_readq *q;            /* W */
} walker;

static const char *cur_name(const walker *w)
{
	return (const char *)w->path.data + 1;
}
static const char *cur_path(const walker *w)
{
	return (const char *)w->path.data;
}

static void warn(walker *w, int errnum, const char *what)
{
	if (errnum)
		hf_log_warn("%s '%s': %s", what, cur_path(w), strerror(errnum));
	else
		hf_log_warn("%s '%s'", what, cur_path(w));
	w->st.warnings++;
}

static int excluded(const walker *w, const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (size_t i = 0; w->o && i < w->o->nexcludes; i++) {
		const char *p = w->o->excludes[i];
		if (!p)
			continue;
		while (*p == '/')
			p++;
		if (fnmatch(p, name, 0) == 0 || (!strchr(p, '/') && fnmatch(p, base, 0) == 0))
			return 1;
	}
	return 0;
}

/* An entry's metadata from its lstat, without owner names. */
static void stat_meta(hf_entry_meta *m, const char *name, const struct stat *st, hf_entry_type type)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->type = type;
	m->mode = (uint32_t)st->st_mode & 07777;
	m->uid = (uint32_t)st->st_uid;
	m->gid = (uint32_t)st->st_gid;
	m->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	m->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	m->inode = (uint64_t)st->st_ino;
	m->dev = (uint64_t)st->st_dev;
	if (type == HF_ENTRY_FILE)
		m->size = (uint64_t)st->st_size;
	if (type == HF_ENTRY_CHR || type == HF_ENTRY_BLK)
		m->rdev = (uint64_t)st->st_rdev;
}

/* Reading thread: the metadata handed to the sink, owner names included. */
static void fill_meta(walker *w, hf_entry_meta *m, const char *name, const struct stat *st,
                      hf_entry_type type)
{
	stat_meta(m, name, st, type);
	m->user = hf_files_user_name(&w->owners, m->uid);
	m->group = hf_files_group_name(&w->owners, m->gid);
}

/* Reading thread: hand a non-file entry to the sink. */
static int emit_simple(walker *w, const struct stat *st, hf_entry_type type, const char *target)
{
	hf_entry_meta m;
	int rc;
	fill_meta(w, &m, cur_name(w), st, type);
	m.link_target = target;
	if ((rc = hf_files_emit(w->sink, &m)) < 0)
		return rc;
	if (type == HF_ENTRY_DIR)
		w->st.dirs++;
	else
		w->st.files++;
	return 0;
}

/* Files of at least DIRECT_MIN bytes are read with O_DIRECT by the direct reader (dread.h), smaller
 * ones through the page cache, where the read-ahead thread has already asked for them. */
#define DIRECT_MIN ((off_t)1 << 20)
#define DREAD_BUFS 3 /* of 2 MiB: the device reads 1, 2 and 4 MiB pieces equally fast */
#define DREAD_BUF ((size_t)2 << 20)

static int read_direct(const walker *w, const struct stat *st)
{
	return w->dread && st->st_size >= DIRECT_MIN;
}

/* Walking thread: a FILE is read ahead unless the sink will take it from the previous snapshot, or
 * it will be read with O_DIRECT (which would read it again from the device). */
static int worth_reading_ahead(const walker *w, const char *path, const struct stat *st)
{
	hf_entry_meta m;
	if (read_direct(w, st))
		return 0;
	if (!w->sink->entry_unchanged)
		return 1;
	stat_meta(&m, path + 1, st, HF_ENTRY_FILE);
	return !w->sink->entry_unchanged(w->sink, &m);
}

/* Walking thread: queue an entry for the reading thread. */
static int queue_entry(walker *w, const char *path, const struct stat *st, hf_entry_type type, const char *target)
{
	hf_readq_item *it = calloc(1, sizeof(*it));
	if (!it || !(it->path = strdup(path)) || (target && !(it->target = strdup(target)))) {
		hf_readq_item_free(it);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	it->st = *st;
	it->type = type;
	it->readahead = type == HF_ENTRY_FILE && worth_reading_ahead(w, path, st);
	if (hf_readq_put(w->q, it) < 0)
		return hf_error_set(HF_ERROR, "directory walk stopped"); /* the reading thread failed */
	return 0;
}

/* Walking thread: the item at w->path, which is name in the directory dirfd (AT_FDCWD and the
 * absolute path for an argument). Below an argument everything is opened relative to its parent, so
 * neither depth nor path length matter: a path longer than PATH_MAX, which anyone who may create
 * directories in the tree can make, would otherwise fail the whole backup. */
static int visit(walker *w, int dirfd, const char *name, const struct stat *st);

/* One directory entry: its name and inode (from readdir). */
typedef struct dent {
	char *name;
	uint64_t ino;
} dent;

/* Entries are lstat'ed in batches, so that a directory of millions of files needs no more memory
 * than its names. */
#define STAT_BATCH 1024

typedef struct stat_slot {
	const dent *d;
	int err; /* errno of the lstat, 0 when st is valid */
	struct stat st;
} stat_slot;

static int cmp_dent_names(const void *a, const void *b)
{
	return strcmp(((const dent *)a)->name, ((const dent *)b)->name);
}

static void dents_free(dent *v, size_t n)
{
	while (n)
		free(v[--n].name);
	free(v);
}

/* The entries of an open directory sorted by name (closes fd). */
static int list_dir(walker *w, int fd, dent **out, size_t *out_n)
{
	DIR *d = fdopendir(fd);
	dent *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	if (!d) {
		rc = hf_error_set_errno(HF_EIO, errno, "unable to read directory '%s'", cur_path(w));
		close(fd);
		return rc;
	}
	for (;;) {
		struct dirent *de;
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = hf_error_set_errno(HF_EIO, errno, "unable to read directory '%s'",
				                        cur_path(w));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			dent *nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));
			if (!nv) {
				rc = hf_error_set(HF_ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if (!(v[n].name = strdup(de->d_name))) {
			rc = hf_error_set(HF_ENOMEM, "out of memory");
			break;
		}
		v[n++].ino = (uint64_t)de->d_ino;
	}
	closedir(d);
	if (rc < 0) {
		dents_free(v, n);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_dent_names);
	*out = v;
	*out_n = n;
	return 0;
}

static int cmp_slot_inodes(const void *a, const void *b)
{
	const stat_slot *x = *(const stat_slot *const *)a, *y = *(const stat_slot *const *)b;
	return (x->d->ino > y->d->ino) - (x->d->ino < y->d->ino);
}

/* lstat entries v[0..n) relative to the directory, in inode order: on a cold cache the inode table is
 * then read front to back instead of in name order, and each lookup is one path component. */
static void stat_batch(int dirfd, const dent *v, size_t n, stat_slot *slots, stat_slot **order)
{
	for (size_t i = 0; i < n; i++) {
		slots[i].d = &v[i];
		order[i] = &slots[i];
	}
	qsort(order, n, sizeof(*order), cmp_slot_inodes);
	for (size_t i = 0; i < n; i++)
		order[i]->err = fstatat(dirfd, order[i]->d->name, &order[i]->st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

static int visit_children(walker *w, int dirfd, dent *v, size_t n)
{
	size_t base = w->path.len, batch = n < STAT_BATCH ? n : STAT_BATCH;
	stat_slot *slots = malloc((batch ? batch : 1) * sizeof(*slots));
	stat_slot **order = malloc((batch ? batch : 1) * sizeof(*order));
	int rc = 0;
	if (!slots || !order) {
		free(slots);
		free(order);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const stat_slot *sl = &slots[i % STAT_BATCH];
		if (i % STAT_BATCH == 0) {
			hf_readq_flush(w->q); /* the lstats may wait for the disk */
			stat_batch(dirfd, v + i, n - i < STAT_BATCH ? n - i : STAT_BATCH, slots, order);
		}
		w->path.len = base;
		if ((base > 1 && (rc = hf_buf_append(&w->path, "/", 1)) < 0) ||
		    (rc = hf_buf_append(&w->path, v[i].name, strlen(v[i].name))) < 0 ||
		    (rc = hf_buf_cstr(&w->path)) < 0)
			break;
		if (sl->err) {
			warn(w, sl->err, sl->err == ENOENT ? "skipping vanished" : "unable to read");
			continue;
		}
		rc = visit(w, dirfd, v[i].name, &sl->st);
	}
	free(slots);
	free(order);
	w->path.len = base;
	w->path.data[base] = '\0';
	return rc;
}

static int visit_dir(walker *w, int dirfd, const char *name, const struct stat *lst)
{
	dent *v = NULL;
	size_t n = 0;
	struct stat st;
	int fd, lfd, rc = 0, is_root = w->path.len == 1;

	hf_readq_flush(w->q); /* opening and listing may wait for the disk */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ELOOP || e == ENOTDIR) {
			warn(w, e, e == ENOENT ? "skipping vanished" : "skipping changed");
			return 0;
		}
		if (e != EACCES && e != EPERM)
			return hf_error_set_errno(hf_error_from_errno(e), e, "unable to open directory '%s'",
			                          cur_path(w));
		if (!is_root && (rc = queue_entry(w, cur_path(w), lst, HF_ENTRY_DIR, NULL)) < 0)
			return rc;
		warn(w, e, "unable to read directory");
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		rc = hf_error_set_errno(HF_EIO, errno, "unable to stat '%s'", cur_path(w));
		close(fd);
		return rc;
	}
	if (!is_root && (rc = queue_entry(w, cur_path(w), &st, HF_ENTRY_DIR, NULL)) < 0) {
		close(fd);
		return rc;
	}
	if (w->o && w->o->one_file_system && st.st_dev != w->root_dev) {
		close(fd);
		return 0;
	}
	if ((lfd = dup(fd)) < 0) {
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to read directory '%s'",
		                        cur_path(w));
		close(fd);
		return rc;
	}
	if ((rc = list_dir(w, lfd, &v, &n)) == 0)
		rc = visit_children(w, fd, v, n);
	close(fd);
	dents_free(v, n);
	return rc;
}

/* The directory part (len bytes) of an absolute path, opened one component at a time, none of them
 * followed if it is a symlink (each was a directory when the walk went through it). */
static int open_dir_steps(const char *path, size_t len)
{
	char part[NAME_MAX + 1];
	size_t i = 1;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	while (fd >= 0 && i < len) {
		size_t n = 0;
		int nfd;
		while (i + n < len && path[i + n] != '/')
			n++;
		if (n > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(part, path + i, n);
		part[n] = '\0';
		nfd = n ? openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(fd);
		close(fd);
		fd = nfd;
		i += n + 1;
	}
	return fd;
}

/* Reading thread: open a file whose absolute path is too long for open(2) relative to its directory,
 * which stays open for the next files (of the same directory, in walk order). */
static int open_long(walker *w, int flags)
{
	const char *path = cur_path(w), *slash = strrchr(path, '/');
	size_t len = (size_t)(slash - path);
	if (!w->long_dir || strlen(w->long_dir) != len || memcmp(w->long_dir, path, len) != 0) {
		int fd;
		if (w->long_fd >= 0)
			close(w->long_fd);
		free(w->long_dir);
		w->long_fd = -1;
		if (!(w->long_dir = strndup(path, len))) {
			errno = ENOMEM;
			return -1;
		}
		if ((fd = open_dir_steps(path, len)) < 0) {
			free(w->long_dir);
			w->long_dir = NULL;
			return -1;
		}
		w->long_fd = fd;
	}
	return openat(w->long_fd, slash + 1, flags);
}

static int open_file(walker *w)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, fd;
	for (;;) {
		int f = flags | (w->noatime ? O_NOATIME : 0);
		fd = open(cur_path(w), f);
		if (fd < 0 && errno == ENAMETOOLONG)
			fd = open_long(w, f);
		if (fd >= 0 || errno != EPERM || !w->noatime)
			return fd;
		w->noatime = 0; /* O_NOATIME needs ownership or CAP_FOWNER */
	}
}

/* Through the page cache, from the file offset on. */
static int read_buffered(walker *w, int fd, uint64_t *total)
{
	const uint64_t step = 32u << 20;
	uint64_t ahead = *total;
	hf_sink *sink = w->sink;
	int space = sink->entry_space && sink->entry_commit, rc;
	for (;;) {
		uint8_t *dst = w->buf;
		size_t cap = HF_FILES_IO_BLOCK;
		ssize_t n;
		/* keep the kernel reading well ahead of us in large files */
		if (*total + step / 2 >= ahead) {
			(void)posix_fadvise(fd, (off_t)ahead, (off_t)step, POSIX_FADV_WILLNEED);
			ahead += step;
		}
		/* straight into the sink's buffer when it offers one: no copy on our side */
		if (space && (rc = sink->entry_space(sink, &dst, &cap)) < 0)
			return rc;
		n = read(fd, dst, cap < HF_FILES_IO_BLOCK ? cap : HF_FILES_IO_BLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to read '%s'",
			                          cur_path(w));
		}
		if (n == 0)
			return 0;
		rc = space ? sink->entry_commit(sink, (size_t)n) : sink->entry_write(sink, dst, (size_t)n);
		if (rc < 0)
			return rc;
		*total += (uint64_t)n;
	}
}

/* fd is in O_DIRECT mode: read ahead by the direct reader; when the file system refuses O_DIRECT
 * part way, the rest through the page cache. */
static int read_direct_into_sink(walker *w, int fd, uint64_t *total)
{
	hf_dread *d = w->dread;
	hf_dread_begin(d, fd);
	for (;;) {
		const uint8_t *p;
		uint64_t off;
		int err, rc;
		ssize_t n = hf_dread_next(d, &p, &off, &err);
		if (n <= 0) {
			hf_dread_end(d);
			if (n == 0)
				return 0;
			if (err != EINVAL)
				return hf_error_set_errno(hf_error_from_errno(err), err, "unable to read '%s'",
				                          cur_path(w));
			if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0 || lseek(fd, (off_t)off, SEEK_SET) < 0)
				return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to read '%s'",
				                          cur_path(w));
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
			return read_buffered(w, fd, total);
		}
		rc = w->sink->entry_write(w->sink, p, (size_t)n);
		hf_dread_release(d);
		if (rc < 0) {
			hf_dread_end(d);
			return rc;
		}
		*total += (uint64_t)n;
		w->st.direct_bytes += (uint64_t)n;
	}
}

static int visit_file(walker *w, const struct stat *lst)
{
	hf_entry_meta m;
	struct stat st;
	char key[64];
	uint64_t total = 0;
	hf_files_map_slot *s;
	int fd = -1, rc = 0, odirect, fl;

	snprintf(key, sizeof(key), "%ju:%ju", (uintmax_t)lst->st_dev, (uintmax_t)lst->st_ino);
	if (lst->st_nlink > 1 && (s = hf_files_map_get(&w->inodes, key)))
		return emit_simple(w, lst, HF_ENTRY_HARDLINK, s->val);
	if (w->sink->entry_reuse) {
		/* Unchanged since the previous snapshot (size, times, inode): not even opened. */
		fill_meta(w, &m, cur_name(w), lst, HF_ENTRY_FILE);
		if ((rc = w->sink->entry_reuse(w->sink, &m)) < 0)
			return rc;
		if (rc == 1) {
			w->st.files++;
			w->st.bytes += (uint64_t)lst->st_size;
			return lst->st_nlink > 1 ? hf_files_map_put(&w->inodes, key, cur_name(w), 0) : 0;
		}
	}
	if ((fd = open_file(w)) < 0) {
		int e = errno;
		if (e == ENOENT || e == EACCES || e == EPERM || e == ELOOP || e == ENXIO ||
		    e == EWOULDBLOCK || e == ENOTDIR) {
			warn(w, e, e == ENOENT ? "skipping vanished" : "skipping unreadable");
			return 0;
		}
		return hf_error_set_errno(hf_error_from_errno(e), e, "unable to open '%s'", cur_path(w));
	}
	if (fstat(fd, &st) < 0) {
		rc = hf_error_set_errno(HF_EIO, errno, "unable to stat '%s'", cur_path(w));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		warn(w, 0, "skipping changed");
		goto done;
	}
	fl = fcntl(fd, F_GETFL) & ~O_NONBLOCK;
	/* a file system without O_DIRECT refuses it here (EINVAL), or at the first read */
	odirect = read_direct(w, &st) && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	if (!odirect) {
		(void)fcntl(fd, F_SETFL, fl);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	fill_meta(w, &m, cur_name(w), &st, HF_ENTRY_FILE);
	if ((rc = w->sink->entry_begin(w->sink, &m)) < 0 ||
	    (rc = odirect ? read_direct_into_sink(w, fd, &total) : read_buffered(w, fd, &total)) < 0 ||
	    (rc = w->sink->entry_end(w->sink)) < 0)
		goto done;
	/* A rewrite in place during the read keeps the size but moves the times: the snapshot then holds
	 * a mix of old and new bytes. Say so (the next backup reads the file again: its ctime differs). */
	{
		struct stat after;
		if (total != (uint64_t)st.st_size ||
		    (fstat(fd, &after) == 0 &&
		     (after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec ||
		      after.st_ctim.tv_sec != st.st_ctim.tv_sec || after.st_ctim.tv_nsec != st.st_ctim.tv_nsec)))
			warn(w, 0, "changed while reading");
	}
	w->st.files++;
	w->st.bytes += total;
	if (st.st_nlink > 1) {
		snprintf(key, sizeof(key), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
		rc = hf_files_map_put(&w->inodes, key, cur_name(w), 0);
	}
done:
	close(fd);
	return rc;
}

static int visit_symlink(walker *w, int dirfd, const char *name, const struct stat *st)
{
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	char *target = NULL;
	int rc = 0;
	for (;;) {
		ssize_t n;
		char *nt = realloc(target, cap);
		if (!nt) {
			rc = hf_error_set(HF_ENOMEM, "out of memory");
			break;
		}
		target = nt;
		if ((n = readlinkat(dirfd, name, target, cap)) < 0) {
			warn(w, errno, errno == ENOENT ? "skipping vanished" : "unable to read symlink");
			break;
		}
		if ((size_t)n < cap) {
			target[n] = '\0';
			rc = queue_entry(w, cur_path(w), st, HF_ENTRY_SYMLINK, target);
			break;
		}
		cap *= 2;
	}
	free(target);
	return rc;
}

static int visit(walker *w, int dirfd, const char *name, const struct stat *st)
{
	if (w->path.len > 1 && excluded(w, cur_name(w)))
		return 0;
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		return visit_dir(w, dirfd, name, st);
	case S_IFREG:
		return queue_entry(w, cur_path(w), st, HF_ENTRY_FILE, NULL);
	case S_IFLNK:
		return visit_symlink(w, dirfd, name, st);
	case S_IFIFO:
		return queue_entry(w, cur_path(w), st, HF_ENTRY_FIFO, NULL);
	case S_IFCHR:
		return queue_entry(w, cur_path(w), st, HF_ENTRY_CHR, NULL);
	case S_IFBLK:
		return queue_entry(w, cur_path(w), st, HF_ENTRY_BLK, NULL);
	default:
		hf_log_debug("skipping socket '%s'", cur_path(w));
		return 0;
	}
}

/* Compare paths component by component ('/' sorts before every other byte). */
static int cmp_paths(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a, *y = *(const unsigned char *const *)b;
	for (; *x && *x == *y; x++, y++)
		;
	return (*x == '/' ? 1 : *x ? *x + 1 : 0) - (*y == '/' ? 1 : *y ? *y + 1 : 0);
}

/* Absolute, canonical form of a path argument; the last component is never resolved. An absolute
 * argument keeps its directories as given unless real is set; otherwise (and for relative ones or
 * ones with "..") they are resolved with realpath(3). */
static int resolve_arg(const char *arg, int real, char **out)
{
	char *copy = NULL, *dir = NULL, *res = NULL, *slash;
	const char *base;
	int rc = 0;

	if (!arg || !*arg)
		return hf_error_set(HF_EUSAGE, "empty path to back up");
	if (!(copy = strdup(arg)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (arg[0] == '/' && !real && hf_files_name_normalize(copy) == 0) {
		if (!(res = malloc(strlen(copy) + 2))) {
			rc = hf_error_set(HF_ENOMEM, "out of memory");
			goto done;
		}
		res[0] = '/';
		strcpy(res + 1, copy);
		goto done;
	}
	/* Relative, containing ".." or real: resolve the directory part with realpath(3). */
	strcpy(copy, arg);
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (!strcmp(base, ".") || !strcmp(base, "..") || (slash == copy && !base[0])) {
		dir = realpath(copy, NULL);
		base = NULL;
	} else if (slash) {
		*slash = '\0';
		dir = realpath(slash == copy ? "/" : copy, NULL);
	} else {
		dir = realpath(".", NULL);
	}
	if (!dir) {
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to resolve '%s'", arg);
		goto done;
	}
	if (!base) {
		res = dir;
		dir = NULL;
	} else if (!(res = hf_path_join(dir, base))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
	}
done:
	free(copy);
	free(dir);
	if (rc == 0)
		*out = res;
	return rc;
}

/* 1 if the canonical absolute path is dir or textually below it. */
static int path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strcmp(dir, "/") || (!strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0'));
}

/* *out = 1 if the walk of dir reaches path (at or below it): dir and every directory between them
 * are directories, not symlinks to one, which the walk records and never follows. */
static int walk_reaches(const char *dir, const char *path, int *out)
{
	size_t n = strcmp(dir, "/") ? strlen(dir) : 0;
	char *copy = strdup(path);
	if (!copy)
		return hf_error_set(HF_ENOMEM, "out of memory");
	*out = 1;
	for (char *p = strchr(copy + n, '/'); p && *out; p = strchr(p + 1, '/')) {
		struct stat st;
		if (p == copy)
			continue; /* "/" */
		*p = '\0';
		if (lstat(copy, &st) < 0 || !S_ISDIR(st.st_mode))
			*out = 0;
		*p = '/';
	}
	free(copy);
	return 0;
}

/* Resolved, sorted arguments with duplicates and paths the walk of another argument covers dropped. */
static int prepare_args(const char *const *paths, size_t npaths, char ***out, size_t *out_n)
{
	char **v = calloc(npaths ? npaths : 1, sizeof(*v));
	size_t n = 0;
	int rc = 0, reaches;
	if (!v)
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		if ((rc = resolve_arg(paths[i], 0, &v[i])) < 0)
			goto fail;
		if (lstat(v[i], &st) < 0) {
			rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to back up '%s'",
			                        paths[i]);
			goto fail;
		}
	}
	/* An argument below another one that the other's walk does not reach (--path /x/link
	 * --path /x/link/sub with link a symlink to a directory: the walk of /x/link records the
	 * symlink only) is taken at its real location, whose directories are real directories: it
	 * would otherwise be dropped unseen, or recorded below the symlink's name. */
	for (size_t i = 0; i < npaths; i++)
		for (size_t j = 0; j < npaths; j++) {
			char *real;
			if (j == i || !strcmp(v[i], v[j]) || !path_below(v[i], v[j]))
				continue;
			if ((rc = walk_reaches(v[j], v[i], &reaches)) < 0)
				goto fail;
			if (reaches)
				continue;
			if ((rc = resolve_arg(paths[i], 1, &real)) < 0)
				goto fail;
			free(v[i]);
			v[i] = real;
			break;
		}
	qsort(v, npaths, sizeof(*v), cmp_paths);
	for (size_t i = 0; i < npaths; i++) {
		int covered = 0;
		for (size_t k = 0; k < n && !covered && rc == 0; k++)
			if (!strcmp(v[i], v[k]))
				covered = 1;
			else if (path_below(v[i], v[k]))
				rc = walk_reaches(v[k], v[i], &covered);
		if (rc < 0) {
			/* the kept ones and the ones not looked at yet, for the cleanup */
			memmove(v + n, v + i, (npaths - i) * sizeof(*v));
			npaths = n + npaths - i;
			goto fail;
		}
		if (covered) {
			free(v[i]);
			continue;
		}
		v[n++] = v[i];
	}
	*out = v;
	*out_n = n;
	return 0;
fail:
	for (size_t i = 0; i < npaths; i++)
		free(v[i]);
	free(v);
	return rc;
}

/* Emit the directories above an argument ("etc" for "/etc/app") with their real metadata. */
static int emit_parents(walker *w, const char *abs)
{
	char *copy = strdup(abs);
	int rc = 0;
	if (!copy)
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (char *p = strchr(copy + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
		struct stat st;
		*p = '\0';
		if (!hf_files_map_get(&w->emitted, copy + 1)) {
			if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode)) {
				rc = hf_error_set(HF_EIO, "unable to back up '%s': '%s' is not a directory",
				                  abs, copy);
				break;
			}
			if ((rc = queue_entry(w, copy, &st, HF_ENTRY_DIR, NULL)) < 0 ||
			    (rc = hf_files_map_put(&w->emitted, copy + 1, NULL, 0)) < 0)
				break;
		}
		*p = '/';
	}
	free(copy);
	return rc;
}

static int backup_arg(walker *w, const char *abs)
{
	struct stat st;
	int rc;
	if (strcmp(abs, "/") != 0 && excluded(w, abs + 1))
		return 0;
	if ((rc = emit_parents(w, abs)) < 0)
		return rc;
	hf_buf_clear(&w->path);
	if ((rc = hf_buf_append(&w->path, abs, strlen(abs))) < 0 || (rc = hf_buf_cstr(&w->path)) < 0)
		return rc;
	if (lstat(abs, &st) < 0) {
		warn(w, errno, "skipping vanished");
		return 0;
	}
	w->root_dev = st.st_dev;
	return visit(w, AT_FDCWD, abs, &st);
}

/* Walking thread: every argument in turn, then close the queue with the result. */
typedef struct walk_job {
	walker w;
	char **args;
	size_t nargs;
} walk_job;

static void *walk_main(void *arg)
{
	walk_job *j = arg;
	int rc = 0;
	for (size_t i = 0; i < j->nargs && rc == 0; i++)
		rc = backup_arg(&j->w, j->args[i]);
	hf_readq_close(j->w.q, rc, rc < 0 ? hf_error_message() : NULL);
	return NULL;
}

/* Reading thread: one queued entry to the sink. */
static int take_entry(walker *r, const hf_readq_item *it)
{
	int rc;
	hf_buf_clear(&r->path);
	if ((rc = hf_buf_append(&r->path, it->path, strlen(it->path))) < 0 || (rc = hf_buf_cstr(&r->path)) < 0)
		return rc;
	if (it->type == HF_ENTRY_FILE)
		return visit_file(r, &it->st);
	return emit_simple(r, &it->st, it->type, it->target);
}

int hf_files_backup(const char *const *paths, size_t npaths, const hf_files_backup_opts *o, hf_sink *sink,
                    hf_files_stats *stats)
{
	walk_job job;
	walker r;
	pthread_t walker_thread;
	hf_readq_item *it;
	int rc = 0, started = 0, wrc = 0;

	memset(&job, 0, sizeof(job));
	memset(&r, 0, sizeof(r));
	r.sink = job.w.sink = sink;
	r.o = job.w.o = o;
	r.noatime = 1;
	r.long_fd = -1;
	if (!npaths)
		return hf_error_set(HF_EUSAGE, "no paths to back up");
	if ((rc = prepare_args(paths, npaths, &job.args, &job.nargs)) < 0)
		return rc;
	/* the walk may run up to 16 MiB of queued entries (about 60,000) ahead; 64 files are read ahead */
	if (!(r.buf = malloc(HF_FILES_IO_BLOCK)) || !(job.w.q = hf_readq_new((size_t)16 << 20, 64))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	/* without it (no memory or thread for it), every file is read through the page cache */
	job.w.dread = r.dread = hf_dread_new(DREAD_BUFS, DREAD_BUF);
	if (pthread_create(&walker_thread, NULL, walk_main, &job) != 0) {
		rc = hf_error_set(HF_ERROR, "unable to start the directory walk thread");
		goto done;
	}
	started = 1;
	while ((it = hf_readq_get(job.w.q, &wrc))) {
		rc = take_entry(&r, it);
		hf_readq_item_free(it);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = wrc; /* the walk's own failure (already raised on this thread) */
	else
		hf_readq_abort(job.w.q);
done:
	if (started)
		pthread_join(walker_thread, NULL);
	if (stats) {
		stats->files += r.st.files + job.w.st.files;
		stats->dirs += r.st.dirs + job.w.st.dirs;
		stats->bytes += r.st.bytes + job.w.st.bytes;
		stats->direct_bytes += r.st.direct_bytes;
		stats->warnings += r.st.warnings + job.w.st.warnings;
	}
	hf_readq_free(job.w.q);
	hf_dread_free(r.dread);
	for (size_t i = 0; i < job.nargs; i++)
		free(job.args[i]);
	free(job.args);
	free(r.buf);
	if (r.long_fd >= 0)
		close(r.long_fd);
	free(r.long_dir);
	hf_buf_free(&r.path);
	hf_buf_free(&job.w.path);
	hf_files_map_free(&job.w.emitted);
	hf_files_map_free(&r.inodes);
	hf_files_owners_free(&r.owners);
	return rc;
}
