/* Local file helpers: durable atomic writes, whole-file reads, directories. */
#define _GNU_SOURCE
#include "util/fs.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

int hf_fs_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Large page-aligned data (packs) is written with O_DIRECT, from the caller's buffer to the device:
 * buffered writes of the initial bench backup's 1 GiB of packs cost 1-2.5 s of system time copying
 * into freshly allocated page-cache pages, O_DIRECT writes 0.05 s. The unaligned tail goes through the
 * page cache; a file system that refuses O_DIRECT gets everything that way. */
#define DIRECT_ALIGN 4096
#define DIRECT_MIN ((size_t)1 << 20)

static int write_data(int fd, const void *data, size_t len)
{
	size_t head = 0;
	int fl = fcntl(fd, F_GETFL), e;
	if (len >= DIRECT_MIN && (uintptr_t)data % DIRECT_ALIGN == 0 && fl >= 0 &&
	    fcntl(fd, F_SETFL, fl | O_DIRECT) == 0) {
		head = len - len % DIRECT_ALIGN;
		e = hf_fs_write_all(fd, data, head);
		if (fcntl(fd, F_SETFL, fl) < 0)
			return errno;
		if (e == EINVAL) { /* refused: all of it through the page cache */
			if (lseek(fd, 0, SEEK_SET) < 0)
				return errno;
			head = 0;
		} else if (e) {
			return e;
		}
	}
	return hf_fs_write_all(fd, (const uint8_t *)data + head, len - head);
}

char *hf_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *r = malloc(la + lb + 2);
	if (!r)
		return NULL;
	memcpy(r, a, la);
	if (la && a[la - 1] != '/')
		r[la++] = '/';
	memcpy(r + la, b, lb + 1);
	return r;
}

int hf_fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to open directory '%s'", path);
	if (fsync(fd) < 0 && errno != EINVAL) {
		int e = errno;
		close(fd);
		return hf_error_set_errno(hf_error_from_errno(e), e, "unable to sync directory '%s'", path);
	}
	close(fd);
	return 0;
}

int hf_fs_mkdir_p(const char *path, int mode)
{
	char *tmp = strdup(path);
	int rc = 0;
	if (!tmp)
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST) {
				rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to create directory '%s'", tmp);
				break;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(tmp);
	return rc;
}

int hf_fs_write_atomic(const char *path, const void *data, size_t len, int mode, int exclusive)
{
	char *tmp = NULL, *dir = NULL, *slash;
	int fd = -1, rc = 0, e;
	size_t n = strlen(path) + 32;

	if (!(tmp = malloc(n)) || !(dir = strdup(path))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	{
		/* Unique per process and call: a temp file left by a crashed run never collides. */
		static atomic_ulong counter;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(tmp, n, "%s.tmp.%ld.%lx%lx", path, (long)getpid(), (unsigned long)ts.tv_nsec,
			 (unsigned long)atomic_fetch_add(&counter, 1));
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to create '%s'", tmp);
		goto done;
	}
	if ((e = write_data(fd, data, len)) != 0 || (fsync(fd) < 0 && (e = errno))) {
		rc = hf_error_set_errno(hf_error_from_errno(e), e, "unable to write '%s'", path);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to write '%s'", path);
		goto done;
	}
	fd = -1;
	if (exclusive) {
		if (link(tmp, path) < 0) {
			rc = errno == EEXIST ? hf_error_set(HF_EEXISTS, "'%s' already exists", path)
					     : hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to create '%s'", path);
			goto done;
		}
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to rename into '%s'", path);
		goto done;
	}
	rc = hf_fs_fsync_dir(dir);
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	return rc;
}

int hf_fs_read_file(const char *path, hf_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	struct stat st;
	if (fd < 0)
		return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to open '%s'", path);
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (rc = hf_buf_reserve(out, (size_t)st.st_size)) < 0)
		goto done;
	for (;;) {
		ssize_t n;
		if ((rc = hf_buf_reserve(out, 65536)) < 0)
			goto done;
		n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to read '%s'", path);
			goto done;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
done:
	close(fd);
	return rc;
}
