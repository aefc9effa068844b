/* Tar import (any format and compression libarchive reads) into a sink and pax tar export from a
 * snapshot reader. The only file that includes <archive.h>. */
#define _GNU_SOURCE /* renameat2, asprintf */
#include "source/files/internal.h"
#include "crypto/crypto.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TAR_READ_BLOCK ((size_t)1 << 20)

/* libarchive reports system errors through archive_errno; everything else is a format problem. */
static int archive_code(struct archive *a, int otherwise)
{
	int e = archive_errno(a);
	if (e == ENOSPC || e == EDQUOT || e == ENOMEM || e == ENOENT || e == EACCES || e == EIO || e == EPIPE)
		return e == EACCES || e == EPIPE ? HF_EIO : hf_error_from_errno(e);
	return otherwise;
}

static const char *archive_msg(struct archive *a)
{
	const char *s = archive_error_string(a);
	int e = archive_errno(a);
	if (s && *s && strcmp(s, "Write error") != 0)
		return s;
	return e > 0 ? strerror(e) : "unknown error";
}

/* Names are bytes, nearly always UTF-8. libarchive converts them between the thread's LC_CTYPE
 * and the UTF-8 of pax headers; under the C locale it cannot (and 3.6 even crashes on entries set
 * with the _utf8 setters), so both directions run with a UTF-8 LC_CTYPE. Names that are not
 * UTF-8 are then written with hdrcharset=BINARY. */
