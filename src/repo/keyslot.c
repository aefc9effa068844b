/* Key slots (keys/slots/<id>): the master key wrapped by a passphrase (Argon2id) or a key file.
 * This is the repository's only mutable area besides tenant key records: slots can be removed. */
#include "repo/repo.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SECRET_MAX 4096
#define KEYFILE_TAG "holdfast-key-v1 "
#define SLOT_PLAIN (HF_KEY_BYTES + HF_ID_BYTES) /* master key || config digest */
#define B64_LEN(n) (((n) + 2) / 3 * 4 + 1)

typedef struct secret {
	char *data; /* guarded */
	size_t len;
	int is_keyfile;
} secret;

static void secret_free(secret *s)
{
	hf_secure_free(s->data);
	s->data = NULL;
}

static int read_fd_secret(int fd, secret *s, const char *what)
{
	size_t len = 0;
	if (!(s->data = hf_secure_alloc(SECRET_MAX)))
		return hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
	while (len < SECRET_MAX - 1) {
		ssize_t n = read(fd, s->data + len, SECRET_MAX - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hf_error_set_errno(HF_EIO, errno, "unable to read %s", what);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	s->data[len] = '\0';
	s->len = strcspn(s->data, "\r\n"); /* first line only */
	s->data[s->len] = '\0';
	return 0;
}

static int read_secret_file(const char *path, secret *s, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	if (fd < 0)
		return hf_error_set_errno(hf_error_from_errno(errno), errno, "unable to open %s '%s'", what, path);
	rc = read_fd_secret(fd, s, what);
	close(fd);
	if (rc < 0)
		return hf_error_wrap(rc, "%s '%s'", what, path);
	return 0;
}

/* Turn a credential into the 32-byte wrapping-key input: the passphrase, or the decoded key file. */
static int load_secret(const hf_credential *cred, secret *s)
{
	memset(s, 0, sizeof(*s));
	if (cred->key_file) {
		uint8_t raw[64];
		size_t n = 0;
		int rc = read_secret_file(cred->key_file, s, "key file");
		if (rc < 0)
			return rc;
		if (strncmp(s->data, KEYFILE_TAG, strlen(KEYFILE_TAG)) != 0 ||
		    hf_base64_decode(raw, sizeof(raw), &n, s->data + strlen(KEYFILE_TAG)) < 0 || n != HF_KEY_BYTES) {
			secret_free(s);
			return hf_error_set(HF_EAUTH, "key file '%s' is not a holdfast key file", cred->key_file);
		}
		memcpy(s->data, raw, HF_KEY_BYTES);
		hf_memzero(raw, sizeof(raw));
		s->len = HF_KEY_BYTES;
		s->is_keyfile = 1;
		return 0;
	}
	if (cred->password_file)
		return read_secret_file(cred->password_file, s, "password file");
	if (cred->password_fd >= 0)
		return read_fd_secret(cred->password_fd, s, "passphrase");
	return hf_error_set(HF_EUSAGE, "no passphrase or key file given");
}

static void slot_ad(uint8_t *ad, const hf_repo_config *c)
{
	memcpy(ad, "holdfast keyslot v1\0", 20);
	memcpy(ad + 20, c->id, HF_ID_HEX);
}

static int wrapping_key(uint8_t *wk, const secret *s, const uint8_t *salt, uint64_t ops, size_t mem)
{
	if (s->is_keyfile) {
		hf_kdf_subkey(wk, (const uint8_t *)s->data, "hfkeyfil", 1);
		return 0;
	}
	return hf_kdf_passphrase(wk, s->data, s->len, salt, ops, mem);
}

static int create_key_file(const char *path)
{
	uint8_t raw[HF_KEY_BYTES];
	char b64[64], *text;
	size_t tl;
	int rc;
	hf_random(raw, sizeof(raw));
	hf_base64_encode(b64, raw, sizeof(raw));
	hf_memzero(raw, sizeof(raw));
	tl = strlen(KEYFILE_TAG) + strlen(b64) + 2;
	if (!(text = hf_secure_alloc(tl)))
		return hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
	snprintf(text, tl, "%s%s\n", KEYFILE_TAG, b64);
	hf_memzero(b64, sizeof(b64));
	rc = hf_fs_write_atomic(path, text, strlen(text), 0600, 1);
	hf_secure_free(text);
	return rc < 0 ? hf_error_wrap(rc, "unable to create key file") : 0;
}

int hf_keyslot_create(hf_storage *st, const hf_repo_config *c, const uint8_t *master, const hf_credential *cred,
		      uint64_t kdf_ops, size_t kdf_mem, char out_id[33])
{
	secret s = {0};
	uint8_t salt[HF_SALT_BYTES], idraw[16], ad[20 + HF_ID_HEX], *wk = NULL;
	uint8_t sealed[SLOT_PLAIN + HF_AEAD_OVERHEAD], *plain = NULL;
	char id[33], key[64], salt64[64], data64[B64_LEN(SLOT_PLAIN + HF_AEAD_OVERHEAD)], *text = NULL;
	json_t *j = NULL;
	int rc;

	if (cred->key_file && access(cred->key_file, F_OK) != 0 && (rc = create_key_file(cred->key_file)) < 0)
		return rc;
	if ((rc = load_secret(cred, &s)) < 0)
		return rc;
	if (!s.is_keyfile && s.len < 8) {
		rc = hf_error_set(HF_EUSAGE, "passphrase is too short (%zu characters; at least 8)", s.len);
		goto done;
	}
	if (!kdf_ops)
		kdf_ops = HF_PWHASH_OPS_DEFAULT;
	if (!kdf_mem)
		kdf_mem = HF_PWHASH_MEM_DEFAULT;
	if (kdf_ops > HF_KDF_OPS_MAX || kdf_mem < HF_KDF_MEM_MIN || kdf_mem > HF_KDF_MEM_MAX) {
		rc = hf_error_set(HF_EUSAGE, "argon2id parameters out of range (passes 1 to %d, memory %llu to %llu MiB)",
				  HF_KDF_OPS_MAX, HF_KDF_MEM_MIN >> 20, HF_KDF_MEM_MAX >> 20);
		goto done;
	}
	hf_random(salt, sizeof(salt));
	hf_random(idraw, sizeof(idraw));
	hf_hex_encode(id, idraw, sizeof(idraw));
	if (!(wk = hf_secure_alloc(HF_KEY_BYTES))) {
		rc = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto done;
	}
	if ((rc = wrapping_key(wk, &s, salt, kdf_ops, kdf_mem)) < 0)
		goto done;
	slot_ad(ad, c);
	if (!(plain = hf_secure_alloc(SLOT_PLAIN))) {
		rc = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto done;
	}
	memcpy(plain, master, HF_KEY_BYTES);
	memcpy(plain + HF_KEY_BYTES, c->digest, HF_ID_BYTES);
	hf_aead_seal(sealed, plain, SLOT_PLAIN, ad, sizeof(ad), wk);
	hf_base64_encode(salt64, salt, sizeof(salt));
	hf_base64_encode(data64, sealed, sizeof(sealed));
	j = json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:s, s:s}", "version", 1, "type",
		      s.is_keyfile ? "keyfile" : "passphrase", "created", (json_int_t)(hf_clock_now_ns() / 1000000000),
		      "kdf", s.is_keyfile ? "blake2b" : "argon2id13", "ops", (json_int_t)kdf_ops, "mem",
		      (json_int_t)kdf_mem, "salt", salt64, "data", data64);
	if (!j || !(text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS))) {
		rc = hf_error_set(HF_ENOMEM, "unable to build key slot");
		goto done;
	}
	snprintf(key, sizeof(key), "keys/slots/%s", id);
	if ((rc = hf_storage_put(st, key, text, strlen(text), NULL)) < 0)
		goto done;
	memcpy(out_id, id, 33);
