/* hf_check: verify the repository's structure (every snapshot's trees and chunks are indexed and their
 * packs exist) and optionally read packs back, naming each damaged object and the files it affects.
 * Nothing is repaired. */
#include "ops/reader.h"
#include "ops/snapshots.h"
#include "repo/pack.h"
#include "util/clock.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bad_blob {
	uint8_t id[HF_ID_BYTES];
	char *why; /* the damaged object that holds it */
} bad_blob;

typedef struct damaged {
	bad_blob *v; /* sorted by id after collection */
	size_t n, cap;
} damaged;

typedef struct present_pack {
	char hex[HF_ID_HEX + 1]; /* first: the entries sort and search as strings */
	uint64_t size;
} present_pack;

typedef struct check_ctx {
	hf_repo *r;
	const hf_check_options *o;
	hf_check_report *rep;
	hf_tenant *t;
	hf_index *ix;
	damaged bad;
	/* packs present in storage for the tenant, sorted by hex id */
	present_pack *present;
	size_t npresent, cappresent;
	char *referenced; /* per present pack: in some index */
	int err;
	pthread_mutex_t mu; /* while packs are read on several threads: the report and the damaged list */
} check_ctx;

/* Packs are read on several threads, each holding one pack: a full-read check of the bench repository
 * (1 GiB, 65 packs) spent 88 % of one core reading, hashing and authenticating them one at a time. */
#define MAX_READERS 4 /* each holds a pack and its largest blob: 4 x (16 + 8) MiB at the defaults */

static int problem(check_ctx *c, const char *object, const char *fmt, ...) HF_PRINTF(3, 4);

static int problem(check_ctx *c, const char *object, const char *fmt, ...)
{
	hf_check_report *rep = c->rep;
	hf_check_problem *p, *v;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!(v = realloc(rep->problems, (rep->nproblems + 1) * sizeof(*v))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	rep->problems = v;
	p = &v[rep->nproblems++];
	memset(p, 0, sizeof(*p));
	p->object = strdup(object);
	p->tenant = c->t ? strdup(c->t->id) : NULL;
	p->message = strdup(msg);
	return 0;
}

static hf_check_problem *find_problem(check_ctx *c, const char *object)
{
	for (size_t i = 0; i < c->rep->nproblems; i++)
		if (c->rep->problems[i].object && !strcmp(c->rep->problems[i].object, object))
			return &c->rep->problems[i];
	return NULL;
}

static void affect(check_ctx *c, const char *object, const char *snap, const char *path)
{
	hf_check_problem *p = find_problem(c, object);
	char **v, *f;
	size_t n;
	if (!p)
		return;
	if (p->nfiles >= 1000) /* enough to act on; the count still tells */
		return;
	n = strlen(path) + 32;
	if (!(f = malloc(n)))
		return;
	snprintf(f, n, "%.12s:%s", snap, path);
	for (size_t i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i], f)) {
			free(f);
			return;
		}
	if (!(v = realloc(p->files, (p->nfiles + 1) * sizeof(*v)))) {
		free(f);
		return;
	}
	p->files = v;
	p->files[p->nfiles++] = f;
}

static int cmp_bad(const void *a, const void *b) { return memcmp(a, b, HF_ID_BYTES); }

static void mark_bad(check_ctx *c, const uint8_t *id, const char *object)
{
	bad_blob *v = hf_array_grow(c->bad.v, &c->bad.cap, c->bad.n, sizeof(*v), 64);
	if (!v)
		return;
	c->bad.v = v;
	memcpy(c->bad.v[c->bad.n].id, id, HF_ID_BYTES);
	c->bad.v[c->bad.n++].why = strdup(object);
}

static void sort_bad(check_ctx *c)
{
	if (c->bad.n > 1)
		qsort(c->bad.v, c->bad.n, sizeof(*c->bad.v), cmp_bad);
}