static locale_t utf8_locale_push(locale_t *prev)
{
	locale_t base = duplocale(uselocale((locale_t)0)), loc;
	if (!base)
		return (locale_t)0;
	if (!(loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", base))) {
		freelocale(base);
		return (locale_t)0;
	}
	*prev = uselocale(loc);
	return loc;
}

static void utf8_locale_pop(locale_t loc, locale_t prev)
{
	if (!loc)
		return;
	uselocale(prev);
	freelocale(loc);
}

/* --- import ------------------------------------------------------------------------------- */

/* An entry held back with its metadata (strings owned). newc cpio (GNU cpio, rpm, initramfs) puts
 * the data of a multiply-linked file on its LAST link: the first name arrives as an empty file, the
 * others as hardlinks to it, the last with the data. The first name and the links to it wait until
 * the data comes (or the archive ends), so that the data is stored under the name the links point
 * to and the sink still sees each file before its links. */
typedef struct held {
	hf_entry_meta m;
	size_t next; /* index + 1 of the next entry of the group, 0 at its end */
	size_t tail; /* in the group's first entry: index + 1 of its last entry */
	int done;    /* emitted (or freed) */
} held;

typedef struct importer {
	struct archive *a;
	hf_sink *sink;
	hf_files_stats *st;
	hf_files_tree tree;
	const char *label;
	char origin[1100];
	hf_files_map groups; /* first name of a held group -> index + 1 of its first entry, 0 once emitted */
	held *held;
	size_t nheld, capheld;
} importer;

static const uint8_t zeros[64 * 1024];

static int read_failed(importer *im)
{
	return hf_error_set(archive_code(im->a, HF_ECORRUPT), "unable to read tar archive '%s': %s",
	                    im->label, archive_msg(im->a));
}

/* A normalized copy of an archive name, rejecting ".." components. */
static int archive_name(importer *im, const char *raw, const char *what, char **out)
{
	char *n;
	if (!raw)
		return hf_error_set(HF_ECORRUPT, "%s has an entry without a readable %s", im->origin, what);
	if (!(n = strdup(raw)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (hf_files_name_normalize(n) < 0) {
		free(n);
		return hf_error_set(HF_ECORRUPT, "unsafe entry '%s' in %s: '..' is not allowed", raw,
		                    im->origin);
	}
	*out = n;
	return 0;
}

static const char *entry_path(struct archive_entry *ae)
{
	const char *p = archive_entry_pathname(ae);
	return p ? p : archive_entry_pathname_utf8(ae);
}

/* Type of the entry; 0 for entries that are skipped (sockets, unknown). */
static hf_entry_type entry_type(struct archive_entry *ae)
{
	if (archive_entry_hardlink(ae) || archive_entry_hardlink_utf8(ae))
		return HF_ENTRY_HARDLINK;
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		return HF_ENTRY_FILE;
	case AE_IFDIR:
		return HF_ENTRY_DIR;
	case AE_IFLNK:
		return HF_ENTRY_SYMLINK;
	case AE_IFIFO:
		return HF_ENTRY_FIFO;
	case AE_IFCHR:
		return HF_ENTRY_CHR;
	case AE_IFBLK:
		return HF_ENTRY_BLK;
	default:
		return (hf_entry_type)0;
	}
}

/* The hardlink's target, resolved to the first name of the inode (an earlier FILE entry). */
static int hardlink_target(importer *im, const char *name, struct archive_entry *ae, char **out)
{
	const char *raw = archive_entry_hardlink(ae);
	hf_files_map_slot *s;
	char *t = NULL;
	int rc;
	if ((rc = archive_name(im, raw ? raw : archive_entry_hardlink_utf8(ae), "link target", &t)) < 0)
		return rc;
	s = hf_files_map_get(&im->tree.names, t);
	if (s && s->num == HF_ENTRY_HARDLINK && s->val) {
		char *first = strdup(s->val);
		free(t);
		if (!(t = first))
			return hf_error_set(HF_ENOMEM, "out of memory");
		s = hf_files_map_get(&im->tree.names, t);
	}
	if (!s || s->num != HF_ENTRY_FILE) {
		rc = hf_error_set(HF_ECORRUPT,
		                  "hardlink '%s' in %s points to '%s', which is not an earlier file", name,
		                  im->origin, t);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int write_zeros(importer *im, uint64_t n)
{
	int rc;
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		if ((rc = im->sink->entry_write(im->sink, zeros, k)) < 0)
			return rc;
		n -= k;
	}
	return 0;
}

/* The current entry's data into the sink. Blocks come with their offsets: the gaps between them
 * (and after the last one, up to the entry's size) are the holes of a sparse file, written as
 * zeros: a GNU or pax sparse file with no data at all has no block, and would otherwise be stored
 * empty. */
static int copy_data(importer *im, struct archive_entry *ae, const char *name, uint64_t *total)
{
	int64_t size = archive_entry_size_is_set(ae) ? (int64_t)archive_entry_size(ae) : -1;
	int rc;
	for (;;) {
		const void *p;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(im->a, &p, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return read_failed(im);
		if (off < 0 || (uint64_t)off < *total)
			return hf_error_set(HF_ECORRUPT, "'%s' in %s has overlapping data blocks", name,
			                    im->origin);
		if ((uint64_t)off > *total && (rc = write_zeros(im, (uint64_t)off - *total)) < 0)
			return rc;
		*total = (uint64_t)off;
		if (len && (rc = im->sink->entry_write(im->sink, p, len)) < 0)
			return rc;
		*total += len;
	}
	if (size >= 0 && *total < (uint64_t)size && archive_entry_sparse_count(ae) > 0) {
		if ((rc = write_zeros(im, (uint64_t)size - *total)) < 0)
			return rc;
		*total = (uint64_t)size;
	}
	if (size >= 0 && *total != (uint64_t)size) {
		hf_log_warn("'%s' in %s has %llu bytes of data, its header says %lld; kept as read", name,
		            im->origin, (unsigned long long)*total, (long long)size);
		im->st->warnings++;
	}
	return 0;
}

/* begin, data (when ae is given), end. */
static int emit_entry(importer *im, const hf_entry_meta *m, struct archive_entry *ae)
{
	uint64_t total = 0;
	int rc;
	if ((rc = im->sink->entry_begin(im->sink, m)) < 0 ||
	    (ae && (rc = copy_data(im, ae, m->name, &total)) < 0) ||
	    (rc = im->sink->entry_end(im->sink)) < 0)
		return rc;
	im->st->bytes += total;
	return 0;
}

static void held_free(held *h)
{
	free((char *)h->m.name);
	free((char *)h->m.user);
	free((char *)h->m.group);
	free((char *)h->m.link_target);
	h->done = 1;
}

/* Hold m back: as a new group when it is a FILE, else at the end of the group of its target. */
static int hold(importer *im, const hf_entry_meta *m)
{
	held *h, *first;
	int rc;
	held *nv = hf_array_grow(im->held, &im->capheld, im->nheld, sizeof(*nv), 16);
	if (!nv)
		return hf_error_set(HF_ENOMEM, "out of memory");
	im->held = nv;
	h = &im->held[im->nheld];
	memset(h, 0, sizeof(*h));
	h->m = *m;
	h->m.name = strdup(m->name);
	h->m.user = m->user ? strdup(m->user) : NULL;
	h->m.group = m->group ? strdup(m->group) : NULL;
	h->m.link_target = m->link_target ? strdup(m->link_target) : NULL;
	if (!h->m.name || (m->user && !h->m.user) || (m->group && !h->m.group) ||
	    (m->link_target && !h->m.link_target)) {
		held_free(h);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	im->nheld++;
	if (m->type == HF_ENTRY_FILE) {
		h->tail = im->nheld;
		if ((rc = hf_files_map_put(&im->groups, m->name, NULL, (int64_t)im->nheld)) < 0) {
			im->nheld--;
			held_free(h);
		}
		return rc;
	}
	first = &im->held[hf_files_map_get(&im->groups, m->link_target)->num - 1];
	im->held[first->tail - 1].next = im->nheld;
	first->tail = im->nheld;
	return 0;
}

/* Emit a held group: its file (with the current entry's data when ae is given), then its links. */
static int release(importer *im, hf_files_map_slot *g, struct archive_entry *ae)
{
	size_t i = (size_t)g->num;
	int rc = 0;
	g->num = 0;
	for (; i && rc == 0; i = im->held[i - 1].next) {
		held *h = &im->held[i - 1];
		if (h->m.type == HF_ENTRY_FILE && ae)
			h->m.size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
		rc = emit_entry(im, &h->m, h->m.type == HF_ENTRY_FILE ? ae : NULL);
		held_free(h);
	}
	return rc;
}

/* At the end of the archive: groups whose data never came are empty files with their links. */
static int release_all(importer *im)
{
	int rc = 0;
	for (size_t i = 0; i < im->nheld && rc == 0; i++) {
		held *h = &im->held[i];
		hf_files_map_slot *g;
		if (h->done || h->m.type != HF_ENTRY_FILE || !(g = hf_files_map_get(&im->groups, h->m.name)) ||
		    g->num != (int64_t)i + 1)
			continue;
		rc = release(im, g, NULL);
	}
	return rc;
}

static void held_free_all(importer *im)
{
	for (size_t i = 0; i < im->nheld; i++)
		if (!im->held[i].done)
			held_free(&im->held[i]);
	free(im->held);
	hf_files_map_free(&im->groups);
}

static int import_entry(importer *im, struct archive_entry *ae)
{
	hf_entry_meta m;
	hf_files_map_slot *g = NULL;
	char *name = NULL, *target = NULL;
	int rc, skip = 0, has_data;

	if ((rc = archive_name(im, entry_path(ae), "name", &name)) < 0)
		return rc;
	memset(&m, 0, sizeof(m));
	m.name = name;
	if (!*name)
		goto done; /* the archive root, "./" */
	if (!(m.type = entry_type(ae))) {
		hf_log_warn("skipping '%s' in %s: unsupported file type", name, im->origin);
		im->st->warnings++;
		goto done;
	}
	has_data = archive_entry_size_is_set(ae) && archive_entry_size(ae) > 0;
	if (m.type == HF_ENTRY_HARDLINK) {
		if ((rc = hardlink_target(im, name, ae, &target)) < 0)
			goto done;
		g = hf_files_map_get(&im->groups, target);
		if (g && !g->num)
			g = NULL;
		if (has_data && !g) {
			/* Data on a link to a file already stored with its own (a pax hardlink with
			 * data): keep the data rather than trust that both are the same. */
			hf_log_warn("hardlink '%s' in %s carries its own data: stored as a separate file, "
			            "not as a link to '%s'", name, im->origin, target);
			im->st->warnings++;
			m.type = HF_ENTRY_FILE;
			free(target);
			target = NULL;
		}
	}
	if (m.type == HF_ENTRY_SYMLINK) {
		const char *t = archive_entry_symlink(ae);
		if (!(t = t ? t : archive_entry_symlink_utf8(ae)) || !(target = strdup(t))) {
			rc = t ? hf_error_set(HF_ENOMEM, "out of memory")
			       : hf_error_set(HF_ECORRUPT, "symlink '%s' in %s has no target", name,
			                      im->origin);
			goto done;
		}
	}
	m.link_target = target;
	m.mode = (uint32_t)archive_entry_perm(ae) & 07777;
	m.uid = (uint32_t)archive_entry_uid(ae);
	m.gid = (uint32_t)archive_entry_gid(ae);
	m.user = archive_entry_uname(ae);
	m.group = archive_entry_gname(ae);
	if (m.user && !*m.user)
		m.user = NULL;
	if (m.group && !*m.group)
		m.group = NULL;
	if (archive_entry_mtime_is_set(ae))
		m.mtime_ns = (int64_t)archive_entry_mtime(ae) * 1000000000 + archive_entry_mtime_nsec(ae);
	if (m.type == HF_ENTRY_FILE)
		m.size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
	if (m.type == HF_ENTRY_CHR || m.type == HF_ENTRY_BLK)
		m.rdev = (uint64_t)archive_entry_rdev(ae);
	if ((rc = hf_files_tree_add(&im->tree, im->sink, &m, im->origin, im->st, &skip)) < 0 ||
	    skip == 1)
		goto done;
	if (m.type == HF_ENTRY_DIR) {
		if (skip == 0)
			im->st->dirs++;
	} else {
		im->st->files++;
	}
	if (m.type == HF_ENTRY_FILE && !has_data && archive_entry_nlink(ae) > 1) {
		rc = hold(im, &m); /* its data may come with its last link */
	} else if (g && has_data) {
		/* the data of the held group: stored under the name the links point to */
		if ((rc = release(im, g, ae)) == 0)
			rc = emit_entry(im, &m, NULL);
	} else if (g) {
		rc = hold(im, &m);
	} else {
		rc = emit_entry(im, &m, m.type == HF_ENTRY_FILE ? ae : NULL);
	}
done:
	free(name);
	free(target);
	return rc;
}

/* Formats libarchive detects, except mtree: an mtree "archive" names files on this machine and
 * reading it would pull their content into the backup. */
static void support_formats(struct archive *a)
{
	archive_read_support_format_7zip(a);
	archive_read_support_format_ar(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_empty(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_lha(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_warc(a);
	archive_read_support_format_xar(a);
	archive_read_support_format_zip(a);
}

int hf_tar_import(const char *path_or_dash, hf_sink *sink, hf_files_stats *stats)
{
	importer im;
	hf_files_stats local = {0};
	struct archive_entry *ae;
	locale_t loc, prev = (locale_t)0;
	int rc = 0, is_stdin = path_or_dash && !strcmp(path_or_dash, "-");

	if (!path_or_dash || !*path_or_dash)
		return hf_error_set(HF_EUSAGE, "no tar archive to import");
	loc = utf8_locale_push(&prev);
	memset(&im, 0, sizeof(im));
	im.sink = sink;
	im.st = stats ? stats : &local;
	im.label = is_stdin ? "standard input" : path_or_dash;
	snprintf(im.origin, sizeof(im.origin), "tar archive '%s'", im.label);
	if (!(im.a = archive_read_new())) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	archive_read_support_filter_all(im.a);
	support_formats(im.a);
	if ((is_stdin ? archive_read_open_fd(im.a, STDIN_FILENO, TAR_READ_BLOCK)
	              : archive_read_open_filename(im.a, path_or_dash, TAR_READ_BLOCK)) != ARCHIVE_OK) {
		rc = hf_error_set(archive_code(im.a, HF_ECORRUPT), "unable to open tar archive '%s': %s",
		                  im.label, archive_msg(im.a));
		goto done;
	}
	for (;;) {
		int r = archive_read_next_header(im.a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_WARN) {
			hf_log_warn("%s: %s", im.origin, archive_msg(im.a));
			im.st->warnings++;
		} else if (r != ARCHIVE_OK) {
			rc = read_failed(&im);
			goto done;
		}
		if ((rc = import_entry(&im, ae)) < 0)
			goto done;
	}
	rc = release_all(&im);
done:
	if (im.a)
		archive_read_free(im.a);
	hf_files_tree_free(&im.tree);
	held_free_all(&im);
	utf8_locale_pop(loc, prev);
	return rc;
}

/* --- export ------------------------------------------------------------------------------- */

typedef struct exporter {
	struct archive *a;
	hf_snapshot_reader *r;
	const char *label;
	hf_files_stats *st;
	/* current file */
	const char *name;
	uint64_t size, written;
	int err;
	const volatile sig_atomic_t *cancel; /* the caller's stop flag (NULL: never) */
} exporter;

/* A stop asked for by the caller (a signal handler): an error like any other, so the temporary
 * output is removed and nothing is published. */
static int cancelled(exporter *ex)
{
	if (!ex->cancel || !*ex->cancel)
		return 0;
	hf_error_set(HF_EINTERRUPTED, "tar export to %s interrupted", ex->label);
	return HF_EINTERRUPTED;
}

static int write_failed(exporter *ex)
{
	return hf_error_set(archive_code(ex->a, HF_EIO), "unable to write tar to '%s': %s", ex->label,
	                    archive_msg(ex->a));
}

static void fill_entry(struct archive_entry *ae, const hf_files_entry *e)
{
	const hf_entry_meta *m = &e->m;
	static const unsigned types[] = {0,        AE_IFREG, AE_IFDIR, AE_IFLNK,
	                                 AE_IFREG, AE_IFIFO, AE_IFCHR, AE_IFBLK};
	int64_t sec = m->mtime_ns / 1000000000, nsec = m->mtime_ns % 1000000000;
	if (nsec < 0) {
		sec--;
		nsec += 1000000000;
	}
	archive_entry_clear(ae);
	archive_entry_copy_pathname(ae, m->name);
	archive_entry_set_filetype(ae, types[m->type]);
	archive_entry_set_perm(ae, (mode_t)(m->mode & 07777));
	archive_entry_set_uid(ae, m->uid);
	archive_entry_set_gid(ae, m->gid);
	archive_entry_copy_uname(ae, m->user);
	archive_entry_copy_gname(ae, m->group);
	archive_entry_set_mtime(ae, (time_t)sec, (long)nsec);
	archive_entry_set_size(ae, m->type == HF_ENTRY_FILE ? (la_int64_t)m->size : 0);
	if (m->type == HF_ENTRY_SYMLINK)
		archive_entry_copy_symlink(ae, m->link_target);
	if (m->type == HF_ENTRY_HARDLINK)
		archive_entry_copy_hardlink(ae, m->link_target);
	if (m->type == HF_ENTRY_CHR || m->type == HF_ENTRY_BLK)
		archive_entry_set_rdev(ae, (dev_t)m->rdev);
}

static int export_data(const void *data, size_t len, void *payload)
{
	exporter *ex = payload;
	int rc;
	if ((rc = cancelled(ex)) < 0)
		return ex->err = rc;
	if (len > ex->size - ex->written)
		return ex->err =
		           hf_error_set(HF_ECORRUPT, "content of '%s' is longer than its recorded size %llu",
		                        ex->name, (unsigned long long)ex->size);
	if (len && archive_write_data(ex->a, data, len) != (la_ssize_t)len)
		return ex->err = write_failed(ex);
	ex->written += len;
	return 0;
}

static int export_entry(exporter *ex, struct archive_entry *ae, const hf_files_entry *e)
{
	int r, rc;
	fill_entry(ae, e);
	r = archive_write_header(ex->a, ae);
	if (r == ARCHIVE_WARN) {
		hf_log_warn("tar '%s', entry '%s': %s", ex->label, e->m.name, archive_msg(ex->a));
		ex->st->warnings++;
	} else if (r != ARCHIVE_OK) {
		return write_failed(ex);
	}
	if (e->m.type == HF_ENTRY_DIR)
		ex->st->dirs++;
	else
		ex->st->files++;
	if (e->m.type != HF_ENTRY_FILE)
		return 0;
	ex->name = e->m.name;
	ex->size = e->m.size;
	ex->written = 0;
	ex->err = 0;
	rc = ex->r->read(ex->r, e->data_name, export_data, ex);
	if (ex->err < 0)
		return ex->err;
	if (rc < 0)
		return rc;
	if (ex->written != ex->size)
		return hf_error_set(HF_ECORRUPT, "content of '%s' is %llu bytes, its recorded size is %llu",
		                    e->m.name, (unsigned long long)ex->written, (unsigned long long)ex->size);
	ex->st->bytes += ex->written;
	return 0;
}

/* Opens the output. A regular file is written under a hidden temporary name next to it (*tmp, to be
 * published by publish_output or removed): the old archive that --overwrite replaces survives a
 * failed export, and a killed one leaves no half-written archive under the name asked for. */
static int open_output(const char *path, int overwrite, int *fd_out, char **tmp)
{
	struct stat st;
	const char *slash = strrchr(path, '/');
	int fd, n;
	*tmp = NULL;
	if (!strcmp(path, "-")) {
		*fd_out = STDOUT_FILENO;
		return 0;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or pipe: write into it, never replace or remove it. */
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to open '%s'",
			                          path);
		*fd_out = fd;
		return 0;
	}
	if (!overwrite && lstat(path, &st) == 0) { /* fail before the work; publishing checks again */
		hf_error_set(HF_EEXISTS, "'%s' already exists", path);
		hf_error_set_hint("choose another file or allow overwriting it");
		return HF_EEXISTS;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		uint32_t r;
		hf_random(&r, sizeof(r));
		n = slash ? (int)(slash - path + 1) : 0;
		(void)attempt;
		if (asprintf(tmp, "%.*s.%s.holdfast-tmp-%08x", n, path, slash ? slash + 1 : path, (unsigned)r) < 0) {
			*tmp = NULL;
			return hf_error_set(HF_ENOMEM, "out of memory");
		}
		if ((fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0) {
			*fd_out = fd;
			return 0;
		}
		n = errno;
		free(*tmp);
		*tmp = NULL;
		if (n != EEXIST)
			return hf_error_set_errno(hf_error_from_errno(n), n, "unable to create '%s'", path);
	}
	return hf_error_set(HF_EEXISTS, "unable to create a temporary file next to '%s'", path);
}

/* Give the finished (fsynced) temporary file its name; without overwrite, never replace anything. */
static int publish_output(const char *tmp, const char *path, int overwrite)
{
	int rc = overwrite ? rename(tmp, path) : renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (rc < 0 && !overwrite && errno == EINVAL) /* no RENAME_NOREPLACE here: link is exclusive too */
		rc = link(tmp, path) == 0 ? unlink(tmp) : -1;
	if (rc < 0) {
		if (errno == EEXIST) {
			hf_error_set(HF_EEXISTS, "'%s' already exists", path);
			hf_error_set_hint("choose another file or allow overwriting it");
			return HF_EEXISTS;
		}
		return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to write tar to '%s'", path);
	}
	{
		const char *slash = strrchr(path, '/');
		char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
		rc = dir ? hf_fs_fsync_dir(dir) : hf_error_set(HF_ENOMEM, "out of memory");
		free(dir);
	}
	return rc;
}

static int export_all(exporter *ex, const hf_files_list *l, int fd)
{
	struct archive_entry *ae = NULL;
	int rc = 0;
	if (!(ex->a = archive_write_new()) || !(ae = archive_entry_new())) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	/* pax, not restricted pax: the latter drops sub-second mtimes unless an entry needs an extended
	 * header for another reason. Entries with whole-second mtimes still get plain ustar headers. */
	if (archive_write_set_format_pax(ex->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(ex->a, 64 * 1024) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(ex->a, 10240) != ARCHIVE_OK ||
	    archive_write_open_fd(ex->a, fd) != ARCHIVE_OK) {
		rc = write_failed(ex);
		goto done;
	}
	for (size_t i = 0; i < l->len && rc == 0; i++)
		if ((rc = cancelled(ex)) == 0)
			rc = export_entry(ex, ae, &l->v[i]);
	if (rc == 0 && archive_write_close(ex->a) != ARCHIVE_OK)
		rc = write_failed(ex);
done:
	archive_entry_free(ae);
	if (ex->a)
		archive_write_free(ex->a);
	ex->a = NULL;
	return rc;
}

int hf_tar_export(hf_snapshot_reader *r, const char *path_or_dash, const hf_files_restore_opts *o,
                  hf_files_stats *stats)
{
	hf_files_list l = HF_FILES_LIST_INIT;
	hf_files_stats local = {0};
	exporter ex;
	sigset_t pipe_set, old_set, pending;
	locale_t loc, prev = (locale_t)0;
	int rc, fd = -1, was_pending;
	char *tmp = NULL;

	if (!path_or_dash || !*path_or_dash)
		return hf_error_set(HF_EUSAGE, "no tar file to export to");
	memset(&ex, 0, sizeof(ex));
	ex.r = r;
	ex.st = stats ? stats : &local;
	ex.label = strcmp(path_or_dash, "-") ? path_or_dash : "standard output";
	ex.cancel = o ? o->cancel : NULL;
	if ((rc = hf_files_list_load(&l, r, o ? o->include : NULL, o ? o->ninclude : 0)) < 0)
		return rc;
	if ((rc = open_output(path_or_dash, o && o->overwrite, &fd, &tmp)) < 0)
		goto done;
	/* A closed pipe must become an EPIPE error, not a SIGPIPE that kills the process. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	loc = utf8_locale_push(&prev);
	rc = export_all(&ex, &l, fd);
	utf8_locale_pop(loc, prev);
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0, 0};
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (rc == 0 && tmp && fsync(fd) < 0)
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to write tar to '%s'",
		                        ex.label);
	if (fd != STDOUT_FILENO && close(fd) < 0 && rc == 0)
		rc = hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to write tar to '%s'",
		                        ex.label);
	if (rc == 0 && tmp)
		rc = publish_output(tmp, path_or_dash, o && o->overwrite);
	if (rc < 0 && tmp)
		unlink(tmp);
done:
	free(tmp);
	hf_files_list_free(&l);
	return rc;
}
