/* The file:// storage driver: one object = one file under the root directory. Writes are write-once and
 * durable (temp file, fsync, link, fsync of the directory); temp files ("<name>.tmp.<pid>.<hex>") are
 * invisible to list. Every operation is safe from several threads. Range reads keep the last few objects
 * open (a restore reads a pack blob by blob: one open, fstat and close per blob cost 10 % of its
 * syscalls); a put or remove of a key in this process drops its cached descriptor. */
#include "storage/storage.h"
#include "util/error.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MODE 0640
#define DIR_MODE 0750

#define FD_CACHE 16

typedef struct fd_slot {
	char *key; /* NULL: free */
	int fd;
	int refs;   /* range reads using fd now */
	int doomed; /* the object was replaced or removed: close when refs drops to 0 */
	uint64_t size, used;
} fd_slot;

typedef struct file_storage {
	hf_storage base;
	char *root; /* absolute, no trailing '/' (except "/" itself) */
	pthread_mutex_t mu;
	fd_slot fds[FD_CACHE];
	uint64_t tick;
} file_storage;

static void slot_clear(fd_slot *sl)
{
	close(sl->fd);
	free(sl->key);
	memset(sl, 0, sizeof(*sl));
}

/* Forget the cached descriptor of key (called before it is replaced or removed). */
static void fd_forget(file_storage *fs, const char *key)
{
	pthread_mutex_lock(&fs->mu);
	for (int i = 0; i < FD_CACHE; i++) {
		fd_slot *sl = &fs->fds[i];
		if (!sl->key || sl->doomed || strcmp(sl->key, key))
			continue;
		if (sl->refs)
			sl->doomed = 1;
		else
			slot_clear(sl);
	}
	pthread_mutex_unlock(&fs->mu);
}

static char *obj_path(const file_storage *fs, const char *key)
{
	return hf_path_join(fs->root, key);
}

static int oom(void)
{
	return hf_error_set(HF_ENOMEM, "out of memory");
}

/* Matches the suffix hf_fs_write_atomic gives its temp files: ".tmp.<digits>.<hex>". */
static int is_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	size_t d, h;
	for (; t; t = strstr(t + 1, ".tmp.")) {
		const char *p = t + 5;
		d = strspn(p, "0123456789");
		if (d == 0 || p[d] != '.')
			continue;
		h = strspn(p + d + 1, "0123456789abcdef");
		if (h > 0 && p[d + 1 + h] == '\0')
			return 1;
	}
	return 0;
}

/* After creating directories for a put: make their entries durable by syncing every directory from the
 * object's grandparent up to the root (the object's own directory is synced by the atomic write). */
static int sync_new_dirs(const file_storage *fs, char *dir)
{
	size_t root_len = strlen(fs->root);
	char *slash;
	int rc = 0;
	while (rc == 0 && (slash = strrchr(dir, '/')) != NULL && (size_t)(slash - dir) >= root_len) {
		*slash = '\0';
		rc = hf_fs_fsync_dir(dir);
	}
	return rc;
}

/* True when path does not exist, i.e. an HF_EEXISTS from the atomic write was about its temp file. */
static int target_absent(const char *path)
{
	struct stat st;
	return lstat(path, &st) < 0 && errno == ENOENT;
}

static int file_put(hf_storage *s, const char *key, const void *data, size_t len,
                    const hf_storage_put_opts *o)
{
	file_storage *fs = (file_storage *)s;
	char *path = NULL, *dir = NULL;
	int rc, made_dirs = 0;
	(void)o; /* a local directory has no retention; the LOCK feature bit is not set */

	if (is_temp_name(key))
		return hf_error_set(HF_EUSAGE, "invalid object key '%s': reserved for temporary files", key);
	fd_forget(fs, key);
	if (!(path = obj_path(fs, key)) || !(dir = strdup(path))) {
		rc = oom();
		goto done;
	}
	*strrchr(dir, '/') = '\0';
	for (int attempt = 0;; attempt++) {
		rc = hf_fs_write_atomic(path, data, len, FILE_MODE, 1);
		if (rc == HF_ENOTFOUND && !made_dirs) {
			/* The parent directory is missing: create it and try again. */
			if ((rc = hf_fs_mkdir_p(dir, DIR_MODE)) < 0)
				break;
			made_dirs = 1;
			continue;
		}
		/* A stale temp file of a crashed run can carry the same name (same pid, same random()
		 * sequence): that is not "object exists"; the next attempt uses another name. */
		if (rc == HF_EEXISTS && attempt < 4 && target_absent(path))
			continue;
		break;
	}
	if (rc == 0 && made_dirs)
		rc = sync_new_dirs(fs, dir);
	if (rc == HF_EEXISTS)
		rc = hf_error_set(HF_EEXISTS, "object '%s' already exists in '%s'", key, s->url);
	else if (rc < 0)
		rc = hf_error_wrap(rc, "unable to store '%s' in '%s'", key, s->url);
done:
	free(dir);
	free(path);
	return rc;
}