static const char *bad_reason(check_ctx *c, const uint8_t *id)
{
	bad_blob *hit = c->bad.n ? bsearch(id, c->bad.v, c->bad.n, sizeof(*c->bad.v), cmp_bad) : NULL;
	return hit ? hit->why : NULL;
}

static void free_bad(damaged *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].why);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int random_pct(void)
{
	uint32_t v;
	hf_random(&v, sizeof(v));
	return (int)(v % 100);
}

static void bad_index(const char *object, int code, const char *message, void *payload)
{
	check_ctx *c = payload;
	(void)code;
	problem(c, object, "%s", message);
}

static int list_pack(const char *name, uint64_t size, void *payload)
{
	check_ctx *c = payload;
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	if (!hf_hex_valid(base, HF_ID_HEX))
		return 0;
	if (c->npresent == c->cappresent) {
		size_t cap = c->cappresent ? c->cappresent * 2 : 64;
		void *v = realloc(c->present, cap * sizeof(*c->present));
		if (!v) {
			c->err = hf_error_set(HF_ENOMEM, "out of memory");
			return 1;
		}
		c->present = v;
		c->cappresent = cap;
	}
	memcpy(c->present[c->npresent].hex, base, HF_ID_HEX + 1);
	c->present[c->npresent++].size = size;
	return 0;
}

static int cmp_hex(const void *a, const void *b) { return strcmp(a, b); }

static long present_index(check_ctx *c, const char *hex)
{
	present_pack *hit = c->npresent ? bsearch(hex, c->present, c->npresent, sizeof(*c->present), cmp_hex) : NULL;
	return hit ? hit - c->present : -1;
}

typedef struct pack_ents {
	uint32_t *start, *count; /* per pack number: range in `order` */
	hf_index_entry *order;
	size_t n;
} pack_ents;

typedef struct collect_ctx {
	pack_ents *pe;
	size_t fill;
	uint32_t *pos;
} collect_ctx;

static int count_cb(const hf_index_entry *e, void *payload)
{
	pack_ents *pe = payload;
	if (e->pack != HF_PACK_PENDING)
		pe->count[e->pack]++;
	return 0;
}

static int place_cb(const hf_index_entry *e, void *payload)
{
	collect_ctx *cc = payload;
	if (e->pack != HF_PACK_PENDING)
		cc->pe->order[cc->pos[e->pack]++] = *e;
	return 0;
}

/* Group index entries by pack (counting sort). */
static int group_by_pack(hf_index *ix, pack_ents *pe)
{
	size_t np = hf_index_pack_count(ix), total = 0;
	collect_ctx cc = {pe, 0, NULL};
	memset(pe, 0, sizeof(*pe));
	pe->n = np;
	if (!(pe->start = calloc(np + 1, sizeof(uint32_t))) || !(pe->count = calloc(np + 1, sizeof(uint32_t))) ||
	    !(cc.pos = calloc(np + 1, sizeof(uint32_t))))
		goto oom;
	hf_index_foreach(ix, count_cb, pe);
	for (size_t p = 0; p < np; p++) {
		pe->start[p] = (uint32_t)total;
		cc.pos[p] = (uint32_t)total;
		total += pe->count[p];
	}
	if (!(pe->order = calloc(total + 1, sizeof(hf_index_entry))))
		goto oom;
	hf_index_foreach(ix, place_cb, &cc);
	free(cc.pos);
	return 0;
oom:
	free(cc.pos);
	return hf_error_set(HF_ENOMEM, "out of memory");
}

static void free_pack_ents(pack_ents *pe)
{
	free(pe->start);
	free(pe->count);
	free(pe->order);
}

