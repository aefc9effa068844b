/* In-memory blob index (open addressing) and the index object format:
 * "HFI1" | u32 npacks | npacks x (pack id[32] | u32 n | n x entry[46]). */
#include "repo/index.h"
#include "util/error.h"
#include "util/hex.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct hf_index {
	pthread_mutex_t mu;
	hf_index_entry *slots; /* id all-zero = empty (ids are MACs; all-zero never occurs in practice) */
	size_t cap, count;
	uint8_t (*packs)[HF_ID_BYTES];
	size_t npacks, cappacks;
	size_t flushed_packs; /* packs [flushed_packs, npacks) not yet in an index object */
};

static const uint8_t zero_id[HF_ID_BYTES];

int hf_index_new(hf_index **out)
{
	hf_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return hf_error_set(HF_ENOMEM, "out of memory");
	ix->cap = 1024;
	if (!(ix->slots = calloc(ix->cap, sizeof(*ix->slots)))) {
		free(ix);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&ix->mu, NULL);
	*out = ix;
	return 0;
}

void hf_index_free(hf_index *ix)
{
	if (!ix)
		return;
	pthread_mutex_destroy(&ix->mu);
	free(ix->slots);
	free(ix->packs);
	free(ix);
}

static size_t slot_of(const hf_index *ix, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	size_t i = (size_t)h & (ix->cap - 1);
	while (memcmp(ix->slots[i].id, zero_id, HF_ID_BYTES) != 0 && memcmp(ix->slots[i].id, id, HF_ID_BYTES) != 0)
		i = (i + 1) & (ix->cap - 1);
	return i;
}

static int grow(hf_index *ix)
{
	hf_index_entry *old = ix->slots;
	size_t oldcap = ix->cap;
	hf_index_entry *ns = calloc(oldcap * 2, sizeof(*ns));
	if (!ns)
		return hf_error_set(HF_ENOMEM, "out of memory growing the index");
	ix->slots = ns;
	ix->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (memcmp(old[i].id, zero_id, HF_ID_BYTES) != 0)
			ix->slots[slot_of(ix, old[i].id)] = old[i];
	free(old);
	return 0;
}

/* Insert or update (locked by caller). */
static int put_locked(hf_index *ix, const hf_index_entry *e, int overwrite)
{
	size_t i;
	int rc;
	if ((ix->count + 1) * 4 > ix->cap * 3 && (rc = grow(ix)) < 0)
		return rc;
	i = slot_of(ix, e->id);
	if (memcmp(ix->slots[i].id, zero_id, HF_ID_BYTES) == 0) {
		ix->slots[i] = *e;
		ix->count++;
		return 1;
	}
	if (overwrite || ix->slots[i].pack == HF_PACK_PENDING)
		ix->slots[i] = *e;
	return 0;
}

int hf_index_get(hf_index *ix, const uint8_t id[HF_ID_BYTES], hf_index_entry *out)
{
	int rc = HF_ENOTFOUND;
	pthread_mutex_lock(&ix->mu);
	size_t i = slot_of(ix, id);
	if (memcmp(ix->slots[i].id, zero_id, HF_ID_BYTES) != 0) {
		*out = ix->slots[i];
		rc = 0;
	}
	pthread_mutex_unlock(&ix->mu);
	return rc;
}

int hf_index_reserve(hf_index *ix, const uint8_t id[HF_ID_BYTES], uint8_t type, uint32_t raw)
{
	hf_index_entry e;
	int rc;
	memset(&e, 0, sizeof(e));
	memcpy(e.id, id, HF_ID_BYTES);
	e.pack = HF_PACK_PENDING;
	e.type = type;
	e.raw = raw;
	pthread_mutex_lock(&ix->mu);
	size_t i = slot_of(ix, id);
	if (memcmp(ix->slots[i].id, zero_id, HF_ID_BYTES) != 0)
		rc = 0;
	else
		rc = put_locked(ix, &e, 0);
	pthread_mutex_unlock(&ix->mu);
	return rc;
}

static int add_pack_locked(hf_index *ix, const uint8_t *pack_id, uint32_t *out)
{
	if (ix->npacks == ix->cappacks) {
		size_t cap = ix->cappacks ? ix->cappacks * 2 : 64;
		void *p = realloc(ix->packs, cap * HF_ID_BYTES);
		if (!p)
			return hf_error_set(HF_ENOMEM, "out of memory");
		ix->packs = p;
		ix->cappacks = cap;
	}
	memcpy(ix->packs[ix->npacks], pack_id, HF_ID_BYTES);
	*out = (uint32_t)ix->npacks++;
	return 0;
}

