/* hf_pg_backup: one tenant captured in a single REPEATABLE READ snapshot — recovery point, DDL via
 * pg_dump on the exported snapshot, one COPY stream per table, sequences — pushed into a sink. */
#include "source/postgres/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct backup_ctx {
	hf_sink *sink;
	uint64_t bytes;
} backup_ctx;

static int sink_write(const void *data, size_t len, void *payload)
{
	backup_ctx *ctx = payload;
	ctx->bytes += len;
	return ctx->sink->entry_write(ctx->sink, data, len);
}

static int validate(const hf_pg_spec *s)
{
	if (!s)
		return hf_error_set(HF_EUSAGE, "no postgres source given");
	switch (s->model) {
	case HF_PG_MODEL_DATABASE:
		return 0;
	case HF_PG_MODEL_SCHEMA:
		if (!s->schema || !*s->schema)
			return hf_error_set(HF_EUSAGE, "a schema tenant needs the schema name");
		return 0;
	case HF_PG_MODEL_ROWS:
		if (!s->tenant_column || !*s->tenant_column)
			return hf_error_set(HF_EUSAGE, "a rows tenant needs the tenant column");
		if (!s->tenant_value)
			return hf_error_set(HF_EUSAGE, "a rows tenant needs the tenant value");
		return 0;
	default:
		return hf_error_set(HF_EUSAGE, "unknown postgres tenant model %d", (int)s->model);
	}
}

static int capture_init(pg_capture *c, const hf_pg_spec *s)
{
	c->model = s->model;
	if (s->model == HF_PG_MODEL_SCHEMA && !(c->schema = strdup(s->schema)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (s->model == HF_PG_MODEL_ROWS &&
	    (!(c->schema = strdup(s->schema && *s->schema ? s->schema : "public")) ||
	     !(c->tenant_column = strdup(s->tenant_column)) || !(c->tenant_value = strdup(s->tenant_value))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

/* BEGIN the snapshot and read the recovery point and what the server is. */
static int begin_snapshot(PGconn *conn, pg_capture *c)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_command(conn, "SET row_security = off", "unable to set up the session")) < 0 ||
	    (rc = pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	                     "unable to start the snapshot transaction")) < 0)
		return rc;
	rc = pg_exec(&res, conn, PGRES_TUPLES_OK,
	             "SELECT current_database(),"
	             " (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE "
	             "pg_current_wal_lsn() END)::text,"
	             " floor(extract(epoch FROM now()) * 1000000)::int8,"
	             " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	             " current_setting('server_version'), current_setting('server_version_num')::int,"
	             " pg_encoding_to_char(d.encoding), d.datcollate, d.datctype"
	             " FROM pg_database d WHERE d.datname = current_database()",
	             "unable to read the recovery point");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return hf_error_set(HF_ESOURCE, "unable to read the recovery point of '%s'", pg_where(conn));
	}
	c->database = pg_strdup(PQgetvalue(res, 0, 0));
	c->lsn = PQgetisnull(res, 0, 1) ? NULL : pg_strdup(PQgetvalue(res, 0, 1));
	c->time_ns = strtoll(PQgetvalue(res, 0, 2), NULL, 10) * 1000;
	c->snapshot_time = pg_strdup(PQgetvalue(res, 0, 3));
	c->server_version = pg_strdup(PQgetvalue(res, 0, 4));
	c->server_version_num = atoi(PQgetvalue(res, 0, 5));
	c->encoding = pg_strdup(PQgetvalue(res, 0, 6));
	c->lc_collate = pg_strdup(PQgetvalue(res, 0, 7));
	c->lc_ctype = pg_strdup(PQgetvalue(res, 0, 8));
	PQclear(res);
	if (!c->database || !c->snapshot_time || !c->server_version || !c->encoding || !c->lc_collate ||
	    !c->lc_ctype)
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

/* ROWS: refuse a tenant value that selects nothing (usually a typo), unless allowed. */
static int check_tenant_rows(PGconn *conn, const pg_capture *c, int allow_empty)
{
	hf_buf q = HF_BUF_INIT;
	PGresult *res = NULL;
	char value[256];
	size_t i;
	int rc = 0, found = 0;

	for (i = 0; i < c->ntables && !found && rc == 0; i++) {
		if (!c->tables[i].has_tenant_col)
			continue;
		hf_buf_clear(&q);
		if ((rc = hf_buf_printf(&q, "SELECT EXISTS (SELECT 1 FROM ")) < 0 ||
		    (rc = pg_model_append_from(&q, conn, &c->tables[i])) < 0 ||
		    (rc = hf_buf_printf(&q, " WHERE ")) < 0 ||
		    (rc = pg_model_filter_sql(&q, conn, c, i, 0)) < 0 || (rc = hf_buf_printf(&q, ")")) < 0 ||
		    (rc = hf_buf_cstr(&q)) < 0)
			break;
		if ((rc = pg_exec(&res, conn, PGRES_TUPLES_OK, (const char *)q.data,
		                  "unable to look for the tenant")) < 0)
			break;
		found = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		res = NULL;
	}
	if (rc == 0 && !found && !allow_empty) {
		pg_one_line(value, sizeof(value), c->tenant_value);
		rc = hf_error_set(HF_ENOTFOUND,
		                  "tenant value '%s' has no rows in any table of schema '%s' in '%s'", value,
		                  c->schema, pg_where(conn));
	}
	hf_buf_free(&q);
	return rc;
}

static int begin_file(hf_sink *sink, const char *name, hf_entry_type type, int64_t mtime_ns)
{
	hf_entry_meta m;
	memset(&m, 0, sizeof(m));
	m.name = name;
	m.type = type;
	m.mode = type == HF_ENTRY_DIR ? 0700 : 0600;
	m.mtime_ns = mtime_ns;
	return sink->entry_begin(sink, &m);
}

/* pg_dump -t/-n take patterns: a double-quoted name matches literally. */
static char *quoted_pattern(const char *prefix, const char *schema, const char *name)
{
	hf_buf b = HF_BUF_INIT;
	const char *parts[2] = {schema, name};
	int rc = hf_buf_printf(&b, "%s", prefix), i;
	for (i = 0; i < 2 && parts[i] && rc == 0; i++) {
		const char *p;
		rc = hf_buf_printf(&b, "%s\"", i ? "." : "");
		for (p = parts[i]; *p && rc == 0; p++)
			rc = *p == '"' ? hf_buf_printf(&b, "\"\"") : hf_buf_append_u8(&b, (uint8_t)*p);
		if (rc == 0)
			rc = hf_buf_append_u8(&b, '"');
	}
	if (rc == 0)
		rc = hf_buf_cstr(&b);
	if (rc < 0) {
		hf_buf_free(&b);
		return NULL;
	}
	return (char *)hf_buf_detach(&b, NULL);
}

/* pg_dump's plain output wraps the SQL in "\restrict KEY" / "\unrestrict KEY" psql meta-commands
 * with a random key: dropped, so an unchanged schema gives an identical entry (and the server
 * never sees a meta-command). Lines are cut across pipe reads; memory stays bounded by a line. */
typedef struct ddl_filter {
	backup_ctx *ctx;
	hf_buf line; /* a line cut by a pipe read */
	hf_buf out;  /* kept lines, written in large pieces */
} ddl_filter;

static int ddl_flush(ddl_filter *f)
{
	int rc = f->out.len ? sink_write(f->out.data, f->out.len, f->ctx) : 0;
	hf_buf_clear(&f->out);
	return rc;
}

static int is_meta_line(const uint8_t *p, size_t n)
{
	return (n >= 10 && memcmp(p, "\\restrict ", 10) == 0) ||
	       (n >= 12 && memcmp(p, "\\unrestrict ", 12) == 0);
}

static int ddl_line(ddl_filter *f, const uint8_t *p, size_t n)
{
	int rc;
	if (is_meta_line(p, n))
		return 0;
	if ((rc = hf_buf_append(&f->out, p, n)) < 0)
		return rc;
	return f->out.len >= 65536 ? ddl_flush(f) : 0;
}

static int ddl_write(const void *data, size_t len, void *payload)
{
	ddl_filter *f = payload;
	const uint8_t *p = data, *end = p + len;
	int rc = 0;
	while (p < end && rc == 0) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (f->line.len || !nl) {
			/* A line started in an earlier read, or one that continues in the next. */
			if ((rc = hf_buf_append(&f->line, p, n)) == 0 && nl) {
				rc = ddl_line(f, f->line.data, f->line.len);
				hf_buf_clear(&f->line);
			}
		} else {
			rc = ddl_line(f, p, n);
		}
		p += n;
	}
	return rc;
}

