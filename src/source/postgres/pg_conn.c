/* libpq connections for the postgres source: connecting with reproducible session settings,
 * translating libpq/server errors into holdfast codes, SQL quoting; plus hf_pg_query and
 * hf_pg_discover, which need nothing else. */
#include "source/postgres/pg_int.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings that fix the text form COPY produces, so a backup and a later re-read compare equal. */
static const char session_sql[] =
    "SET datestyle = 'ISO, MDY'; SET intervalstyle = 'postgres'; SET extra_float_digits = 3;"
    "SET bytea_output = 'hex'; SET timezone = 'UTC'; SET lc_monetary = 'C';"
    "SET search_path = pg_catalog; SET standard_conforming_strings = on;"
    "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;";

char *pg_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		hf_error_set(HF_ENOMEM, "out of memory");
	return p;
}

void pg_one_line(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	int space = 1; /* drop leading blanks */
	if (!cap)
		return;
	for (; s && *s && n + 1 < cap; s++) {
		int blank = (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t');
		if (blank) {
			if (!space)
				out[n++] = ' ';
			space = 1;
			continue;
		}
		out[n++] = *s;
		space = 0;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

const char *pg_where(PGconn *conn)
{
	static _Thread_local char where[512];
	const char *host = conn ? PQhost(conn) : NULL, *port = conn ? PQport(conn) : NULL;
	const char *db = conn ? PQdb(conn) : NULL;
	snprintf(where, sizeof(where), "%s:%s/%s", host && *host ? host : "localhost",
	         port && *port ? port : "5432", db && *db ? db : "?");
	return where;
}

static void notice_cb(void *arg, const char *message)
{
	char line[512];
	(void)arg;
	pg_one_line(line, sizeof(line), message);
	hf_log_debug("postgres: %s", line);
}

/* The libpq -> holdfast error translation for login failures (no SQLSTATE is exposed there). */
static int connect_error(PGconn *conn)
{
	char msg[768];
	int code = HF_ESOURCE;
	pg_one_line(msg, sizeof(msg), conn ? PQerrorMessage(conn) : "out of memory");
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
	    strstr(msg, "authentication failed") || strstr(msg, "pg_hba.conf") ||
	    (strstr(msg, "role \"") && strstr(msg, "does not exist")))
		code = HF_EAUTH;
	else if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		code = HF_ENOTFOUND;
	return hf_error_set(code, "unable to connect to postgres '%s': %s", pg_where(conn), msg);
}

int pg_connect(PGconn **out, const char *conninfo, const char *dbname)
{
	const char *keys[8], *vals[8];
	PGconn *conn = NULL;
	PGresult *res = NULL;
	int n = 0, rc = 0;

	/* Earlier keywords are overridden by the DSN, later ones override it. */
	keys[n] = "connect_timeout", vals[n++] = "15";
	keys[n] = "fallback_application_name", vals[n++] = "holdfast";
	keys[n] = "dbname", vals[n++] = conninfo ? conninfo : "";
	if (dbname)
		keys[n] = "dbname", vals[n++] = dbname;
	keys[n] = "client_encoding", vals[n++] = "UTF8";
	keys[n] = NULL, vals[n] = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		rc = connect_error(conn);
		goto done;
	}
	PQsetNoticeProcessor(conn, notice_cb, NULL);
	if ((rc = pg_exec(&res, conn, PGRES_COMMAND_OK, session_sql, "unable to set up the session")) < 0)
		goto done;
	*out = conn;
	conn = NULL;
done:
	PQclear(res);
	PQfinish(conn);
	return rc;
}

static int code_of(const char *state)
{
	static const char *const notfound[] = {"3D000", "3F000", "42P01", "42703", "42883", "42704"};
	size_t i;
	if (!state)
		return HF_ESOURCE;
	if (strncmp(state, "28", 2) == 0 || strcmp(state, "42501") == 0)
		return HF_EAUTH;
	for (i = 0; i < sizeof(notfound) / sizeof(notfound[0]); i++)
		if (strcmp(state, notfound[i]) == 0)
			return HF_ENOTFOUND;
	if (strcmp(state, "53100") == 0)
		return HF_ENOSPC;
	if (strcmp(state, "53200") == 0)
		return HF_ENOMEM;
	return HF_ESOURCE;
}

int pg_fail(PGconn *conn, const PGresult *res, const char *fmt, ...)
{
	char ctx[512], msg[768];
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int code = code_of(state);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	/* Only the primary message: DETAIL lines may quote row values (patient data). */
	pg_one_line(msg, sizeof(msg), primary && *primary ? primary : PQerrorMessage(conn));
	/* Terminated, shut down, or the socket went away: the transaction is gone with it. */
	if (PQstatus(conn) == CONNECTION_BAD ||
	    (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)))
		return hf_error_set(HF_ESOURCE, "%s: connection to '%s' lost: %s", ctx, pg_where(conn),
		                    msg[0] ? msg : "server closed the connection");
	return hf_error_set(code, "%s: %s", ctx, msg[0] ? msg : "unknown postgres error");
}

