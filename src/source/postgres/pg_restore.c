/* hf_pg_restore: load one tenant's snapshot into a target in a single transaction — refuse or
 * replace what is there, DDL, COPY FROM STDIN per table, sequences, post-data DDL — then re-read
 * the loaded rows and compare counts and checksums with the manifest before COMMIT. */
#include "source/postgres/pg_int.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_MAX (512u * 1024 * 1024)
#define PUT_SLICE (1u << 20)

typedef struct load_ctx {
	PGconn *conn;
	const pg_table *table;
	hf_buf *buf; /* script reads */
	uint64_t bytes;
	int failed; /* the error came from libpq, not from the reader */
} load_ctx;

/* ---- reading entries ---- */

static int collect_cb(const void *data, size_t len, void *payload)
{
	load_ctx *ctx = payload;
	if (ctx->buf->len + len > SCRIPT_MAX)
		return hf_error_set(HF_EUNSUPPORTED, "DDL script larger than %u MiB", SCRIPT_MAX >> 20);
	return hf_buf_append(ctx->buf, data, len);
}

/* pg_dump's plain output may carry psql meta-commands (\restrict KEY / \unrestrict KEY) around the
 * SQL; the server would reject them, and without psql they protect nothing. */
static void strip_meta_lines(hf_buf *b)
{
	size_t in = 0, out = 0;
	while (in < b->len) {
		const uint8_t *nl = memchr(b->data + in, '\n', b->len - in);
		size_t end = nl ? (size_t)(nl - b->data) + 1 : b->len, n = end - in;
		const char *line = (const char *)b->data + in;
		int meta = (n >= 10 && memcmp(line, "\\restrict ", 10) == 0) ||
		           (n >= 12 && memcmp(line, "\\unrestrict ", 12) == 0);
		if (!meta) {
			memmove(b->data + out, b->data + in, n);
			out += n;
		}
		in = end;
	}
	b->len = out;
}

static int exec_script(PGconn *conn, hf_snapshot_reader *r, const char *entry)
{
	hf_buf script = HF_BUF_INIT;
	load_ctx ctx;
	PGresult *res = NULL;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.buf = &script;
	if ((rc = r->read(r, entry, collect_cb, &ctx)) < 0) {
		rc = hf_error_wrap(rc, "unable to read '%s' from the snapshot", entry);
		goto done;
	}
	strip_meta_lines(&script);
	if ((rc = hf_buf_cstr(&script)) < 0)
		goto done;
	res = PQexec(conn, (const char *)script.data);
	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
	             PQresultStatus(res) != PGRES_EMPTY_QUERY))
		rc = pg_fail(conn, res, "unable to run '%s' in '%s'", entry, pg_where(conn));
done:
	PQclear(res);
	hf_buf_free(&script);
	return rc;
}

/* ---- target preparation ---- */

static int dsn_dbname(char **out, const char *conninfo)
{
	PQconninfoOption *opts, *o;
	*out = NULL;
	if (!conninfo || !*conninfo)
		return 0;
	if (!strchr(conninfo, '=') && strncmp(conninfo, "postgres://", 11) != 0 &&
	    strncmp(conninfo, "postgresql://", 13) != 0) {
		*out = pg_strdup(conninfo); /* a bare database name */
		return *out ? 0 : HF_ENOMEM;
	}
	if (!(opts = PQconninfoParse(conninfo, NULL)))
		return hf_error_set(HF_EUSAGE, "invalid postgres connection string");
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val && *o->val)
			*out = pg_strdup(o->val);
	PQconninfoFree(opts);
	return 0;
}

static int maintenance_connect(PGconn **out, const char *conninfo)
{
	int rc = pg_connect(out, conninfo, "postgres");
	if (rc == HF_ENOTFOUND)
		rc = pg_connect(out, conninfo, "template1");
	return rc;
}

