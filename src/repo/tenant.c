/* Tenant records (keys/tenants/<tid>): a random tenant key wrapped by the master key, plus the
 * tenant's id and tier. Subkeys for encryption, chunk ids and the chunker are derived from it. */
#include "repo/repo.h"
#include "util/clock.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hf_tenant_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || id[0] == '.' || id[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

void hf_tenant_free(hf_tenant *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->tier);
	hf_secure_free(t->keys);
	free(t);
}

static void master_record_key(const hf_repo *r, uint8_t *out)
{
	hf_kdf_subkey(out, r->master, "hftenant", 1);
}

static int derive_keys(hf_tenant *t, const uint8_t *tenant_key)
{
	if (!(t->keys = hf_secure_alloc(sizeof(*t->keys))))
		return hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
	memcpy(t->keys->tenant_key, tenant_key, HF_KEY_BYTES);
	hf_kdf_subkey(t->keys->enc, tenant_key, "hfenc001", 1);
	hf_kdf_subkey(t->keys->mac, tenant_key, "hfmac001", 1);
	hf_kdf_subkey(t->keys->gear_seed, tenant_key, "hfgear01", 1);
	return 0;
}

/* Decode a tenant record object into a tenant. */
static int tenant_parse(hf_repo *r, const char *tid, const hf_buf *obj, hf_tenant **out)
{
	hf_tenant *t = NULL;
	hf_buf plain = HF_BUF_INIT;
	json_t *j = NULL;
	uint8_t *rk = NULL, tk[64];
	const char *id, *tier, *key64;
	json_int_t created = 0;
	size_t kl = 0;
	char what[96];
	int rc;

	snprintf(what, sizeof(what), "tenant record 'keys/tenants/%s'", tid);
	if (!(t = calloc(1, sizeof(*t))) || !(rk = hf_secure_alloc(HF_KEY_BYTES))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = hf_hex_decode(t->tid_raw, HF_TID_BYTES, tid)) < 0)
		goto done;
	memcpy(t->tid, tid, HF_TID_HEX + 1);
	master_record_key(r, rk);
	if ((rc = hf_sealed_open(&plain, HF_SEALED_TENANT, t->tid_raw, obj->data, obj->len, rk, what)) < 0)
		goto done;
	j = json_loadb((char *)plain.data, plain.len, 0, NULL);
	if (!j || json_unpack(j, "{s:s, s:s, s:s, s?I}", "id", &id, "tier", &tier, "key", &key64, "created",
			      &created) < 0 ||
	    hf_base64_decode(tk, sizeof(tk), &kl, key64) < 0 || kl != HF_KEY_BYTES) {
		rc = hf_error_set(HF_ECORRUPT, "%s is malformed", what);
		goto done;
	}
	if (!(t->id = strdup(id)) || !(t->tier = strdup(tier))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	t->created = created;
	if ((rc = derive_keys(t, tk)) < 0)
		goto done;
	*out = t;
	t = NULL;
done:
	hf_memzero(tk, sizeof(tk));
	if (plain.data)
		hf_memzero(plain.data, plain.len);
	hf_buf_free(&plain);
	json_decref(j);
	hf_secure_free(rk);
	hf_tenant_free(t);
	return rc;
}

static int load_by_tid(hf_repo *r, const char *tid, hf_tenant **out)
{
	char key[80];
	hf_buf b = HF_BUF_INIT;
	int rc;
	snprintf(key, sizeof(key), "keys/tenants/%s", tid);
	if ((rc = hf_storage_get(r->storage, key, &b)) == 0)
		rc = tenant_parse(r, tid, &b, out);
	hf_buf_free(&b);
	return rc;
}

typedef struct scan_ctx {
	hf_repo *r;
	hf_tenant **v;
	size_t n, cap;
	hf_tenant_damage *bad;
	size_t nbad, capbad;
	int err;
} scan_ctx;