/* Read one pack fully: its name must match its content and every indexed blob must authenticate. */
static void read_pack(check_ctx *c, const pack_ents *pe, uint32_t p, const char *key, const char *hex)
{
	hf_buf b = HF_BUF_INIT, plain = HF_BUF_INIT;
	char got[HF_ID_HEX + 1];
	size_t nbad = 0;
	uint8_t *ok = calloc(pe->count[p] ? pe->count[p] : 1, 1);
	int have = hf_storage_get(c->r->storage, key, &b) == 0, matches = 1;
	if (have) {
		hf_object_id(got, b.data, b.len);
		matches = strcmp(got, hex) == 0;
	}
	for (uint32_t i = 0; ok && i < pe->count[p]; i++) {
		const hf_index_entry *e = &pe->order[pe->start[p] + i];
		ok[i] = have && (uint64_t)e->offset + e->length <= b.len && hf_buf_reserve(&plain, e->length) == 0 &&
			hf_blob_open(plain.data, c->t->tid_raw, e, b.data + e->offset, c->t->keys->enc) == 0;
	}
	pthread_mutex_lock(&c->mu);
	if (!ok) {
		c->err = hf_error_set(HF_ENOMEM, "out of memory");
		goto out;
	}
	if (!have) {
		problem(c, key, "unable to read pack: %s", hf_error_message());
	} else {
		c->rep->packs_read++;
		c->rep->bytes_read += b.len;
		if (!matches)
			problem(c, key, "pack content does not match its name (corrupted or truncated, %zu bytes)", b.len);
	}
	for (uint32_t i = 0; i < pe->count[p]; i++) {
		c->rep->chunks++;
		if (!ok[i]) {
			mark_bad(c, pe->order[pe->start[p] + i].id, key);
			nbad++;
		}
	}
	if (nbad && have && !find_problem(c, key))
		problem(c, key, "%zu blob(s) failed authentication", nbad);
	if (c->o->progress)
		c->o->progress("check", c->rep->bytes_read, 0, c->rep->packs, c->o->progress_payload);
out:
	pthread_mutex_unlock(&c->mu);
	free(ok);
	hf_buf_free(&b);
	hf_buf_free(&plain);
}

/* The packs chosen for reading, shared by the reading threads. */
typedef struct read_queue {
	check_ctx *c;
	const pack_ents *pe;
	uint32_t *chosen;
	size_t n, next; /* next under c->mu */
} read_queue;

static void *reader_main(void *arg)
{
	read_queue *q = arg;
	check_ctx *c = q->c;
	for (;;) {
		char key[160], hex[HF_ID_HEX + 1];
		uint32_t p;
		pthread_mutex_lock(&c->mu);
		if (q->next == q->n) {
			pthread_mutex_unlock(&c->mu);
			return NULL;
		}
		p = q->chosen[q->next++];
		pthread_mutex_unlock(&c->mu);
		hf_hex_encode(hex, hf_index_pack_id(c->ix, p), HF_ID_BYTES);
		hf_key_pack(key, sizeof(key), c->t->tid, hex);
		read_pack(c, q->pe, p, key, hex);
	}
}

static int cmp_problem(const void *a, const void *b)
{
	const char *x = ((const hf_check_problem *)a)->object, *y = ((const hf_check_problem *)b)->object;
	return strcmp(x ? x : "", y ? y : "");
}

/* Read the chosen packs: locally on one thread more than --threads, so that one reader waits on the
 * disk while the others hash (bench repository, 2 CPUs: 2 readers 2.33-2.67 s, 3 readers 2.16-2.23 s,
 * 4 no better); on remote storage up to --parallel, as each read waits on the network; at most
 * MAX_READERS, each holding one pack. */
