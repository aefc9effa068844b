/* The snapshot builder. The calling thread only reads and cuts chunks; worker threads hash, deduplicate,
 * compress, seal and pack them; storer threads write full packs. Chunk ids land in a stable arena and
 * are attached to their files when the snapshot is committed. In-flight data is bounded; the first
 * error stops the backup. Unchanged files (same size, mtime, ctime, inode) reuse the parent's chunks. */
#include "ops/builder.h"
#include "ops/locks.h"
#include "compress/compress.h"
#include "repo/pack.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT (24u * 1024 * 1024)
#define INDEX_FLUSH_PACKS 8
#define ARENA_BLOCK 65536 /* ids per arena block */
#define MAX_QUEUED_PACKS 1 /* a pack waiting for a storer: with O_DIRECT writes, a second one only took memory */
#define MAX_SHARED 3            /* blocks that jobs may point into at once (bounds the memory held) */
#define SPARE_BLOCKS 1
/* Pack buffers are page aligned, so that the file backend writes them with O_DIRECT, and reused:
 * faulting in a fresh 20 MiB buffer for every pack cost 1.5 % of an initial backup's CPU time. */
#define PACK_ALIGN 4096
#define SPARE_PACK_BUFS 1
#define RACY_NS (2 * 1000000000LL) /* the coarsest timestamp tick we allow for (FAT: 2 s) */

/* The chunking window. The source reads straight into it (entry_space), and chunks are not copied out
 * of it: their jobs hold a reference to the block, which is recycled when the last one is done. Only
 * the pending bytes of an unfinished chunk move, when the block is full. Copying every chunk, and
 * faulting in fresh memory for the copies, was 10 % of the reading thread's time; copying reads into
 * the window and moving its unscanned tail cost another 7 % of the wall time of a second backup. */
typedef struct wblock {
	struct wblock *next_spare;
	int refs; /* the window itself + jobs pointing into data (under hf_builder.mu) */
	int jobs; /* jobs pointing into data (under hf_builder.mu) */
	uint8_t data[];
} wblock;

typedef struct job {
	struct job *next;
	hf_index_entry e;
	uint8_t *data;
	size_t len;
	wblock *blk;      /* data points into this block (not owned), or NULL when data is owned */
	uint8_t *id_slot; /* data chunks: where the worker writes the id; NULL when e.id is already set */
} job;

typedef struct pack_job {
	struct pack_job *next;
	hf_pack_builder pack;
} pack_job;

struct hf_builder {
	hf_sink sink; /* first member: the sink handed to sources */
	hf_repo *r;
	hf_tenant *t;
	hf_index *ix;
	hf_chunker chunker;
	hf_node *root, *cur;
	hf_node *parent;  /* previous snapshot's tree, for unchanged files (may be NULL) */
	wblock *win;      /* the window: data[woff..wlen) read but not yet cut, capacity wcap */
	size_t woff, wlen, wcap;
	hf_chunk_scan scan; /* progress of the search for the end of the chunk at woff */
	wblock *spare;    /* recycled blocks (under mu) */
	int nspare, nshared; /* spare blocks; blocks with jobs pointing into them (under mu) */
	uint64_t file_bytes;
	uint8_t (**arena)[HF_ID_BYTES]; /* blocks of ARENA_BLOCK ids, stable addresses */
	size_t arena_blocks, arena_used;

	/* queue */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_space, cv_idle;
	job *head, *tail;
	size_t inflight;
	int busy, closing;
	int err;
	char errmsg[1024];
	char errhint[512];
	pthread_t *workers;
	int nworkers;

	/* packing and storing */
	pthread_mutex_t pack_mu, flush_mu;
	hf_pack_builder pack;
	pthread_cond_t cv_packs, cv_pack_space;
	pack_job *phead, *ptail;
	int npacks_queued, pbusy, pclosing;
	hf_buf spare_packs[SPARE_PACK_BUFS]; /* emptied pack buffers (under mu) */
	int nspare_packs;
	pthread_t *storers;
	int nstorers;

	int64_t started_ns; /* wall clock when the backup began: see RACY_NS */

	/* result */
	int64_t recovery_ns;
	char *lsn, *source_info;
	uint64_t files, dirs, bytes, chunks, new_chunks, new_bytes, stored;
	hf_progress_cb progress;
	void *progress_payload;
	double last_progress;
	size_t first_new_pack; /* packs numbered from here on were written by this backup */
	hf_storage_put_opts po; /* one retention for every pack of this backup */
};

static void set_error(hf_builder *b, int rc)
{
	pthread_mutex_lock(&b->mu);
	if (!b->err) {
		b->err = rc;
		snprintf(b->errmsg, sizeof(b->errmsg), "%s", hf_error_message());
		snprintf(b->errhint, sizeof(b->errhint), "%s", hf_error_hint() ? hf_error_hint() : "");
	}
	pthread_cond_broadcast(&b->cv_space);
	pthread_cond_broadcast(&b->cv_idle);
	pthread_cond_broadcast(&b->cv_pack_space);
	pthread_mutex_unlock(&b->mu);
}