/* Open an object for reading; a missing file or a non-file is HF_ENOTFOUND. */
static int open_obj(file_storage *fs, const char *key, int *fd_out, struct stat *st)
{
	char *path = obj_path(fs, key);
	int fd, e;
	if (!path)
		return oom();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	e = errno;
	free(path);
	if (fd < 0 && (e == ENOENT || e == ENOTDIR))
		return hf_error_set(HF_ENOTFOUND, "object '%s' not found in '%s'", key, fs->base.url);
	if (fd < 0)
		return hf_error_set_errno(hf_error_from_errno(e), e, "unable to open '%s' in '%s'", key,
		                          fs->base.url);
	if (fstat(fd, st) < 0) {
		e = errno;
		close(fd);
		return hf_error_set_errno(HF_EIO, e, "unable to stat '%s' in '%s'", key, fs->base.url);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return hf_error_set(HF_ENOTFOUND, "object '%s' not found in '%s' (not a regular file)", key,
		                    fs->base.url);
	}
	*fd_out = fd;
	return 0;
}

/* pread exactly len bytes at off into out, or fewer at end of file; *got receives the count. */
static int read_at(file_storage *fs, const char *key, int fd, uint64_t off, size_t len, hf_buf *out,
                   size_t *got)
{
	size_t done_n = 0;
	int rc = hf_buf_reserve(out, len);
	if (rc < 0)
		return rc;
	while (done_n < len) {
		ssize_t n = pread(fd, out->data + out->len + done_n, len - done_n, (off_t)(off + done_n));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hf_error_set_errno(HF_EIO, errno, "unable to read '%s' in '%s'", key,
			                          fs->base.url);
		if (n == 0)
			break;
		done_n += (size_t)n;
	}
	out->len += done_n;
	*got = done_n;
	return 0;
}

static int file_get(hf_storage *s, const char *key, hf_buf *out)
{
	file_storage *fs = (file_storage *)s;
	struct stat st;
	size_t got = 0;
	int fd = -1, rc;

	if ((rc = open_obj(fs, key, &fd, &st)) < 0)
		return rc;
	rc = read_at(fs, key, fd, 0, (size_t)st.st_size, out, &got);
	if (rc == 0 && got != (size_t)st.st_size)
		rc = hf_error_set(HF_ECORRUPT, "object '%s' in '%s' changed size while being read", key,
		                  s->url);
	close(fd);
	return rc;
}

/* A descriptor for key from the cache, or opened (and cached when a slot is free or unused);
 * *slot is its cache slot, or -1 when the caller must close it. */
