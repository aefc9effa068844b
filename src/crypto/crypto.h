/* Cryptographic primitives for holdfast; the only module that includes <sodium.h>.
 * Keys are 32 bytes, held in hf_secure_alloc() memory (locked, wiped on free, excluded from core dumps). */
#ifndef HF_CRYPTO_H
#define HF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define HF_KEY_BYTES 32
#define HF_ID_BYTES 32      /* chunk/object ids: keyed BLAKE2b-256 */
#define HF_SALT_BYTES 16
#define HF_AEAD_NONCE_BYTES 24
#define HF_AEAD_TAG_BYTES 16
#define HF_AEAD_OVERHEAD (HF_AEAD_NONCE_BYTES + HF_AEAD_TAG_BYTES)
#define HF_SIGN_PK_BYTES 32
#define HF_SIGN_SK_BYTES 64
#define HF_SIGN_BYTES 64

/* Call once before anything else (idempotent, thread-safe after the first call). */
int hf_crypto_init(void);
/* Best effort, at process start: no core dumps (RLIMIT_CORE 0) and not dumpable/ptrace-able
 * (PR_SET_DUMPABLE 0). Failures are logged at debug level and otherwise ignored. */
void hf_crypto_harden_process(void);

/* Guarded memory for secrets: mlock'd, MADV_DONTDUMP, wiped on free. NULL on failure. hf_secure_free(NULL) ok. */
void *hf_secure_alloc(size_t n);
void hf_secure_free(void *p);
void hf_memzero(void *p, size_t n);
/* Constant-time comparison; 0 when equal. */
int hf_memcmp_ct(const void *a, const void *b, size_t n);

void hf_random(void *buf, size_t n);

/* Argon2id passphrase KDF (crypto_pwhash). ops/mem: the stored parameters, within the bounds below
 * (those of holdfast.h's HF_KDF_*: what holdfast writes; a slot outside them is damaged or hostile,
 * HF_ECORRUPT, so that a flipped digit cannot make an unlock run for hours or ask for terabytes);
 * HF_ENOMEM when the memory limit cannot be met. */
#define HF_PWHASH_OPS_DEFAULT 3
#define HF_PWHASH_OPS_MAX 100
#define HF_PWHASH_MEM_DEFAULT (64u * 1024 * 1024)
#define HF_PWHASH_MEM_MIN (8ull << 20)
#define HF_PWHASH_MEM_MAX (4096ull << 20)
int hf_kdf_passphrase(uint8_t out[HF_KEY_BYTES], const char *pass, size_t passlen,
		      const uint8_t salt[HF_SALT_BYTES], uint64_t ops, size_t mem);

/* Derive an independent subkey from a key: BLAKE2b-based crypto_kdf with an 8-char context
 * (e.g. "hfenc001") and a numeric id. */
void hf_kdf_subkey(uint8_t out[HF_KEY_BYTES], const uint8_t key[HF_KEY_BYTES], const char ctx[8], uint64_t id);

/* XChaCha20-Poly1305 (IETF) with a random nonce. out must hold ptlen + HF_AEAD_OVERHEAD bytes;
 * layout: nonce(24) || ciphertext(ptlen) || tag(16). `out` may not overlap `pt`. */
void hf_aead_seal(uint8_t *out, const void *pt, size_t ptlen, const void *ad, size_t adlen,
		  const uint8_t key[HF_KEY_BYTES]);
/* Inverse of seal; out must hold inlen - HF_AEAD_OVERHEAD bytes. Returns 0, or HF_EAUTH when the
 * tag does not verify (wrong key or altered data), including inlen < HF_AEAD_OVERHEAD — sets no
 * message: the caller names the object. */
int hf_aead_open(uint8_t *out, const uint8_t *in, size_t inlen, const void *ad, size_t adlen,
		 const uint8_t key[HF_KEY_BYTES]);

/* Keyed BLAKE2b-256 (chunk ids, per-file content hashes). */
void hf_mac(uint8_t out[HF_ID_BYTES], const void *data, size_t len, const uint8_t key[HF_KEY_BYTES]);

/* Streaming keyed BLAKE2b-256. The state is opaque storage for crypto_generichash_state. */
typedef struct hf_hash_state {
	_Alignas(64) unsigned char opaque[384];
} hf_hash_state;
void hf_hash_init(hf_hash_state *st, const uint8_t key[HF_KEY_BYTES]);
void hf_hash_update(hf_hash_state *st, const void *data, size_t len);
void hf_hash_final(hf_hash_state *st, uint8_t out[HF_ID_BYTES]);

/* Unkeyed SHA-256 (content hashes for S3 signing, public fingerprints). */
void hf_sha256(uint8_t out[32], const void *data, size_t len);

/* The chunker's secret gear table: 256 pseudo-random 64-bit values expanded from a 32-byte seed
 * (deterministic: same seed, same table). */
void hf_gear_table(uint64_t table[256], const uint8_t seed[HF_KEY_BYTES]);

/* Ed25519 signatures for manifests and reports. */
int hf_sign_keypair(uint8_t pk[HF_SIGN_PK_BYTES], uint8_t sk[HF_SIGN_SK_BYTES]);
void hf_sign(uint8_t sig[HF_SIGN_BYTES], const void *msg, size_t len, const uint8_t sk[HF_SIGN_SK_BYTES]);
/* 0 when valid, HF_EVERIFY otherwise. */
int hf_sign_verify(const uint8_t sig[HF_SIGN_BYTES], const void *msg, size_t len, const uint8_t pk[HF_SIGN_PK_BYTES]);

/* Base64 (standard, padded) for keys in text files. enc: out needs hf_base64_len(n) bytes incl NUL. */
size_t hf_base64_len(size_t n);
void hf_base64_encode(char *out, const uint8_t *in, size_t n);
/* Decode into out (cap bytes); sets *outlen. HF_ECORRUPT on bad input. */
int hf_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in);

#endif