/* A record that exists but does not open is damage, not a reason to refuse every other tenant: the
 * repository key was verified on unlock (key slot and config digest), so a record that fails
 * authentication under it was altered, truncated or put there from elsewhere. It is collected and the
 * scan goes on. Any other failure (storage unreachable, out of memory) still ends the scan. */
static int note_damage(scan_ctx *s, const char *tid, int code)
{
	const char *msg;
	hf_tenant_damage *v = hf_array_grow(s->bad, &s->capbad, s->nbad, sizeof(*v), 4);
	if (!v)
		return hf_error_set(HF_ENOMEM, "out of memory");
	s->bad = v;
	memset(&v[s->nbad], 0, sizeof(*v));
	snprintf(v[s->nbad].key, sizeof(v[s->nbad].key), "keys/tenants/%s", tid);
	v[s->nbad].code = code;
	if (code == HF_EAUTH) { /* the generic message suspects a wrong key, which it is not */
		msg = "failed authentication although the repository key was verified: the record is damaged "
		      "or not this repository's";
	} else { /* "tenant record 'keys/tenants/<tid>' is malformed (...)": the object is named apart */
		char prefix[96];
		snprintf(prefix, sizeof(prefix), "tenant record '%s' ", v[s->nbad].key);
		msg = hf_error_message();
		if (!strncmp(msg, prefix, strlen(prefix)))
			msg += strlen(prefix);
	}
	if (!(v[s->nbad].message = strdup(msg)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	s->nbad++;
	return 0;
}

static int scan_one(const char *name, uint64_t size, void *payload)
{
	scan_ctx *s = payload;
	const char *tid = name + strlen("keys/tenants/");
	hf_tenant *t = NULL, **v;
	int rc;
	(void)size;
	if (!hf_hex_valid(tid, HF_TID_HEX))
		return 0;
	if ((rc = load_by_tid(s->r, tid, &t)) < 0) {
		if (rc == HF_ENOTFOUND) /* listed, then gone: nothing to load */
			return 0;
		if (rc == HF_EAUTH || rc == HF_ECORRUPT)
			rc = note_damage(s, tid, rc);
		if (rc < 0) {
			s->err = rc;
			return 1;
		}
		return 0;
	}
	if (!(v = hf_array_grow(s->v, &s->cap, s->n, sizeof(*v), 16))) {
		hf_tenant_free(t);
		s->err = hf_error_set(HF_ENOMEM, "out of memory");
		return 1;
	}
	s->v = v;
	s->v[s->n++] = t;
	return 0;
}

void hf_tenant_damage_free(hf_tenant_damage *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		free(d[i].message);
	free(d);
}

/* Every record that opens, duplicates included: what hf_tenant_create's re-listing needs to see. */
static int scan_raw(hf_repo *r, hf_tenant ***out, size_t *n, hf_tenant_damage **bad, size_t *nbad)
{
	scan_ctx s = {r, NULL, 0, 0, NULL, 0, 0, 0};
	int rc = hf_storage_list(r->storage, "keys/tenants/", scan_one, &s);
	if (s.err)
		rc = s.err;
	if (rc < 0) {
		for (size_t i = 0; i < s.n; i++)
			hf_tenant_free(s.v[i]);
		free(s.v);
		hf_tenant_damage_free(s.bad, s.nbad);
		return rc;
	}
	*out = s.v;
	*n = s.n;
	*bad = s.bad;
	*nbad = s.nbad;
	return 0;
}

/* ---- one record per id ----
 *
 * hf_tenant_create makes a second record for an id impossible to keep (see there), but records written
 * before it did so, or by an adder that lost and crashed before withdrawing its record, may remain. Every
 * reader then has to land on the same record, on every host, whatever the listing order or the local
 * catalog says; otherwise backups of one tenant are split over two keys and, after a catalog rebuild,
 * part of its history seems gone. The rule, which needs nothing but the repository:
 *
 *   1. if exactly one of the records has snapshots, that one: the tenant's history is there (a winner
 *      that was already backed up when a loser's leftover record appeared, or the record that older
 *      versions happened to use);
 *   2. otherwise the earliest `created`, then the smaller handle: both fixed when the record is written.
 *
 * Every host backs up only into the chosen record, so the choice stays put: under 1 the other records
 * never gain a snapshot, and under 2 the chosen one is the first to gain one. (Forgetting every snapshot
 * of the chosen record can move the choice back to 2; nothing is hidden then.) Costs a listing of
 * snapshots/<tid>/ per record of a duplicated id, and nothing when there are no duplicates. */

static int stop_at_first(const char *name, uint64_t size, void *payload)
{
	(void)name;
	(void)size;
	(void)payload;
	return 1;
}

/* 1 when snapshots/<tid>/ holds anything, 0 when empty. */
static int holds_snapshots(hf_repo *r, const char *tid)
{
	char prefix[64];
	int rc;
	snprintf(prefix, sizeof(prefix), "snapshots/%s/", tid);
	rc = hf_storage_list(r->storage, prefix, stop_at_first, NULL);
	return rc < 0 ? rc : rc > 0;
}

typedef struct dup_entry {
	hf_tenant *t;
	size_t pos; /* in the scan's array */
	int snaps;
} dup_entry;

static int cmp_dup(const void *a, const void *b)
{
	const hf_tenant *x = ((const dup_entry *)a)->t, *y = ((const dup_entry *)b)->t;
	int c = strcmp(x->id, y->id);
	if (c)
		return c;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->tid, y->tid);
}

/* Picks the record of one id among e[0..k) (sorted by the rule's second step) into *chosen, and warns. */
static int pick_record(hf_repo *r, dup_entry *e, size_t k, size_t *chosen)
{
	size_t with = 0, which = 0;
	char names[1024];
	size_t len = 0;
	int rc;
	for (size_t i = 0; i < k; i++) {
		if ((rc = holds_snapshots(r, e[i].t->tid)) < 0)
			return rc;
		e[i].snaps = rc;
		if (rc) {
			with++;
			which = i;
		}
	}
	*chosen = with == 1 ? which : 0;
	names[0] = '\0';
	for (size_t i = 0; i < k && len < sizeof(names); i++) {
		if (i == *chosen)
			continue;
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%skeys/tenants/%s", len ? ", " : "",
					e[i].t->tid);
	}
	hf_log_warn("tenant '%s' has %zu records: using keys/tenants/%s (%s), ignoring %s (left by "
		    "concurrent 'tenant add' runs of an earlier version, or by an interrupted one)",
		    e[0].t->id, k, e[*chosen].t->tid,
		    with == 1 ? "the only one with snapshots" : "the earliest created", names);
	return 0;
}

