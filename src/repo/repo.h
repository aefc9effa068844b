/* Repository internals: the opened repository, its configuration, key slots and tenant contexts.
 * Layout and byte formats are specified in man/holdfast-repository.5. */
#ifndef HF_REPO_H
#define HF_REPO_H

#include "holdfast/holdfast.h"
#include "catalog/catalog.h"
#include "chunk/chunker.h"
#include "crypto/crypto.h"
#include "storage/storage.h"
#include "util/buf.h"

#include <pthread.h>

#define HF_FORMAT_VERSION 1
#define HF_TID_BYTES 16
#define HF_TID_HEX 32
#define HF_PACK_SIZE_DEFAULT (16u * 1024 * 1024)

typedef struct hf_repo_config {
	int version;
	char id[HF_ID_HEX + 1];
	int64_t created;
	hf_chunker_params chunker;
	uint32_t pack_size;
	int compression;
	hf_lock_mode lock_mode;
	int lock_days;
	uint8_t digest[HF_ID_BYTES]; /* BLAKE2b of the stored config bytes, sealed into every key slot */
} hf_repo_config;

/* A tenant's key material, derived from its tenant key. Lives in secure memory. */
typedef struct hf_tenant_keys {
	uint8_t tenant_key[HF_KEY_BYTES];
	uint8_t enc[HF_KEY_BYTES];  /* AEAD for blobs and sealed objects */
	uint8_t mac[HF_KEY_BYTES];  /* chunk ids and file hashes */
	uint8_t gear_seed[HF_KEY_BYTES];
} hf_tenant_keys;

typedef struct hf_tenant {
	char *id;
	char *tier;
	char tid[HF_TID_HEX + 1];
	uint8_t tid_raw[HF_TID_BYTES];
	int64_t created;
	hf_tenant_keys *keys;      /* sodium-guarded */
} hf_tenant;

typedef struct hf_tier_policy {
	char *name;
	hf_lock_mode lock_mode; /* HF_LOCK_NONE: the repository's */
	int lock_days;          /* 0: the repository's */
} hf_tier_policy;

struct hf_pack_cache;

struct hf_repo {
	struct hf_pack_cache *packs; /* remote storage: whole-pack LRU for reads (NULL on local storage) */
	hf_tier_policy *tiers;
	size_t ntiers;
	hf_storage *storage;
	hf_catalog *catalog;
	char *catalog_path;
	hf_repo_config config;
	uint8_t *master;           /* HF_KEY_BYTES, guarded */
	char slot_id[33];          /* slot that unlocked the session */
	int compression;
	int threads;
	int parallel;              /* concurrent transfers to remote storage */
};

/* config.c */
/* Serialize (malloc'd text) and set c->digest; the config is stored after its first key slot. */
int hf_repo_config_encode(hf_repo_config *c, char **out);
int hf_repo_config_read(hf_storage *s, hf_repo_config *out);
/* The parser behind it, for bytes already read (url only names the repository in messages). */
int hf_repo_config_parse(const uint8_t *data, size_t len, const char *url, hf_repo_config *out);

/* keyslot.c: credential -> master key */
int hf_keyslot_create(hf_storage *s, const hf_repo_config *c, const uint8_t *master, const hf_credential *cred,
		      uint64_t kdf_ops, size_t kdf_mem, char out_id[33]);
/* Check a credential for a new slot before anything is created (readable, passphrase long enough). */
int hf_keyslot_check(const hf_credential *cred);
/* 1 when a stored slot object would be tried by an unlock (well formed, parameters in bounds). */
int hf_keyslot_usable(const uint8_t *data, size_t len);
int hf_keyslot_unlock(hf_storage *s, const hf_repo_config *c, const hf_credential *cred, uint8_t *master_out,
		      char out_id[33]);

/* sealed.c: the envelope for metadata objects (tenant records, indexes, snapshots). */
enum { HF_SEALED_TENANT = 'T', HF_SEALED_INDEX = 'I', HF_SEALED_SNAPSHOT = 'S' };
#define HF_SEALED_HEADER 8
int hf_sealed_seal(hf_buf *out, int type, const uint8_t tid[HF_TID_BYTES], const void *pt, size_t len,
		   const uint8_t key[HF_KEY_BYTES]);
/* Opens; `what` names the object in error messages. HF_EAUTH when the key does not fit,
 * HF_ECORRUPT when malformed. */
int hf_sealed_open(hf_buf *out, int type, const uint8_t tid[HF_TID_BYTES], const void *data, size_t len,
		   const uint8_t key[HF_KEY_BYTES], const char *what);
/* Content-derived object name: hex BLAKE2b-256 (zero key) of the stored bytes. */
void hf_object_id(char out[HF_ID_HEX + 1], const void *data, size_t len);

/* tenant.c */
int hf_tenant_create(hf_repo *r, const char *id, const char *tier, hf_tenant **out);
/* Load a tenant by user id: catalog first, then a scan of the repository's tenant records.
 * HF_ENOTFOUND "unknown tenant 'x'" when it does not exist. */
int hf_tenant_load(hf_repo *r, const char *id, hf_tenant **out);
/* Every tenant record in the repository that opens; each one that does not is named in a warning and
 * left out, so that one damaged record does not lock out the other tenants. */
int hf_tenant_load_all(hf_repo *r, hf_tenant ***out, size_t *n);
/* A tenant record that exists but does not open (HF_EAUTH or HF_ECORRUPT): damage, since the master key
 * was verified on unlock. */
typedef struct hf_tenant_damage {
	char key[HF_TID_HEX + 16]; /* "keys/tenants/<tid>" */
	int code;
	char *message;             /* what is wrong, without the object's name: "failed authentication ..." */
} hf_tenant_damage;
/* As hf_tenant_load_all, but the unreadable records are returned in *bad (free with
 * hf_tenant_damage_free) instead of warned about. */
int hf_tenant_scan(hf_repo *r, hf_tenant ***out, size_t *n, hf_tenant_damage **bad, size_t *nbad);
void hf_tenant_damage_free(hf_tenant_damage *d, size_t n);
void hf_tenant_free(hf_tenant *t);
int hf_tenant_id_valid(const char *id);

/* Object keys. */
void hf_key_pack(char *out, size_t cap, const char *tid, const char *pack_id);
void hf_key_index(char *out, size_t cap, const char *tid, const char *index_id);
void hf_key_snapshot(char *out, size_t cap, const char *tid, const char *snap_id);

/* Lock mode and days for a tenant's tier (repository defaults when the tier has no policy). */
hf_lock_mode hf_repo_lock_mode(const hf_repo *r, const hf_tenant *t);
int hf_repo_lock_days(const hf_repo *r, const hf_tenant *t);
/* Retention for new objects of a tenant: seconds since epoch (0 = no lock). */
int64_t hf_repo_retain_until(const hf_repo *r, const hf_tenant *t);
void hf_repo_put_opts(const hf_repo *r, const hf_tenant *t, hf_storage_put_opts *o);

#endif
