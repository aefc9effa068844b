/* Opening and creating repositories; key slot and tenant management behind the public API. */
#include "repo/repo.h"
#include "repo/packcache.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"

#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *hf_version(void) { return HF_VERSION; }

void hf_set_verbosity(int level)
{
	hf_log_set_level(level <= 0 ? HF_LOG_ERROR : level >= 3 ? HF_LOG_DEBUG : (hf_log_level)level);
}

/* jansson copies every string it parses or prints (a tenant record's base64 key among them) into
 * its own allocations and frees them unwiped. Every jansson allocation is wiped on free instead: a
 * memset per JSON value, invisible next to parsing it. */
static void *json_alloc(size_t n)
{
	return malloc(n);
}

static void json_wipe_free(void *p)
{
	if (p) {
		hf_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

int hf_library_init(int harden)
{
	int rc = hf_crypto_init();
	json_set_alloc_funcs(json_alloc, json_wipe_free);
	if (rc == 0 && harden)
		hf_crypto_harden_process();
	return rc;
}

/* $XDG_STATE_HOME/holdfast or ~/.local/state/holdfast (malloc'd). */
static char *state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p;
	size_t n;
	if (x && *x) {
		n = strlen(x) + 16;
		if ((p = malloc(n)))
			snprintf(p, n, "%s/holdfast", x);
		return p;
	}
	if (!home || !*home)
		home = "/tmp";
	n = strlen(home) + 32;
	if ((p = malloc(n)))
		snprintf(p, n, "%s/.local/state/holdfast", home);
	return p;
}

static int open_storage(const hf_repo_options *o, hf_storage **out)
{
	hf_storage_options so;
	char *def = NULL, *sd = NULL;
	const char *url = o->url;
	int rc;
	memset(&so, 0, sizeof(so));
	so.s3_endpoint = o->s3_endpoint;
	so.s3_region = o->s3_region;
	so.ca_file = o->ca_file;
	so.insecure = o->insecure;
	so.virtual_host = o->virtual_host;
	so.parallel = o->parallel;
	so.retries = o->retries;
	so.timeout_s = o->timeout;
	if (!url || !*url) {
		if (!(sd = state_dir()) || !(def = hf_path_join(sd, "repository"))) {
			free(sd);
			return hf_error_set(HF_ENOMEM, "out of memory");
		}
		url = def;
	}
	rc = hf_storage_open(out, url, &so);
	free(def);
	free(sd);
	return rc;
}

static int open_catalog(hf_repo *r, const char *path)
{
	char *sd = NULL;
	int rc;
	if (path && *path) {
		r->catalog_path = strdup(path);
	} else {
		size_t n;
		if (!(sd = state_dir()))
			return hf_error_set(HF_ENOMEM, "out of memory");
		n = strlen(sd) + 64;
		if ((r->catalog_path = malloc(n)))
			snprintf(r->catalog_path, n, "%s/catalog-%.16s.db", sd, r->config.id);
		free(sd);
	}
	if (!r->catalog_path)
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = hf_catalog_open(&r->catalog, r->catalog_path)) < 0)
		return rc;
	return 0;
}

static hf_lock_mode parse_lock_mode(const char *s, int *ok)
{
	*ok = 1;
	if (!s || !strcmp(s, "none"))
		return HF_LOCK_NONE;
	if (!strcmp(s, "governance"))
		return HF_LOCK_GOVERNANCE;
	if (!strcmp(s, "compliance"))
		return HF_LOCK_COMPLIANCE;
	*ok = 0;
	return HF_LOCK_NONE;
}