static void read_packs(check_ctx *c, const pack_ents *pe, uint32_t *chosen, size_t n)
{
	read_queue q = {c, pe, chosen, n, 0};
	size_t before = c->rep->nproblems;
	pthread_t tids[MAX_READERS];
	int want = hf_storage_has(c->r->storage, HF_STORAGE_FEAT_LOCAL)
	               ? c->r->threads + 1
	               : (c->r->parallel > c->r->threads ? c->r->parallel : c->r->threads);
	size_t nt = want < 1 ? 1 : want > MAX_READERS ? MAX_READERS : (size_t)want, started = 0;
	if (nt > n)
		nt = n;
	for (; started + 1 < nt; started++) /* the calling thread is one of them */
		if (pthread_create(&tids[started], NULL, reader_main, &q) != 0)
			break;
	reader_main(&q);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	/* the threads finish in any order; the report lists damaged packs in key order on every run */
	if (c->rep->nproblems - before > 1)
		qsort(c->rep->problems + before, c->rep->nproblems - before, sizeof(*c->rep->problems), cmp_problem);
}

/* A pack shorter than its indexed blobs need is damaged without reading it: the blobs past its end
 * are lost (those before it may still be intact, and restore --keep-going recovers them). */
static int truncated_pack(check_ctx *c, const pack_ents *pe, uint32_t p, const char *key, uint64_t size)
{
	uint64_t need = 0;
	for (uint32_t i = 0; i < pe->count[p]; i++) {
		const hf_index_entry *e = &pe->order[pe->start[p] + i];
		if ((uint64_t)e->offset + e->length + HF_PACK_TRAILER > need)
			need = (uint64_t)e->offset + e->length + HF_PACK_TRAILER;
	}
	if (size >= need)
		return 0;
	problem(c, key, "pack is truncated: %llu bytes, its indexed blobs need at least %llu",
		(unsigned long long)size, (unsigned long long)need);
	for (uint32_t i = 0; i < pe->count[p]; i++) {
		const hf_index_entry *e = &pe->order[pe->start[p] + i];
		if ((uint64_t)e->offset + e->length > size)
			mark_bad(c, e->id, key);
	}
	return 1;
}

