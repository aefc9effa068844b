/* holdfast: encrypted, deduplicated, per-tenant backups. The public library API.
 * Conventions: functions return 0 or a negative hf_error_code; the message is in hf_error_message().
 * Outputs come first; the caller owns what comes back through out-pointers and frees it with the
 * matching _free function (all of which accept NULL). Option structs start with a version field. */
#ifndef HOLDFAST_H
#define HOLDFAST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "holdfast/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HF_ID_HEX 64 /* ids are 32 bytes shown as 64 hex chars */

typedef struct hf_repo hf_repo;

/* How to unlock the repository: exactly one of the fields. Passphrases are read from files or a
 * file descriptor, never from argv. */
typedef struct hf_credential {
	const char *password_file; /* first line is the passphrase */
	const char *key_file;      /* a key file made by `holdfast key add --new-key-file` */
	int password_fd;           /* >= 0: read the passphrase from this fd (e.g. a terminal prompt pipe) */
} hf_credential;

/* Progress of a long operation; called from the main thread at most a few times per second. */
typedef void (*hf_progress_cb)(const char *phase, uint64_t done_bytes, uint64_t total_bytes,
			       uint64_t done_items, void *payload);

#define HF_REPO_OPTIONS_VERSION 1
typedef struct hf_repo_options {
	int version;
	const char *url;           /* file:///path, a path, s3://bucket/prefix, mem://name */
	const char *catalog_path;  /* NULL: $XDG_STATE_HOME/holdfast/catalog-<repo id>.db */
	hf_credential cred;
	/* S3 */
	const char *s3_endpoint;
	const char *s3_region;
	const char *ca_file;
	int insecure;              /* disable TLS verification: only by explicit flag */
	int virtual_host;
	int parallel;              /* concurrent transfers, 0 = default */
	int retries;               /* attempts after a failed request (0 = default 6, -1 = none) */
	int timeout;               /* seconds without progress before a request is abandoned (0 = 30) */
	/* backups */
	int compression;           /* zstd level for new data, -1 = repository default */
	int threads;               /* worker threads, 0 = number of CPUs */
} hf_repo_options;

#define HF_INIT_OPTIONS_VERSION 1
typedef struct hf_init_options {
	int version;
	uint32_t chunk_min, chunk_avg, chunk_max; /* 0 = defaults (256 KiB / 1 MiB / 4 MiB) */
	uint32_t pack_size;        /* 0 = 16 MiB */
	int compression;           /* zstd level, 0 = off, -1 = default 3 */
	int create_bucket;         /* S3: create the bucket with Object Lock */
	const char *lock_mode;     /* "none", "governance", "compliance" (NULL: governance on locking storage) */
	int lock_days;             /* default retention of new objects (default 30) */
	uint64_t kdf_ops;          /* Argon2id passes, 1..HF_KDF_OPS_MAX, 0 = default 3 */
	size_t kdf_mem;            /* Argon2id memory in bytes, HF_KDF_MEM_MIN..HF_KDF_MEM_MAX, 0 = 64 MiB */
} hf_init_options;
/* The Argon2id bounds of a passphrase slot; a stored slot outside them is treated as damaged. */
#define HF_KDF_OPS_MAX 100
#define HF_KDF_MEM_MIN (8ull << 20)
#define HF_KDF_MEM_MAX (4096ull << 20)

/* Create a repository at o->url, protected by o->cred (a password file or key file). */
int hf_repo_init(const hf_repo_options *o, const hf_init_options *io, char out_repo_id[HF_ID_HEX + 1]);
int hf_repo_open(hf_repo **out, const hf_repo_options *o);
void hf_repo_free(hf_repo *r);
const char *hf_repo_id(const hf_repo *r);
const char *hf_repo_url(const hf_repo *r);
const char *hf_repo_catalog_path(const hf_repo *r);

/* Retention of a tier's new objects on storage with Object Lock: mode "governance" or "compliance"
 * (NULL: the repository's) and days (0: the repository's). Set before backups; not stored in the
 * repository (it comes from the configuration each run). */
int hf_repo_set_tier(hf_repo *r, const char *tier, const char *lock_mode, int lock_days);