int hf_repo_init(const hf_repo_options *o, const hf_init_options *io, char out_repo_id[HF_ID_HEX + 1])
{
	hf_storage *st = NULL;
	hf_repo_config c;
	hf_storage_prepare_opts po;
	hf_buf probe = HF_BUF_INIT;
	uint8_t *master = NULL, rid[32];
	char slot[33], *text = NULL;
	int rc, ok;

	if ((rc = hf_crypto_init()) < 0 || (rc = hf_keyslot_check(&o->cred)) < 0)
		return rc;
	memset(&c, 0, sizeof(c));
	c.version = HF_FORMAT_VERSION;
	hf_random(rid, sizeof(rid));
	hf_hex_encode(c.id, rid, sizeof(rid));
	c.created = hf_clock_now_ns() / 1000000000;
	c.chunker.min_size = io && io->chunk_min ? io->chunk_min : HF_CHUNK_MIN_DEFAULT;
	c.chunker.avg_size = io && io->chunk_avg ? io->chunk_avg : HF_CHUNK_AVG_DEFAULT;
	c.chunker.max_size = io && io->chunk_max ? io->chunk_max : HF_CHUNK_MAX_DEFAULT;
	c.pack_size = io && io->pack_size ? io->pack_size : HF_PACK_SIZE_DEFAULT;
	c.compression = io && io->compression >= 0 ? io->compression : 3;
	c.lock_days = io && io->lock_days > 0 ? io->lock_days : 30;
	if ((rc = hf_chunker_params_check(&c.chunker)) < 0)
		return rc;
	if (c.pack_size < 1024 * 1024 || c.pack_size > 512u * 1024 * 1024 || c.compression > 19)
		return hf_error_set(HF_EUSAGE, "invalid pack size or compression level");
	if ((rc = open_storage(o, &st)) < 0)
		return rc;
	c.lock_mode = parse_lock_mode(io ? io->lock_mode : NULL, &ok);
	if (!ok) {
		rc = hf_error_set(HF_EUSAGE, "invalid lock mode '%s' (use none, governance or compliance)", io->lock_mode);
		goto done;
	}
	if ((!io || !io->lock_mode) && hf_storage_has(st, HF_STORAGE_FEAT_LOCK))
		c.lock_mode = HF_LOCK_GOVERNANCE;
	if (c.lock_mode != HF_LOCK_NONE && !hf_storage_has(st, HF_STORAGE_FEAT_LOCK)) {
		rc = hf_error_set(HF_EUNSUPPORTED, "storage '%s' does not support object lock", st->url);
		goto done;
	}
	memset(&po, 0, sizeof(po));
	po.create = 1;
	po.lock_mode = c.lock_mode;
	po.lock_days = c.lock_days;
	po.create = io ? (io->create_bucket || !hf_storage_has(st, HF_STORAGE_FEAT_LOCK)) : 1;
	if ((rc = hf_storage_get(st, "config", &probe)) == 0) {
		rc = hf_error_set(HF_EEXISTS, "a repository already exists at '%s'", st->url);
		goto done;
	}
	hf_error_clear();
	if (st->vt->prepare && (rc = hf_storage_prepare(st, &po)) < 0)
		goto done;
	if (!(master = hf_secure_alloc(HF_KEY_BYTES))) {
		rc = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto done;
	}
	hf_random(master, HF_KEY_BYTES);
	/* Key slot first, config last: a repository is visible only once it can be unlocked. The slot
	 * seals the config's digest, so an altered config (e.g. lock settings) is detected on open. */
	if ((rc = hf_repo_config_encode(&c, &text)) < 0)
		goto done;
	if ((rc = hf_keyslot_create(st, &c, master, &o->cred, io ? io->kdf_ops : 0, io ? io->kdf_mem : 0, slot)) < 0)
		goto done;
	{
		/* the config is write-once like the data: locked for the repository's retention (extended by backups) */
		hf_storage_put_opts cpo = {HF_LOCK_NONE, 0};
		if (c.lock_mode != HF_LOCK_NONE) {
			cpo.lock_mode = c.lock_mode;
			cpo.lock_until = hf_clock_now_ns() / 1000000000 + (int64_t)c.lock_days * 86400;
		}
		if ((rc = hf_storage_put(st, "config", text, strlen(text), &cpo)) < 0)
			goto done;
	}
	if (out_repo_id)
		memcpy(out_repo_id, c.id, HF_ID_HEX + 1);
done:
	free(text);
	hf_buf_free(&probe);
	hf_secure_free(master);
	hf_storage_free(st);
	return rc;
}

