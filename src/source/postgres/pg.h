/* The postgres source: logical backup and restore of one tenant's data (a database, a schema, or
 * the rows of shared tables that carry a tenant column) through libpq COPY, plus tenant discovery.
 * Only this folder includes <libpq-fe.h>; callers see plain C types. */
#ifndef HF_SOURCE_PG_H
#define HF_SOURCE_PG_H

#include "source/source.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
	HF_PG_MODEL_DATABASE = 1, /* one database per tenant */
	HF_PG_MODEL_SCHEMA = 2,   /* one schema per tenant */
	HF_PG_MODEL_ROWS = 3      /* shared tables, rows selected by a tenant column */
} hf_pg_model;

/* What to back up. Strings are UTF-8 and borrowed for the duration of the call.
 * conninfo is a libpq connection string or URI. Put no password in it: libpq reads it from
 * passfile=/PGPASSFILE/~/.pgpass or PGPASSWORD, so it never reaches argv. */
typedef struct hf_pg_spec {
	const char *conninfo;
	hf_pg_model model;
	const char *database;      /* DATABASE: the tenant database (NULL: the DSN's dbname) */
	const char *schema;        /* SCHEMA: the tenant schema (required);
	                            * ROWS: the schema holding the shared tables (NULL: "public") */
	const char *tenant_column; /* ROWS: column naming the tenant (required) */
	const char *tenant_value;  /* ROWS: this tenant's value, compared as text literal (required) */
	/* ROWS: explicit tables ("table" or "schema.table"); none: every ordinary table of `schema`
	 * that has tenant_column. */
	const char *const *tables;
	size_t n_tables;
	/* ROWS: tables without the column, reached from a parent that has it (or is itself reached):
	 * "child_table:fk_col->parent_table.pk_col" (tables may be "schema.table"). Both tables join
	 * the backup set. */
	const char *const *join_paths;
	size_t n_join_paths;
	int allow_empty;          /* ROWS: a tenant value without rows gives an empty snapshot
	                           * instead of HF_ENOTFOUND */
	const char *pg_dump_path; /* NULL: "pg_dump" from PATH (major version >= the server's) */
} hf_pg_spec;

typedef struct hf_pg_backup_stats {
	size_t tables;
	uint64_t rows;
	uint64_t bytes;        /* COPY bytes streamed into the sink */
	uint64_t schema_bytes; /* DDL bytes */
	size_t sequences;
	int64_t snapshot_time_ns;
	char lsn[32];
} hf_pg_backup_stats;

/* Capture one tenant in a single REPEATABLE READ READ ONLY transaction and push it into `sink`:
 *   "schema.sql"       DDL (pg_dump --schema-only --section=pre-data for DATABASE/SCHEMA; for ROWS
 *                      the full DDL of the shared tables, for reference only)
 *   "schema-post.sql"  DATABASE/SCHEMA: pg_dump --section=post-data (indexes, constraints, triggers)
 *   "data/<schema>.<table>.copy"  one COPY text stream per table, rows in primary-key order
 * pg_dump reads the same exported snapshot. The recovery point is now() of the transaction and the
 * WAL LSN (pg_last_wal_replay_lsn() on a standby). source_info (JSON) records the model, tables with
 * columns, row counts and checksums (BLAKE2b-256 with an all-zero key over the COPY bytes exactly as
 * streamed, hex), sequences, server version and LSN. stats may be NULL.
 * Errors: HF_EAUTH (login refused), HF_ENOTFOUND (database, schema, table, column, or a tenant value
 * without rows), HF_ESOURCE (server unreachable, connection lost, pg_dump failed), or the sink's. */
int hf_pg_backup(const hf_pg_spec *spec, hf_sink *sink, hf_pg_backup_stats *stats);

typedef struct hf_pg_restore_opts {
	/* Target server; its dbname is the database restored into. DATABASE: when the DSN names no
	 * database, the tenant's original name. */
	const char *conninfo;
	/* Replace what is there, in the same transaction as the load: DATABASE drops every user schema,
	 * SCHEMA drops the schema, ROWS deletes the tenant's rows. Without it, a non-empty target
	 * database, an existing schema, or any row of the tenant is refused with HF_EEXISTS. */
	int in_place;
	/* ROWS: load with session_replication_role = replica (user triggers and FK checks off;
	 * needs superuser), for targets whose triggers rewrite rows on insert. */
	int disable_triggers;
} hf_pg_restore_opts;

typedef struct hf_pg_restore_stats {
	size_t tables;
	uint64_t rows;
	uint64_t bytes;
	uint64_t rows_deleted;  /* ROWS in place: the tenant's rows removed first */
	size_t tables_verified; /* tables whose rows and checksum matched the manifest */
	int database_created;
} hf_pg_restore_stats;

/* Restore the snapshot behind `r` (written by hf_pg_backup) in one transaction: DDL (DATABASE and
 * SCHEMA), COPY FROM STDIN of each table (parents first), sequences, post-data DDL, then re-read
 * every table inside the transaction and compare rows and checksums with the manifest; a mismatch
 * rolls back with HF_EVERIFY. Any failure rolls back and leaves the target as it was (a database this
 * call created is dropped again). Never touches other schemas, databases, or other tenants' rows.
 * stats may be NULL. */
int hf_pg_restore(const hf_pg_restore_opts *o, hf_snapshot_reader *r, hf_pg_restore_stats *stats);

/* Tenant discovery, for enrolling many tenants at once. `pattern` is a LIKE pattern for DATABASE
 * (databases that accept connections, no templates) and SCHEMA (no system schemas); for ROWS it is
 * the tenant column, whose distinct non-NULL values (as text) are listed across every table of
 * `schema` (NULL: "public") that has it. Values come back sorted; free with hf_pg_strv_free. */
int hf_pg_discover(const char *conninfo, hf_pg_model model, const char *pattern, const char *schema,
                   char ***out_values, size_t *out_n);
void hf_pg_strv_free(char **v, size_t n);

/* The selection a snapshot's source_info records, in the terms of a backup's source options (tables
 * and join paths comma-separated, "schema.table" and "schema.child:fk->schema.parent.pk"): a backup of
 * the same tenant's current data with it captures exactly what an in-place restore of that snapshot
 * replaces, join-path tables included (the safety copy). HF_EUNSUPPORTED when a captured name holds
 * one of the separators ("," ":" "->", or "." in a schema or key column) and could not be named so.
 * Free with hf_pg_selection_free. */
typedef struct hf_pg_selection {
	hf_pg_model model;
	char *schema, *tenant_column, *tenant_value; /* NULL when the model has none */
	char *tables, *joins;                        /* ROWS only, else NULL */
} hf_pg_selection;
int hf_pg_selection_from_info(hf_pg_selection *out, const char *source_info);
void hf_pg_selection_free(hf_pg_selection *s);

/* Run SQL (several statements allowed) on a fresh connection and, if out is not NULL, return the
 * last statement's rows as text: fields separated by '\t', each row ended by '\n', NULL as "\N".
 * For drills and tests that need to look at a server; the caller frees *out. */
int hf_pg_query(char **out, const char *conninfo, const char *sql);

#endif