static int create_database(const char *conninfo, const char *name, const pg_capture *c)
{
	PGconn *conn = NULL;
	hf_buf q = HF_BUF_INIT, loc = HF_BUF_INIT;
	int rc;

	if ((rc = maintenance_connect(&conn, conninfo)) < 0)
		goto done;
	if ((rc = hf_buf_printf(&q, "CREATE DATABASE ")) < 0 || (rc = pg_append_ident(&q, conn, name)) < 0 ||
	    (rc = hf_buf_printf(&q, " TEMPLATE template0")) < 0)
		goto done;
	if (c->encoding && ((rc = hf_buf_printf(&q, " ENCODING ")) < 0 ||
	                    (rc = pg_append_literal(&q, conn, c->encoding)) < 0))
		goto done;
	if (c->lc_collate && c->lc_ctype &&
	    ((rc = hf_buf_append(&loc, q.data, q.len)) < 0 ||
	     (rc = hf_buf_printf(&loc, " LC_COLLATE ")) < 0 ||
	     (rc = pg_append_literal(&loc, conn, c->lc_collate)) < 0 ||
	     (rc = hf_buf_printf(&loc, " LC_CTYPE ")) < 0 ||
	     (rc = pg_append_literal(&loc, conn, c->lc_ctype)) < 0 || (rc = hf_buf_cstr(&loc)) < 0))
		goto done;
	if ((rc = hf_buf_cstr(&q)) < 0)
		goto done;
	/* The source's locale first; a server without it gets its default locale. */
	if (loc.len && pg_command(conn, (const char *)loc.data, "create") == 0)
		goto done;
	if (loc.len)
		hf_log_warn(
		    "postgres: creating database '%s' with locale '%s' failed (%s); using the server default",
		    name, c->lc_collate, hf_error_message());
	rc = pg_command(conn, (const char *)q.data, "unable to create the target database");
	if (rc < 0)
		rc = hf_error_wrap(rc, "database '%s' in '%s'", name, pg_where(conn));
done:
	hf_buf_free(&loc);
	hf_buf_free(&q);
	PQfinish(conn);
	return rc;
}

static void drop_created_database(const char *conninfo, const char *name)
{
	PGconn *conn = NULL;
	hf_buf q = HF_BUF_INIT;
	if (maintenance_connect(&conn, conninfo) == 0 && hf_buf_printf(&q, "DROP DATABASE IF EXISTS ") == 0 &&
	    pg_append_ident(&q, conn, name) == 0 &&
	    hf_buf_printf(&q, "%s", PQserverVersion(conn) >= 130000 ? " WITH (FORCE)" : "") == 0 &&
	    hf_buf_cstr(&q) == 0 && pg_command(conn, (const char *)q.data, "drop") == 0)
		hf_log_info("postgres: dropped database '%s' created by the failed restore", name);
	else
		hf_log_warn("postgres: unable to drop database '%s' created by the failed restore", name);
	hf_buf_free(&q);
	PQfinish(conn);
}

static int scalar(char **out, PGconn *conn, const char *sql, int nparams, const char *const *params,
                  const char *ctx)
{
	PGresult *res = NULL;
	int rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK, sql, nparams, params, ctx);
	if (rc == 0) {
		int has = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);
		*out = has ? pg_strdup(PQgetvalue(res, 0, 0)) : NULL;
		if (has && !*out)
			rc = HF_ENOMEM;
	}
	PQclear(res);
	return rc;
}

#define USER_NS(alias) " " alias ".nspname !~ '^pg_' AND " alias ".nspname <> 'information_schema'"

static int prepare_database(PGconn *conn, int in_place, int created)
{
	PGresult *res = NULL;
	char *count = NULL;
	hf_buf q = HF_BUF_INIT;
	int rc, i;

	if (created)
		return 0;
	rc = scalar(
	    &count, conn,
	    "SELECT (SELECT count(*) FROM pg_namespace n WHERE" USER_NS(
	        "n") " AND n.nspname <> 'public')"
	             " + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	             "WHERE" USER_NS("n") ")"
	                                  " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = "
	                                  "p.pronamespace WHERE" USER_NS(
	                                      "n") ")"
	                                           " + (SELECT count(*) FROM pg_type t JOIN pg_namespace n "
	                                           "ON n.oid = t.typnamespace WHERE" USER_NS(
	                                               "n") ")"
	                                                    " + (SELECT count(*) FROM pg_extension WHERE "
	                                                    "extname <> 'plpgsql')",
	    0, NULL, "unable to inspect the target database");
	if (rc < 0 || strcmp(count, "0") == 0)
		goto done;
	if (!in_place) {
		rc = hf_error_set(HF_EEXISTS, "target database '%s' is not empty", pg_where(conn));
		hf_error_set_hint("restore into a new database, or replace it with --in-place");
		goto done;
	}
	/* In place: every user schema goes, inside the restore's transaction. */
	if ((rc = pg_exec(&res, conn, PGRES_TUPLES_OK,
	                  "SELECT n.nspname FROM pg_namespace n WHERE" USER_NS("n") " ORDER BY 1",
	                  "unable to list schemas")) < 0)
		goto done;
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		hf_buf_clear(&q);
		if ((rc = hf_buf_printf(&q, "DROP SCHEMA ")) == 0 &&
		    (rc = pg_append_ident(&q, conn, PQgetvalue(res, i, 0))) == 0 &&
		    (rc = hf_buf_printf(&q, " CASCADE")) == 0 && (rc = hf_buf_cstr(&q)) == 0)
			rc = pg_command(conn, (const char *)q.data, "unable to drop a schema of the target");
	}
	/* As a new database has it (the dump only records changes from that). */
	if (rc == 0)
		rc = pg_command(conn,
		                PQserverVersion(conn) >= 150000
		                    ? "CREATE SCHEMA public AUTHORIZATION pg_database_owner; GRANT USAGE ON "
		                      "SCHEMA public TO PUBLIC"
		                    : "CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO PUBLIC",
		                "unable to recreate schema public");
