/* Object Lock extension of packs referenced by a new snapshot (see locks.h). */
#include "ops/locks.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mark(hf_index *ix, uint8_t *used, const uint8_t *id)
{
	hf_index_entry e;
	if (hf_index_get(ix, id, &e) == 0 && e.pack != HF_PACK_PENDING)
		used[e.pack] = 1;
}

static void mark_tree(hf_index *ix, uint8_t *used, const hf_node *dir)
{
	mark(ix, used, dir->hash);
	for (size_t i = 0; i < dir->nchildren; i++) {
		const hf_node *n = dir->children[i];
		if (n->type == HF_ENTRY_DIR)
			mark_tree(ix, used, n);
		else
			for (size_t k = 0; k < n->ncontent; k++)
				mark(ix, used, n->content[k]);
	}
}

/* How far past the needed date to extend: half the tier's retention, between 1 and 30 days. */
static int64_t slack_seconds(const hf_repo *r, const hf_tenant *t)
{
	int64_t days = hf_repo_lock_days(r, t) / 2;
	if (days < 1)
		days = 1;
	if (days > 30)
		days = 30;
	return days * 86400;
}

/* key: the object; ckey: its row in the catalog's pack_lock table. Pack names are unique across
 * repositories (they hold the tenant's random handle); "config" is not, and a catalog may be shared
 * by several repositories (holdfast.conf(5)), so its row names the repository. */
static int ensure_locked(hf_repo *r, const hf_tenant *t, const char *key, const char *ckey, int64_t needed,
			 hf_lock_stats *st)
{
	hf_storage_stat s;
	int64_t known = 0, until;
	hf_lock_mode mode;
	int rc;
	if (hf_catalog_pack_lock_get(r->catalog, ckey, &known) == 0 && known >= needed)
		return 0;
	st->heads++;
	if ((rc = hf_storage_stat_object(r->storage, key, &s)) < 0)
		return hf_error_wrap(rc, "unable to read the lock of '%s'", key);
	if (s.lock_until >= needed) {
		hf_catalog_pack_lock_put(r->catalog, ckey, s.lock_until);
		return 0;
	}
	until = needed + slack_seconds(r, t);
	/* a COMPLIANCE lock stays COMPLIANCE; an unlocked or GOVERNANCE pack gets the tier's mode */
	mode = s.lock_mode == HF_LOCK_COMPLIANCE ? HF_LOCK_COMPLIANCE : hf_repo_lock_mode(r, t);
	if ((rc = hf_storage_extend_lock(r->storage, key, mode, until)) < 0)
		return hf_error_wrap(rc, "unable to extend the lock of '%s'", key);
	st->extended++;
	hf_catalog_pack_lock_put(r->catalog, ckey, until);
	return 0;
}

int hf_ops_extend_locks(hf_repo *r, const hf_tenant *t, hf_index *ix, const hf_node *root, size_t first_new,
			int64_t needed, hf_lock_stats *stats)
{
	size_t np = hf_index_pack_count(ix);
	uint8_t *used;
	char hex[HF_ID_HEX + 1], key[160];
	hf_lock_stats st = {0, 0, 0};
	int rc = 0;

	if (!needed || !hf_storage_has(r->storage, HF_STORAGE_FEAT_LOCK))
		return 0;
	if (!(used = calloc(np + 1, 1)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	mark_tree(ix, used, root);
	for (size_t p = 0; p < np && rc == 0; p++) {
		if (!used[p])
			continue;
		hf_hex_encode(hex, hf_index_pack_id(ix, (uint32_t)p), HF_ID_BYTES);
		hf_key_pack(key, sizeof(key), t->tid, hex);
		if (p >= first_new) { /* written by this backup, locked until `needed` */
			hf_catalog_pack_lock_put(r->catalog, key, needed);
			continue;
		}
		st.packs++;
		rc = ensure_locked(r, t, key, key, needed, &st);
	}
	free(used);
	/* the repository config must outlive every snapshot too */
	if (rc == 0) {
		char ckey[16 + HF_ID_HEX];
		snprintf(ckey, sizeof(ckey), "config@%s", r->config.id);
		rc = ensure_locked(r, t, "config", ckey, needed, &st);
	}
	if (st.extended)
		hf_log_info("extended the object lock of %llu pack(s) of tenant '%s'", (unsigned long long)st.extended,
			    t->id);
	if (stats)
		*stats = st;
	return rc;
}
