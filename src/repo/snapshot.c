/* Snapshot manifests (snapshots/<tid>/<id>), blob reads and tree loading. */
#include "repo/pack.h"
#include "repo/packcache.h"
#include "repo/tree.h"
#include "compress/compress.h"
#include "util/clock.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"

#include <jansson.h>

#define HF_SMALL_BLOB (256u * 1024)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hf_manifest_clear(hf_manifest *m)
{
	free(m->tenant);
	free(m->tier);
	free(m->source);
	free(m->label);
	free(m->hostname);
	free(m->lsn);
	free(m->source_info);
	free(m->kind);
	memset(m, 0, sizeof(*m));
}

int hf_manifest_write(hf_repo *r, const hf_tenant *t, hf_manifest *m, uint64_t *stored)
{
	json_t *j = NULL, *info = NULL;
	char tree[HF_ID_HEX + 1], when[40], key[160], *text = NULL;
	hf_buf sealed = HF_BUF_INIT;
	hf_storage_put_opts po;
	int rc;

	hf_hex_encode(tree, m->tree, HF_ID_BYTES);
	hf_time_format(when, sizeof(when), m->time_ns);
	if (m->source_info && !(info = json_loads(m->source_info, 0, NULL)))
		return hf_error_set(HF_ERROR, "source info of the snapshot is not valid JSON");
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:I, s:s*}, s:s, s:s, "
		      "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:o*, s:s, s:s*}",
		      "v", 1, "tenant", m->tenant, "tid", t->tid, "tier", m->tier ? m->tier : t->tier, "source",
		      m->source, "label", m->label ? m->label : "", "hostname", m->hostname ? m->hostname : "",
		      "time", (json_int_t)m->time_ns, "time_text", when, "recovery", "time",
		      (json_int_t)m->recovery_ns, "lsn", m->lsn, "tree", tree, "parent", m->parent, "stats",
		      "files", (json_int_t)m->files, "dirs", (json_int_t)m->dirs, "bytes", (json_int_t)m->bytes,
		      "chunks", (json_int_t)m->chunks, "new_chunks", (json_int_t)m->new_chunks, "new_bytes",
		      (json_int_t)m->new_bytes, "stored", (json_int_t)m->stored, "retain_until",
		      (json_int_t)m->retain_until, "source_info", info, "program", "holdfast " HF_VERSION, "kind",
		      m->kind && *m->kind ? m->kind : NULL);
	if (!j || !(text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = hf_error_set(HF_ENOMEM, "unable to encode snapshot manifest");
		goto done;
	}
	if ((rc = hf_sealed_seal(&sealed, HF_SEALED_SNAPSHOT, t->tid_raw, text, strlen(text), t->keys->enc)) < 0)
		goto done;
	hf_object_id(m->id, sealed.data, sealed.len);
	hf_key_snapshot(key, sizeof(key), t->tid, m->id);
	hf_repo_put_opts(r, t, &po);
	if ((rc = hf_storage_put(r->storage, key, sealed.data, sealed.len, &po)) < 0)
		goto done;
	if (stored)
		*stored += sealed.len;
done:
	free(text);
	json_decref(j);
	hf_buf_free(&sealed);
	return rc;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int hf_manifest_load(hf_repo *r, const hf_tenant *t, const char *id, hf_manifest *out)
{
	hf_buf b = HF_BUF_INIT, plain = HF_BUF_INIT;
	json_t *j = NULL, *info = NULL;
	char key[160], what[200], check[HF_ID_HEX + 1];
	const char *tenant, *tid, *tier = NULL, *source, *label = "", *host = "", *tree, *parent = "", *lsn = NULL;
	const char *kind = NULL;
	json_int_t time_ns = 0, rec = 0, files = 0, dirs = 0, bytes = 0, chunks = 0, nc = 0, nb = 0, st = 0, ru = 0;
	hf_manifest m;
	int rc;

	memset(&m, 0, sizeof(m));
	hf_key_snapshot(key, sizeof(key), t->tid, id);
	snprintf(what, sizeof(what), "snapshot '%s'", key);
	if ((rc = hf_storage_get(r->storage, key, &b)) < 0)
		goto done;
	hf_object_id(check, b.data, b.len);
	if (strcmp(check, id) != 0) {
		rc = hf_error_set(HF_ECORRUPT, "%s does not match its content hash (corrupted or truncated)", what);
		goto done;
	}
	if ((rc = hf_sealed_open(&plain, HF_SEALED_SNAPSHOT, t->tid_raw, b.data, b.len, t->keys->enc, what)) < 0)
		goto done;
	j = json_loadb((char *)plain.data, plain.len, 0, NULL);
	if (!j || json_unpack(j, "{s:s, s:s, s?s, s:s, s?s, s?s, s:I, s?{s?I, s?s}, s:s, s?s, s?{s?I, s?I, s?I, s?I, "
				 "s?I, s?I, s?I}, s?I, s?o, s?s}",
			      "tenant", &tenant, "tid", &tid, "tier", &tier, "source", &source, "label", &label,
			      "hostname", &host, "time", &time_ns, "recovery", "time", &rec, "lsn", &lsn, "tree",
			      &tree, "parent", &parent, "stats", "files", &files, "dirs", &dirs, "bytes", &bytes,
			      "chunks", &chunks, "new_chunks", &nc, "new_bytes", &nb, "stored", &st, "retain_until",
			      &ru, "source_info", &info, "kind", &kind) < 0 ||
	    strcmp(tid, t->tid) != 0 || strcmp(tenant, t->id) != 0 || hf_hex_decode(m.tree, HF_ID_BYTES, tree) < 0) {
		rc = hf_error_set(HF_ECORRUPT, "%s is malformed", what);
		goto done;
	}
	memcpy(m.id, id, HF_ID_HEX + 1);
	memcpy(m.tid, tid, HF_TID_HEX + 1);
	snprintf(m.parent, sizeof(m.parent), "%s", parent ? parent : "");
	m.tenant = strdup(tenant);
	m.tier = dup_or_null(tier);
	m.source = strdup(source);
	m.label = dup_or_null(label);
	m.hostname = dup_or_null(host);
	m.lsn = dup_or_null(lsn);
	m.kind = kind && *kind ? strdup(kind) : NULL;
	m.source_info = info && !json_is_null(info) ? json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	m.time_ns = time_ns;
	m.recovery_ns = rec ? rec : time_ns;
	m.files = (uint64_t)files;
	m.dirs = (uint64_t)dirs;
	m.bytes = (uint64_t)bytes;
	m.chunks = (uint64_t)chunks;
	m.new_chunks = (uint64_t)nc;
	m.new_bytes = (uint64_t)nb;
	m.stored = (uint64_t)st;
	m.retain_until = ru;
	if (!m.tenant || !m.source) {
		hf_manifest_clear(&m);
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	*out = m;
done:
	json_decref(j);
	hf_buf_free(&b);
	hf_buf_free(&plain);
	return rc;
}

typedef struct list_ctx {
	char (*v)[HF_ID_HEX + 1];
	size_t n, cap;
	int err;
} list_ctx;

static int list_one(const char *name, uint64_t size, void *payload)
{
	list_ctx *l = payload;
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char (*v)[HF_ID_HEX + 1];
	(void)size;
	if (!hf_hex_valid(base, HF_ID_HEX))
		return 0;
	if (!(v = hf_array_grow(l->v, &l->cap, l->n, sizeof(*l->v), 16))) {
		l->err = hf_error_set(HF_ENOMEM, "out of memory");
		return 1;
	}
	l->v = v;
	memcpy(l->v[l->n++], base, HF_ID_HEX + 1);
	return 0;
}

int hf_manifest_list(hf_repo *r, const hf_tenant *t, char (**out)[HF_ID_HEX + 1], size_t *n)
{
	char prefix[64];
	list_ctx l = {NULL, 0, 0, 0};
	int rc;
	snprintf(prefix, sizeof(prefix), "snapshots/%s/", t->tid);
	rc = hf_storage_list(r->storage, prefix, list_one, &l);
	if (l.err)
		rc = l.err;
	if (rc < 0) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int hf_blob_read(hf_repo *r, const hf_tenant *t, hf_index *ix, const uint8_t id[HF_ID_BYTES], hf_buf *out,
		 hf_zctx *z)
{
	hf_index_entry e;
	hf_buf sealed = HF_BUF_INIT;
	char pid[HF_ID_HEX + 1], bid[HF_ID_HEX + 1], key[160];
	uint8_t *plain = NULL;
	size_t plen;
	int rc;

	hf_hex_encode(bid, id, HF_ID_BYTES);
	if (hf_index_get(ix, id, &e) < 0 || e.pack == HF_PACK_PENDING)
		return hf_error_set(HF_ENOTFOUND, "blob %.16s of tenant '%s' is not in any index", bid, t->id);
	hf_hex_encode(pid, hf_index_pack_id(ix, e.pack), HF_ID_BYTES);
	hf_key_pack(key, sizeof(key), t->tid, pid);
	/* Small blobs (small files, trees) come through the whole-pack cache of remote storage: they sit
	 * together in a few packs and one GET serves hundreds. Large chunks are fetched by range: each is
	 * one efficient request, and caching whole packs for them would only thrash the cache. */
	rc = r->packs && e.length < HF_SMALL_BLOB
		     ? hf_pack_cache_read(r->packs, r->storage, key, e.offset, e.length, &sealed)
		     : hf_storage_get_range(r->storage, key, e.offset, e.length, &sealed);
	if (rc < 0) {
		if (rc == HF_ENOTFOUND)
			rc = hf_error_set(HF_ENOTFOUND, "pack '%s' is missing (blob %.16s)", key, bid);
		goto done; /* a short read may have grown `sealed` */
	}
	plen = e.length - HF_AEAD_OVERHEAD;
	if (e.comp == HF_COMP_NONE) {
		if ((rc = hf_buf_reserve(out, plen)) < 0)
			goto done;
		if (hf_blob_open(out->data + out->len, t->tid_raw, &e, sealed.data, t->keys->enc) != 0) {
			rc = hf_error_set(HF_ECORRUPT, "blob %.16s in pack '%s' failed authentication", bid, key);
			goto done;
		}
		if (plen != e.raw) {
			rc = hf_error_set(HF_ECORRUPT, "blob %.16s in pack '%s' has the wrong size", bid, key);
			goto done;
		}
		out->len += plen;
		goto done;
	}
	if (!(plain = malloc(plen ? plen : 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if (hf_blob_open(plain, t->tid_raw, &e, sealed.data, t->keys->enc) != 0) {
		rc = hf_error_set(HF_ECORRUPT, "blob %.16s in pack '%s' failed authentication", bid, key);
		goto done;
	}
	if ((rc = hf_buf_reserve(out, e.raw)) < 0)
		goto done;
	if ((rc = hf_zstd_decompress(z, out->data + out->len, e.raw, plain, plen)) < 0) {
		rc = hf_error_wrap(HF_ECORRUPT, "blob %.16s in pack '%s'", bid, key);
		goto done;
	}
	out->len += e.raw;
done:
	free(plain);
	hf_buf_free(&sealed);
	return rc;
}

int hf_tree_load(hf_repo *r, const hf_tenant *t, hf_index *ix, hf_node *dir, const uint8_t tree_id[HF_ID_BYTES])
{
	hf_buf b = HF_BUF_INIT;
	hf_zctx *z = NULL;
	char what[120], hex[HF_ID_HEX + 1];
	int rc;
	hf_hex_encode(hex, tree_id, HF_ID_BYTES);
	snprintf(what, sizeof(what), "tree %.16s of tenant '%s'", hex, t->id);
	if ((rc = hf_zctx_new(&z, 0)) < 0)
		return rc;
	if ((rc = hf_blob_read(r, t, ix, tree_id, &b, z)) == 0)
		rc = hf_tree_decode(dir, b.data, b.len, what);
	else
		rc = hf_error_wrap(rc, "unable to read %s", what);
	hf_zctx_free(z);
	hf_buf_free(&b);
	return rc;
}
