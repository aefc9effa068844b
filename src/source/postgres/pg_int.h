/* Internals shared by the postgres source's files: connections, error translation, SQL quoting,
 * the table model of a capture, pg_dump spawning and the source_info manifest. */
#ifndef HF_SOURCE_PG_INT_H
#define HF_SOURCE_PG_INT_H

#include "source/postgres/pg.h"
#include "util/buf.h"
#include "util/error.h"

#include <libpq-fe.h>
#include <stdint.h>

#define PG_CHECKSUM_ALGO "blake2b-256"
#define PG_INFO_FORMAT 1
#define PG_SCHEMA_ENTRY "schema.sql"
#define PG_POST_ENTRY "schema-post.sql"
#define PG_DATA_DIR "data"

/* ---- connections and errors (pg_conn.c) ---- */

/* Connect with conninfo (dbname, when not NULL, overrides the DSN's database), UTF8 client
 * encoding, and the session settings that make COPY text output reproducible. */
int pg_connect(PGconn **out, const char *conninfo, const char *dbname);
/* "host:port/db" of a connection, for messages (never the password). */
const char *pg_where(PGconn *conn);
/* Raise an error for a failed command: code from SQLSTATE, "ctx: server message" on one line. */
int pg_fail(PGconn *conn, const PGresult *res, const char *fmt, ...) HF_PRINTF(3, 4);
/* Execute and expect `want`; on success *out (may be NULL: cleared) gets the result. */
int pg_exec(PGresult **out, PGconn *conn, ExecStatusType want, const char *sql, const char *ctx);
int pg_exec_params(PGresult **out, PGconn *conn, ExecStatusType want, const char *sql, int nparams,
                   const char *const *params, const char *ctx);
int pg_command(PGconn *conn, const char *sql, const char *ctx);
/* Append a quoted identifier / literal for this connection. */
int pg_append_ident(hf_buf *b, PGconn *conn, const char *name);
int pg_append_literal(hf_buf *b, PGconn *conn, const char *value);
/* Append "schema"."table". */
int pg_append_qname(hf_buf *b, PGconn *conn, const char *schema, const char *name);
/* Copy a one-line, trimmed version of s into out. */
void pg_one_line(char *out, size_t cap, const char *s);
char *pg_strdup(const char *s);

/* ---- what a capture holds (pg_model.c) ---- */

typedef struct pg_table {
	char *schema, *name;
	char **columns; /* copied columns: not dropped, not generated, attnum order */
	size_t ncolumns;
	char **order_by; /* primary key columns; none: order by the whole row's text */
	int *order_c;    /* per order_by column: collatable, so sorted with COLLATE "C" */
	size_t norder;
	unsigned int oid; /* on the connection last resolved against */
	char relkind;     /* 'r' plain (read with ONLY: inheritance children are their own
	                   * tables), 'p' partitioned (reads through its partitions) */
	int has_tenant_col;
	/* join path (ROWS): rows whose join_fk is in parent's join_pk of the tenant's parent rows */
	char *join_fk, *join_parent_schema, *join_parent, *join_pk;
	int parent;  /* index of the join parent, -1 */
	char *entry; /* "data/<schema>.<table>.copy" */
	uint64_t rows, bytes;
	char checksum[65];
	int done; /* scratch (ordering) */
} pg_table;

typedef struct pg_sequence {
	char *schema, *name;
	int64_t last_value;
	int is_called;
} pg_sequence;

typedef struct pg_capture {
	hf_pg_model model;
	char *database, *schema, *tenant_column, *tenant_value;
	char *server_version, *encoding, *lc_collate, *lc_ctype, *lsn, *snapshot_time;
	int server_version_num;
	int64_t time_ns;
	pg_table *tables;
	size_t ntables;
	pg_sequence *seqs;
	size_t nseqs;
} pg_capture;

void pg_capture_free(pg_capture *c);
/* Append a table (strings copied); returns its index or a negative code. */
int pg_capture_add_table(pg_capture *c, const char *schema, const char *name);
int pg_seq_add(pg_capture *c, const char *schema, const char *name);
int pg_capture_find(const pg_capture *c, const char *schema, const char *name);
/* Look every table up on conn (oid); HF_ENOTFOUND naming the first missing one. */
int pg_model_resolve(PGconn *conn, pg_capture *c);
/* Fill columns, primary-key order and has_tenant_col of every table from conn's catalog. */
int pg_model_load_columns(PGconn *conn, pg_capture *c);
/* The tables (and for ROWS, join-path links) a spec selects. */
int pg_model_select_tables(PGconn *conn, const hf_pg_spec *spec, pg_capture *c);
/* Sequences of the capture's scope; values read later by pg_model_read_sequences. */
int pg_model_select_sequences(PGconn *conn, pg_capture *c);
int pg_model_read_sequences(PGconn *conn, pg_capture *c);
/* Append "ONLY "schema"."table"" (or without ONLY for a partitioned table). */
int pg_model_append_from(hf_buf *b, PGconn *conn, const pg_table *t);
/* Append "SELECT cols FROM t AS hf_row WHERE <tenant filter> ORDER BY ..." for table i. */
int pg_model_select_sql(hf_buf *b, PGconn *conn, const pg_capture *c, size_t i);
/* Append the WHERE condition selecting the tenant's rows of table i ("true" outside ROWS). */
int pg_model_filter_sql(hf_buf *b, PGconn *conn, const pg_capture *c, size_t i, int depth);
/* Load order: parents before children along FKs among the tables (as found in conn's catalog) and
 * join paths. out gets a permutation of table indexes. */
int pg_model_load_order(size_t *out, PGconn *conn, pg_capture *c);

/* ---- COPY out with count and checksum (pg_copy.c) ---- */
typedef int (*pg_write_fn)(const void *data, size_t len, void *payload);
/* Run COPY (select of table i) TO STDOUT; every batch goes to write (may be NULL); fills rows,
 * bytes, hex checksum. */
int pg_copy_out(PGconn *conn, const pg_capture *c, size_t i, pg_write_fn write, void *payload, uint64_t *rows,
                uint64_t *bytes, char checksum[65]);

/* ---- pg_dump (pg_dump.c) ---- */
/* Run pg_dump against conn's database with --snapshot=snapshot plus args, streaming its stdout
 * into write. The password of conn, if any, reaches the child through a private PGPASSFILE. */
int pg_dump_run(PGconn *conn, const char *pg_dump_path, const char *snapshot, const char *const *args,
                size_t nargs, pg_write_fn write, void *payload);

/* ---- source_info JSON (pg_info.c) ---- */
int pg_info_build(char **out, const pg_capture *c);
int pg_info_parse(pg_capture *out, const char *json);
const char *pg_model_name(hf_pg_model m);

#endif
