/* The cryptographic primitives holdfast uses: Argon2id, subkeys, XChaCha20-Poly1305, keyed BLAKE2b,
 * SHA-256, the chunker's gear table and Ed25519. Their outputs are part of the repository format. */
#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdalign.h>

#include <sodium.h>

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((hf_hash_state *)0)->opaque),
	       "hf_hash_state too small for crypto_generichash_state");
_Static_assert(alignof(crypto_generichash_state) <= alignof(hf_hash_state),
	       "hf_hash_state under-aligned for crypto_generichash_state");
_Static_assert(HF_KEY_BYTES == crypto_kdf_KEYBYTES && HF_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "key size mismatch");
_Static_assert(HF_AEAD_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES &&
		       HF_AEAD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "aead size mismatch");
_Static_assert(HF_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size mismatch");
_Static_assert(HF_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES && HF_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES &&
		       HF_SIGN_BYTES == crypto_sign_BYTES,
	       "signature size mismatch");
_Static_assert(crypto_kdf_CONTEXTBYTES == 8, "kdf context size mismatch");

int hf_kdf_passphrase(uint8_t out[HF_KEY_BYTES], const char *pass, size_t passlen,
		      const uint8_t salt[HF_SALT_BYTES], uint64_t ops, size_t mem)
{
	/* ops/mem come from a key slot: out-of-range values mean the slot is damaged or hostile. */
	_Static_assert(HF_PWHASH_MEM_MIN >= crypto_pwhash_MEMLIMIT_MIN, "argon2id memory bound below libsodium's");
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > HF_PWHASH_OPS_MAX || mem < HF_PWHASH_MEM_MIN ||
	    mem > HF_PWHASH_MEM_MAX)
		return hf_error_set(HF_ECORRUPT, "argon2id parameters out of range (ops %llu, memory %zu bytes)",
				    (unsigned long long)ops, mem);
	if (passlen > crypto_pwhash_PASSWD_MAX)
		return hf_error_set(HF_EUSAGE, "passphrase too long");
	if (crypto_pwhash(out, HF_KEY_BYTES, pass, passlen, salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return hf_error_set(HF_ENOMEM, "unable to derive key from passphrase: argon2id needs %zu MiB of memory",
				    mem >> 20);
	return 0;
}

void hf_kdf_subkey(uint8_t out[HF_KEY_BYTES], const uint8_t key[HF_KEY_BYTES], const char ctx[8], uint64_t id)
{
	crypto_kdf_derive_from_key(out, HF_KEY_BYTES, id, ctx, key);
}

void hf_aead_seal(uint8_t *out, const void *pt, size_t ptlen, const void *ad, size_t adlen,
		  const uint8_t key[HF_KEY_BYTES])
{
	/* libsodium's combined mode writes ciphertext || tag, so nonce || ciphertext || tag is one call. */
	randombytes_buf(out, HF_AEAD_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + HF_AEAD_NONCE_BYTES, NULL, pt, ptlen, ad, adlen, NULL,
						   out, key);
}

int hf_aead_open(uint8_t *out, const uint8_t *in, size_t inlen, const void *ad, size_t adlen,
		 const uint8_t key[HF_KEY_BYTES])
{
	if (inlen < HF_AEAD_OVERHEAD)
		return HF_EAUTH;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + HF_AEAD_NONCE_BYTES,
						       inlen - HF_AEAD_NONCE_BYTES, ad, adlen, in, key) != 0)
		return HF_EAUTH;
	return 0;
}

void hf_mac(uint8_t out[HF_ID_BYTES], const void *data, size_t len, const uint8_t key[HF_KEY_BYTES])
{
	crypto_generichash(out, HF_ID_BYTES, data, len, key, HF_KEY_BYTES);
}

void hf_hash_init(hf_hash_state *st, const uint8_t key[HF_KEY_BYTES])
{
	crypto_generichash_init((crypto_generichash_state *)(void *)st->opaque, key, HF_KEY_BYTES, HF_ID_BYTES);
}

void hf_hash_update(hf_hash_state *st, const void *data, size_t len)
{
	crypto_generichash_update((crypto_generichash_state *)(void *)st->opaque, data, len);
}

void hf_hash_final(hf_hash_state *st, uint8_t out[HF_ID_BYTES])
{
	crypto_generichash_final((crypto_generichash_state *)(void *)st->opaque, out, HF_ID_BYTES);
}

void hf_sha256(uint8_t out[32], const void *data, size_t len)
{
	crypto_hash_sha256(out, data, len);
}

/* ChaCha20 (IETF) keystream under the seed with a fixed, versioned nonce, read as little-endian
 * words so the table — hence chunk boundaries, hence dedup — is the same on every platform. */
void hf_gear_table(uint64_t table[256], const uint8_t seed[HF_KEY_BYTES])
{
	static const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = "hf-gear-v1";
	uint8_t stream[256 * 8];

	crypto_stream_chacha20_ietf(stream, sizeof(stream), nonce, seed);
	for (size_t i = 0; i < 256; i++)
		table[i] = hf_le64(stream + 8 * i);
	sodium_memzero(stream, sizeof(stream));
}

int hf_sign_keypair(uint8_t pk[HF_SIGN_PK_BYTES], uint8_t sk[HF_SIGN_SK_BYTES])
{
	if (crypto_sign_keypair(pk, sk) != 0)
		return hf_error_set(HF_ERROR, "unable to generate an ed25519 key pair");
	return 0;
}

void hf_sign(uint8_t sig[HF_SIGN_BYTES], const void *msg, size_t len, const uint8_t sk[HF_SIGN_SK_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, sk);
}

int hf_sign_verify(const uint8_t sig[HF_SIGN_BYTES], const void *msg, size_t len, const uint8_t pk[HF_SIGN_PK_BYTES])
{
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return hf_error_set(HF_EVERIFY, "ed25519 signature does not verify");
	return 0;
}