/* Structure of the packs: every indexed pack exists and is long enough; optionally read some. */
static int check_packs(check_ctx *c)
{
	pack_ents pe;
	char prefix[64], key[160], hex[HF_ID_HEX + 1];
	size_t np = hf_index_pack_count(c->ix), nchosen = 0;
	uint32_t *chosen;
	int rc;

	snprintf(prefix, sizeof(prefix), "data/%s/", c->t->tid);
	if ((rc = hf_storage_list(c->r->storage, prefix, list_pack, c)) < 0)
		return rc;
	if (c->err)
		return c->err;
	if (c->npresent > 1)
		qsort(c->present, c->npresent, sizeof(*c->present), cmp_hex);
	if (!(c->referenced = calloc(c->npresent + 1, 1)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = group_by_pack(c->ix, &pe)) < 0)
		return rc;
	if (!(chosen = malloc((np ? np : 1) * sizeof(*chosen)))) {
		free_pack_ents(&pe);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	for (uint32_t p = 0; p < np; p++) {
		long at;
		hf_hex_encode(hex, hf_index_pack_id(c->ix, p), HF_ID_BYTES);
		hf_key_pack(key, sizeof(key), c->t->tid, hex);
		c->rep->packs++;
		at = present_index(c, hex);
		if (at < 0) {
			problem(c, key, "pack is missing");
			for (uint32_t i = 0; i < pe.count[p]; i++)
				mark_bad(c, pe.order[pe.start[p] + i].id, key);
			continue;
		}
		c->referenced[at] = 1;
		if (truncated_pack(c, &pe, p, key, c->present[at].size))
			continue;
		if (c->o->read_data_pct >= 100 ||
		    (c->o->read_data_pct > 0 && random_pct() < c->o->read_data_pct))
			chosen[nchosen++] = p;
		else if (c->o->progress)
			c->o->progress("check", c->rep->bytes_read, 0, c->rep->packs, c->o->progress_payload);
	}
	read_packs(c, &pe, chosen, nchosen);
	free(chosen);
	if (c->err) {
		free_pack_ents(&pe);
		return c->err;
	}
	for (size_t i = 0; i < c->npresent; i++)
		if (!c->referenced[i])
			c->rep->unreferenced_packs++;
	free_pack_ents(&pe);
	sort_bad(c);
	return 0;
}

typedef struct walk_ctx {
	check_ctx *c;
	const char *snap;
	hf_node *root;
	hf_buf path;
} walk_ctx;

/* Check every node below dir: trees load, chunks are indexed and not damaged. */
static void walk_tree(walk_ctx *w, hf_node *dir)
{
	check_ctx *c = w->c;
	size_t mark = w->path.len;
	for (size_t i = 0; i < dir->nchildren; i++) {
		hf_node *n = dir->children[i];
		w->path.len = mark;
		if (mark)
			hf_buf_append_u8(&w->path, '/');
		hf_buf_append(&w->path, n->name, strlen(n->name));
		hf_buf_cstr(&w->path);
		if (n->type == HF_ENTRY_DIR) {
			const char *why = bad_reason(c, n->hash);
			if (why || hf_tree_load(c->r, c->t, c->ix, n, n->hash) < 0) {
				char obj[200];
				if (!why) {
					snprintf(obj, sizeof(obj), "tree of '%s' in snapshot %.12s", (char *)w->path.data, w->snap);
					problem(c, obj, "%s", hf_error_message());
					why = obj;
				}
				affect(c, why, w->snap, (char *)w->path.data);
				continue;
			}
			walk_tree(w, n);
			continue;
		}
		if (n->type == HF_ENTRY_HARDLINK) {
			/* A restore links it to a file it has already created: the target must come first. */
			hf_node *f = n->target ? hf_node_lookup(w->root, n->target) : NULL;
			if (!f || f->type != HF_ENTRY_FILE || hf_path_order(n->target, (char *)w->path.data) >= 0) {
				char obj[200];
				snprintf(obj, sizeof(obj), "tree of '%.*s' in snapshot %.12s", mark ? (int)mark : 1,
					 mark ? (char *)w->path.data : "/", w->snap);
				problem(c, obj, "hardlink '%s' points to '%s', which is not an earlier file",
					(char *)w->path.data, n->target ? n->target : "");
				affect(c, obj, w->snap, (char *)w->path.data);
			}
			continue;
		}
		for (size_t k = 0; k < n->ncontent; k++) {
			hf_index_entry e;
			const char *why = bad_reason(c, n->content[k]);
			if (!why && hf_index_get(c->ix, n->content[k], &e) < 0) {
				char obj[200], hex[HF_ID_HEX + 1];
				hf_hex_encode(hex, n->content[k], HF_ID_BYTES);
				snprintf(obj, sizeof(obj), "blob %.16s of tenant '%s'", hex, c->t->id);
				if (!find_problem(c, obj))
					problem(c, obj, "chunk is not in any index");
				why = obj;
			}
			if (why) {
				affect(c, why, w->snap, (char *)w->path.data);
				break;
			}
		}
	}
	w->path.len = mark;
}

/* The snapshots listed before the index was loaded (see check_tenant). */
static void check_snapshots(check_ctx *c, char (*ids)[HF_ID_HEX + 1], size_t n)
{
	char key[160];
	for (size_t i = 0; i < n; i++) {
		hf_manifest m;
		hf_node *root = NULL;
		walk_ctx w = {c, ids[i], NULL, HF_BUF_INIT};
		const char *why;
		hf_key_snapshot(key, sizeof(key), c->t->tid, ids[i]);
		c->rep->snapshots++;
		if (hf_manifest_load(c->r, c->t, ids[i], &m) < 0) {
			problem(c, key, "%s", hf_error_message());
			continue;
		}
		if (!(root = hf_node_new("", HF_ENTRY_DIR))) {
			hf_manifest_clear(&m);
			continue;
		}
		memcpy(root->hash, m.tree, HF_ID_BYTES);
		w.root = root;
		why = bad_reason(c, m.tree);
		if (why || hf_tree_load(c->r, c->t, c->ix, root, m.tree) < 0) {
			if (!why)
				problem(c, key, "root tree unreadable: %s", hf_error_message());
			else
				affect(c, why, ids[i], "/");
		} else {
			walk_tree(&w, root);
		}
		hf_buf_free(&w.path);
		hf_node_free(root);
		hf_manifest_clear(&m);
	}
}

/* A backup may commit while the check runs (hourly backups, a weekly --read-data check that takes
 * hours). It writes its packs, then its index object, then its manifest, each durable before the next
 * (holdfast-repository(5)). So the manifests are listed first, then the index is loaded, then the packs
 * are listed: everything a listed manifest references was durable before the listing and is found.
 * A snapshot committed later is not examined (the next check does), and packs written after the index
 * was loaded are counted as unreferenced, not as damage. Listing snapshots last, as before, walked a
 * snapshot committed meanwhile against an index that lacked its blobs and reported a healthy
 * repository as damaged. */
static int check_tenant(check_ctx *c)
{
	char (*ids)[HF_ID_HEX + 1] = NULL;
	size_t nids = 0;
	int rc;
	c->rep->tenants++;
	if (hf_manifest_list(c->r, c->t, &ids, &nids) < 0) {
		ids = NULL;
		nids = 0;
		if ((rc = problem(c, "snapshots/", "unable to list snapshots: %s", hf_error_message())) < 0)
			return rc;
	}
	if ((rc = hf_index_new(&c->ix)) < 0)
		goto done;
	if ((rc = hf_index_load(c->ix, c->r, c->t, bad_index, c)) < 0)
		goto done;
	if ((rc = check_packs(c)) < 0)
		goto done;
	check_snapshots(c, ids, nids);
done:
	free(ids);
	hf_index_free(c->ix);
	c->ix = NULL;
	free_bad(&c->bad);
	free(c->present);
	free(c->referenced);
	c->present = NULL;
	c->referenced = NULL;
	c->npresent = c->cappresent = 0;
	return rc;
}

/* status: 0 no problem, 1 problems found, 2 could not run (`error` says why). */
static void record(hf_repo *r, const hf_check_options *o, const hf_check_report *rep, int status, const char *error)
{
	hf_catalog_check k;
	char detail[256], *why = NULL;
	json_t *j = NULL;
	memset(&k, 0, sizeof(k));
	k.time = hf_clock_now_ns();
	k.tenant = o->tenant;
	k.read_data = o->read_data_pct;
	k.status = status;
	k.errors = rep ? rep->nproblems : 0;
	if (error) {
		/* what made it fail, for whoever reads the catalog after a run that nobody watched */
		if ((j = json_pack("{s:s}", "error", error)))
			why = json_dumps(j, JSON_COMPACT);
		k.detail = why ? why : "{\"error\":null}";
	} else {
		snprintf(detail, sizeof(detail), "{\"snapshots\":%llu,\"packs\":%llu,\"packs_read\":%llu}",
			 (unsigned long long)rep->snapshots, (unsigned long long)rep->packs,
			 (unsigned long long)rep->packs_read);
		k.detail = detail;
	}
	if (hf_catalog_check_put(r->catalog, &k) < 0)
		hf_log_warn("catalog not updated: %s", hf_error_message());
	free(why);
	json_decref(j);
}

/* A tenant record that does not open is damage: the master key that seals it was verified when the
 * repository was unlocked (key slot and config digest), so it is reported, by its object name, and
 * the other tenants are checked. */
static int damaged_records(check_ctx *c, const hf_tenant_damage *bad, size_t n)
{
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = problem(c, bad[i].key, "tenant record %s", bad[i].message)) < 0)
			return rc;
	return 0;
}

