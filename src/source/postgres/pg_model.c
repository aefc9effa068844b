/* The tables and sequences one tenant consists of in each model, how its rows are selected
 * (tenant column, join paths) and ordered (primary key), and the FK-respecting load order. */
#include "source/postgres/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_DEPTH_MAX 16

static void strv_free(char **v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void table_free(pg_table *t)
{
	free(t->schema);
	free(t->name);
	strv_free(t->columns, t->ncolumns);
	strv_free(t->order_by, t->norder);
	free(t->order_c);
	free(t->join_fk);
	free(t->join_parent_schema);
	free(t->join_parent);
	free(t->join_pk);
	free(t->entry);
}

void pg_capture_free(pg_capture *c)
{
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->ntables; i++)
		table_free(&c->tables[i]);
	free(c->tables);
	for (i = 0; i < c->nseqs; i++) {
		free(c->seqs[i].schema);
		free(c->seqs[i].name);
	}
	free(c->seqs);
	free(c->database);
	free(c->schema);
	free(c->tenant_column);
	free(c->tenant_value);
	free(c->server_version);
	free(c->encoding);
	free(c->lc_collate);
	free(c->lc_ctype);
	free(c->lsn);
	free(c->snapshot_time);
	memset(c, 0, sizeof(*c));
}

int pg_capture_find(const pg_capture *c, const char *schema, const char *name)
{
	size_t i;
	for (i = 0; i < c->ntables; i++)
		if (strcmp(c->tables[i].schema, schema) == 0 && strcmp(c->tables[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* "data/<schema>.<table>.copy" with '/', '%' and control bytes percent-encoded. */
static char *entry_name(const char *schema, const char *name)
{
	hf_buf b = HF_BUF_INIT;
	const char *parts[2] = {schema, name};
	int rc = hf_buf_printf(&b, "%s/", PG_DATA_DIR), i;
	for (i = 0; i < 2 && rc == 0; i++) {
		const unsigned char *p;
		for (p = (const unsigned char *)parts[i]; *p && rc == 0; p++)
			rc = (*p == '/' || *p == '%' || *p < 0x20 || *p == 0x7f)
			         ? hf_buf_printf(&b, "%%%02X", *p)
			         : hf_buf_append_u8(&b, *p);
		if (rc == 0)
			rc = hf_buf_printf(&b, i == 0 ? "." : ".copy");
	}
	if (rc == 0)
		rc = hf_buf_cstr(&b);
	if (rc < 0) {
		hf_buf_free(&b);
		return NULL;
	}
	return (char *)hf_buf_detach(&b, NULL);
}

int pg_capture_add_table(pg_capture *c, const char *schema, const char *name)
{
	pg_table *t, *grown;
	int at = pg_capture_find(c, schema, name);
	if (at >= 0)
		return at;
	if (!(grown = realloc(c->tables, (c->ntables + 1) * sizeof(*grown))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	c->tables = grown;
	t = &c->tables[c->ntables];
	memset(t, 0, sizeof(*t));
	t->parent = -1;
	t->schema = strdup(schema);
	t->name = strdup(name);
	t->entry = entry_name(schema, name);
	if (!t->schema || !t->name || !t->entry) {
		table_free(t);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	return (int)c->ntables++;
}

/* Split "schema.table" (first dot) or take "table" in default_schema. */
static int split_name(char **schema, char **name, const char *s, const char *default_schema)
{
	const char *dot = strchr(s, '.');
	*schema = dot ? strndup(s, (size_t)(dot - s)) : strdup(default_schema);
	*name = strdup(dot ? dot + 1 : s);
	if (!*schema || !*name) {
		free(*schema);
		free(*name);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	if (!**schema || !**name) {
		free(*schema);
		free(*name);
		return hf_error_set(HF_EUSAGE, "invalid table name '%s'", s);
	}
	return 0;
}

static int add_named_table(pg_capture *c, const char *s, const char *default_schema)
{
	char *schema = NULL, *name = NULL;
	int rc = split_name(&schema, &name, s, default_schema);
	if (rc == 0)
		rc = pg_capture_add_table(c, schema, name);
	free(schema);
	free(name);
	return rc;
}

/* "child:fk->parent.pk" */
static int add_join_path(pg_capture *c, const char *path, const char *default_schema)
{
	const char *colon = strchr(path, ':'), *arrow = strstr(path, "->"), *dot;
	char *child = NULL, *fk = NULL, *parent = NULL, *pschema = NULL, *pname = NULL;
	int rc = 0, ci, pi;

	dot = arrow ? strrchr(arrow + 2, '.') : NULL;
	if (!colon || !arrow || arrow < colon || !dot || colon == path || arrow == colon + 1 ||
	    dot == arrow + 2 || !dot[1])
		return hf_error_set(
		    HF_EUSAGE, "invalid join path '%s' (want child_table:fk_col->parent_table.pk_col)", path);
	child = strndup(path, (size_t)(colon - path));
	fk = strndup(colon + 1, (size_t)(arrow - colon - 1));
	parent = strndup(arrow + 2, (size_t)(dot - arrow - 2));
	if (!child || !fk || !parent) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = add_named_table(c, child, default_schema)) < 0)
		goto done;
	ci = rc;
	if ((rc = split_name(&pschema, &pname, parent, default_schema)) < 0)
		goto done;
	if ((rc = pg_capture_add_table(c, pschema, pname)) < 0)
		goto done;
	pi = rc;
	rc = 0;
	if (c->tables[ci].join_fk) {
		rc = hf_error_set(HF_EUSAGE, "table '%s.%s' has two join paths", c->tables[ci].schema,
		                  c->tables[ci].name);
		goto done;
	}
	c->tables[ci].join_fk = fk, fk = NULL;
	c->tables[ci].join_parent_schema = pschema, pschema = NULL;
	c->tables[ci].join_parent = pname, pname = NULL;
	if (!(c->tables[ci].join_pk = strdup(dot + 1)))
		rc = hf_error_set(HF_ENOMEM, "out of memory");
	c->tables[ci].parent = pi;
done:
	free(child);
	free(fk);
	free(parent);
	free(pschema);
	free(pname);
	return rc;
}

static int check_schema(PGconn *conn, const char *schema)
{
	PGresult *res = NULL;
	int rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK, "SELECT 1 FROM pg_namespace WHERE nspname = $1",
	                        1, &schema, "unable to look up schema");
	if (rc == 0 && PQntuples(res) == 0)
		rc = hf_error_set(HF_ENOTFOUND, "schema '%s' not found in '%s'", schema, pg_where(conn));
	PQclear(res);
	return rc;
}

static int add_rows_of(PGconn *conn, pg_capture *c, PGresult *res)
{
	int i, rc = 0;
	for (i = 0; i < PQntuples(res) && rc >= 0; i++)
		rc = pg_capture_add_table(c, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	(void)conn;
	return rc < 0 ? rc : 0;
}

#define NOT_EXTENSION_MEMBER                                                                                 \
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"                  \
	" AND d.objid = c.oid AND d.deptype = 'e')"
#define USER_SCHEMA " n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"

int pg_model_select_tables(PGconn *conn, const hf_pg_spec *spec, pg_capture *c)
{
	PGresult *res = NULL;
	const char *schema = c->schema;
	const char *params[2] = {schema, c->tenant_column};
	size_t i;
	int rc = 0;

	if (c->model == HF_PG_MODEL_SCHEMA || c->model == HF_PG_MODEL_ROWS)
		if ((rc = check_schema(conn, schema)) < 0)
			return rc;
	if (c->model != HF_PG_MODEL_ROWS) {
		rc = pg_exec_params(
		    &res, conn, PGRES_TUPLES_OK,
		    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
		    " ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relpersistence <> 't'"
		    " AND" USER_SCHEMA " AND ($1::text IS NULL OR n.nspname = $1)" NOT_EXTENSION_MEMBER
		    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
		    1, params, "unable to list tables");
		if (rc == 0)
			rc = add_rows_of(conn, c, res);
		goto done;
	}
	if (spec->n_tables == 0) {
		rc = pg_exec_params(
		    &res, conn, PGRES_TUPLES_OK,
		    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
		    " ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = $1"
		    " AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
		    " AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)" NOT_EXTENSION_MEMBER
		    " ORDER BY c.relname COLLATE \"C\"",
		    2, params, "unable to list tables");
		if (rc == 0 && PQntuples(res) == 0)
			rc = hf_error_set(HF_ENOTFOUND,
			                  "no table of schema '%s' in '%s' has the tenant column '%s'",
			                  schema, pg_where(conn), c->tenant_column);
		if (rc == 0)
			rc = add_rows_of(conn, c, res);
	}
	for (i = 0; i < spec->n_tables && rc == 0; i++)
		if ((rc = add_named_table(c, spec->tables[i], schema)) > 0)
			rc = 0;
	for (i = 0; i < spec->n_join_paths && rc == 0; i++)
		rc = add_join_path(c, spec->join_paths[i], schema);
done:
	PQclear(res);
	return rc < 0 ? rc : 0;
}

int pg_model_resolve(PGconn *conn, pg_capture *c)
{
	hf_buf q = HF_BUF_INIT;
	PGresult *res = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < c->ntables && rc == 0; i++) {
		pg_table *t = &c->tables[i];
		const char *param;
		hf_buf_clear(&q);
		if ((rc = pg_append_qname(&q, conn, t->schema, t->name)) < 0 || (rc = hf_buf_cstr(&q)) < 0)
			break;
		param = (const char *)q.data;
		PQclear(res);
		res = NULL;
		rc = pg_exec_params(
		    &res, conn, PGRES_TUPLES_OK,
		    "SELECT c.oid, c.relkind FROM pg_class c WHERE c.oid = pg_catalog.to_regclass($1)", 1,
		    &param, "unable to look up a table");
		if (rc < 0)
			break;
		if (PQntuples(res) == 0)
			rc = hf_error_set(HF_ENOTFOUND, "table '%s.%s' not found in '%s'", t->schema, t->name,
			                  pg_where(conn));
		else if (strcmp(PQgetvalue(res, 0, 1), "r") != 0 && strcmp(PQgetvalue(res, 0, 1), "p") != 0)
			rc = hf_error_set(HF_EUSAGE, "'%s.%s' in '%s' is not a table", t->schema, t->name,
			                  pg_where(conn));
		else {
			t->oid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
			t->relkind = PQgetvalue(res, 0, 1)[0];
		}
	}
	PQclear(res);
	hf_buf_free(&q);
	return rc;
}

static int has_column(const pg_table *t, const char *col)
{
	size_t i;
	for (i = 0; i < t->ncolumns; i++)
		if (strcmp(t->columns[i], col) == 0)
			return 1;
	return 0;
}

static int load_table_columns(PGconn *conn, pg_capture *c, pg_table *t)
{
	char oid[16];
	const char *params[2] = {oid, c->tenant_column ? c->tenant_column : ""};
	PGresult *res = NULL;
	int rc, i, n, k;

	snprintf(oid, sizeof(oid), "%u", t->oid);
	rc = pg_exec_params(
	    &res, conn, PGRES_TUPLES_OK,
	    "SELECT a.attname, a.attgenerated <> '', a.attcollation <> 0, a.attname = $2,"
	    " (SELECT k.ord FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)"
	    "  WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.num = a.attnum)"
	    " FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
	    " ORDER BY a.attnum",
	    2, params, "unable to read table columns");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	t->columns = calloc((size_t)n + 1, sizeof(char *));
	t->order_by = calloc((size_t)n + 1, sizeof(char *));
	t->order_c = calloc((size_t)n + 1, sizeof(int));
	if (!t->columns || !t->order_by || !t->order_c) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		const char *name = PQgetvalue(res, i, 0);
		if (strcmp(PQgetvalue(res, i, 3), "t") == 0)
			t->has_tenant_col = 1;
		if (strcmp(PQgetvalue(res, i, 1), "f") == 0 &&
		    !(t->columns[t->ncolumns++] = pg_strdup(name))) {
			rc = HF_ENOMEM;
			goto done;
		}
	}
	/* Primary key columns, in key order. */
	for (k = 1; k <= n; k++)
		for (i = 0; i < n; i++)
			if (!PQgetisnull(res, i, 4) && atoi(PQgetvalue(res, i, 4)) == k) {
				t->order_c[t->norder] = strcmp(PQgetvalue(res, i, 2), "t") == 0;
				if (!(t->order_by[t->norder++] = pg_strdup(PQgetvalue(res, i, 0)))) {
					rc = HF_ENOMEM;
					goto done;
				}
			}
done:
	PQclear(res);
	return rc;
}

int pg_model_load_columns(PGconn *conn, pg_capture *c)
{
	size_t i;
	int rc;

	if ((rc = pg_model_resolve(conn, c)) < 0)
		return rc;
	for (i = 0; i < c->ntables; i++)
		if ((rc = load_table_columns(conn, c, &c->tables[i])) < 0)
			return hf_error_wrap(rc, "table '%s.%s'", c->tables[i].schema, c->tables[i].name);
	if (c->model != HF_PG_MODEL_ROWS)
		return 0;
	for (i = 0; i < c->ntables; i++) {
		pg_table *t = &c->tables[i];
		if (t->has_tenant_col) {
			/* The tenant column wins over a declared join path. */
			t->parent = -1;
			continue;
		}
		if (t->parent < 0)
			return hf_error_set(HF_ECONFIG, "table '%s.%s' has no column '%s' and no join path",
			                    t->schema, t->name, c->tenant_column);
		if (!has_column(t, t->join_fk))
			return hf_error_set(HF_ENOTFOUND, "join path column '%s' not found in table '%s.%s'",
			                    t->join_fk, t->schema, t->name);
		if (!has_column(&c->tables[t->parent], t->join_pk))
			return hf_error_set(HF_ENOTFOUND, "join path column '%s' not found in table '%s.%s'",
			                    t->join_pk, c->tables[t->parent].schema,
			                    c->tables[t->parent].name);
	}
	return 0;
}

int pg_model_filter_sql(hf_buf *b, PGconn *conn, const pg_capture *c, size_t i, int depth)
{
	const pg_table *t = &c->tables[i];
	int rc;

	if (c->model != HF_PG_MODEL_ROWS)
		return hf_buf_printf(b, "true");
	if (depth > JOIN_DEPTH_MAX)
		return hf_error_set(HF_ECONFIG, "join paths from table '%s.%s' form a cycle", t->schema,
		                    t->name);
	if (t->has_tenant_col) {
		if ((rc = pg_append_ident(b, conn, c->tenant_column)) < 0 ||
		    (rc = hf_buf_printf(b, " = ")) < 0)
			return rc;
		return pg_append_literal(b, conn, c->tenant_value);
	}
	if (t->parent < 0)
		return hf_error_set(HF_ECONFIG, "table '%s.%s' has no column '%s' and no join path",
		                    t->schema, t->name, c->tenant_column);
	/* Unqualified names inside the subquery resolve to the parent first, outside to the child. */
	if ((rc = pg_append_ident(b, conn, t->join_fk)) < 0 || (rc = hf_buf_printf(b, " IN (SELECT ")) < 0 ||
	    (rc = pg_append_ident(b, conn, t->join_pk)) < 0 || (rc = hf_buf_printf(b, " FROM ")) < 0 ||
	    (rc = pg_append_qname(b, conn, c->tables[t->parent].schema, c->tables[t->parent].name)) < 0 ||
	    (rc = hf_buf_printf(b, " WHERE ")) < 0 ||
	    (rc = pg_model_filter_sql(b, conn, c, (size_t)t->parent, depth + 1)) < 0)
		return rc;
	return hf_buf_printf(b, ")");
}

int pg_model_append_from(hf_buf *b, PGconn *conn, const pg_table *t)
{
	int rc = t->relkind == 'p' ? 0 : hf_buf_printf(b, "ONLY ");
	return rc ? rc : pg_append_qname(b, conn, t->schema, t->name);
}

int pg_model_select_sql(hf_buf *b, PGconn *conn, const pg_capture *c, size_t i)
{
	const pg_table *t = &c->tables[i];
	size_t k;
	int rc = hf_buf_printf(b, "SELECT ");

	for (k = 0; k < t->ncolumns && rc == 0; k++) {
		if (k && (rc = hf_buf_printf(b, ", ")) < 0)
			break;
		rc = pg_append_ident(b, conn, t->columns[k]);
	}
	if (rc == 0 && (rc = hf_buf_printf(b, " FROM ")) == 0 &&
	    (rc = pg_model_append_from(b, conn, t)) == 0 &&
	    (rc = hf_buf_printf(b, " AS hf_row WHERE ")) == 0 &&
	    (rc = pg_model_filter_sql(b, conn, c, i, 0)) == 0)
		rc = hf_buf_printf(b, " ORDER BY ");
	/* A stable order makes unchanged tables produce identical streams (deduplication) and lets
	 * a restore re-read the rows in the order their checksum was taken. */
	if (rc == 0 && t->norder == 0)
		rc = hf_buf_printf(b, "(hf_row.*)::text COLLATE \"C\"");
	for (k = 0; k < t->norder && rc == 0; k++) {
		if (k && (rc = hf_buf_printf(b, ", ")) < 0)
			break;
		if ((rc = pg_append_ident(b, conn, t->order_by[k])) == 0 && t->order_c[k])
			rc = hf_buf_printf(b, " COLLATE \"C\"");
	}
	return rc;
}

static int oid_array(hf_buf *b, const pg_capture *c)
{
	size_t i;
	int rc = hf_buf_printf(b, "{");
	for (i = 0; i < c->ntables && rc == 0; i++)
		rc = hf_buf_printf(b, "%s%u", i ? "," : "", c->tables[i].oid);
	if (rc == 0)
		rc = hf_buf_printf(b, "}");
	return rc ? rc : hf_buf_cstr(b);
}

int pg_model_load_order(size_t *out, PGconn *conn, pg_capture *c)
{
	hf_buf oids = HF_BUF_INIT;
	PGresult *res = NULL;
	const char *param;
	size_t n = 0, i;
	int rc, r;

	if ((rc = oid_array(&oids, c)) < 0)
		goto done;
	param = (const char *)oids.data;
	rc = pg_exec_params(
	    &res, conn, PGRES_TUPLES_OK,
	    "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f'"
	    " AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[]) AND conrelid <> confrelid",
	    1, &param, "unable to read foreign keys");
	if (rc < 0)
		goto done;
	for (i = 0; i < c->ntables; i++)
		c->tables[i].done = 0;
	/* Repeatedly take the first table (capture order) whose parents are all placed; on a cycle,
	 * the first table left. */
	while (n < c->ntables) {
		size_t pick = c->ntables, first = c->ntables;
		for (i = 0; i < c->ntables && pick == c->ntables; i++) {
			pg_table *t = &c->tables[i];
			int ready = 1;
			if (t->done)
				continue;
			if (first == c->ntables)
				first = i;
			if (t->parent >= 0 && !c->tables[t->parent].done && (size_t)t->parent != i)
				ready = 0;
			for (r = 0; r < PQntuples(res) && ready; r++) {
				unsigned int child = (unsigned int)strtoul(PQgetvalue(res, r, 0), NULL, 10);
				unsigned int parent = (unsigned int)strtoul(PQgetvalue(res, r, 1), NULL, 10);
				size_t p;
				if (child != t->oid)
					continue;
				for (p = 0; p < c->ntables; p++)
					if (c->tables[p].oid == parent && !c->tables[p].done)
						ready = 0;
			}
			if (ready)
				pick = i;
		}
		if (pick == c->ntables)
			pick = first;
		c->tables[pick].done = 1;
		out[n++] = pick;
	}
done:
	PQclear(res);
	hf_buf_free(&oids);
	return rc;
}

int pg_seq_add(pg_capture *c, const char *schema, const char *name)
{
	pg_sequence *grown = realloc(c->seqs, (c->nseqs + 1) * sizeof(*grown));
	if (!grown)
		return hf_error_set(HF_ENOMEM, "out of memory");
	c->seqs = grown;
	memset(&c->seqs[c->nseqs], 0, sizeof(pg_sequence));
	c->seqs[c->nseqs].schema = strdup(schema);
	c->seqs[c->nseqs].name = strdup(name);
	c->nseqs++;
	if (!c->seqs[c->nseqs - 1].schema || !c->seqs[c->nseqs - 1].name)
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

int pg_model_select_sequences(PGconn *conn, pg_capture *c)
{
	hf_buf oids = HF_BUF_INIT;
	PGresult *res = NULL;
	const char *param = c->model == HF_PG_MODEL_SCHEMA ? c->schema : NULL;
	int rc, i;

	if (c->model != HF_PG_MODEL_ROWS) {
		rc = pg_exec_params(&res, conn, PGRES_TUPLES_OK,
		                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
		                    " ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND" USER_SCHEMA
		                    " AND ($1::text IS NULL OR n.nspname = $1)" NOT_EXTENSION_MEMBER
		                    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
		                    1, &param, "unable to list sequences");
	} else {
		/* Shared tables: only the sequences their columns own (serial, identity). */
		if ((rc = oid_array(&oids, c)) < 0)
			goto done;
		param = (const char *)oids.data;
		rc = pg_exec_params(
		    &res, conn, PGRES_TUPLES_OK,
		    "SELECT n.nspname, s.relname FROM pg_depend d"
		    " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
		    " JOIN pg_namespace n ON n.oid = s.relnamespace"
		    " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
		    " AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i')"
		    " GROUP BY n.nspname, s.relname"
		    " ORDER BY n.nspname COLLATE \"C\", s.relname COLLATE \"C\"",
		    1, &param, "unable to list sequences");
	}
	for (i = 0; rc == 0 && i < PQntuples(res); i++)
		rc = pg_seq_add(c, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
done:
	PQclear(res);
	hf_buf_free(&oids);
	return rc;
}

int pg_model_read_sequences(PGconn *conn, pg_capture *c)
{
	hf_buf q = HF_BUF_INIT;
	PGresult *res = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < c->nseqs && rc == 0; i++) {
		pg_sequence *s = &c->seqs[i];
		hf_buf_clear(&q);
		if ((rc = hf_buf_printf(&q, "SELECT last_value, is_called FROM ")) < 0 ||
		    (rc = pg_append_qname(&q, conn, s->schema, s->name)) < 0 || (rc = hf_buf_cstr(&q)) < 0)
			break;
		PQclear(res);
		res = NULL;
		if ((rc = pg_exec(&res, conn, PGRES_TUPLES_OK, (const char *)q.data,
		                  "unable to read sequence")) < 0) {
			rc = hf_error_wrap(rc, "sequence '%s.%s'", s->schema, s->name);
			break;
		}
		s->last_value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		s->is_called = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	hf_buf_free(&q);
	return rc;
}