done:
	free(count);
	hf_buf_free(&q);
	PQclear(res);
	return rc;
}

/* Objects outside schema $1 (oid) that depend on something inside it: a CASCADE would take them. */
static const char outside_deps_sql[] =
    "WITH d AS (SELECT d.classid, d.objid, d.objsubid,"
    "  CASE d.refclassid WHEN 'pg_namespace'::regclass THEN d.refobjid"
    "   WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = d.refobjid)"
    "   WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.refobjid)"
    "   WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.refobjid) END AS refns,"
    "  CASE d.classid WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = d.objid)"
    "   WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.objid)"
    "   WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)"
    "   WHEN 'pg_constraint'::regclass THEN (SELECT connamespace FROM pg_constraint WHERE oid = d.objid)"
    "   WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = "
    "r.ev_class WHERE r.oid = d.objid)"
    "   WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = "
    "t.tgrelid WHERE t.oid = d.objid)"
    "   WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = "
    "a.adrelid WHERE a.oid = d.objid)"
    "   WHEN 'pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = "
    "p.polrelid WHERE p.oid = d.objid)"
    "   WHEN 'pg_namespace'::regclass THEN d.objid END AS objns"
    "  FROM pg_depend d WHERE d.deptype IN ('n', 'a'))"
    " SELECT string_agg(DISTINCT pg_describe_object(classid, objid, objsubid), ', ')"
    " FROM d WHERE refns = $1::oid AND objns IS DISTINCT FROM $1::oid";

static int prepare_schema(PGconn *conn, const char *schema, int in_place)
{
	char *oid = NULL, *deps = NULL;
	hf_buf q = HF_BUF_INIT;
	int rc;

	if ((rc = scalar(&oid, conn, "SELECT oid FROM pg_namespace WHERE nspname = $1", 1, &schema,
	                 "unable to look up the schema")) < 0 ||
	    !oid)
		goto done;
	if (!in_place) {
		rc = hf_error_set(HF_EEXISTS, "schema '%s' already exists in '%s'", schema, pg_where(conn));
		hf_error_set_hint("restore into another database, or replace it with --in-place");
		goto done;
	}
	if ((rc = scalar(&deps, conn, outside_deps_sql, 1, (const char *const *)&oid,
	                 "unable to check what depends on the schema")) < 0)
		goto done;
	if (deps) {
		rc = hf_error_set(
		    HF_EEXISTS,
		    "refusing to replace schema '%s' in '%s': objects outside it depend on it (%.300s)",
		    schema, pg_where(conn), deps);
		goto done;
	}
	if ((rc = hf_buf_printf(&q, "DROP SCHEMA ")) == 0 && (rc = pg_append_ident(&q, conn, schema)) == 0 &&
	    (rc = hf_buf_printf(&q, " CASCADE")) == 0 && (rc = hf_buf_cstr(&q)) == 0)
		rc = pg_command(conn, (const char *)q.data, "unable to drop the schema");
done:
	free(oid);
	free(deps);
	hf_buf_free(&q);
	return rc;
}

static int tenant_rows_sql(hf_buf *q, PGconn *conn, const pg_capture *c, size_t i, const char *head,
                           const char *tail)
{
	int rc;
	hf_buf_clear(q);
	if ((rc = hf_buf_printf(q, "%s", head)) < 0 ||
	    (rc = pg_model_append_from(q, conn, &c->tables[i])) < 0 ||
	    (rc = hf_buf_printf(q, " AS hf_row WHERE ")) < 0 ||
	    (rc = pg_model_filter_sql(q, conn, c, i, 0)) < 0 || (rc = hf_buf_printf(q, "%s", tail)) < 0)
		return rc;
	return hf_buf_cstr(q);
}

