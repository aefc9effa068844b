/* The snapshot builder: chunk -> id -> dedup on the calling thread; compress -> seal -> pack -> store
 * on worker threads. In-flight data is bounded; the first worker error stops the backup. */
#include "ops/builder.h"
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

#define MAX_INFLIGHT (32u * 1024 * 1024)
#define INDEX_FLUSH_PACKS 8

typedef struct job {
	struct job *next;
	hf_index_entry e;
	uint8_t *data;
	size_t len;
} job;

struct hf_builder {
	hf_sink sink; /* first member: the sink handed to sources */
	hf_repo *r;
	hf_tenant *t;
	hf_index *ix;
	hf_chunker chunker;
	hf_node *root, *cur;
	hf_hash_state fh; /* per-file hash over chunk ids */
	hf_buf window;
	uint64_t file_bytes;

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

	/* packing */
	pthread_mutex_t pack_mu, flush_mu;
	hf_pack_builder pack;

	/* result */
	int64_t recovery_ns;
	char *lsn, *source_info;
	uint64_t files, dirs, bytes, chunks, new_chunks, new_bytes, stored;
	hf_progress_cb progress;
	void *progress_payload;
	double last_progress;
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
	hf_storage_put_opts po;
	int rc;
	if (p->n == 0)
		return 0;
	if ((rc = hf_pack_finish(p, b->t->keys->enc, id)) < 0)
		return rc;
	hf_hex_encode(hex, id, HF_ID_BYTES);
	hf_key_pack(key, sizeof(key), b->t->tid, hex);
	hf_repo_put_opts(b->r, b->t, &po);
	if ((rc = hf_storage_put(b->r->storage, key, p->buf.data, p->buf.len, &po)) < 0)
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

/* Compress (when it pays), seal and append one blob to the shared pack. */
static int process_job(hf_builder *b, job *j, hf_zctx *z, hf_buf *zbuf, hf_buf *sealed)
{
	const uint8_t *data = j->data;
	size_t len = j->len, zl = 0;
	hf_pack_builder full;
	uint8_t *where;
	int rc = 0, have_full = 0;

	j->e.comp = HF_COMP_NONE;
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
	if (b->pack.buf.len == 0)
		rc = hf_pack_begin(&b->pack, b->t->tid_raw, b->r->config.pack_size + 4u * 1024 * 1024);
	if (rc == 0 && (rc = hf_pack_add(&b->pack, &j->e, len + HF_AEAD_OVERHEAD, &where)) == 0) {
		memcpy(where, sealed->data, len + HF_AEAD_OVERHEAD);
		if (b->pack.buf.len >= b->r->config.pack_size) {
			full = b->pack; /* hand the full pack to this thread; start a fresh one */
			memset(&b->pack, 0, sizeof(b->pack));
			have_full = 1;
		}
	}
	pthread_mutex_unlock(&b->pack_mu);
	if (have_full) {
		rc = store_pack(b, &full);
		hf_pack_builder_free(&full);
	}
	return rc;
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
		pthread_cond_broadcast(&b->cv_space);
		if (!b->head && !b->busy)
			pthread_cond_broadcast(&b->cv_idle);
		pthread_mutex_unlock(&b->mu);
		free(j->data);
		free(j);
	}
	hf_zctx_free(z);
	hf_buf_free(&zbuf);
	hf_buf_free(&sealed);
	return NULL;
}