/* Keys. */
typedef struct hf_key_info {
	char id[33];
	char type[16];  /* "passphrase" or "keyfile" */
	int64_t created;
	int current;    /* the slot that unlocked this session */
} hf_key_info;
/* Add a slot for new_cred. When new_cred->key_file names a file that does not exist, a new random key
 * file is created there (mode 0600). */
int hf_key_add(hf_repo *r, const hf_credential *new_cred, char out_id[33]);
int hf_key_list(hf_repo *r, hf_key_info **out, size_t *n);
/* Remove a slot by id (or unique prefix); refuses to remove the last usable one, and puts the slot back
 * when a concurrent removal left no other usable slot (HF_EUSAGE either way). */
int hf_key_remove(hf_repo *r, const char *id);

/* Tenants. */
typedef struct hf_tenant_info {
	char *id;
	char *tier;
	char tid[33];
	int64_t created;
	uint64_t snapshots;
	int64_t last_backup;  /* ns, 0 if never */
	uint64_t size;        /* logical bytes of the newest snapshot */
	uint64_t stored;      /* bytes stored by all snapshots */
} hf_tenant_info;
int hf_tenant_add(hf_repo *r, const char *id, const char *tier);
int hf_tenant_list(hf_repo *r, hf_tenant_info **out, size_t *n);
int hf_tenant_show(hf_repo *r, const char *id, hf_tenant_info **out);
void hf_tenant_info_free(hf_tenant_info *t, size_t n);

/* PostgreSQL source settings for a tenant. */
typedef enum { HF_PG_ISOLATION_NONE = 0, HF_PG_ISOLATION_DATABASE = 1, HF_PG_ISOLATION_SCHEMA = 2, HF_PG_ISOLATION_ROWS = 3 } hf_pg_isolation;
typedef struct hf_pg_source {
	const char *dsn;           /* libpq connection string without a password */
	hf_pg_isolation model;
	const char *database;      /* DATABASE */
	const char *schema;        /* SCHEMA; ROWS: schema holding the shared tables (default public) */
	const char *tenant_column; /* ROWS */
	const char *tenant_value;  /* ROWS, default: the tenant id */
	const char *tables;        /* ROWS: comma-separated explicit list, NULL = all with the column */
	const char *joins;         /* ROWS: "child:fk->parent.pk,..." for related tables without the column */
} hf_pg_source;

/* Tenant discovery for enrolment: database names (LIKE pattern), schema names (LIKE pattern), or the
 * distinct values of a tenant column (pattern = the column, schema = where the shared tables live).
 * Sorted; free with hf_strv_free. */
int hf_pg_discover_values(const char *dsn, hf_pg_isolation model, const char *pattern, const char *schema,
			  char ***out, size_t *n);
void hf_strv_free(char **v, size_t n);

#define HF_BACKUP_OPTIONS_VERSION 1
typedef struct hf_backup_options {
	int version;
	const char *tenant;
	const char *const *paths;  /* files source */
	size_t npaths;
	const char *const *excludes;
	size_t nexcludes;
	const char *tar_file;      /* import a tar archive ("-" = stdin) */
	int use_stdin;             /* read one stream from stdin */
	const char *stdin_name;
	const hf_pg_source *pg;    /* postgres source */
	const char *label;         /* free text shown in listings */
	hf_progress_cb progress;
	void *progress_payload;
} hf_backup_options;

typedef struct hf_backup_result {
	char snapshot_id[HF_ID_HEX + 1];
	char source[16];
	uint64_t files, dirs, bytes;
	uint64_t chunks, new_chunks;
	uint64_t new_bytes;        /* logical bytes of new chunks */
	uint64_t stored_bytes;     /* bytes written to the repository (packs + metadata) */
	uint64_t warnings;
	double seconds;
} hf_backup_result;
int hf_backup(hf_repo *r, const hf_backup_options *o, hf_backup_result *out);

/* Snapshots. */
typedef struct hf_snapshot_info {
	char id[HF_ID_HEX + 1];
	char parent[HF_ID_HEX + 1]; /* "" when none */
	char *tenant;
	char *source;
	char *label;
	int64_t time_ns;
	int64_t recovery_ns;
	char *lsn;                  /* NULL unless postgres */
	uint64_t files, size, stored;
	int safety;                 /* an in-place restore's copy of the data it replaced (never "latest") */
} hf_snapshot_info;
/* tenant NULL = all tenants; ordered by time. A manifest that cannot be read (damaged, or sealed with
 * another key) is logged as a warning, left out and counted in *unreadable (may be NULL); it is not an
 * error here, so one damaged snapshot never hides the others. */