int hf_index_add_pack(hf_index *ix, const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n)
{
	uint32_t p = 0;
	int rc;
	pthread_mutex_lock(&ix->mu);
	if ((rc = add_pack_locked(ix, pack_id, &p)) == 0) {
		for (size_t i = 0; i < n && rc >= 0; i++) {
			hf_index_entry x = e[i];
			x.pack = p;
			rc = put_locked(ix, &x, 0);
		}
	}
	pthread_mutex_unlock(&ix->mu);
	return rc < 0 ? rc : 0;
}

size_t hf_index_unflushed(hf_index *ix)
{
	size_t n;
	pthread_mutex_lock(&ix->mu);
	n = ix->npacks - ix->flushed_packs;
	pthread_mutex_unlock(&ix->mu);
	return n;
}

const uint8_t *hf_index_pack_id(hf_index *ix, uint32_t pack) { return ix->packs[pack]; }
size_t hf_index_pack_count(hf_index *ix) { return ix->npacks; }
size_t hf_index_count(hf_index *ix) { return ix->count; }

int hf_index_foreach(hf_index *ix, hf_index_iter_cb cb, void *payload)
{
	for (size_t i = 0; i < ix->cap; i++)
		if (memcmp(ix->slots[i].id, zero_id, HF_ID_BYTES) != 0) {
			int rc = cb(&ix->slots[i], payload);
			if (rc)
				return rc;
		}
	return 0;
}

void hf_index_entry_decode(hf_index_entry *e, const uint8_t *p)
{
	e->type = p[0];
	e->comp = p[1];
	memcpy(e->id, p + 2, HF_ID_BYTES);
	e->offset = hf_le32(p + 34);
	e->length = hf_le32(p + 38);
	e->raw = hf_le32(p + 42);
	e->pack = 0;
}

void hf_index_entry_encode(uint8_t *p, const hf_index_entry *e)
{
	p[0] = e->type;
	p[1] = e->comp;
	memcpy(p + 2, e->id, HF_ID_BYTES);
	hf_put_le32(p + 34, e->offset);
	hf_put_le32(p + 38, e->length);
	hf_put_le32(p + 42, e->raw);
}

/* Serialize packs [from, to) with their entries (locked by caller). */
static int serialize_locked(hf_index *ix, size_t from, size_t to, hf_buf *out)
{
	uint32_t *counts = calloc(to - from + 1, sizeof(uint32_t));
	size_t *pos = calloc(to - from + 1, sizeof(size_t));
	int rc = 0;
	if (!counts || !pos) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ix->cap; i++) {
		const hf_index_entry *e = &ix->slots[i];
		if (e->pack != HF_PACK_PENDING && e->pack >= from && e->pack < to &&
		    memcmp(e->id, zero_id, HF_ID_BYTES) != 0)
			counts[e->pack - from]++;
	}
	if ((rc = hf_buf_append(out, "HFI1", 4)) < 0 || (rc = hf_buf_append_le32(out, (uint32_t)(to - from))) < 0)
		goto done;
	for (size_t p = from; p < to; p++) {
		if ((rc = hf_buf_append(out, ix->packs[p], HF_ID_BYTES)) < 0 ||
		    (rc = hf_buf_append_le32(out, counts[p - from])) < 0)
			goto done;
		pos[p - from] = out->len;
		if ((rc = hf_buf_reserve(out, (size_t)counts[p - from] * HF_ENTRY_BYTES)) < 0)
			goto done;
		out->len += (size_t)counts[p - from] * HF_ENTRY_BYTES;
	}
	for (size_t i = 0; i < ix->cap; i++) {
		const hf_index_entry *e = &ix->slots[i];
		if (e->pack != HF_PACK_PENDING && e->pack >= from && e->pack < to &&
		    memcmp(e->id, zero_id, HF_ID_BYTES) != 0) {
			hf_index_entry_encode(out->data + pos[e->pack - from], e);
			pos[e->pack - from] += HF_ENTRY_BYTES;
		}
	}
done:
	free(counts);
	free(pos);
	return rc;
}

int hf_index_flush(hf_index *ix, hf_repo *r, const hf_tenant *t, uint64_t *stored)
{
	hf_buf plain = HF_BUF_INIT, sealed = HF_BUF_INIT;
	hf_storage_put_opts po;
	char id[HF_ID_HEX + 1], key[160];
	size_t from, to;
	int rc;

	pthread_mutex_lock(&ix->mu);
	from = ix->flushed_packs;
	to = ix->npacks;
	rc = from == to ? 0 : serialize_locked(ix, from, to, &plain);
	pthread_mutex_unlock(&ix->mu);
	if (rc < 0 || from == to)
		goto done;
	if ((rc = hf_sealed_seal(&sealed, HF_SEALED_INDEX, t->tid_raw, plain.data, plain.len, t->keys->enc)) < 0)
		goto done;
	hf_object_id(id, sealed.data, sealed.len);
	hf_key_index(key, sizeof(key), t->tid, id);
	hf_repo_put_opts(r, t, &po);
	if ((rc = hf_storage_put(r->storage, key, sealed.data, sealed.len, &po)) < 0)
		goto done;
	if (stored)
		*stored += sealed.len;
	pthread_mutex_lock(&ix->mu);
	if (ix->flushed_packs < to)
		ix->flushed_packs = to;
	pthread_mutex_unlock(&ix->mu);
done:
	hf_buf_free(&plain);
	hf_buf_free(&sealed);
	return rc;
}