int hf_repo_open(hf_repo **out, const hf_repo_options *o)
{
	hf_repo *r = NULL;
	int rc;
	if ((rc = hf_crypto_init()) < 0)
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = open_storage(o, &r->storage)) < 0 || (rc = hf_repo_config_read(r->storage, &r->config)) < 0)
		goto fail;
	if (!(r->master = hf_secure_alloc(HF_KEY_BYTES))) {
		rc = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto fail;
	}
	if ((rc = hf_keyslot_unlock(r->storage, &r->config, &o->cred, r->master, r->slot_id)) < 0)
		goto fail;
	if ((rc = open_catalog(r, o->catalog_path)) < 0)
		goto fail;
	r->compression = o->compression >= 0 ? o->compression : r->config.compression;
	if (r->compression > 19)
		r->compression = 19;
	r->threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (r->threads < 1)
		r->threads = 1;
	r->parallel = o->parallel > 0 ? o->parallel : 8;
	/* 4 packs (~64 MiB) hold the working set of a restore that reads files in storage order */
	if (!hf_storage_has(r->storage, HF_STORAGE_FEAT_LOCAL) && (rc = hf_pack_cache_new(&r->packs, 4)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	hf_repo_free(r);
	return rc;
}

void hf_repo_free(hf_repo *r)
{
	if (!r)
		return;
	hf_catalog_free(r->catalog);
	hf_pack_cache_free(r->packs);
	hf_storage_free(r->storage);
	hf_secure_free(r->master);
	free(r->catalog_path);
	for (size_t i = 0; i < r->ntiers; i++)
		free(r->tiers[i].name);
	free(r->tiers);
	free(r);
}

int hf_repo_set_tier(hf_repo *r, const char *tier, const char *lock_mode, int lock_days)
{
	hf_tier_policy *v;
	hf_lock_mode mode = HF_LOCK_NONE;
	int ok = 1;
	if (lock_mode)
		mode = parse_lock_mode(lock_mode, &ok);
	if (!ok || (lock_mode && mode == HF_LOCK_NONE))
		return hf_error_set(HF_ECONFIG, "tier '%s': invalid lock mode '%s' (governance or compliance)", tier,
				    lock_mode);
	if (lock_days < 0 || lock_days > 36500)
		return hf_error_set(HF_ECONFIG, "tier '%s': invalid lock days %d", tier, lock_days);
	if (!(v = realloc(r->tiers, (r->ntiers + 1) * sizeof(*v))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	r->tiers = v;
	if (!(v[r->ntiers].name = strdup(tier)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	v[r->ntiers].lock_mode = mode;
	v[r->ntiers].lock_days = lock_days;
	r->ntiers++;
	return 0;
}

const char *hf_repo_id(const hf_repo *r) { return r->config.id; }
const char *hf_repo_url(const hf_repo *r) { return r->storage->url; }
const char *hf_repo_catalog_path(const hf_repo *r) { return r->catalog_path; }

/* ---- keys ---- */

int hf_key_add(hf_repo *r, const hf_credential *new_cred, char out_id[33])
{
	return hf_keyslot_create(r->storage, &r->config, r->master, new_cred, 0, 0, out_id);
}

typedef struct key_list_ctx {
	hf_repo *r;
	hf_key_info *v;
	size_t n, cap;
	int err;
} key_list_ctx;

static int key_list_one(const char *name, uint64_t size, void *payload);

int hf_key_list(hf_repo *r, hf_key_info **out, size_t *n)
{
	key_list_ctx k = {r, NULL, 0, 0, 0};
	int rc = hf_storage_list(r->storage, "keys/slots/", key_list_one, &k);
	if (k.err)
		rc = k.err;
	if (rc < 0) {
		free(k.v);
		return rc;
	}
	*out = k.v;
	*n = k.n;
	return 0;
}

/* A slot counts as one that "remains" only when an unlock would try it (hf_keyslot_usable). Anything
 * else under keys/slots/ (a damaged slot, the leftover of an aborted init, a stray file) unlocks
 * nothing, so it must not let the last working slot be removed. Whether a well-formed slot really
 * wraps this repository's master key cannot be known without its credential; that is the best a
 * remover can do. */
typedef struct slot_ent {
	char id[33];
	int valid;
} slot_ent;

typedef struct slot_scan {
	hf_storage *st;
	slot_ent *v;        /* every slot named by a 32-character id */
	size_t n, cap;
	int err;
} slot_scan;

static int slot_scan_one(const char *name, uint64_t size, void *payload)
{
	slot_scan *s = payload;
	const char *id = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	hf_buf b = HF_BUF_INIT;
	slot_ent *v;
	(void)size;
	if (strlen(id) != 32)
		return 0;
	if (!(v = hf_array_grow(s->v, &s->cap, s->n, sizeof(*v), 8))) {
		s->err = hf_error_set(HF_ENOMEM, "out of memory");
		return 1;
	}
	s->v = v;
	snprintf(s->v[s->n].id, sizeof(s->v[s->n].id), "%s", id);
	/* a slot removed since the listing unlocks nothing: not found is no error, just not valid */
	s->v[s->n].valid = hf_storage_get(s->st, name, &b) == 0 && hf_keyslot_usable(b.data, b.len);
	s->n++;
	hf_error_clear();
	hf_buf_free(&b);
	return 0;
}

static int slot_scan_run(hf_repo *r, slot_scan *s)
{
	int rc;
	memset(s, 0, sizeof(*s));
	s->st = r->storage;
	rc = hf_storage_list(r->storage, "keys/slots/", slot_scan_one, s);
	if (s->err)
		rc = s->err;
	if (rc < 0) {
		free(s->v);
		s->v = NULL;
		s->n = 0;
	}
	return rc < 0 ? rc : 0;
}

/* Well-formed slots other than `id`: those that keep the repository open once `id` is gone. */
static size_t slot_scan_others(const slot_scan *s, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].valid && strcmp(s->v[i].id, id) != 0;
	return n;
}

/* Puts a removed slot back after it turned out to be the last one. Only the remover of a slot ever
 * puts it back, with the bytes it read before removing; "already exists" means another remover of
 * the same slot put it back first, which is just as good. When even that fails, the bytes are saved
 * next to the catalog so that an administrator can copy them back into keys/slots/. */
static int slot_put_back(hf_repo *r, const char *key, const char *id, const hf_buf *bytes)
{
	char path[4096], why[512];
	const char *slash;
	int rc = hf_storage_put(r->storage, key, bytes->data, bytes->len, NULL);
	if (rc == 0 || rc == HF_EEXISTS) {
		hf_error_clear();
		return 0;
	}
	snprintf(why, sizeof(why), "%s", hf_error_message());
	slash = r->catalog_path ? strrchr(r->catalog_path, '/') : NULL;
	if (slash)
		snprintf(path, sizeof(path), "%.*s/keyslot-%s.json", (int)(slash - r->catalog_path), r->catalog_path,
			 id);
	if (!slash || hf_fs_write_atomic(path, bytes->data, bytes->len, 0600, 0) < 0)
		return hf_error_set(rc,
				    "key slot '%s' was removed and no other valid key slot remains; putting it back "
				    "failed (%s), and its bytes could not be saved locally",
				    id, why);
	rc = hf_error_set(rc, "key slot '%s' was removed and no other valid key slot remains; putting it back "
			  "failed: %s", id, why);
	hf_error_set_hint("its bytes are saved in '%s': copy them to %s in repository '%s'", path, key,
			  r->storage->url);
	return rc;
}

/* "Never the last slot", without a lock (S3 has none, and two administrators need not share a host):
 *
 *   1. list: refuse unless a valid slot other than the victim V exists;
 *   2. read V's bytes;  3. remove V;
 *   4. list again: when no valid slot other than V is left, put V back (step 2's bytes) and fail.
 *
 * Why no interleaving of any number of removers can leave no valid slot, assuming storage whose
 * operations take effect in one order (a local directory; S3 lists are strongly consistent): slots
 * are taken away only by step 3 and added back only by step 4. Suppose all removers have finished and
 * no valid slot is left. Take the last step 3 that made the set of valid slots empty, say the removal
 * of V by remover R. Nothing added a slot after it, or a later removal would have had to empty the set
 * again. So R's own step 4, which runs after its step 3, saw no valid slot besides V and put V back:
 * contradiction. The two-admin race this closes: A removes b while B removes a; both pass step 1
 * seeing {a, b}, both remove. Whichever re-lists second sees nothing left (or only what the first put
 * back) and restores its victim; if both re-list before either restores, both restore and both fail.
 * In every case at least one slot survives; a failed remover can simply run again.
 *
 * A failure to re-list is treated like "nothing left": without it there is no proof that a slot
 * remains. */
int hf_key_remove(hf_repo *r, const char *id)
{
	slot_scan s, after;
	size_t match = 0, idx = 0;
	hf_buf bytes = HF_BUF_INIT;
	char key[64], victim[33];
	int rc;
	if ((rc = slot_scan_run(r, &s)) < 0)
		return rc;
	for (size_t i = 0; i < s.n; i++)
		if (strncmp(s.v[i].id, id, strlen(id)) == 0) {
			match++;
			idx = i;
		}
	if (!*id || match == 0) {
		rc = hf_error_set(HF_ENOTFOUND, "no key slot '%s' in repository '%s'", id, r->storage->url);
		goto done;
	}
	if (match > 1) {
		rc = hf_error_set(HF_EUSAGE, "key slot prefix '%s' is ambiguous", id);
		goto done;
	}
	snprintf(victim, sizeof(victim), "%s", s.v[idx].id);
	if (slot_scan_others(&s, victim) == 0) {
		rc = hf_error_set(HF_EUSAGE, "refusing to remove key slot '%s': it is the last valid one", victim);
		hf_error_set_hint("add another key first with 'holdfast key add'");
		goto done;
	}
	snprintf(key, sizeof(key), "keys/slots/%s", victim);
	if ((rc = hf_storage_get(r->storage, key, &bytes)) < 0 || (rc = hf_storage_remove(r->storage, key)) < 0)
		goto done;
	if (slot_scan_run(r, &after) == 0 && slot_scan_others(&after, victim) > 0) {
		free(after.v);
		goto done;
	}
	free(after.v);
	hf_error_clear();
	if ((rc = slot_put_back(r, key, victim, &bytes)) < 0)
		goto done;
	rc = hf_error_set(HF_EUSAGE,
			  "refusing to remove key slot '%s': no other valid key slot was left after removing it "
			  "(another one removed at the same time?); it has been put back",
			  victim);
	hf_error_set_hint("check with 'holdfast key list', then run 'key remove' again if still wanted");
done:
	free(s.v);
	hf_buf_free(&bytes);
	return rc;
}

/* ---- tenants ---- */

int hf_tenant_add(hf_repo *r, const char *id, const char *tier)
{
	int rc = hf_tenant_create(r, id, tier, NULL);
	if (rc == 0)
		hf_catalog_audit_add(r->catalog, hf_clock_now_ns() / 1000000000, "tenant add", id, tier);
	return rc;
}

void hf_tenant_info_free(hf_tenant_info *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].id);
		free(t[i].tier);
	}
	free(t);
}

static int key_list_one(const char *name, uint64_t size, void *payload)
{
	key_list_ctx *k = payload;
	hf_buf b = HF_BUF_INIT;
	json_t *j = NULL;
	const char *type = "?", *id = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	json_int_t created = 0;
	(void)size;
	if (strlen(id) != 32)
		return 0;
	if (hf_storage_get(k->r->storage, name, &b) == 0 && (j = json_loadb((char *)b.data, b.len, 0, NULL)))
		json_unpack(j, "{s?s, s?I}", "type", &type, "created", &created);
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		hf_key_info *v = realloc(k->v, cap * sizeof(*v));
		if (!v) {
			k->err = hf_error_set(HF_ENOMEM, "out of memory");
			json_decref(j);
			hf_buf_free(&b);
			return 1;
		}
		k->v = v;
		k->cap = cap;
	}
	memset(&k->v[k->n], 0, sizeof(k->v[k->n]));
	snprintf(k->v[k->n].id, sizeof(k->v[k->n].id), "%s", id);
	snprintf(k->v[k->n].type, sizeof(k->v[k->n].type), "%s", type);
	k->v[k->n].created = created;
	k->v[k->n].current = strcmp(id, k->r->slot_id) == 0;
	k->n++;
	json_decref(j);
	hf_buf_free(&b);
	return 0;
}