/* Leaves one record per id in v[0..*n), in the scan's order; the others are freed. */
static int one_per_id(hf_repo *r, hf_tenant **v, size_t *n)
{
	dup_entry *e;
	size_t i, j, k, m = 0;
	int rc = 0, dups = 0;
	if (*n < 2)
		return 0;
	if (!(e = calloc(*n, sizeof(*e))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (i = 0; i < *n; i++)
		e[i] = (dup_entry){v[i], i, 0};
	qsort(e, *n, sizeof(*e), cmp_dup);
	for (i = 0; i < *n; i = j) {
		size_t chosen;
		for (j = i + 1; j < *n && !strcmp(e[j].t->id, e[i].t->id); j++)
			;
		if (j - i < 2)
			continue;
		if ((rc = pick_record(r, &e[i], j - i, &chosen)) < 0)
			goto done;
		for (k = i; k < j; k++)
			if (k != i + chosen) {
				hf_tenant_free(v[e[k].pos]);
				v[e[k].pos] = NULL;
				dups = 1;
			}
	}
	if (dups) {
		for (i = 0; i < *n; i++)
			if (v[i])
				v[m++] = v[i];
		*n = m;
	}
done:
	free(e);
	return rc;
}

int hf_tenant_scan(hf_repo *r, hf_tenant ***out, size_t *n, hf_tenant_damage **bad, size_t *nbad)
{
	int rc = scan_raw(r, out, n, bad, nbad);
	if (rc < 0 || (rc = one_per_id(r, *out, n)) == 0)
		return rc;
	for (size_t i = 0; i < *n; i++)
		hf_tenant_free((*out)[i]);
	free(*out);
	hf_tenant_damage_free(*bad, *nbad);
	return rc;
}

/* Every readable record; each unreadable one is named in a warning and left out. */
static int load_all_warn(hf_repo *r, hf_tenant ***out, size_t *n, size_t *nbad_out)
{
	hf_tenant_damage *bad = NULL;
	size_t nbad = 0;
	int rc = hf_tenant_scan(r, out, n, &bad, &nbad);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nbad; i++)
		hf_log_warn("skipping tenant record '%s', which %s", bad[i].key, bad[i].message);
	hf_tenant_damage_free(bad, nbad);
	if (nbad_out)
		*nbad_out = nbad;
	return 0;
}

int hf_tenant_load_all(hf_repo *r, hf_tenant ***out, size_t *n)
{
	return load_all_warn(r, out, n, NULL);
}

static int catalog_record(hf_repo *r, const hf_tenant *t)
{
	hf_catalog_tenant ct = {t->id, t->tid, t->tier, t->created, NULL};
	int rc = hf_catalog_tenant_put(r->catalog, &ct);
	if (rc < 0)
		hf_log_warn("catalog not updated for tenant '%s': %s", t->id, hf_error_message());
	return 0;
}

/* ---- the catalog's id -> handle shortcut ---- */

typedef struct known_ctx {
	char (*tid)[HF_TID_HEX + 1]; /* handles the catalog maps some id to, sorted */
	size_t n, cap;
	int err;
} known_ctx;

static int known_one(const hf_catalog_tenant *t, void *payload)
{
	known_ctx *k = payload;
	void *v;
	if (!t->tid || !hf_hex_valid(t->tid, HF_TID_HEX))
		return 0;
	if (!(v = hf_array_grow(k->tid, &k->cap, k->n, sizeof(*k->tid), 16))) {
		k->err = hf_error_set(HF_ENOMEM, "out of memory");
		return 1;
	}
	k->tid = v;
	memcpy(k->tid[k->n++], t->tid, HF_TID_HEX + 1);
	return 0;
}

static int cmp_tid(const void *a, const void *b)
{
	return strcmp(a, b);
}

typedef struct names_ctx {
	char (*tid)[HF_TID_HEX + 1];
	size_t n, cap;
} names_ctx;

static int name_one(const char *name, uint64_t size, void *payload)
{
	names_ctx *c = payload;
	const char *tid = name + strlen("keys/tenants/");
	void *v;
	(void)size;
	if (!hf_hex_valid(tid, HF_TID_HEX))
		return 0;
	if (!(v = hf_array_grow(c->tid, &c->cap, c->n, sizeof(*c->tid), 16)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	c->tid = v;
	memcpy(c->tid[c->n++], tid, HF_TID_HEX + 1);
	return 0;
}

/* The catalog said `id` is record `tid`, and that record does carry `id`. Is it the only one with that id?
 * 1 yes, 0 no or not sure (the caller then resolves through a scan and the rule above), < 0 error.
 *
 * The catalog cannot answer this: a second record may have appeared since it was filled, and a host that
 * trusted its cached handle would then keep backing up into a record the other hosts do not use. So the
 * record names are listed (one listing, no reads) and each handle the catalog already ties to a tenant is
 * skipped: records never change, so those carry other ids. Only the rest are read: tenants added from
 * another host (recorded here, so that the next command skips them), damaged records, and duplicates. In
 * the common case, every record known, this costs one listing on top of the read of `tid`. */
static int only_record_of(hf_repo *r, const char *id, const char *tid)
{
	known_ctx k = {NULL, 0, 0, 0};
	names_ctx names = {NULL, 0, 0};
	hf_catalog_tenant ct;
	int rc, seen = 0;

	if ((rc = hf_storage_list(r->storage, "keys/tenants/", name_one, &names)) < 0)
		goto done;
	if ((rc = hf_catalog_tenant_list(r->catalog, known_one, &k)) < 0 || (rc = k.err) < 0)
		goto done;
	if (k.n > 1)
		qsort(k.tid, k.n, sizeof(*k.tid), cmp_tid);
	rc = 1;
	for (size_t i = 0; i < names.n && rc == 1; i++) {
		hf_tenant *t = NULL;
		int lrc;
		if (!strcmp(names.tid[i], tid)) {
			seen = 1;
			continue;
		}
		if (k.n && bsearch(names.tid[i], k.tid, k.n, sizeof(*k.tid), cmp_tid))
			continue;
		if ((lrc = load_by_tid(r, names.tid[i], &t)) < 0) {
			/* gone since the listing, or unreadable: a scan would leave it out as well */
			if (lrc == HF_ENOTFOUND || lrc == HF_EAUTH || lrc == HF_ECORRUPT) {
				hf_error_clear();
				continue;
			}
			rc = lrc;
			break;
		}
		if (!strcmp(t->id, id))
			rc = 0;
		else if (hf_catalog_tenant_get(r->catalog, t->id, &ct) == HF_ENOTFOUND)
			catalog_record(r, t);
		hf_error_clear();
		hf_tenant_free(t);
	}
	if (rc == 1 && !seen) /* removed since it was read: let the scan decide */
		rc = 0;
done:
	free(names.tid);
	free(k.tid);
	return rc;
}

int hf_tenant_load(hf_repo *r, const char *id, hf_tenant **out)
{
	hf_catalog_tenant ct;
	hf_tenant **all = NULL, *found = NULL;
	size_t n = 0, nbad = 0;
	int rc;

	if (!hf_tenant_id_valid(id))
		return hf_error_set(HF_EUSAGE, "invalid tenant id '%.80s'", id);
	if (hf_catalog_tenant_get(r->catalog, id, &ct) == 0 && hf_hex_valid(ct.tid, HF_TID_HEX)) {
		char tid[HF_TID_HEX + 1];
		memcpy(tid, ct.tid, sizeof(tid));
		if ((rc = load_by_tid(r, tid, &found)) == 0 && strcmp(found->id, id) == 0) {
			if ((rc = only_record_of(r, id, tid)) == 1) {
				*out = found;
				return 0;
			}
		}
		hf_tenant_free(found);
		found = NULL;
		if (rc < 0 && rc != HF_ENOTFOUND)
			return rc;
	}
	/* Not in the catalog (or stale, or one of several records): the repository is the source of truth,
	 * and the scan keeps one record per id. */
	if ((rc = load_all_warn(r, &all, &n, &nbad)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (!found && strcmp(all[i]->id, id) == 0)
			found = all[i];
		else
			hf_tenant_free(all[i]);
	}
	free(all);
	if (!found) {
		rc = hf_error_set(HF_ENOTFOUND, "unknown tenant '%s' in repository '%s'", id, r->storage->url);
		if (nbad) /* it may be one of them: say so rather than only "unknown" */
			hf_error_set_hint("%zu tenant record(s) could not be opened (named above) and may hold it; "
					  "'holdfast check' reports them", nbad);
		else
			hf_error_set_hint("list tenants with 'holdfast tenant list'; add one with 'holdfast tenant add'");
		return rc;
	}
	catalog_record(r, found);
	*out = found;
	return 0;
}

/* Takes back a record this adder just wrote; nothing refers to it yet. The caller's error is kept. A
 * record that stays (the removal failed, or the process died before it) is one of the duplicates that
 * the readers' rule above settles. */
static void withdraw(hf_repo *r, const hf_tenant *t)
{
	hf_error_saved saved;
	char key[80];
	int rc;
	hf_error_save(&saved);
	snprintf(key, sizeof(key), "keys/tenants/%s", t->tid);
	if ((rc = hf_storage_remove(r->storage, key)) < 0 && rc != HF_ENOTFOUND)
		hf_log_warn("tenant record '%s' could not be removed (%s); readers ignore it unless it is the only "
			    "record of tenant '%s' left", key, hf_error_message(), t->id);
	hf_error_restore(&saved);
}

/* "One record per id", without a lock (S3 has none, and two adders need not share a host), in the spirit
 * of hf_key_remove: the check for an existing id that precedes the put cannot see an adder that is
 * between its own check and its put, and the record's name is random, so the exclusive put does not
 * collide either. Hence:
 *
 *   1. put the new record;  2. list and open the tenant records again;
 *   3. if any record other than our own carries the id, we lose: withdraw ours and fail.
 *
 * At most one adder wins, assuming storage whose operations take effect in one order (a local
 * directory; S3 lists are strongly consistent): take two winners A and B, and say A listed first. A's
 * listing did not show B's record, which B, a winner, never removes; so B put it after A listed, hence
 * after A put its own. B listed after its put, so B's listing showed A's record (A never removes it
 * either): B lost. Contradiction. Both may lose (each put before the other listed); then neither record
 * stays, the id is still free and a rerun adds it. That is safe: a loser's record is never handed out
 * (not returned, not put in the catalog), so nothing is ever written under it.
 *
 * A failure to list again is a loss as well: without the listing there is no proof that ours is the
 * only record. Records that do not open are not counted, as everywhere else: their id is unknown. */
static int confirm_unique(hf_repo *r, const hf_tenant *t)
{
	hf_tenant **all = NULL;
	hf_tenant_damage *bad = NULL;
	size_t n = 0, nbad = 0;
	int rc, other = 0;
	if ((rc = scan_raw(r, &all, &n, &bad, &nbad)) < 0) {
		withdraw(r, t);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(all[i]->id, t->id) && strcmp(all[i]->tid, t->tid) != 0)
			other = 1;
		hf_tenant_free(all[i]);
	}
	free(all);
	hf_tenant_damage_free(bad, nbad);
	if (!other)
		return 0;
	rc = hf_error_set(HF_EEXISTS, "tenant '%s' already exists (added concurrently) in repository '%s'", t->id,
			  r->storage->url);
	withdraw(r, t);
	hf_error_set_hint("another 'tenant add %s' ran at the same time; see 'holdfast tenant list', and add it "
			  "again if it is not there", t->id);
	return rc;
}

int hf_tenant_create(hf_repo *r, const char *id, const char *tier, hf_tenant **out)
{
	hf_tenant *t = NULL, *existing = NULL;
	uint8_t *tk = NULL, *rk = NULL;
	char key64[64], key[80];
	json_t *j = NULL;
	char *text = NULL;
	hf_buf obj = HF_BUF_INIT;
	int rc;

	if (!hf_tenant_id_valid(id)) {
		rc = hf_error_set(HF_EUSAGE, "invalid tenant id '%.80s'", id);
		hf_error_set_hint("use 1-64 characters from A-Z a-z 0-9 . _ -, not starting with '.' or '-'");
		return rc;
	}
	if (!tier || !hf_tenant_id_valid(tier))
		return hf_error_set(HF_EUSAGE, "invalid tier name '%.80s'", tier ? tier : "");
	rc = hf_tenant_load(r, id, &existing);
	hf_tenant_free(existing);
	if (rc == 0)
		return hf_error_set(HF_EEXISTS, "tenant '%s' already exists in repository '%s'", id, r->storage->url);
	if (rc != HF_ENOTFOUND)
		return rc;
	hf_error_clear();
	if (!(t = calloc(1, sizeof(*t))) || !(t->id = strdup(id)) || !(t->tier = strdup(tier)) ||
	    !(tk = hf_secure_alloc(HF_KEY_BYTES)) || !(rk = hf_secure_alloc(HF_KEY_BYTES))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	hf_random(t->tid_raw, HF_TID_BYTES);
	hf_hex_encode(t->tid, t->tid_raw, HF_TID_BYTES);
	hf_random(tk, HF_KEY_BYTES);
	t->created = hf_clock_now_ns() / 1000000000;
	hf_base64_encode(key64, tk, HF_KEY_BYTES);
	j = json_pack("{s:i, s:s, s:s, s:I, s:s}", "version", 1, "id", id, "tier", tier, "created",
		      (json_int_t)t->created, "key", key64);
	hf_memzero(key64, sizeof(key64));
	if (!j || !(text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	master_record_key(r, rk);
	if ((rc = hf_sealed_seal(&obj, HF_SEALED_TENANT, t->tid_raw, text, strlen(text), rk)) < 0)
		goto done;
	snprintf(key, sizeof(key), "keys/tenants/%s", t->tid);
	if ((rc = hf_storage_put(r->storage, key, obj.data, obj.len, NULL)) < 0)
		goto done;
	if ((rc = confirm_unique(r, t)) < 0)
		goto done;
	if ((rc = derive_keys(t, tk)) < 0)
		goto done;
	catalog_record(r, t);
	if (out) {
		*out = t;
		t = NULL;
	}
done:
	if (text) {
		hf_memzero(text, strlen(text));
		free(text);
	}
	json_decref(j);
	hf_buf_free(&obj);
	hf_secure_free(tk);
	hf_secure_free(rk);
	hf_tenant_free(t);
	return rc;
}

void hf_key_pack(char *out, size_t cap, const char *tid, const char *pack_id)
{
	snprintf(out, cap, "data/%s/%.2s/%s", tid, pack_id, pack_id);
}

void hf_key_index(char *out, size_t cap, const char *tid, const char *index_id)
{
	snprintf(out, cap, "index/%s/%s", tid, index_id);
}

void hf_key_snapshot(char *out, size_t cap, const char *tid, const char *snap_id)
{
	snprintf(out, cap, "snapshots/%s/%s", tid, snap_id);
}

static const hf_tier_policy *tier_policy(const hf_repo *r, const hf_tenant *t)
{
	for (size_t i = 0; t && i < r->ntiers; i++)
		if (!strcmp(r->tiers[i].name, t->tier))
			return &r->tiers[i];
	return NULL;
}

hf_lock_mode hf_repo_lock_mode(const hf_repo *r, const hf_tenant *t)
{
	const hf_tier_policy *p = tier_policy(r, t);
	return p && p->lock_mode != HF_LOCK_NONE ? p->lock_mode : r->config.lock_mode;
}

int hf_repo_lock_days(const hf_repo *r, const hf_tenant *t)
{
	const hf_tier_policy *p = tier_policy(r, t);
	return p && p->lock_days > 0 ? p->lock_days : r->config.lock_days;
}

int64_t hf_repo_retain_until(const hf_repo *r, const hf_tenant *t)
{
	if (!hf_storage_has(r->storage, HF_STORAGE_FEAT_LOCK) || hf_repo_lock_mode(r, t) == HF_LOCK_NONE)
		return 0;
	return hf_clock_now_ns() / 1000000000 + (int64_t)hf_repo_lock_days(r, t) * 86400;
}

void hf_repo_put_opts(const hf_repo *r, const hf_tenant *t, hf_storage_put_opts *o)
{
	o->lock_until = hf_repo_retain_until(r, t);
	o->lock_mode = o->lock_until ? hf_repo_lock_mode(r, t) : HF_LOCK_NONE;
}