int hf_index_parse(const uint8_t *data, size_t len, hf_index_pack_cb cb, void *payload, const char *what)
{
	hf_index_entry *ents = NULL;
	size_t off = 8, cap = 0;
	uint32_t npacks;
	int rc = 0;
	if (len < 8 || memcmp(data, "HFI1", 4) != 0)
		return hf_error_set(HF_ECORRUPT, "%s has a bad header", what);
	npacks = hf_le32(data + 4);
	for (uint32_t p = 0; p < npacks; p++) {
		const uint8_t *pid;
		uint32_t n;
		if (len - off < HF_ID_BYTES + 4) {
			rc = hf_error_set(HF_ECORRUPT, "%s is truncated", what);
			goto done;
		}
		pid = data + off;
		n = hf_le32(data + off + HF_ID_BYTES);
		off += HF_ID_BYTES + 4;
		if ((len - off) / HF_ENTRY_BYTES < n) {
			rc = hf_error_set(HF_ECORRUPT, "%s is truncated", what);
			goto done;
		}
		if (n > cap) {
			hf_index_entry *ne = realloc(ents, n * sizeof(*ents));
			if (!ne) {
				rc = hf_error_set(HF_ENOMEM, "out of memory");
				goto done;
			}
			ents = ne;
			cap = n;
		}
		for (uint32_t i = 0; i < n; i++, off += HF_ENTRY_BYTES) {
			hf_index_entry_decode(&ents[i], data + off);
			if (ents[i].type > HF_BLOB_TREE || ents[i].comp > HF_COMP_ZSTD ||
			    ents[i].length < HF_AEAD_OVERHEAD) {
				rc = hf_error_set(HF_ECORRUPT, "%s has an invalid entry", what);
				goto done;
			}
		}
		if ((rc = cb(pid, ents, n, payload)) != 0)
			goto done;
	}
	if (off != len)
		rc = hf_error_set(HF_ECORRUPT, "%s has trailing bytes", what);
done:
	free(ents);
	return rc;
}

typedef struct load_ctx {
	hf_index *ix;
	hf_repo *r;
	const hf_tenant *t;
	hf_index_bad_cb bad;
	void *payload;
	int err;
} load_ctx;

static int load_pack_cb(const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n, void *payload)
{
	load_ctx *l = payload;
	uint32_t p = 0;
	int rc;
	pthread_mutex_lock(&l->ix->mu);
	rc = add_pack_locked(l->ix, pack_id, &p);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		hf_index_entry x = e[i];
		x.pack = p;
		rc = put_locked(l->ix, &x, 0);
	}
	l->ix->flushed_packs = l->ix->npacks;
	pthread_mutex_unlock(&l->ix->mu);
	return rc < 0 ? rc : 0;
}

static int load_one(const char *name, uint64_t size, void *payload)
{
	load_ctx *l = payload;
	hf_buf b = HF_BUF_INIT, plain = HF_BUF_INIT;
	char what[200], id[HF_ID_HEX + 1];
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	int rc;
	(void)size;
	snprintf(what, sizeof(what), "index '%s'", name);
	if ((rc = hf_storage_get(l->r->storage, name, &b)) < 0)
		goto done;
	hf_object_id(id, b.data, b.len);
	if (strcmp(id, base) != 0) {
		rc = hf_error_set(HF_ECORRUPT, "%s does not match its content hash (corrupted or truncated)", what);
		goto done;
	}
	if ((rc = hf_sealed_open(&plain, HF_SEALED_INDEX, l->t->tid_raw, b.data, b.len, l->t->keys->enc, what)) < 0)
		goto done;
	rc = hf_index_parse(plain.data, plain.len, load_pack_cb, l, what);
done:
	hf_buf_free(&b);
	hf_buf_free(&plain);
	if (rc < 0) {
		if (!l->bad) {
			l->err = rc;
			return 1;
		}
		l->bad(name, rc, hf_error_message(), l->payload);
	}
	return 0;
}

int hf_index_load(hf_index *ix, hf_repo *r, const hf_tenant *t, hf_index_bad_cb bad, void *payload)
{
	char prefix[64];
	load_ctx l = {ix, r, t, bad, payload, 0};
	int rc;
	snprintf(prefix, sizeof(prefix), "index/%s/", t->tid);
	rc = hf_storage_list(r->storage, prefix, load_one, &l);
	if (l.err)
		return l.err;
	return rc;
}
