/* The storage interface: a vtable of required and optional operations plus feature bits.
 * Drivers embed `hf_storage` as their first member. Code above storage asks for features,
 * never for a driver type. All operations must be safe to call from several threads at once. */
#ifndef HF_STORAGE_H
#define HF_STORAGE_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

enum {
	HF_STORAGE_FEAT_RANGE = 1u << 0,      /* get_range reads part of an object cheaply */
	HF_STORAGE_FEAT_LOCK = 1u << 1,       /* objects carry Object Lock retention */
	HF_STORAGE_FEAT_VERSIONING = 1u << 2, /* overwrites create versions */
	HF_STORAGE_FEAT_LOCAL = 1u << 3       /* a local path (statfs, flock make sense) */
};

typedef enum { HF_LOCK_NONE = 0, HF_LOCK_GOVERNANCE = 1, HF_LOCK_COMPLIANCE = 2 } hf_lock_mode;

typedef struct hf_storage_put_opts {
	hf_lock_mode lock_mode;  /* HF_LOCK_NONE: write without retention (e.g. mutable keys/ area) */
	int64_t lock_until;      /* retain-until, seconds since epoch */
} hf_storage_put_opts;

typedef struct hf_storage_stat {
	uint64_t size;
	int64_t mtime;           /* seconds since epoch, 0 if unknown */
	hf_lock_mode lock_mode;  /* as reported by the server (HEAD) */
	int64_t lock_until;
} hf_storage_stat;

/* Options for opening any backend; unknown fields are ignored by drivers that do not need them.
 * Secrets (secret_key, session_token) are never logged by drivers. */
typedef struct hf_storage_options {
	const char *s3_endpoint;     /* "https://host:port" or "http://127.0.0.1:7480" */
	const char *s3_region;       /* default "us-east-1" */
	const char *access_key;
	const char *secret_key;
	const char *session_token;
	const char *ca_file;         /* CA bundle; NULL = system default */
	int insecure;                /* disable TLS verification (explicit flag only) */
	int virtual_host;            /* virtual-host addressing instead of path-style */
	int parallel;                /* concurrent transfers (default 8) */
	int retries;                 /* default 6 */
	int timeout_s;               /* low-speed timeout seconds (default 30) */
} hf_storage_options;

/* Options for preparing a new repository location (hf_storage_vtable.prepare). */
typedef struct hf_storage_prepare_opts {
	int create;                  /* create the bucket/directory (with Object Lock) if missing */
	hf_lock_mode lock_mode;      /* wanted default lock mode */
	int lock_days;
} hf_storage_prepare_opts;

typedef struct hf_storage hf_storage;

/* Called for each object under a prefix; name is relative to the repository root. Return non-zero to stop
 * (that value is returned by list). */
typedef int (*hf_storage_list_cb)(const char *name, uint64_t size, void *payload);

typedef struct hf_storage_vtable {
	const char *name;  /* "file", "mem", "s3" */
	unsigned features;
	/* Write-once: create `key` with exactly these bytes, durable when it returns 0. Writing an existing
	 * key with identical content may succeed; drivers never rely on overwrite semantics. */
	int (*put)(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o);
	/* Whole object into out (appended). HF_ENOTFOUND when missing. */
	int (*get)(hf_storage *s, const char *key, hf_buf *out);
	/* len bytes at off into out (appended); HF_ECORRUPT when the object is shorter. */
	int (*get_range)(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out);
	int (*stat)(hf_storage *s, const char *key, hf_storage_stat *out);
	/* Objects whose name starts with prefix (e.g. "snapshots/"), in no particular order. */
	int (*list)(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload);
	/* Optional (NULL when unsupported): delete; only used for the mutable keys/ area and tests. */
	int (*remove)(hf_storage *s, const char *key);
	/* Optional: extend retention of an existing object to at least `until`. */
	int (*extend_lock)(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until);
	/* Optional: check/create the location for a new repository. */
	int (*prepare)(hf_storage *s, const hf_storage_prepare_opts *o);
	void (*free)(hf_storage *s);
} hf_storage_vtable;

struct hf_storage {
	const hf_storage_vtable *vt;
	char *url; /* display form, no credentials */
};

/* Open by URL: "file:///abs/path" or a plain path, "mem://name", "s3://bucket/prefix". */
int hf_storage_open(hf_storage **out, const char *url, const hf_storage_options *opts);
void hf_storage_free(hf_storage *s);

/* Convenience wrappers that check for NULL optional ops and add the storage url to messages. */
int hf_storage_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o);
int hf_storage_get(hf_storage *s, const char *key, hf_buf *out);
int hf_storage_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out);
/* (The wrapper for vt->stat is hf_storage_stat_object: hf_storage_stat names the result type.) */
int hf_storage_stat_object(hf_storage *s, const char *key, hf_storage_stat *out);
int hf_storage_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload);
int hf_storage_remove(hf_storage *s, const char *key);
int hf_storage_extend_lock(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until);
int hf_storage_prepare(hf_storage *s, const hf_storage_prepare_opts *o);
static inline int hf_storage_has(const hf_storage *s, unsigned feat) { return (s->vt->features & feat) == feat; }

/* Driver constructors (used by hf_storage_open; also directly by tests). */
int hf_storage_file_open(hf_storage **out, const char *path);
int hf_storage_mem_open(hf_storage **out, const char *name);
int hf_storage_s3_open(hf_storage **out, const char *bucket, const char *prefix, const hf_storage_options *opts);

/* Test helper: wrap a storage so that the Nth matching call (1-based) fails with `code`.
 * op is "put", "get", "get_range", "stat", "list", "remove", "extend_lock", "prepare" or "*" (any op).
 * Only that one call fails (message "injected failure"). On success the wrapper owns `inner`. */
int hf_storage_faulty_open(hf_storage **out, hf_storage *inner, const char *op, int nth, int code);

#endif