/* Re-raise a worker's error on the calling thread. */
static int raise_error(hf_builder *b)
{
	int rc = hf_error_set(b->err, "%s", b->errmsg);
	if (b->errhint[0])
		hf_error_set_hint("%s", b->errhint);
	return rc;
}

/* Store a finished pack and register its blobs; flush the index every few packs. */
static int store_pack(hf_builder *b, hf_pack_builder *p)
{
	uint8_t id[HF_ID_BYTES];
	char hex[HF_ID_HEX + 1], key[160];
	int rc;
	if (p->n == 0)
		return 0;
	if ((rc = hf_pack_finish(p, b->t->keys->enc, id)) < 0)
		return rc;
	hf_hex_encode(hex, id, HF_ID_BYTES);
	hf_key_pack(key, sizeof(key), b->t->tid, hex);
	if ((rc = hf_storage_put(b->r->storage, key, p->buf.data, p->buf.len, &b->po)) < 0)
		return rc;
	if ((rc = hf_index_add_pack(b->ix, id, p->ents, p->n)) < 0)
		return rc;
	pthread_mutex_lock(&b->mu);
	b->stored += p->buf.len;
	pthread_mutex_unlock(&b->mu);
	if (hf_index_unflushed(b->ix) >= INDEX_FLUSH_PACKS) {
		uint64_t st = 0;
		pthread_mutex_lock(&b->flush_mu);
		rc = hf_index_flush(b->ix, b->r, b->t, &st);
		pthread_mutex_unlock(&b->flush_mu);
		pthread_mutex_lock(&b->mu);
		b->stored += st;
		pthread_mutex_unlock(&b->mu);
	}
	return rc;
}