/* ROWS: refuse a target that holds the tenant, or (in place) delete its rows, children first. */
static int prepare_rows(PGconn *conn, const pg_capture *c, const size_t *order, int in_place,
                        uint64_t *deleted)
{
	hf_buf q = HF_BUF_INIT;
	PGresult *res = NULL;
	char value[256];
	size_t k;
	int rc = 0;

	for (k = c->ntables; k-- > 0 && rc == 0;) {
		size_t i = order[k];
		if (in_place)
			rc = tenant_rows_sql(&q, conn, c, i, "DELETE FROM ", "");
		else
			rc = tenant_rows_sql(&q, conn, c, i, "SELECT EXISTS (SELECT 1 FROM ", ")");
		if (rc < 0)
			break;
		if (in_place) {
			if ((rc = pg_exec(&res, conn, PGRES_COMMAND_OK, (const char *)q.data,
			                  "unable to delete")) == 0)
				*deleted += strtoull(PQcmdTuples(res), NULL, 10);
			else
				rc = hf_error_wrap(rc, "tenant rows of table '%s.%s'", c->tables[i].schema,
				                   c->tables[i].name);
		} else if ((rc = pg_exec(&res, conn, PGRES_TUPLES_OK, (const char *)q.data,
		                         "unable to look for the tenant")) == 0 &&
		           strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
			pg_one_line(value, sizeof(value), c->tenant_value);
			rc = hf_error_set(HF_EEXISTS,
			                  "tenant value '%s' already has rows in table '%s.%s' of '%s'",
			                  value, c->tables[i].schema, c->tables[i].name, pg_where(conn));
			hf_error_set_hint(
			    "restore into another database, or replace the tenant's rows with --in-place");
		}
		PQclear(res);
		res = NULL;
	}
	hf_buf_free(&q);
	return rc;
}

/* ---- loading ---- */

static int copy_in_cb(const void *data, size_t len, void *payload)
{
	load_ctx *ctx = payload;
	const char *p = data;
	while (len > 0) {
		size_t n = len < PUT_SLICE ? len : PUT_SLICE;
		if (PQputCopyData(ctx->conn, p, (int)n) != 1) {
			ctx->failed = 1;
			return pg_fail(ctx->conn, NULL, "unable to load table '%s.%s'", ctx->table->schema,
			               ctx->table->name);
		}
		p += n;
		len -= n;
		ctx->bytes += n;
	}
	return 0;
}

static int load_table(PGconn *conn, hf_snapshot_reader *r, const pg_capture *c, size_t i, uint64_t *rows,
                      uint64_t *bytes)
{
	const pg_table *t = &c->tables[i];
	hf_buf q = HF_BUF_INIT;
	PGresult *res = NULL;
	load_ctx ctx;
	size_t k;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.conn = conn;
	ctx.table = t;
	/* Named columns: the target's column order may differ, and it may have gained columns. */
	if ((rc = hf_buf_printf(&q, "COPY ")) < 0 || (rc = pg_append_qname(&q, conn, t->schema, t->name)) < 0)
		goto done;
	for (k = 0; k < t->ncolumns && rc == 0; k++)
		if ((rc = hf_buf_printf(&q, "%s", k ? ", " : " (")) == 0)
			rc = pg_append_ident(&q, conn, t->columns[k]);
	if (rc < 0 || (rc = hf_buf_printf(&q, "%s FROM STDIN", t->ncolumns ? ")" : "")) < 0 ||
	    (rc = hf_buf_cstr(&q)) < 0)
		goto done;
	if ((rc = pg_exec(&res, conn, PGRES_COPY_IN, (const char *)q.data, "unable to start COPY")) < 0) {
		rc = hf_error_wrap(rc, "table '%s.%s'", t->schema, t->name);
		goto done;
	}
	PQclear(res);
	res = NULL;
	rc = r->read(r, t->entry, copy_in_cb, &ctx);
	if (rc < 0 && !ctx.failed) {
		/* The snapshot side failed: abort the COPY, keep the reader's message. */
		rc = hf_error_wrap(rc, "unable to read table '%s.%s' from the snapshot", t->schema, t->name);
		PQputCopyEnd(conn, "holdfast: snapshot read failed");
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
		goto done;
	}
	if (rc < 0)
		goto done;
	if (PQputCopyEnd(conn, NULL) != 1) {
		rc = pg_fail(conn, NULL, "unable to load table '%s.%s'", t->schema, t->name);
		goto done;
	}
	res = PQgetResult(conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = pg_fail(conn, res, "unable to load table '%s.%s'", t->schema, t->name);
		goto done;
	}
	*rows += strtoull(PQcmdTuples(res), NULL, 10);
	*bytes += ctx.bytes;
done:
	PQclear(res);
	if (rc < 0)
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
	hf_buf_free(&q);
	return rc;
}