static int fd_take(file_storage *fs, const char *key, int *fd, uint64_t *size, int *slot)
{
	struct stat st;
	int rc, victim = -1;

	pthread_mutex_lock(&fs->mu);
	for (int i = 0; i < FD_CACHE; i++) {
		fd_slot *sl = &fs->fds[i];
		if (sl->key && !sl->doomed && !strcmp(sl->key, key)) {
			sl->refs++;
			sl->used = ++fs->tick;
			*fd = sl->fd;
			*size = sl->size;
			*slot = i;
			pthread_mutex_unlock(&fs->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&fs->mu);
	if ((rc = open_obj(fs, key, fd, &st)) < 0)
		return rc;
	*size = (uint64_t)st.st_size;
	*slot = -1;
	pthread_mutex_lock(&fs->mu);
	for (int i = 0; i < FD_CACHE; i++) {
		fd_slot *sl = &fs->fds[i];
		if (!sl->key) {
			victim = i;
			break;
		}
		if (!sl->refs && (victim < 0 || sl->used < fs->fds[victim].used))
			victim = i;
	}
	if (victim >= 0) {
		fd_slot *sl = &fs->fds[victim];
		char *k = strdup(key);
		if (k) {
			if (sl->key)
				slot_clear(sl);
			*sl = (fd_slot){k, *fd, 1, 0, *size, ++fs->tick};
			*slot = victim;
		}
	}
	pthread_mutex_unlock(&fs->mu);
	return 0;
}

static void fd_give(file_storage *fs, int fd, int slot)
{
	if (slot < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&fs->mu);
	if (--fs->fds[slot].refs == 0 && fs->fds[slot].doomed)
		slot_clear(&fs->fds[slot]);
	pthread_mutex_unlock(&fs->mu);
}

static int file_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	file_storage *fs = (file_storage *)s;
	uint64_t size;
	size_t got = 0;
	int fd = -1, slot, rc;

	if ((rc = fd_take(fs, key, &fd, &size, &slot)) < 0)
		return rc;
	rc = read_at(fs, key, fd, off, len, out, &got);
	if (rc == 0 && got != len) {
		out->len -= got;
		rc = hf_error_set(
		    HF_ECORRUPT,
		    "object '%s' in '%s' is truncated: wanted %zu bytes at offset %llu, size is %llu", key,
		    s->url, len, (unsigned long long)off, (unsigned long long)size);
	}
	fd_give(fs, fd, slot);
	return rc;
}

static int file_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	file_storage *fs = (file_storage *)s;
	struct stat st;
	char *path = obj_path(fs, key);
	int r, e;
	if (!path)
		return oom();
	r = stat(path, &st);
	e = errno;
	free(path);
	if ((r < 0 && (e == ENOENT || e == ENOTDIR)) || (r == 0 && !S_ISREG(st.st_mode)))
		return hf_error_set(HF_ENOTFOUND, "object '%s' not found in '%s'", key, s->url);
	if (r < 0)
		return hf_error_set_errno(HF_EIO, e, "unable to stat '%s' in '%s'", key, s->url);
	out->size = (uint64_t)st.st_size;
	out->mtime = (int64_t)st.st_mtime;
	out->lock_mode = HF_LOCK_NONE;
	out->lock_until = 0;
	return 0;
}

typedef struct list_ctx {
	file_storage *fs;
	hf_storage_list_cb cb;
	void *payload;
	hf_buf rel; /* the current directory relative to root, "" or ending in '/' */
} list_ctx;

/* Walk the directory rel (relative to root); at the top level only names starting with `partial` count. */
static int walk(list_ctx *lc, const char *partial)
{
	char *dpath = NULL;
	DIR *d = NULL;
	struct dirent *de;
	size_t base_len = lc->rel.len;
	int rc = 0, e;

	if ((rc = hf_buf_cstr(&lc->rel)) < 0)
		return rc;
	if (!(dpath = hf_path_join(lc->fs->root, (const char *)lc->rel.data)))
		return oom();
	if (!(d = opendir(dpath))) {
		e = errno;
		/* A prefix with no objects yet (or a missing root) is an empty listing, as in S3. */
		if (e != ENOENT && e != ENOTDIR)
			rc = hf_error_set_errno(hf_error_from_errno(e), e, "unable to list directory '%s'",
			                        dpath);
		goto done;
	}
	for (;;) {
		struct stat st;
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc =
				    hf_error_set_errno(HF_EIO, errno, "unable to list directory '%s'", dpath);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || is_temp_name(de->d_name))
			continue;
		if (partial && strncmp(de->d_name, partial, strlen(partial)) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) /* removed while we walk */
				continue;
			rc = hf_error_set_errno(HF_EIO, errno, "unable to stat '%s/%s'", dpath, de->d_name);
			break;
		}
		lc->rel.len = base_len;
		if ((rc = hf_buf_printf(&lc->rel, "%s", de->d_name)) < 0)
			break;
		if (S_ISDIR(st.st_mode)) {
			if ((rc = hf_buf_append_u8(&lc->rel, '/')) < 0 || (rc = walk(lc, NULL)) != 0)
				break;
		} else if (S_ISREG(st.st_mode)) {
			if ((rc = hf_buf_cstr(&lc->rel)) < 0 ||
			    (rc = lc->cb((const char *)lc->rel.data, (uint64_t)st.st_size, lc->payload)) != 0)
				break;
		}
	}
done:
	lc->rel.len = base_len;
	if (d)
		closedir(d);
	free(dpath);
	return rc;
}

static int file_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	list_ctx lc = {(file_storage *)s, cb, payload, HF_BUF_INIT};
	const char *slash = strrchr(prefix, '/');
	size_t dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	int rc;

	if ((rc = hf_buf_append(&lc.rel, prefix, dlen)) == 0)
		rc = walk(&lc, prefix + dlen);
	hf_buf_free(&lc.rel);
	return rc;
}

