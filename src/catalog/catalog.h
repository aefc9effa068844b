/* The SQLite catalog: tenants, snapshots, check results. The only module that includes <sqlite3.h>.
 * The SQL schema lives in the top-level catalog/ directory as numbered migrations compiled in. */
#ifndef HF_CATALOG_H
#define HF_CATALOG_H

#include <stdint.h>

typedef struct hf_catalog hf_catalog;

typedef struct hf_catalog_tenant {
	const char *id;       /* tenant id as given by the user */
	const char *tid;      /* repository-internal tenant handle (32 hex chars) */
	const char *tier;
	int64_t created;      /* unix seconds */
	const char *sources;  /* JSON text describing configured sources, may be NULL */
} hf_catalog_tenant;

typedef struct hf_catalog_snapshot {
	const char *id;           /* 64 hex chars */
	const char *tenant;       /* tenant id */
	const char *source;       /* "files", "postgres", "s3", ... */
	const char *label;        /* paths / database description */
	int64_t time;             /* ns since the epoch when taken */
	int64_t recovery_time;    /* recovery point, ns since the epoch */
	const char *recovery_lsn; /* may be NULL */
	const char *parent;       /* may be NULL */
	uint64_t files;
	uint64_t size;            /* logical bytes */
	uint64_t stored;          /* bytes newly stored by this snapshot */
	int64_t retain_until;     /* object-lock retain-until (0 none) */
	const char *kind;         /* NULL or "" for a backup, "safety" for an in-place restore's copy */
} hf_catalog_snapshot;

typedef struct hf_catalog_check {
	int64_t time;             /* ns since the epoch */
	const char *tenant;       /* NULL for whole repository */
	int read_data;            /* percentage of data read (0..100) */
	int status;               /* 0 ok, 1 problems found, 2 could not run */
	uint64_t errors;
	const char *detail;       /* free text / JSON */
} hf_catalog_check;

/* Open (creating the file and its parent directory if needed) and migrate to the latest schema.
 * HF_ECONFIG when the file has a newer schema than this binary or is not a holdfast catalog;
 * HF_ECORRUPT when it is not an SQLite database; HF_ELOCKED when busy for more than 10 s. */
int hf_catalog_open(hf_catalog **out, const char *path);
/* For tests: open and migrate only up to max_version (0 = apply nothing). */
int hf_catalog_open_at_version(hf_catalog **out, const char *path, int max_version);
void hf_catalog_free(hf_catalog *c);
int hf_catalog_schema_version(hf_catalog *c, int *out);
int hf_catalog_latest_version(void);

int hf_catalog_begin(hf_catalog *c);
int hf_catalog_commit(hf_catalog *c);
int hf_catalog_rollback(hf_catalog *c);
/* Delete all tenants/snapshots/checks (used by rebuild inside a transaction); audit events stay. */
int hf_catalog_clear(hf_catalog *c);

int hf_catalog_tenant_put(hf_catalog *c, const hf_catalog_tenant *t);       /* insert or replace */
/* Look up a tenant; strings in *out are valid until the next catalog call. HF_ENOTFOUND if unknown. */
int hf_catalog_tenant_get(hf_catalog *c, const char *id, hf_catalog_tenant *out);
typedef int (*hf_catalog_tenant_cb)(const hf_catalog_tenant *t, void *payload);
int hf_catalog_tenant_list(hf_catalog *c, hf_catalog_tenant_cb cb, void *payload); /* ordered by id */

/* Insert or replace; the tenant must be in the catalog (HF_ENOTFOUND otherwise). */
int hf_catalog_snapshot_put(hf_catalog *c, const hf_catalog_snapshot *s);
typedef int (*hf_catalog_snapshot_cb)(const hf_catalog_snapshot *s, void *payload);
/* tenant NULL = all; source NULL = all; ordered by time then id. */
int hf_catalog_snapshot_list(hf_catalog *c, const char *tenant, const char *source,
			     hf_catalog_snapshot_cb cb, void *payload);

int hf_catalog_check_put(hf_catalog *c, const hf_catalog_check *k);
typedef int (*hf_catalog_check_cb)(const hf_catalog_check *k, void *payload);
int hf_catalog_check_list(hf_catalog *c, hf_catalog_check_cb cb, void *payload); /* ordered by time */

/* The audit trail: append-only (never cleared, rows cannot be changed). The actor recorded is the
 * operating-system user running holdfast. tenant and detail may be NULL. */
typedef struct hf_catalog_audit {
	int64_t time;         /* unix seconds */
	const char *actor;
	const char *action;   /* e.g. "tenant.create", "tenant.shred", "restore" */
	const char *tenant;   /* may be NULL */
	const char *detail;   /* may be NULL */
} hf_catalog_audit;
int hf_catalog_audit_add(hf_catalog *c, int64_t time, const char *action, const char *tenant, const char *detail);
typedef int (*hf_catalog_audit_cb)(const hf_catalog_audit *a, void *payload);
/* tenant NULL = all; ordered by time then insertion order. */
int hf_catalog_audit_list(hf_catalog *c, const char *tenant, hf_catalog_audit_cb cb, void *payload);

/* Object Lock retain-until (unix seconds) of a pack as last seen or set; HF_ENOTFOUND if unknown.
 * put never lowers a recorded date. */
int hf_catalog_pack_lock_get(hf_catalog *c, const char *pack, int64_t *out);
int hf_catalog_pack_lock_put(hf_catalog *c, const char *pack, int64_t retain_until);

#endif