done:
	free(text);
	json_decref(j);
	hf_secure_free(plain);
	hf_secure_free(wk);
	secret_free(&s);
	return rc;
}

_Static_assert(HF_PWHASH_OPS_MAX == HF_KDF_OPS_MAX && HF_PWHASH_MEM_MIN == HF_KDF_MEM_MIN &&
		       HF_PWHASH_MEM_MAX == HF_KDF_MEM_MAX,
	       "the slots holdfast reads and the slots it writes have the same argon2id bounds");

typedef struct unlock_ctx {
	hf_storage *st;
	const hf_repo_config *c;
	secret *s;
	uint8_t *master;
	char *out_id;
	int found, tried, err;
	/* the first slot that could not be tried (damaged, or more memory than there is) */
	int skip_code;
	char skip_msg[256];
} unlock_ctx;

/* The fields of a stored slot, decoded. */
typedef struct slot_fields {
	int is_keyfile;
	int64_t ops, mem;
	uint8_t salt[HF_SALT_BYTES];
	uint8_t sealed[SLOT_PLAIN + HF_AEAD_OVERHEAD];
} slot_fields;

/* Decode a slot object: 0, or -1 when it is malformed (not our JSON, wrong sizes, unknown type). */
static int slot_decode(const uint8_t *data, size_t len, slot_fields *f)
{
	json_t *j = json_loadb((const char *)data, len, 0, NULL);
	const char *type, *salt64, *data64;
	json_int_t ops, mem;
	uint8_t salt[64], sealed[128];
	size_t sl, dl;
	int rc = -1;
	if (j && json_unpack(j, "{s:s, s:I, s:I, s:s, s:s}", "type", &type, "ops", &ops, "mem", &mem, "salt",
			     &salt64, "data", &data64) == 0 &&
	    (!strcmp(type, "passphrase") || !strcmp(type, "keyfile")) &&
	    hf_base64_decode(salt, sizeof(salt), &sl, salt64) == 0 && sl == HF_SALT_BYTES &&
	    hf_base64_decode(sealed, sizeof(sealed), &dl, data64) == 0 && dl == sizeof(f->sealed)) {
		f->is_keyfile = !strcmp(type, "keyfile");
		f->ops = ops;
		f->mem = mem;
		memcpy(f->salt, salt, sizeof(f->salt));
		memcpy(f->sealed, sealed, sizeof(f->sealed));
		rc = 0;
	}
	json_decref(j);
	hf_error_clear(); /* a base64 error is no caller's concern: the slot is just malformed */
	return rc;
}