/* Queue a new blob; blocks while too much data is in flight. Takes ownership of data. */
static int submit(hf_builder *b, const uint8_t id[HF_ID_BYTES], uint8_t type, uint8_t *data, size_t len)
{
	job *j = calloc(1, sizeof(*j));
	if (!j) {
		free(data);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	memcpy(j->e.id, id, HF_ID_BYTES);
	j->e.type = type;
	j->e.raw = (uint32_t)len;
	j->data = data;
	j->len = len;
	pthread_mutex_lock(&b->mu);
	while (b->inflight > 0 && b->inflight + len > MAX_INFLIGHT && !b->err)
		pthread_cond_wait(&b->cv_space, &b->mu);
	if (b->err) {
		pthread_mutex_unlock(&b->mu);
		free(data);
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

/* Store one blob unless the tenant already has it. */
static int put_blob(hf_builder *b, uint8_t type, const uint8_t *data, size_t len, uint8_t id_out[HF_ID_BYTES])
{
	uint8_t *copy;
	hf_mac(id_out, data, len, b->t->keys->mac);
	b->chunks++;
	if (hf_index_reserve(b->ix, id_out, type, (uint32_t)len) == 0)
		return 0;
	b->new_chunks++;
	b->new_bytes += len;
	if (!(copy = malloc(len ? len : 1)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	memcpy(copy, data, len);
	return submit(b, id_out, type, copy, len);
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

/* Cut as many chunks as the window allows. */
static int drain_window(hf_builder *b, int eof)
{
	size_t off = 0;
	int rc = 0;
	while (off < b->window.len) {
		uint8_t id[HF_ID_BYTES];
		size_t n = hf_chunker_next(&b->chunker, b->window.data + off, b->window.len - off, eof);
		if (n == 0)
			break;
		if ((rc = put_blob(b, HF_BLOB_DATA, b->window.data + off, n, id)) < 0 ||
		    (rc = hf_node_add_chunk(b->cur, id)) < 0)
			break;
		hf_hash_update(&b->fh, id, HF_ID_BYTES);
		off += n;
	}
	if (off) {
		memmove(b->window.data, b->window.data + off, b->window.len - off);
		b->window.len -= off;
	}
	report_progress(b, 0);
	return rc;
}

static int sink_begin(hf_sink *s, const hf_entry_meta *m)
{
	hf_builder *b = (hf_builder *)s;
	hf_node *dir = b->root, *n = NULL;
	char *path = strdup(m->name), *save = NULL, *part, *next;
	int rc = 0;
	if (!path)
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (b->cur) {
		free(path);
		return hf_error_set(HF_ERROR, "source error: entry '%s' begun inside another entry", m->name);
	}
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
	if (!n) {
		rc = hf_error_set(HF_ECORRUPT, "empty entry name");
		goto done;
	}
	if (n->type != m->type) {
		rc = hf_error_set(HF_ECORRUPT, "entry '%s' appears twice with different types", m->name);
		goto done;
	}
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
	if (m->type == HF_ENTRY_FILE) {
		n->ncontent = 0;
		b->cur = n;
		b->window.len = 0;
		b->file_bytes = 0;
		hf_hash_init(&b->fh, b->t->keys->mac);
		b->files++;
	} else if (m->type == HF_ENTRY_DIR) {
		b->dirs++;
	} else {
		b->files++;
	}
done:
	free(path);
	return rc;
}

static int sink_write(hf_sink *s, const void *data, size_t len)
{
	hf_builder *b = (hf_builder *)s;
	const uint8_t *p = data;
	size_t high = (size_t)b->chunker.p.max_size * 2;
	int rc;
	if (!b->cur)
		return hf_error_set(HF_ERROR, "source error: data written outside a file entry");
	b->file_bytes += len;
	b->bytes += len;
	while (len > 0) {
		size_t take = high - b->window.len < len ? high - b->window.len : len;
		if ((rc = hf_buf_append(&b->window, p, take)) < 0)
			return rc;
		p += take;
		len -= take;
		if (b->window.len >= high && (rc = drain_window(b, 0)) < 0)
			return rc;
	}
	return 0;
}

static int sink_end(hf_sink *s)
{
	hf_builder *b = (hf_builder *)s;
	uint8_t sz[8];
	int rc;
	if (!b->cur)
		return 0;
	if ((rc = drain_window(b, 1)) < 0)
		return rc;
	hf_put_le64(sz, b->file_bytes);
	hf_hash_update(&b->fh, sz, sizeof(sz));
	hf_hash_final(&b->fh, b->cur->hash);
	b->cur->has_hash = 1;
	b->cur->size = b->file_bytes;
	b->cur = NULL;
	return 0;
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

int hf_builder_new(hf_builder **out, hf_repo *r, hf_tenant *t, hf_index *ix, hf_progress_cb progress,
		   void *progress_payload)
{
	hf_builder *b = calloc(1, sizeof(*b));
	uint64_t gear[256];
	int rc = 0;
	if (!b)
		return hf_error_set(HF_ENOMEM, "out of memory");
	b->sink.entry_begin = sink_begin;
	b->sink.entry_write = sink_write;
	b->sink.entry_end = sink_end;
	b->sink.set_recovery_point = sink_recovery;
	b->sink.set_source_info = sink_info;
	b->r = r;
	b->t = t;
	b->ix = ix;
	b->progress = progress;
	b->progress_payload = progress_payload;
	hf_gear_table(gear, t->keys->gear_seed);
	hf_chunker_init(&b->chunker, &r->config.chunker, gear);
	hf_memzero(gear, sizeof(gear));
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->pack_mu, NULL);
	pthread_mutex_init(&b->flush_mu, NULL);
	pthread_cond_init(&b->cv_work, NULL);
	pthread_cond_init(&b->cv_space, NULL);
	pthread_cond_init(&b->cv_idle, NULL);
	if (!(b->root = hf_node_new("", HF_ENTRY_DIR))) {
		free(b);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	b->nworkers = r->threads;
	if (!(b->workers = calloc((size_t)b->nworkers, sizeof(pthread_t)))) {
		hf_builder_free(b);
		return hf_error_set(HF_ENOMEM, "out of memory");
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
	while ((b->head || b->busy) && !b->err)
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
}

/* Write the tree blobs bottom-up; dir->hash becomes the subtree id. */
static int write_tree(hf_builder *b, hf_node *dir)
{
	hf_buf enc = HF_BUF_INIT;
	int rc;
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
	stop_workers(b);
	if (rc == 0 && b->err)
		rc = raise_error(b);
	if (rc == 0) {
		rc = store_pack(b, &b->pack);
		hf_pack_builder_free(&b->pack);
	}
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
	if ((rc = write_tree(b, b->root)) < 0 || (rc = flush_all(b)) < 0)
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
	m->retain_until = hf_repo_retain_until(b->r, b->t);
	report_progress(b, 1);
	/* The manifest is written last: until it exists, nothing of this backup is visible. */
	if ((rc = hf_manifest_write(b->r, b->t, m, &b->stored)) < 0)
		return rc;
	m->stored = b->stored;
	return 0;
}

void hf_builder_abort(hf_builder *b)
{
	if (!b || !b->nworkers)
		return;
	flush_all(b);
}

void hf_builder_free(hf_builder *b)
{
	if (!b)
		return;
	if (b->nworkers)
		stop_workers(b);
	while (b->head) {
		job *j = b->head;
		b->head = j->next;
		free(j->data);
		free(j);
	}
	hf_pack_builder_free(&b->pack);
	hf_node_free(b->root);
	hf_buf_free(&b->window);
	free(b->workers);
	free(b->lsn);
	free(b->source_info);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->pack_mu);
	pthread_mutex_destroy(&b->flush_mu);
	pthread_cond_destroy(&b->cv_work);
	pthread_cond_destroy(&b->cv_space);
	pthread_cond_destroy(&b->cv_idle);
	free(b);
}