/* An empty pack buffer of at least size bytes: a reused one, or a new page-aligned one. */
static int pack_buffer(hf_builder *b, hf_buf *out, size_t size)
{
	size = (size + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN;
	pthread_mutex_lock(&b->mu);
	if (b->nspare_packs)
		*out = b->spare_packs[--b->nspare_packs];
	pthread_mutex_unlock(&b->mu);
	if (out->data && out->cap >= size) {
		out->len = 0;
		return 0;
	}
	hf_buf_free(out);
	if (!(out->data = aligned_alloc(PACK_ALIGN, size)))
		return hf_error_set(HF_ENOMEM, "out of memory allocating a pack buffer of %zu bytes", size);
	out->cap = size;
	out->len = 0;
	return 0;
}

/* A stored pack's buffer, kept for the next pack (or freed). */
static void pack_buffer_put(hf_builder *b, hf_buf *buf)
{
	pthread_mutex_lock(&b->mu);
	if (b->nspare_packs < SPARE_PACK_BUFS && buf->data && (uintptr_t)buf->data % PACK_ALIGN == 0) {
		b->spare_packs[b->nspare_packs++] = *buf;
		memset(buf, 0, sizeof(*buf));
	}
	pthread_mutex_unlock(&b->mu);
	hf_buf_free(buf);
}

/* Queue a full pack for the storer threads (blocks while too many are queued). */
static int queue_pack(hf_builder *b, hf_pack_builder *full)
{
	pack_job *pj = calloc(1, sizeof(*pj));
	if (!pj) {
		hf_pack_builder_free(full);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	pj->pack = *full;
	pthread_mutex_lock(&b->mu);
	while (b->npacks_queued >= MAX_QUEUED_PACKS && !b->err)
		pthread_cond_wait(&b->cv_pack_space, &b->mu);
	if (b->ptail)
		b->ptail->next = pj;
	else
		b->phead = pj;
	b->ptail = pj;
	b->npacks_queued++;
	pthread_cond_signal(&b->cv_packs);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static void *storer_main(void *arg)
{
	hf_builder *b = arg;
	for (;;) {
		pack_job *pj;
		int rc;
		pthread_mutex_lock(&b->mu);
		while (!b->phead && !b->pclosing)
			pthread_cond_wait(&b->cv_packs, &b->mu);
		if (!b->phead) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		pj = b->phead;
		b->phead = pj->next;
		if (!b->phead)
			b->ptail = NULL;
		b->npacks_queued--;
		b->pbusy++;
		pthread_cond_broadcast(&b->cv_pack_space);
		pthread_mutex_unlock(&b->mu);

		if (!b->err && (rc = store_pack(b, &pj->pack)) < 0)
			set_error(b, rc);
		pack_buffer_put(b, &pj->pack.buf);
		hf_pack_builder_free(&pj->pack);
		free(pj);

		pthread_mutex_lock(&b->mu);
		b->pbusy--;
		pthread_cond_broadcast(&b->cv_idle);
		pthread_mutex_unlock(&b->mu);
	}
	return NULL;
}

/* Hash, deduplicate, compress (when it pays), seal and append one blob to the shared pack. */
static int process_job(hf_builder *b, job *j, hf_zctx *z, hf_buf *zbuf, hf_buf *sealed)
{
	const uint8_t *data = j->data;
	size_t len = j->len, zl = 0;
	hf_pack_builder full;
	uint8_t *where;
	int rc = 0, have_full = 0;

	if (j->id_slot) {
		hf_mac(j->e.id, j->data, j->len, b->t->keys->mac);
		memcpy(j->id_slot, j->e.id, HF_ID_BYTES);
		if (hf_index_reserve(b->ix, j->e.id, j->e.type, (uint32_t)len) == 0)
			return 0; /* the tenant already has it */
		pthread_mutex_lock(&b->mu);
		b->new_chunks++;
		b->new_bytes += len;
		pthread_mutex_unlock(&b->mu);
	}
	j->e.comp = HF_COMP_NONE;
	/* Every chunk is compressed: sampling large chunks first to skip incompressible ones was measured
	 * slower and 1 % bigger (2 GiB bench tree, 4 alternating runs each: 9.4-10.7 s vs 8.0-9.1 s);
	 * zstd passes over random data quickly, and the sample missed compressible parts of mixed chunks. */
	if (b->r->compression > 0 && len > 64) {
		zbuf->len = 0;
		if ((rc = hf_buf_reserve(zbuf, hf_zstd_bound(len))) < 0)
			return rc;
		if (hf_zstd_compress(z, zbuf->data, zbuf->cap, &zl, data, len) == 0 && zl < len - len / 32) {
			data = zbuf->data;
			len = zl;
			j->e.comp = HF_COMP_ZSTD;
		}
	}
	sealed->len = 0;
	if ((rc = hf_buf_reserve(sealed, len + HF_AEAD_OVERHEAD)) < 0)
		return rc;
	hf_blob_seal(sealed->data, b->t->tid_raw, &j->e, data, len, b->t->keys->enc);

	memset(&full, 0, sizeof(full));
	pthread_mutex_lock(&b->pack_mu);
	if (b->pack.buf.len == 0) {
		/* room for the blob that fills the pack (at most a chunk) and the pack's directory */
		size_t size = b->r->config.pack_size + 5u * 1024 * 1024;
		if ((rc = pack_buffer(b, &b->pack.buf, size)) == 0)
			rc = hf_pack_begin(&b->pack, b->t->tid_raw, size);
	}
	if (rc == 0 && (rc = hf_pack_add(&b->pack, &j->e, len + HF_AEAD_OVERHEAD, &where)) == 0) {
		memcpy(where, sealed->data, len + HF_AEAD_OVERHEAD);
		if (b->pack.buf.len >= b->r->config.pack_size) {
			full = b->pack; /* hand the full pack to the storers; start a fresh one */
			memset(&b->pack, 0, sizeof(b->pack));
			have_full = 1;
		}
	}
	pthread_mutex_unlock(&b->pack_mu);
	if (have_full)
		rc = queue_pack(b, &full);
	return rc;
}

/* Drop a reference to a window block (under mu): spare it, or free it when enough are spare. */
static void block_unref(hf_builder *b, wblock *w)
{
	if (--w->refs > 0)
		return;
	if (b->nspare < SPARE_BLOCKS) {
		w->next_spare = b->spare;
		b->spare = w;
		b->nspare++;
	} else {
		free(w);
	}
}

/* A job's data is done with (under mu). */
static void release_data(hf_builder *b, job *j)
{
	if (j->blk) {
		if (--j->blk->jobs == 0)
			b->nshared--;
		block_unref(b, j->blk);
	} else
		free(j->data);
	j->data = NULL;
	j->blk = NULL;
}

static void *worker_main(void *arg)
{
	hf_builder *b = arg;
	hf_zctx *z = NULL;
	hf_buf zbuf = HF_BUF_INIT, sealed = HF_BUF_INIT;
	int rc = hf_zctx_new(&z, b->r->compression > 0 ? b->r->compression : 1);
	if (rc < 0)
		set_error(b, rc);
	for (;;) {
		job *j;
		pthread_mutex_lock(&b->mu);
		while (!b->head && !b->closing)
			pthread_cond_wait(&b->cv_work, &b->mu);
		if (!b->head) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		j = b->head;
		b->head = j->next;
		if (!b->head)
			b->tail = NULL;
		b->busy++;
		pthread_mutex_unlock(&b->mu);

		if (!b->err && z && (rc = process_job(b, j, z, &zbuf, &sealed)) < 0)
			set_error(b, rc);

		pthread_mutex_lock(&b->mu);
		b->inflight -= j->len;
		b->busy--;
		release_data(b, j);
		pthread_cond_broadcast(&b->cv_space);
		if (!b->head && !b->busy)
			pthread_cond_broadcast(&b->cv_idle);
		pthread_mutex_unlock(&b->mu);
		free(j);
	}
	hf_zctx_free(z);
	hf_buf_free(&zbuf);
	hf_buf_free(&sealed);
	return NULL;
}

/* Queue a new blob; blocks while too much data is in flight. Takes ownership of data, or of one
 * reference to blk when data points into it. */
static int submit(hf_builder *b, const uint8_t *id, uint8_t *id_slot, uint8_t type, uint8_t *data, size_t len,
		  wblock *blk)
{
	job *j = calloc(1, sizeof(*j));
	if (!j) {
		pthread_mutex_lock(&b->mu);
		release_data(b, &(job){.data = data, .blk = blk});
		pthread_mutex_unlock(&b->mu);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	if (id)
		memcpy(j->e.id, id, HF_ID_BYTES);
	j->id_slot = id_slot;
	j->e.type = type;
	j->e.raw = (uint32_t)len;
	j->data = data;
	j->blk = blk;
	j->len = len;
	pthread_mutex_lock(&b->mu);
	while (b->inflight > 0 && b->inflight + len > MAX_INFLIGHT && !b->err)
		pthread_cond_wait(&b->cv_space, &b->mu);
	if (b->err) {
		release_data(b, j);
		pthread_mutex_unlock(&b->mu);
		free(j);
		return raise_error(b);
	}
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	b->inflight += len;
	pthread_cond_signal(&b->cv_work);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

/* Store one blob whose id is needed now (trees) unless the tenant already has it. */
static int put_blob(hf_builder *b, uint8_t type, const uint8_t *data, size_t len, uint8_t id_out[HF_ID_BYTES])
{
	uint8_t *copy;
	hf_mac(id_out, data, len, b->t->keys->mac);
	if (hf_index_reserve(b->ix, id_out, type, (uint32_t)len) == 0)
		return 0; /* metadata is not counted in chunks/new_bytes (file data); it is in `stored` */
	if (!(copy = malloc(len ? len : 1)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	memcpy(copy, data, len);
	return submit(b, id_out, NULL, type, copy, len, NULL);
}

/* A stable slot for the next data chunk's id. */
static uint8_t *arena_next(hf_builder *b)
{
	size_t blk = b->arena_used / ARENA_BLOCK;
	if (blk == b->arena_blocks) {
		void *v = realloc(b->arena, (b->arena_blocks + 1) * sizeof(*b->arena));
		if (!v)
			return NULL;
		b->arena = v;
		if (!(b->arena[blk] = malloc(ARENA_BLOCK * HF_ID_BYTES)))
			return NULL;
		b->arena_blocks++;
	}
	return b->arena[blk][b->arena_used++ % ARENA_BLOCK];
}

/* Queue one data chunk of the window; its id is computed by a worker. */
static int put_chunk(hf_builder *b, uint8_t *data, size_t len)
{
	uint8_t *slot = arena_next(b), *copy = data;
	wblock *blk = NULL;
	if (!slot)
		return hf_error_set(HF_ENOMEM, "out of memory");
	/* handed over inside the window block, unless too many blocks are held by jobs already */
	pthread_mutex_lock(&b->mu);
	if (b->win->jobs || b->nshared < MAX_SHARED) {
		blk = b->win;
		if (!blk->jobs++)
			b->nshared++;
		blk->refs++;
	}
	pthread_mutex_unlock(&b->mu);
	if (!blk) {
		if (!(copy = malloc(len ? len : 1)))
			return hf_error_set(HF_ENOMEM, "out of memory");
		memcpy(copy, data, len);
	}
	b->chunks++;
	b->cur->ncontent++;
	return submit(b, NULL, slot, HF_BLOB_DATA, copy, len, blk);
}

/* A window block nobody else references, from the spares or new. */
static wblock *block_get(hf_builder *b)
{
	wblock *w;
	pthread_mutex_lock(&b->mu);
	if ((w = b->spare)) {
		b->spare = w->next_spare;
		b->nspare--;
	}
	pthread_mutex_unlock(&b->mu);
	if (!w && !(w = malloc(sizeof(*w) + b->wcap)))
		return NULL;
	w->next_spare = NULL;
	w->refs = 1;
	w->jobs = 0;
	return w;
}

/* Start the window over with the pending bytes [woff, wlen) at its front: in place, or in another block
 * when jobs still read the current one (they only read bytes before woff, so appending after wlen
 * never needs this). */
static int window_compact(hf_builder *b)
{
	size_t pending = b->wlen - b->woff;
	wblock *w;
	int shared;
	pthread_mutex_lock(&b->mu);
	shared = b->win && b->win->jobs > 0;
	pthread_mutex_unlock(&b->mu);
	if (b->win && !shared) {
		if (b->woff)
			memmove(b->win->data, b->win->data + b->woff, pending);
	} else {
		if (!(w = block_get(b)))
			return hf_error_set(HF_ENOMEM, "out of memory");
		if (b->win) {
			memcpy(w->data, b->win->data + b->woff, pending);
			pthread_mutex_lock(&b->mu);
			block_unref(b, b->win);
			pthread_mutex_unlock(&b->mu);
		}
		b->win = w;
	}
	b->woff = 0;
	b->wlen = b->win ? pending : 0;
	return 0;
}

static void report_progress(hf_builder *b, int force)
{
	double now;
	if (!b->progress)
		return;
	now = hf_clock_mono();
	if (!force && now - b->last_progress < 0.25)
		return;
	b->last_progress = now;
	b->progress("backup", b->bytes, 0, b->files, b->progress_payload);
}

/* Cut as many chunks as the pending bytes allow. The scan resumes where it stopped, so a byte is
 * looked at once however the input is split; at most max_size - 1 bytes stay pending unless eof. */
static int drain_window(hf_builder *b, int eof)
{
	int rc = 0;
	while (b->woff < b->wlen) {
		size_t n = hf_chunker_resume(&b->chunker, &b->scan, b->win->data + b->woff, b->wlen - b->woff, eof);
		if (n == 0)
			break;
		if ((rc = put_chunk(b, b->win->data + b->woff, n)) < 0)
			break;
		b->woff += n;
	}
	report_progress(b, 0);
	return rc;
}

/* Where the current file's next bytes go: the free end of the window (source.h, entry_space). */
static int sink_space(hf_sink *s, uint8_t **p, size_t *cap)
{
	hf_builder *b = (hf_builder *)s;
	int rc;
	if (!b->cur)
		return hf_error_set(HF_ERROR, "source error: data written outside a file entry");
	if ((!b->win || b->wlen == b->wcap) && (rc = window_compact(b)) < 0)
		return rc;
	*p = b->win->data + b->wlen;
	*cap = b->wcap - b->wlen;
	return 0;
}

static int sink_commit(hf_sink *s, size_t len)
{
	hf_builder *b = (hf_builder *)s;
	if (!b->cur || !b->win || len > b->wcap - b->wlen)
		return hf_error_set(HF_ERROR, "source error: committed more than the space offered");
	b->wlen += len;
	b->file_bytes += len;
	b->bytes += len;
	return drain_window(b, 0);
}

/* Find or create the node for an entry path (parents created as directories). */
static int node_at(hf_builder *b, const hf_entry_meta *m, hf_node **out)
{
	hf_node *dir = b->root, *n = NULL;
	char *path = strdup(m->name), *save = NULL, *part, *next;
	int rc = 0;
	if (!path)
		return hf_error_set(HF_ENOMEM, "out of memory");
	part = strtok_r(path, "/", &save);
	while (part) {
		next = strtok_r(NULL, "/", &save);
		if (!strcmp(part, ".") || !strcmp(part, "..")) {
			rc = hf_error_set(HF_ECORRUPT, "invalid entry name '%s'", m->name);
			goto done;
		}
		if ((rc = hf_node_child(dir, part, next ? HF_ENTRY_DIR : m->type, &n)) < 0)
			goto done;
		if (next && n->type != HF_ENTRY_DIR) {
			rc = hf_error_set(HF_ECORRUPT, "entry '%s' is below a non-directory", m->name);
			goto done;
		}
		dir = n;
		part = next;
	}
	if (!n)
		rc = hf_error_set(HF_ECORRUPT, "empty entry name");
	else if (n->type != m->type)
		rc = hf_error_set(HF_ECORRUPT, "entry '%s' appears twice with different types", m->name);
	else
		*out = n;
done:
	free(path);
	return rc;
}

static void set_meta(hf_node *n, const hf_entry_meta *m)
{
	n->mode = m->mode & 07777;
	n->uid = m->uid;
	n->gid = m->gid;
	free(n->user);
	free(n->group);
	free(n->target);
	n->user = m->user ? strdup(m->user) : NULL;
	n->group = m->group ? strdup(m->group) : NULL;
	n->target = m->link_target ? strdup(m->link_target) : NULL;
	n->mtime_ns = m->mtime_ns;
	n->rdev = m->rdev;
	n->ctime_ns = m->ctime_ns;
	n->inode = m->inode;
	n->dev = m->dev;
}

static int sink_begin(hf_sink *s, const hf_entry_meta *m)
{
	hf_builder *b = (hf_builder *)s;
	hf_node *n = NULL;
	int rc;
	if (b->cur)
		return hf_error_set(HF_ERROR, "source error: entry '%s' begun inside another entry", m->name);
	if ((rc = node_at(b, m, &n)) < 0)
		return rc;
	set_meta(n, m);
	/* A file changed in the same clock tick as our read could change again without its times moving
	 * (1-2 s ticks on FAT, NFS, ext4 with small inodes; a few ms on older kernels), and the next
	 * backup would reuse the stale content. As git does with "racily clean" entries: record an
	 * unknown ctime (0) for any file changed less than RACY_NS before the backup began (or during it),
	 * so that the next backup reads it again instead of trusting the times. */
	if (m->type == HF_ENTRY_FILE && n->ctime_ns > b->started_ns - RACY_NS)
		n->ctime_ns = 0;
	if (m->type == HF_ENTRY_FILE) {
		n->ncontent = 0;
		n->has_hash = 0;
		n->build_ref = b->arena_used;
		b->cur = n;
		/* the file's first chunk starts here (a failed file may have left bytes pending: dropped) */
		b->woff = b->wlen;
		memset(&b->scan, 0, sizeof(b->scan));
		b->file_bytes = 0;
		b->files++;
	} else if (m->type != HF_ENTRY_DIR) {
		/* (directories are counted when the trees are written: an archive may name one after its
		 * contents, beginning it a second time to set its metadata) */
		b->files++;
	}
	return 0;
}

static int sink_write(hf_sink *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		uint8_t *dst = NULL;
		size_t cap = 0;
		int rc = sink_space(s, &dst, &cap);
		if (rc < 0)
			return rc;
		if (cap > len)
			cap = len;
		memcpy(dst, p, cap);
		if ((rc = sink_commit(s, cap)) < 0)
			return rc;
		p += cap;
		len -= cap;
	}
	return 0;
}

static int sink_end(hf_sink *s)
{
	hf_builder *b = (hf_builder *)s;
	int rc;
	if (!b->cur)
		return 0;
	if (b->win && (rc = drain_window(b, 1)) < 0)
		return rc;
	b->cur->size = b->file_bytes;
	b->cur->build_pending = 1; /* ids arrive from the workers; resolved at commit */
	b->cur = NULL;
	return 0;
}

/* The previous snapshot's node for an unchanged FILE whose chunks are all indexed, else NULL. */
static hf_node *unchanged_parent(hf_builder *b, const hf_entry_meta *m)
{
	hf_node *p;
	hf_index_entry e;
	if (!b->parent || m->type != HF_ENTRY_FILE || !m->inode)
		return NULL;
	p = hf_node_lookup(b->parent, m->name);
	if (!p || p->type != HF_ENTRY_FILE || !p->has_hash || p->size != m->size || p->mtime_ns != m->mtime_ns ||
	    p->ctime_ns != m->ctime_ns || p->inode != m->inode || p->dev != m->dev)
		return NULL;
	for (size_t i = 0; i < p->ncontent; i++)
		if (hf_index_get(b->ix, p->content[i], &e) < 0 || e.pack == HF_PACK_PENDING)
			return NULL; /* not (or no longer) indexed: read the file again */
	return p;
}

static int sink_unchanged(hf_sink *s, const hf_entry_meta *m)
{
	return unchanged_parent((hf_builder *)s, m) != NULL;
}

static int sink_reuse(hf_sink *s, const hf_entry_meta *m)
{
	hf_builder *b = (hf_builder *)s;
	hf_node *p, *n = NULL;
	int rc;
	if (b->cur || !(p = unchanged_parent(b, m)))
		return 0;
	if ((rc = node_at(b, m, &n)) < 0)
		return rc;
	set_meta(n, m);
	n->ncontent = 0;
	for (size_t i = 0; i < p->ncontent; i++)
		if ((rc = hf_node_add_chunk(n, p->content[i])) < 0)
			return rc;
	memcpy(n->hash, p->hash, HF_ID_BYTES);
	n->has_hash = 1;
	n->size = p->size;
	b->files++;
	b->bytes += p->size;
	b->chunks += p->ncontent;
	report_progress(b, 0);
	return 1;
}

static int sink_recovery(hf_sink *s, int64_t time_ns, const char *lsn)
{
	hf_builder *b = (hf_builder *)s;
	b->recovery_ns = time_ns;
	free(b->lsn);
	b->lsn = lsn ? strdup(lsn) : NULL;
	return 0;
}

static int sink_info(hf_sink *s, const char *json)
{
	hf_builder *b = (hf_builder *)s;
	free(b->source_info);
	if (!(b->source_info = strdup(json)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

int hf_builder_new(hf_builder **out, hf_repo *r, hf_tenant *t, hf_index *ix, hf_node *parent,
		   const hf_chunker_params *params, hf_progress_cb progress, void *progress_payload)
{
	hf_builder *b = calloc(1, sizeof(*b));
	uint64_t gear[256];
	int rc = 0;
	if (!b)
		return hf_error_set(HF_ENOMEM, "out of memory");
	b->sink.entry_begin = sink_begin;
	b->sink.entry_write = sink_write;
	b->sink.entry_space = sink_space;
	b->sink.entry_commit = sink_commit;
	b->sink.entry_end = sink_end;
	b->sink.set_recovery_point = sink_recovery;
	b->sink.set_source_info = sink_info;
	b->sink.entry_reuse = sink_reuse;
	b->sink.entry_unchanged = sink_unchanged;
	b->parent = parent;
	b->first_new_pack = hf_index_pack_count(ix);
	hf_repo_put_opts(r, t, &b->po);
	b->r = r;
	b->started_ns = hf_clock_now_ns();
	b->t = t;
	b->ix = ix;
	b->progress = progress;
	b->progress_payload = progress_payload;
	hf_gear_table(gear, t->keys->gear_seed);
	hf_chunker_init(&b->chunker, params ? params : &r->config.chunker, gear);
	b->wcap = (size_t)b->chunker.p.max_size * 2;
	hf_memzero(gear, sizeof(gear));
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->pack_mu, NULL);
	pthread_mutex_init(&b->flush_mu, NULL);
	pthread_cond_init(&b->cv_work, NULL);
	pthread_cond_init(&b->cv_space, NULL);
	pthread_cond_init(&b->cv_idle, NULL);
	pthread_cond_init(&b->cv_packs, NULL);
	pthread_cond_init(&b->cv_pack_space, NULL);
	if (!(b->root = hf_node_new("", HF_ENTRY_DIR))) {
		free(b);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	b->nworkers = r->threads;
	/* Local disks gain little from more writers; remote storage hides latency with more. */
	b->nstorers = hf_storage_has(r->storage, HF_STORAGE_FEAT_LOCAL) ? 2 : r->parallel;
	if (!(b->workers = calloc((size_t)b->nworkers, sizeof(pthread_t))) ||
	    !(b->storers = calloc((size_t)b->nstorers, sizeof(pthread_t)))) {
		hf_builder_free(b);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	for (int i = 0; i < b->nstorers; i++) {
		if (pthread_create(&b->storers[i], NULL, storer_main, b) != 0) {
			b->nstorers = i;
			b->nworkers = 0;
			hf_builder_free(b);
			return hf_error_set(HF_ERROR, "unable to start storer threads");
		}
	}
	for (int i = 0; i < b->nworkers; i++) {
		if (pthread_create(&b->workers[i], NULL, worker_main, b) != 0) {
			b->nworkers = i;
			rc = hf_error_set(HF_ERROR, "unable to start worker threads");
			hf_builder_free(b);
			return rc;
		}
	}
	*out = b;
	return 0;
}

hf_sink *hf_builder_sink(hf_builder *b) { return &b->sink; }

/* Wait until every queued blob is packed (or a worker failed). */
static int wait_idle(hf_builder *b)
{
	pthread_mutex_lock(&b->mu);
	while ((b->head || b->busy || b->phead || b->pbusy) && !b->err)
		pthread_cond_wait(&b->cv_idle, &b->mu);
	pthread_mutex_unlock(&b->mu);
	return b->err ? raise_error(b) : 0;
}

static void stop_workers(hf_builder *b)
{
	pthread_mutex_lock(&b->mu);
	b->closing = 1;
	pthread_cond_broadcast(&b->cv_work);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; i < b->nworkers; i++)
		pthread_join(b->workers[i], NULL);
	b->nworkers = 0;
	pthread_mutex_lock(&b->mu);
	b->pclosing = 1;
	pthread_cond_broadcast(&b->cv_packs);
	pthread_cond_broadcast(&b->cv_pack_space);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; i < b->nstorers; i++)
		pthread_join(b->storers[i], NULL);
	b->nstorers = 0;
}

/* Attach each file's chunk ids (written by the workers into the arena) and compute its hash:
 * keyed BLAKE2b over the ids, then the size as 8 little-endian bytes. */
static int resolve_files(hf_builder *b, hf_node *dir)
{
	int rc;
	for (size_t i = 0; i < dir->nchildren; i++) {
		hf_node *n = dir->children[i];
		if (n->type == HF_ENTRY_DIR) {
			if ((rc = resolve_files(b, n)) < 0)
				return rc;
		} else if (n->build_pending) {
			hf_hash_state hs;
			uint8_t sz[8];
			size_t count = n->ncontent;
			n->ncontent = 0;
			hf_hash_init(&hs, b->t->keys->mac);
			for (size_t k = 0; k < count; k++) {
				size_t ref = n->build_ref + k;
				const uint8_t *id = b->arena[ref / ARENA_BLOCK][ref % ARENA_BLOCK];
				if ((rc = hf_node_add_chunk(n, id)) < 0)
					return rc;
				hf_hash_update(&hs, id, HF_ID_BYTES);
			}
			hf_put_le64(sz, n->size);
			hf_hash_update(&hs, sz, sizeof(sz));
			hf_hash_final(&hs, n->hash);
			n->has_hash = 1;
			n->build_pending = 0;
		}
	}
	return 0;
}

/* Every hard link must name a file that comes before it in walk order (that is how a restore, reading
 * in that order, links it). A directory walk emits them so; a tar or cpio archive may not ("zz", then
 * "aa" linked to it): the first name of such a group takes the file's place and the others link to it. */
static int order_links(hf_node *root, hf_node *dir, hf_buf *path)
{
	size_t base = path->len;
	int rc = 0;
	hf_node_sort(dir);
	for (size_t i = 0; i < dir->nchildren && rc == 0; i++) {
		hf_node *n = dir->children[i], *f;
		path->len = base;
		if ((base && (rc = hf_buf_append(path, "/", 1)) < 0) ||
		    (rc = hf_buf_append(path, n->name, strlen(n->name) + 1)) < 0)
			break;
		path->len--; /* keep the NUL after the name, outside the length */
		if (n->type == HF_ENTRY_DIR) {
			rc = order_links(root, n, path);
		} else if (n->type == HF_ENTRY_HARDLINK && n->target && (f = hf_node_lookup(root, n->target))) {
			char *name;
			if (f->type == HF_ENTRY_HARDLINK && f->target) {
				/* the file it named moved to an earlier name of the group */
				if (!(name = strdup(f->target)))
					return hf_error_set(HF_ENOMEM, "out of memory");
				free(n->target);
				n->target = name;
			} else if (f->type == HF_ENTRY_FILE && hf_path_order(n->target, (char *)path->data) > 0) {
				hf_node t = *n;
				char *nname = n->name, *fname = f->name;
				if (!(name = strdup((char *)path->data)))
					return hf_error_set(HF_ENOMEM, "out of memory");
				*n = *f; /* this name becomes the file, the file a link to it */
				n->name = nname;
				*f = t;
				f->name = fname;
				free(f->target);
				f->target = name;
			}
		}
	}
	path->len = base;
	return rc;
}

/* Write the tree blobs bottom-up; dir->hash becomes the subtree id. */
static int write_tree(hf_builder *b, hf_node *dir)
{
	hf_buf enc = HF_BUF_INIT;
	int rc;
	if (dir != b->root)
		b->dirs++;
	hf_node_sort(dir);
	for (size_t i = 0; i < dir->nchildren; i++)
		if (dir->children[i]->type == HF_ENTRY_DIR && (rc = write_tree(b, dir->children[i])) < 0)
			return rc;
	if ((rc = hf_tree_encode(dir, &enc)) == 0 && (rc = put_blob(b, HF_BLOB_TREE, enc.data, enc.len, dir->hash)) == 0)
		dir->has_hash = 1;
	hf_buf_free(&enc);
	return rc;
}

/* Pack what is left and make it findable; returns the first error. */
static int flush_all(hf_builder *b)
{
	uint64_t st = 0;
	int rc = wait_idle(b);
	if (rc == 0 && b->pack.n) {
		hf_pack_builder last = b->pack;
		memset(&b->pack, 0, sizeof(b->pack));
		if ((rc = queue_pack(b, &last)) == 0)
			rc = wait_idle(b);
	}
	stop_workers(b);
	if (rc == 0 && b->err)
		rc = raise_error(b);
	/* Even after a failure, index what did land so the next backup reuses it. */
	pthread_mutex_lock(&b->flush_mu);
	int frc = hf_index_flush(b->ix, b->r, b->t, &st);
	pthread_mutex_unlock(&b->flush_mu);
	b->stored += st;
	return rc < 0 ? rc : frc;
}

int hf_builder_commit(hf_builder *b, hf_manifest *m)
{
	int rc;
	if (b->cur && (rc = sink_end(&b->sink)) < 0)
		return rc;
	{
		hf_buf path = HF_BUF_INIT;
		if ((rc = wait_idle(b)) == 0 && (rc = resolve_files(b, b->root)) == 0)
			rc = order_links(b->root, b->root, &path);
		hf_buf_free(&path);
	}
	if (rc < 0 || (rc = write_tree(b, b->root)) < 0 || (rc = flush_all(b)) < 0)
		return rc;
	memcpy(m->tree, b->root->hash, HF_ID_BYTES);
	m->time_ns = hf_clock_now_ns();
	m->recovery_ns = b->recovery_ns ? b->recovery_ns : m->time_ns;
	if (b->lsn && !(m->lsn = strdup(b->lsn)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (b->source_info && !(m->source_info = strdup(b->source_info)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	m->files = b->files;
	m->dirs = b->dirs;
	m->bytes = b->bytes;
	m->chunks = b->chunks;
	m->new_chunks = b->new_chunks;
	m->new_bytes = b->new_bytes;
	m->stored = b->stored;
	m->retain_until = b->po.lock_until;
	/* Every pack the snapshot references must stay locked at least as long as the snapshot. */
	if ((rc = hf_ops_extend_locks(b->r, b->t, b->ix, b->root, b->first_new_pack, m->retain_until, NULL)) < 0)
		return rc;
	report_progress(b, 1);
	/* The manifest is written last: until it exists, nothing of this backup is visible. */
	if ((rc = hf_manifest_write(b->r, b->t, m, &b->stored)) < 0)
		return rc;
	/* m->stored stays what the manifest records (it cannot count itself): the catalog gets the same
	 * figure from here as a 'catalog rebuild' gets from the repository. */
	return 0;
}

void hf_builder_abort(hf_builder *b)
{
	hf_error_saved cause; /* what failed the backup: the storage calls below must not replace it */
	uint64_t st = 0;
	if (!b)
		return;
	hf_error_save(&cause);
	if (b->nworkers || b->nstorers) {
		flush_all(b);
	} else {
		/* Workers already stopped (the failure came later): still index what landed. */
		pthread_mutex_lock(&b->flush_mu);
		if (hf_index_flush(b->ix, b->r, b->t, &st) < 0)
			hf_log_warn("unable to index the packs of the failed backup: %s", hf_error_message());
		pthread_mutex_unlock(&b->flush_mu);
	}
	hf_error_restore(&cause);
}

void hf_builder_free(hf_builder *b)
{
	if (!b)
		return;
	if (b->nworkers || b->nstorers)
		stop_workers(b);
	while (b->phead) {
		pack_job *pj = b->phead;
		b->phead = pj->next;
		hf_pack_builder_free(&pj->pack);
		free(pj);
	}
	for (size_t i = 0; i < b->arena_blocks; i++)
		free(b->arena[i]);
	free(b->arena);
	free(b->storers);
	while (b->head) {
		job *j = b->head;
		b->head = j->next;
		release_data(b, j);
		free(j);
	}
	if (b->win)
		block_unref(b, b->win);
	while (b->spare) {
		wblock *w = b->spare;
		b->spare = w->next_spare;
		free(w);
	}
	while (b->nspare_packs > 0)
		hf_buf_free(&b->spare_packs[--b->nspare_packs]);
	hf_pack_builder_free(&b->pack);
	hf_node_free(b->root);
	free(b->workers);
	free(b->lsn);
	free(b->source_info);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->pack_mu);
	pthread_mutex_destroy(&b->flush_mu);
	pthread_cond_destroy(&b->cv_work);
	pthread_cond_destroy(&b->cv_space);
	pthread_cond_destroy(&b->cv_idle);
	pthread_cond_destroy(&b->cv_packs);
	pthread_cond_destroy(&b->cv_pack_space);
	free(b);
}