/* Argon2id parameters of a passphrase slot within the bounds holdfast writes (key-file slots ignore
 * them, but negative values are damage all the same). */
static int slot_params_ok(const slot_fields *f)
{
	if (f->is_keyfile)
		return f->ops >= 0 && f->mem >= 0;
	return f->ops >= 1 && f->ops <= HF_KDF_OPS_MAX && f->mem >= 0 && (uint64_t)f->mem >= HF_KDF_MEM_MIN &&
	       (uint64_t)f->mem <= HF_KDF_MEM_MAX;
}

int hf_keyslot_usable(const uint8_t *data, size_t len)
{
	slot_fields f;
	return slot_decode(data, len, &f) == 0 && slot_params_ok(&f);
}

static int try_slot(const char *name, uint64_t size, void *payload)
{
	unlock_ctx *u = payload;
	hf_buf b = HF_BUF_INIT;
	slot_fields f;
	uint8_t ad[20 + HF_ID_HEX], *wk = NULL, *plain = NULL;
	const size_t dl = sizeof(f.sealed);
	const char *id = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	int rc;
	(void)size;

	if (hf_storage_get(u->st, name, &b) < 0 || slot_decode(b.data, b.len, &f) < 0) {
		hf_log_warn("ignoring malformed key slot '%s'", name);
		goto done;
	}
	if (f.is_keyfile != u->s->is_keyfile)
		goto done;
	u->tried++;
	if (!(wk = hf_secure_alloc(HF_KEY_BYTES))) {
		u->err = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto done;
	}
	if (!slot_params_ok(&f) || (rc = wrapping_key(wk, u->s, f.salt, (uint64_t)f.ops, (size_t)f.mem)) < 0) {
		/* One damaged slot must not lock out the others: note it and go on. */
		if (!slot_params_ok(&f))
			rc = hf_error_set(HF_ECORRUPT, "argon2id parameters out of range (ops %lld, memory %lld bytes)",
					  (long long)f.ops, (long long)f.mem);
		if (!u->skip_code) {
			u->skip_code = rc;
			snprintf(u->skip_msg, sizeof(u->skip_msg), "key slot '%s' could not be tried: %s", id,
				 hf_error_message());
		}
		hf_error_clear();
		goto done;
	}
	slot_ad(ad, u->c);
	if (!(plain = hf_secure_alloc(SLOT_PLAIN))) {
		u->err = hf_error_set(HF_ENOMEM, "unable to allocate secure memory");
		goto done;
	}
	if (hf_aead_open(plain, f.sealed, dl, ad, sizeof(ad), wk) == 0) {
		if (hf_memcmp_ct(plain + HF_KEY_BYTES, u->c->digest, HF_ID_BYTES) != 0) {
			u->err = hf_error_set(HF_ECORRUPT, "repository config of '%s' does not match its key slots (altered?)",
					      u->st->url);
			goto done;
		}
		memcpy(u->master, plain, HF_KEY_BYTES);
		u->found = 1;
		snprintf(u->out_id, 33, "%s", id);
	}
done:
	hf_secure_free(plain);
	hf_secure_free(wk);
	hf_buf_free(&b);
	return u->found || u->err ? 1 : 0;
}

int hf_keyslot_check(const hf_credential *cred)
{
	secret s = {0};
	int rc;
	if (cred->key_file && access(cred->key_file, F_OK) != 0)
		return 0; /* a new key file will be created */
	if ((rc = load_secret(cred, &s)) < 0)
		return rc;
	if (!s.is_keyfile && s.len < 8)
		rc = hf_error_set(HF_EUSAGE, "passphrase is too short (%zu characters; at least 8)", s.len);
	secret_free(&s);
	return rc;
}

int hf_keyslot_unlock(hf_storage *st, const hf_repo_config *c, const hf_credential *cred, uint8_t *master_out,
		      char out_id[33])
{
	secret s = {0};
	unlock_ctx u = {st, c, &s, master_out, out_id, 0, 0, 0, 0, ""};
	int rc;
	if ((rc = load_secret(cred, &s)) < 0)
		return rc;
	rc = hf_storage_list(st, "keys/slots/", try_slot, &u);
	secret_free(&s);
	if (u.err)
		return u.err;
	if (rc < 0)
		return rc;
	if (u.found && u.skip_code)
		hf_log_warn("%s", u.skip_msg);
	if (!u.found && u.skip_code) /* perhaps the credential's own slot: say why it could not be tried */
		return hf_error_set(u.skip_code, "unable to unlock repository '%s': no key slot matches, and %s", st->url,
				    u.skip_msg);
	if (!u.found) {
		rc = hf_error_set(HF_EAUTH, "unable to unlock repository '%s': %s", st->url,
				  cred->key_file ? "the key file matches no key slot" : "wrong passphrase");
		hf_error_set_hint("%d key slot(s) of this kind were tried", u.tried);
		return rc;
	}
	return 0;
}