static int file_remove(hf_storage *s, const char *key)
{
	file_storage *fs = (file_storage *)s;
	char *path = obj_path(fs, key);
	int r, e;
	if (!path)
		return oom();
	fd_forget(fs, key);
	r = unlink(path);
	e = errno;
	if (r < 0) {
		free(path);
		if (e == ENOENT || e == ENOTDIR)
			return hf_error_set(HF_ENOTFOUND, "object '%s' not found in '%s'", key, s->url);
		return hf_error_set_errno(hf_error_from_errno(e), e, "unable to remove '%s' in '%s'", key,
		                          s->url);
	}
	/* Removal is how a key slot is revoked and a tenant crypto-shredded: it must survive a crash. */
	*strrchr(path, '/') = '\0';
	r = hf_fs_fsync_dir(path);
	free(path);
	return r < 0 ? hf_error_wrap(r, "removed '%s' in '%s', but could not make that durable", key, s->url) : 0;
}

/* A new repository needs a directory that is absent or empty; create=1 also creates it. */
static int file_prepare(hf_storage *s, const hf_storage_prepare_opts *o)
{
	file_storage *fs = (file_storage *)s;
	DIR *d = opendir(fs->root);
	struct dirent *de;
	int e = errno, rc = 0;

	if (!d && e == ENOENT)
		return o->create ? hf_fs_mkdir_p(fs->root, DIR_MODE) : 0;
	if (!d && e == ENOTDIR)
		return hf_error_set(HF_EEXISTS, "repository location '%s' exists and is not a directory",
		                    s->url);
	if (!d)
		return hf_error_set_errno(hf_error_from_errno(e), e, "unable to open '%s'", s->url);
	while ((de = readdir(d)) != NULL) {
		/* lost+found: a dedicated backup file system mounted right at the location */
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "lost+found")) {
			rc = hf_error_set(HF_EEXISTS, "repository location '%s' is not empty", s->url);
			hf_error_set_hint("choose an empty or new directory");
			break;
		}
	}
	closedir(d);
	return rc;
}

static void file_free(hf_storage *s)
{
	file_storage *fs = (file_storage *)s;
	if (!fs)
		return;
	for (int i = 0; i < FD_CACHE; i++)
		if (fs->fds[i].key)
			slot_clear(&fs->fds[i]);
	pthread_mutex_destroy(&fs->mu);
	free(fs->root);
	free(fs->base.url);
	free(fs);
}

static const hf_storage_vtable file_vt = {
    .name = "file",
    .features = HF_STORAGE_FEAT_RANGE | HF_STORAGE_FEAT_LOCAL,
    .put = file_put,
    .get = file_get,
    .get_range = file_get_range,
    .stat = file_stat,
    .list = file_list,
    .remove = file_remove,
    .extend_lock = NULL,
    .prepare = file_prepare,
    .free = file_free,
};

/* Absolute form of path with repeated and trailing slashes dropped (symlinks are kept as given). */
static int absolute_root(const char *path, char **out)
{
	hf_buf b = HF_BUF_INIT;
	char cwd[4096];
	const char *p;
	int rc = 0;

	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return hf_error_set_errno(HF_EIO, errno, "unable to resolve relative path '%s'",
			                          path);
		if ((rc = hf_buf_printf(&b, "%s/", cwd)) < 0)
			goto done;
	}
	for (p = path; *p; p++) {
		if (*p == '/' && b.len > 0 && b.data[b.len - 1] == '/')
			continue;
		if ((rc = hf_buf_append_u8(&b, (uint8_t)*p)) < 0)
			goto done;
	}
	if (b.len > 1 && b.data[b.len - 1] == '/')
		b.len--;
	if ((rc = hf_buf_cstr(&b)) < 0)
		goto done;
	*out = (char *)hf_buf_detach(&b, NULL);
done:
	hf_buf_free(&b);
	return rc;
}

int hf_storage_file_open(hf_storage **out, const char *path)
{
	file_storage *fs = NULL;
	hf_buf url = HF_BUF_INIT;
	int rc = 0;

	if (!path || !*path)
		return hf_error_set(HF_EUSAGE, "missing repository path");
	if (!(fs = calloc(1, sizeof(*fs)))) {
		rc = oom();
		goto done;
	}
	fs->base.vt = &file_vt;
	pthread_mutex_init(&fs->mu, NULL);
	if ((rc = absolute_root(path, &fs->root)) < 0 ||
	    (rc = hf_buf_printf(&url, "file://%s", fs->root)) < 0)
		goto done;
	fs->base.url = (char *)hf_buf_detach(&url, NULL);
	*out = &fs->base;
	fs = NULL;
done:
	hf_buf_free(&url);
	file_free(fs ? &fs->base : NULL);
	return rc;
}