/* One DDL entry from pg_dump with the given section arguments. */
static int dump_entry(PGconn *conn, const hf_pg_spec *spec, const pg_capture *c, const char *snapshot,
                      const char *entry, const char *section, backup_ctx *ctx)
{
	ddl_filter filter = {ctx, HF_BUF_INIT, HF_BUF_INIT};
	char **args = NULL;
	size_t n = 0, i;
	int rc;

	if (!(args = calloc(c->ntables + 3, sizeof(char *))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	args[n++] = strdup(section);
	if (c->model == HF_PG_MODEL_SCHEMA)
		args[n++] = quoted_pattern("--schema=", c->schema, NULL);
	for (i = 0; c->model == HF_PG_MODEL_ROWS && i < c->ntables; i++)
		args[n++] = quoted_pattern("--table=", c->tables[i].schema, c->tables[i].name);
	for (i = 0, rc = 0; i < n; i++)
		if (!args[i])
			rc = hf_error_set(HF_ENOMEM, "out of memory");
	if (rc == 0 && (rc = begin_file(ctx->sink, entry, HF_ENTRY_FILE, c->time_ns)) == 0 &&
	    (rc = pg_dump_run(conn, spec->pg_dump_path, snapshot, (const char *const *)args, n, ddl_write,
	                      &filter)) == 0 &&
	    (rc = filter.line.len ? ddl_line(&filter, filter.line.data, filter.line.len) : 0) == 0 &&
	    (rc = ddl_flush(&filter)) == 0)
		rc = ctx->sink->entry_end(ctx->sink);
	hf_buf_free(&filter.line);
	hf_buf_free(&filter.out);
	for (i = 0; i < n; i++)
		free(args[i]);
	free(args);
	return rc;
}

static int capture_tables(PGconn *conn, pg_capture *c, backup_ctx *ctx)
{
	size_t i;
	int rc;

	if ((rc = begin_file(ctx->sink, PG_DATA_DIR, HF_ENTRY_DIR, c->time_ns)) < 0 ||
	    (rc = ctx->sink->entry_end(ctx->sink)) < 0)
		return rc;
	for (i = 0; i < c->ntables; i++) {
		pg_table *t = &c->tables[i];
		if ((rc = begin_file(ctx->sink, t->entry, HF_ENTRY_FILE, c->time_ns)) < 0 ||
		    (rc = pg_copy_out(conn, c, i, sink_write, ctx, &t->rows, &t->bytes, t->checksum)) < 0 ||
		    (rc = ctx->sink->entry_end(ctx->sink)) < 0)
			return rc;
	}
	return 0;
}

static int wrap_tenant(int rc, const hf_pg_spec *s)
{
	char value[256];
	if (s->model == HF_PG_MODEL_DATABASE)
		return hf_error_wrap(rc, "postgres backup of database %s%s%s", s->database ? "'" : "",
		                     s->database ? s->database : "(from the connection string)",
		                     s->database ? "'" : "");
	if (s->model == HF_PG_MODEL_SCHEMA)
		return hf_error_wrap(rc, "postgres backup of schema '%s'", s->schema);
	pg_one_line(value, sizeof(value), s->tenant_value);
	return hf_error_wrap(rc, "postgres backup of rows %s = '%s'", s->tenant_column, value);
}

int hf_pg_backup(const hf_pg_spec *spec, hf_sink *sink, hf_pg_backup_stats *stats)
{
	pg_capture c;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	backup_ctx ctx = {sink, 0};
	char *info = NULL, *snapshot = NULL;
	uint64_t schema_bytes = 0;
	size_t i;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = validate(spec)) < 0 || (rc = capture_init(&c, spec)) < 0)
		goto done;
	if ((rc = pg_connect(&conn, spec->conninfo,
	                     spec->model == HF_PG_MODEL_DATABASE && spec->database ? spec->database : NULL)) <
	    0)
		goto done;
	if ((rc = begin_snapshot(conn, &c)) < 0 || (rc = pg_model_select_tables(conn, spec, &c)) < 0 ||
	    (rc = pg_model_load_columns(conn, &c)) < 0 || (rc = pg_model_select_sequences(conn, &c)) < 0)
		goto done;
	if (c.model == HF_PG_MODEL_ROWS && (rc = check_tenant_rows(conn, &c, spec->allow_empty)) < 0)
		goto done;
	if ((rc = pg_exec(&res, conn, PGRES_TUPLES_OK, "SELECT pg_export_snapshot()",
	                  "unable to export the snapshot for pg_dump")) < 0)
		goto done;
	if (!(snapshot = pg_strdup(PQgetvalue(res, 0, 0)))) {
		rc = HF_ENOMEM;
		goto done;
	}
	if ((rc = sink->set_recovery_point(sink, c.time_ns, c.lsn)) < 0)
		goto done;
	if (c.model == HF_PG_MODEL_ROWS)
		rc = dump_entry(conn, spec, &c, snapshot, PG_SCHEMA_ENTRY, "--schema-only", &ctx);
	else if ((rc = dump_entry(conn, spec, &c, snapshot, PG_SCHEMA_ENTRY, "--section=pre-data", &ctx)) ==
	         0)
		rc = dump_entry(conn, spec, &c, snapshot, PG_POST_ENTRY, "--section=post-data", &ctx);
	if (rc < 0)
		goto done;
	schema_bytes = ctx.bytes;
	ctx.bytes = 0;
	if ((rc = capture_tables(conn, &c, &ctx)) < 0 || (rc = pg_model_read_sequences(conn, &c)) < 0 ||
	    (rc = pg_info_build(&info, &c)) < 0 || (rc = sink->set_source_info(sink, info)) < 0)
		goto done;
	if ((rc = pg_command(conn, "COMMIT", "unable to end the snapshot transaction")) < 0)
		goto done;
	if (stats) {
		memset(stats, 0, sizeof(*stats));
		stats->tables = c.ntables;
		for (i = 0; i < c.ntables; i++)
			stats->rows += c.tables[i].rows;
		stats->bytes = ctx.bytes;
		stats->schema_bytes = schema_bytes;
		stats->sequences = c.nseqs;
		stats->snapshot_time_ns = c.time_ns;
		snprintf(stats->lsn, sizeof(stats->lsn), "%s", c.lsn ? c.lsn : "");
	}
done:
	if (rc < 0 && conn)
		rc = wrap_tenant(rc, spec);
	free(info);
	free(snapshot);
	PQclear(res);
	PQfinish(conn);
	pg_capture_free(&c);
	return rc;
}
