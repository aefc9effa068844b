/* Packs no index lists (left by a killed or failed backup, or whose index object was lost) are
 * indexed from their own sealed directories, so backups reuse them and restores can read them. */
#include "ops/adopt.h"
#include "repo/pack.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A run killed after some packs landed but before it wrote their index leaves unindexed packs.
 * Packs are self-describing: read the sealed directory of each such pack and index it again (the
 * next index flush records it), so this run reuses those blobs instead of storing them twice.
 * A pack that cannot be read is left alone: check reports it. */
typedef struct adopt_ctx {
	hf_repo *r;
	const hf_tenant *t;
	hf_index *ix;
	uint8_t (*known)[HF_ID_BYTES];
	size_t nknown;
	uint64_t packs, blobs;
	int err;
} adopt_ctx;

static int cmp_raw_id(const void *a, const void *b) { return memcmp(a, b, HF_ID_BYTES); }

static int adopt_pack(const char *name, uint64_t size, void *payload)
{
	adopt_ctx *a = payload;
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	uint8_t id[HF_ID_BYTES];
	char got[HF_ID_HEX + 1], what[200];
	hf_buf b = HF_BUF_INIT;
	hf_index_entry *ents = NULL;
	size_t n = 0;
	int rc;
	(void)size;
	if (!hf_hex_valid(base, HF_ID_HEX) || hf_hex_decode(id, sizeof(id), base) < 0)
		return 0; /* not a pack (e.g. a temporary file) */
	if (a->nknown && bsearch(id, a->known, a->nknown, HF_ID_BYTES, cmp_raw_id))
		return 0;
	snprintf(what, sizeof(what), "pack '%s'", name);
	if ((rc = hf_storage_get(a->r->storage, name, &b)) == 0) {
		hf_object_id(got, b.data, b.len);
		if (strcmp(got, base) != 0)
			rc = hf_error_set(HF_ECORRUPT, "%s does not match its content hash", what);
		else if ((rc = hf_pack_read_dir(b.data, b.len, a->t->tid_raw, a->t->keys->enc, &ents, &n, what)) == 0 &&
			 (rc = hf_index_add_pack(a->ix, id, ents, n)) == 0) {
			a->packs++;
			a->blobs += n;
		}
	}
	if (rc == HF_ENOMEM) {
		a->err = rc;
	} else if (rc < 0) {
		hf_log_warn("not reusing unindexed %s: %s", what, hf_error_message());
		hf_error_clear();
	}
	free(ents);
	hf_buf_free(&b);
	return a->err ? 1 : 0;
}

int hf_ops_adopt_unindexed(hf_repo *r, const hf_tenant *t, hf_index *ix)
{
	adopt_ctx a;
	char prefix[64];
	int rc;
	memset(&a, 0, sizeof(a));
	a.r = r;
	a.t = t;
	a.ix = ix;
	a.nknown = hf_index_pack_count(ix);
	if (!(a.known = malloc((a.nknown + 1) * HF_ID_BYTES)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (size_t i = 0; i < a.nknown; i++)
		memcpy(a.known[i], hf_index_pack_id(ix, (uint32_t)i), HF_ID_BYTES);
	if (a.nknown > 1)
		qsort(a.known, a.nknown, HF_ID_BYTES, cmp_raw_id);
	snprintf(prefix, sizeof(prefix), "data/%s/", t->tid);
	rc = hf_storage_list(r->storage, prefix, adopt_pack, &a);
	if (a.err)
		rc = a.err;
	free(a.known);
	if (rc == 0 && a.packs)
		hf_log_info("reusing %llu blob(s) in %llu pack(s) left unindexed by an interrupted backup",
			    (unsigned long long)a.blobs, (unsigned long long)a.packs);
	return rc;
}