/* check --tenant ID when the catalog names the tenant's record and it does not open: reported like
 * in a check of every tenant (the scan describes it the same way), so that it is damage, exit 3. */
static int damaged_record_of(check_ctx *c, const char *id, int rc)
{
	hf_catalog_tenant ct;
	hf_tenant **all = NULL;
	hf_tenant_damage *bad = NULL;
	size_t n = 0, nbad = 0;
	char msg[1024], key[64];
	int found = 0;
	if (rc != HF_EAUTH && rc != HF_ECORRUPT)
		return rc;
	snprintf(msg, sizeof(msg), "%s", hf_error_message());
	if (hf_catalog_tenant_get(c->r->catalog, id, &ct) < 0 || !ct.tid || !hf_hex_valid(ct.tid, HF_TID_HEX) ||
	    hf_tenant_scan(c->r, &all, &n, &bad, &nbad) < 0)
		return hf_error_set(rc, "%s", msg);
	snprintf(key, sizeof(key), "keys/tenants/%s", ct.tid);
	for (size_t i = 0; i < nbad && !found; i++)
		if (!strcmp(bad[i].key, key)) {
			found = 1;
			rc = damaged_records(c, &bad[i], 1);
		}
	for (size_t i = 0; i < n; i++)
		hf_tenant_free(all[i]);
	free(all);
	hf_tenant_damage_free(bad, nbad);
	return found ? rc : hf_error_set(rc, "%s", msg);
}