int hf_snapshot_list(hf_repo *r, const char *tenant, hf_snapshot_info **out, size_t *n, size_t *unreadable);
void hf_snapshot_info_free(hf_snapshot_info *s, size_t n);

#define HF_RESTORE_OPTIONS_VERSION 2 /* 2: cancel, no_sync */
typedef struct hf_restore_options {
	int version;
	const char *tenant;
	const char *snapshot;      /* id, unique prefix or "latest"; NULL = latest */
	const char *at;            /* latest snapshot with recovery point at or before this time */
	const char *source;        /* restrict to snapshots of this source kind */
	const char *target_dir;
	const char *tar_file;      /* "-" = stdout */
	const char *const *include;
	size_t ninclude;
	int overwrite;
	int keep_going;            /* restore what is intact, report the rest */
	const char *target_pg;     /* postgres: DSN of the target database */
	int in_place;
	hf_progress_cb progress;
	void *progress_payload;
	/* Version 2. A restore into target_dir stops when *cancel becomes non-zero, removes the files it
	 * had not finished, puts back what it replaced and returns HF_EINTERRUPTED. Meant to be set from
	 * the caller's SIGINT/SIGTERM handler (the library installs none). NULL = never. A tar export
	 * stops too (its temporary file is removed, nothing is published); PostgreSQL restores do not
	 * poll it. */
	const volatile sig_atomic_t *cancel;
	/* Version 2. A restore into target_dir makes what it wrote durable (syncfs(2) of the target's
	 * file system) before it reports success; no_sync skips that, for throwaway targets. */
	int no_sync;
} hf_restore_options;

typedef struct hf_restore_result {
	char snapshot_id[HF_ID_HEX + 1];
	uint64_t files, bytes, errors;
	int verified;              /* postgres: row counts and checksums matched */
	char safety_snapshot[HF_ID_HEX + 1]; /* postgres --in-place: snapshot of what was replaced ("" none) */
	double seconds;
} hf_restore_result;
int hf_restore(hf_repo *r, const hf_restore_options *o, hf_restore_result *out);

/* Check. */
#define HF_CHECK_OPTIONS_VERSION 1
typedef struct hf_check_options {
	int version;
	const char *tenant;        /* NULL = all */
	int read_data_pct;         /* 0 = structure only, 100 = read all packs */
	hf_progress_cb progress;
	void *progress_payload;
} hf_check_options;

typedef struct hf_check_problem {
	char *object;   /* e.g. "data/<tid>/ab/ab12..." */
	char *tenant;   /* may be NULL */
	char *message;
	char **files;   /* affected snapshot files "snapshot-id-prefix:path" */
	size_t nfiles;
} hf_check_problem;

typedef struct hf_check_report {
	hf_check_problem *problems;
	size_t nproblems;
	uint64_t tenants, snapshots, packs, packs_read, bytes_read, chunks;
	uint64_t unreferenced_packs; /* packs not in any index (left by an interrupted backup) */
} hf_check_report;
/* Runs the check; returns 0 when it could run (problems are in the report), < 0 when it could not. */
int hf_check(hf_repo *r, const hf_check_options *o, hf_check_report **out);
void hf_check_report_free(hf_check_report *rep);

/* Recreate the catalog from the repository alone. */
typedef struct hf_rebuild_result {
	uint64_t tenants, snapshots;
} hf_rebuild_result;
int hf_catalog_rebuild(hf_repo *r, hf_rebuild_result *out);

/* Initialise the library once per process. With harden != 0 also disable core dumps and ptrace
 * attachment of this process, so key material cannot leak through them (the CLI does this). */
int hf_library_init(int harden);

/* Diagnostics on stderr: 0 errors only, 1 also warnings (the default), 2 also what each phase of a
 * backup or restore did and how long it took, 3 also debug detail. */
void hf_set_verbosity(int level);

/* Library version string. */
const char *hf_version(void);

#ifdef __cplusplus
}
#endif
#endif
