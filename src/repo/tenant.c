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

int hf_tenant_scan(hf_repo *r, hf_tenant ***out, size_t *n, hf_tenant_damage **bad, size_t *nbad)
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
			*out = found;
			return 0;
		}
		hf_tenant_free(found);
		found = NULL;
		if (rc < 0 && rc != HF_ENOTFOUND)
			return rc;
	}
	/* Not in the catalog (or stale): the repository is the source of truth. */
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