int hf_check(hf_repo *r, const hf_check_options *o, hf_check_report **out)
{
	check_ctx c;
	hf_tenant **all = NULL;
	hf_tenant_damage *bad = NULL;
	size_t n = 0, nbad = 0;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.o = o;
	if (o->read_data_pct < 0 || o->read_data_pct > 100)
		return hf_error_set(HF_EUSAGE, "read-data percentage must be between 0 and 100");
	if (!(c.rep = calloc(1, sizeof(*c.rep)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&c.mu, NULL);
	if (o->tenant) {
		if ((rc = hf_tenant_load(r, o->tenant, &c.t)) < 0) {
			rc = damaged_record_of(&c, o->tenant, rc);
		} else {
			rc = check_tenant(&c);
			hf_tenant_free(c.t);
			c.t = NULL;
		}
	} else {
		if ((rc = hf_tenant_scan(r, &all, &n, &bad, &nbad)) < 0)
			goto fail;
		rc = damaged_records(&c, bad, nbad);
		hf_tenant_damage_free(bad, nbad);
		for (size_t i = 0; i < n && rc == 0; i++) {
			c.t = all[i];
			rc = check_tenant(&c);
		}
		for (size_t i = 0; i < n; i++)
			hf_tenant_free(all[i]);
		free(all);
		c.t = NULL;
	}
	if (rc < 0)
		goto fail;
	record(r, o, c.rep, c.rep->nproblems ? 1 : 0, NULL);
	*out = c.rep;
	pthread_mutex_destroy(&c.mu);
	return 0;
fail:
	/* A run that could not finish is recorded too (status 2), so that the catalog shows a weekly
	 * check that keeps failing; the caller still gets the original error and message. */
	{
		char msg[1024], hint[1024];
		const char *h = hf_error_hint();
		snprintf(msg, sizeof(msg), "%s", hf_error_message());
		snprintf(hint, sizeof(hint), "%s", h ? h : "");
		record(r, o, c.rep, 2, msg);
		hf_error_set(rc, "%s", msg);
		if (hint[0])
			hf_error_set_hint("%s", hint);
	}
	if (c.rep) {
		hf_check_report_free(c.rep);
		pthread_mutex_destroy(&c.mu);
	}
	return rc;
}

void hf_check_report_free(hf_check_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->nproblems; i++) {
		hf_check_problem *p = &rep->problems[i];
		free(p->object);
		free(p->tenant);
		free(p->message);
		for (size_t k = 0; k < p->nfiles; k++)
			free(p->files[k]);
		free(p->files);
	}
	free(rep->problems);
	free(rep);
}