int pg_exec_params(PGresult **out, PGconn *conn, ExecStatusType want, const char *sql, int nparams,
                   const char *const *params, const char *ctx)
{
	PGresult *res =
	    nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
	if (!res || PQresultStatus(res) != want) {
		int rc = pg_fail(conn, res, "%s", ctx);
		PQclear(res);
		return rc;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int pg_exec(PGresult **out, PGconn *conn, ExecStatusType want, const char *sql, const char *ctx)
{
	return pg_exec_params(out, conn, want, sql, 0, NULL, ctx);
}

int pg_command(PGconn *conn, const char *sql, const char *ctx)
{
	return pg_exec(NULL, conn, PGRES_COMMAND_OK, sql, ctx);
}

int pg_append_ident(hf_buf *b, PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	int rc;
	if (!q)
		return hf_error_set(HF_EUSAGE, "invalid identifier '%s'", name);
	rc = hf_buf_append(b, q, strlen(q));
	PQfreemem(q);
	return rc;
}

int pg_append_literal(hf_buf *b, PGconn *conn, const char *value)
{
	char *q = PQescapeLiteral(conn, value, strlen(value));
	int rc;
	if (!q)
		return hf_error_set(HF_EUSAGE, "invalid literal (not valid UTF-8?)");
	rc = hf_buf_append(b, q, strlen(q));
	PQfreemem(q);
	return rc;
}

int pg_append_qname(hf_buf *b, PGconn *conn, const char *schema, const char *name)
{
	int rc;
	if ((rc = pg_append_ident(b, conn, schema)) < 0 || (rc = hf_buf_append(b, ".", 1)) < 0)
		return rc;
	return pg_append_ident(b, conn, name);
}

int hf_pg_query(char **out, const char *conninfo, const char *sql)
{
	PGconn *conn = NULL;
	PGresult *res = NULL;
	hf_buf b = HF_BUF_INIT;
	int rc, r, f, nr, nf;

	if ((rc = pg_connect(&conn, conninfo, NULL)) < 0)
		goto done;
	res = PQexec(conn, sql);
	if (!res || (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)) {
		rc = pg_fail(conn, res, "query on '%s' failed", pg_where(conn));
		goto done;
	}
	nr = PQntuples(res);
	nf = PQnfields(res);
	for (r = 0; r < nr && out; r++) {
		for (f = 0; f < nf && rc == 0; f++) {
			const char *v = PQgetisnull(res, r, f) ? "\\N" : PQgetvalue(res, r, f);
			if (f > 0)
				rc = hf_buf_append(&b, "\t", 1);
			if (rc == 0)
				rc = hf_buf_append(&b, v, strlen(v));
		}
		if (rc == 0)
			rc = hf_buf_append(&b, "\n", 1);
		if (rc < 0)
			goto done;
	}
	if (out) {
		if ((rc = hf_buf_cstr(&b)) < 0)
			goto done;
		*out = (char *)hf_buf_detach(&b, NULL);
	}
done:
	hf_buf_free(&b);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

void hf_pg_strv_free(char **v, size_t n)
{
	size_t i;
	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ROWS discovery: one UNION over every table of the schema that has the column. */
static int rows_discovery_sql(hf_buf *sql, PGconn *conn, const char *column, const char *schema)
{
	const char *params[2] = {schema, column};
	PGresult *res = NULL;
	int rc, i;

	rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK,
	                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	                    " JOIN pg_attribute a ON a.attrelid = c.oid"
	                    " WHERE n.nspname = $1 AND a.attname = $2 AND NOT a.attisdropped AND a.attnum > 0"
	                    " AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
	                    2, params, "unable to list tables");
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 0) {
		rc = hf_error_set(HF_ENOTFOUND, "no table of schema '%s' in '%s' has a column '%s'", schema,
		                  pg_where(conn), column);
		goto done;
	}
	rc = hf_buf_printf(sql, "SELECT v FROM (");
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		if (i)
			rc = hf_buf_printf(sql, " UNION ");
		if (rc == 0)
			rc = hf_buf_printf(sql, "SELECT ");
		if (rc == 0)
			rc = pg_append_ident(sql, conn, column);
		if (rc == 0)
			rc = hf_buf_printf(sql, "::text AS v FROM ");
		if (rc == 0)
			rc = pg_append_qname(sql, conn, schema, PQgetvalue(res, i, 0));
	}
	if (rc == 0)
		rc = hf_buf_printf(sql, ") hf_v WHERE v IS NOT NULL ORDER BY v COLLATE \"C\"");
	if (rc == 0)
		rc = hf_buf_cstr(sql);
done:
	PQclear(res);
	return rc;
}

int hf_pg_discover(const char *conninfo, hf_pg_model model, const char *pattern, const char *schema,
                   char ***out_values, size_t *out_n)
{
	PGconn *conn = NULL;
	PGresult *res = NULL;
	hf_buf sql = HF_BUF_INIT;
	char **v = NULL;
	size_t n = 0;
	int rc, i;

	if (!pattern || !*pattern)
		return hf_error_set(HF_EUSAGE, "tenant discovery needs a pattern (or, for rows, a column)");
	if ((rc = pg_connect(&conn, conninfo, NULL)) < 0)
		goto done;
	if (model == HF_PG_MODEL_DATABASE) {
		rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK,
		                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
		                    " AND datname LIKE $1 ORDER BY datname COLLATE \"C\"",
		                    1, &pattern, "unable to list databases");
	} else if (model == HF_PG_MODEL_SCHEMA) {
		rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK,
		                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1"
		                    " AND nspname !~ '^pg_' AND nspname <> 'information_schema'"
		                    " ORDER BY nspname COLLATE \"C\"",
		                    1, &pattern, "unable to list schemas");
	} else if (model == HF_PG_MODEL_ROWS) {
		if ((rc = rows_discovery_sql(&sql, conn, pattern, schema ? schema : "public")) == 0)
			rc = pg_exec(&res, conn, PGRES_TUPLES_OK, (const char *)sql.data,
			             "unable to list tenant values");
	} else {
		rc = hf_error_set(HF_EUSAGE, "unknown postgres tenant model %d", (int)model);
	}
	if (rc < 0)
		goto done;
	if (!(v = calloc((size_t)PQntuples(res) + 1, sizeof(*v)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < PQntuples(res); i++, n++)
		if (!(v[i] = pg_strdup(PQgetvalue(res, i, 0)))) {
			rc = HF_ENOMEM;
			goto done;
		}
	*out_values = v;
	*out_n = n;
	v = NULL;
done:
	hf_pg_strv_free(v, n);
	hf_buf_free(&sql);
	PQclear(res);
	PQfinish(conn);
	return rc;
}