static int restore_sequences(PGconn *conn, const pg_capture *c)
{
	hf_buf name = HF_BUF_INIT, q = HF_BUF_INIT;
	char value[32];
	size_t i;
	int rc = 0;

	for (i = 0; i < c->nseqs && rc == 0; i++) {
		const pg_sequence *s = &c->seqs[i];
		const char *params[3];
		char *exists = NULL;
		hf_buf_clear(&name);
		hf_buf_clear(&q);
		if ((rc = pg_append_qname(&name, conn, s->schema, s->name)) < 0 ||
		    (rc = hf_buf_cstr(&name)) < 0)
			break;
		snprintf(value, sizeof(value), "%lld", (long long)s->last_value);
		params[0] = (const char *)name.data;
		params[1] = value;
		params[2] = s->is_called ? "t" : "f";
		if (c->model != HF_PG_MODEL_ROWS) {
			rc = pg_exec_params(NULL, conn, PGRES_TUPLES_OK,
			                    "SELECT pg_catalog.setval($1::regclass, $2::int8, $3::bool)", 3,
			                    params, "unable to set a sequence");
		} else {
			/* Shared sequences only ever move forward: other tenants draw from them too. */
			if ((rc = scalar(&exists, conn, "SELECT pg_catalog.to_regclass($1)", 1, params,
			                 "unable to look up a sequence")) < 0)
				break;
			if (!exists) {
				hf_log_warn("postgres: sequence '%s.%s' not found in '%s', left alone",
				            s->schema, s->name, pg_where(conn));
				continue;
			}
			free(exists);
			if ((rc = hf_buf_printf(
			         &q, "SELECT pg_catalog.setval($1::regclass, $2::int8, true) FROM ")) < 0 ||
			    (rc = hf_buf_append(&q, name.data, name.len)) < 0 ||
			    (rc = hf_buf_printf(
			         &q, " WHERE $3::bool AND (NOT is_called OR last_value < $2::int8)")) < 0 ||
			    (rc = hf_buf_cstr(&q)) < 0)
				break;
			rc = pg_exec_params(NULL, conn, PGRES_TUPLES_OK, (const char *)q.data, 3, params,
			                    "unable to advance a sequence");
		}
		if (rc < 0)
			rc = hf_error_wrap(rc, "sequence '%s.%s'", s->schema, s->name);
	}
	hf_buf_free(&q);
	hf_buf_free(&name);
	return rc;
}

static int verify(PGconn *conn, const pg_capture *c, size_t *verified)
{
	size_t i;
	int rc;
	for (i = 0; i < c->ntables; i++) {
		const pg_table *t = &c->tables[i];
		uint64_t rows = 0, bytes = 0;
		char sum[65];
		if ((rc = pg_copy_out(conn, c, i, NULL, NULL, &rows, &bytes, sum)) < 0)
			return hf_error_wrap(rc, "unable to verify the restore");
		if (rows != t->rows || strcmp(sum, t->checksum) != 0)
			return hf_error_set(HF_EVERIFY,
			                    "verification of table '%s.%s' in '%s' failed: loaded %llu rows "
			                    "(checksum %.16s...),"
			                    " the snapshot has %llu (checksum %.16s...)",
			                    t->schema, t->name, pg_where(conn), (unsigned long long)rows, sum,
			                    (unsigned long long)t->rows, t->checksum);
		(*verified)++;
	}
	return 0;
}

/* ---- the whole restore ---- */

static int load_all(PGconn *conn, hf_snapshot_reader *r, pg_capture *c, const hf_pg_restore_opts *o,
                    int created, hf_pg_restore_stats *st)
{
	size_t *order = NULL, i;
	int rc;

	if (!(order = calloc(c->ntables + 1, sizeof(*order))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = pg_command(conn, "BEGIN", "unable to start the restore transaction")) < 0)
		goto done;
	if (c->model == HF_PG_MODEL_DATABASE)
		rc = prepare_database(conn, o->in_place, created);
	else if (c->model == HF_PG_MODEL_SCHEMA)
		rc = prepare_schema(conn, c->schema, o->in_place);
	else if (o->disable_triggers)
		rc = pg_command(conn, "SET LOCAL session_replication_role = replica",
		                "unable to disable triggers");
	if (rc < 0)
		goto done;
	if (c->model != HF_PG_MODEL_ROWS && (rc = exec_script(conn, r, PG_SCHEMA_ENTRY)) < 0)
		goto done;
	if ((rc = pg_model_resolve(conn, c)) < 0 || (rc = pg_model_load_order(order, conn, c)) < 0)
		goto done;
	if (c->model == HF_PG_MODEL_ROWS &&
	    (rc = prepare_rows(conn, c, order, o->in_place, &st->rows_deleted)) < 0)
		goto done;
	for (i = 0; i < c->ntables; i++) {
		if ((rc = load_table(conn, r, c, order[i], &st->rows, &st->bytes)) < 0)
			goto done;
		st->tables++;
	}
	if ((rc = restore_sequences(conn, c)) < 0)
		goto done;
	if (c->model != HF_PG_MODEL_ROWS && (rc = exec_script(conn, r, PG_POST_ENTRY)) < 0)
		goto done;
	if ((rc = verify(conn, c, &st->tables_verified)) < 0)
		goto done;
	rc = pg_command(conn, "COMMIT", "unable to commit the restore");
done:
	free(order);
	return rc;
}

static const char *describe(const pg_capture *c)
{
	static _Thread_local char what[512];
	char value[256];
	if (c->model == HF_PG_MODEL_DATABASE)
		snprintf(what, sizeof(what), "database '%s'", c->database ? c->database : "?");
	else if (c->model == HF_PG_MODEL_SCHEMA)
		snprintf(what, sizeof(what), "schema '%s'", c->schema ? c->schema : "?");
	else if (c->model == HF_PG_MODEL_ROWS) {
		pg_one_line(value, sizeof(value), c->tenant_value);
		snprintf(what, sizeof(what), "rows %s = '%s'", c->tenant_column, value);
	} else
		snprintf(what, sizeof(what), "postgres snapshot");
	return what;
}

int hf_pg_restore(const hf_pg_restore_opts *o, hf_snapshot_reader *r, hf_pg_restore_stats *stats)
{
	pg_capture c;
	hf_pg_restore_stats st;
	PGconn *conn = NULL;
	char *target = NULL, saved[1024], hint[512];
	const char *override = NULL;
	int rc, created = 0;

	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	if (!o || !r)
		return hf_error_set(HF_EUSAGE, "postgres restore needs a target and a snapshot");
	if ((rc = pg_info_parse(&c, r->source_info(r))) < 0 || (rc = dsn_dbname(&target, o->conninfo)) < 0)
		goto done;
	if (!target && c.model == HF_PG_MODEL_DATABASE) {
		override = c.database; /* the DSN names no database: restore under the original name */
		if (!(target = pg_strdup(c.database))) {
			rc = HF_ENOMEM;
			goto done;
		}
	}
	rc = pg_connect(&conn, o->conninfo, override);
	if (rc == HF_ENOTFOUND && c.model != HF_PG_MODEL_ROWS && target) {
		if ((rc = create_database(o->conninfo, target, &c)) < 0)
			goto done;
		created = 1;
		rc = pg_connect(&conn, o->conninfo, override);
	}
	if (rc < 0)
		goto done;
	if ((rc = load_all(conn, r, &c, o, created, &st)) < 0)
		goto done;
	st.database_created = created;
	if (stats)
		*stats = st;
done:
	if (rc < 0) {
		snprintf(saved, sizeof(saved), "%s", hf_error_message());
		snprintf(hint, sizeof(hint), "%s", hf_error_hint() ? hf_error_hint() : "");
		if (conn && PQstatus(conn) == CONNECTION_OK)
			PQclear(PQexec(conn, "ROLLBACK"));
		PQfinish(conn);
		conn = NULL;
		if (created)
			drop_created_database(o->conninfo, target);
		rc = hf_error_set(rc, "postgres restore of %s: %s", describe(&c), saved);
		if (hint[0])
			hf_error_set_hint("%s", hint);
	}
	PQfinish(conn);
	free(target);
	pg_capture_free(&c);
	return rc;
}
