/* The postgres source_info manifest (JSON): everything a restore and a verification need to know
 * about a capture — model, tenant selection, tables with columns, order, row counts and checksums,
 * sequences, server and recovery point. */
#include "source/postgres/pg_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pg_model_name(hf_pg_model m)
{
	switch (m) {
	case HF_PG_MODEL_DATABASE:
		return "database";
	case HF_PG_MODEL_SCHEMA:
		return "schema";
	case HF_PG_MODEL_ROWS:
		return "rows";
	default:
		return "unknown";
	}
}

/* json_object_set_new that tolerates NULL strings (key omitted) and counts failures. */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, key, v) != 0)
		(*bad)++;
}

static void put_str(json_t *o, const char *key, const char *s, int *bad)
{
	if (s)
		put(o, key, json_string(s), bad);
}

static json_t *str_array(char *const *v, size_t n, int *bad)
{
	json_t *a = json_array();
	size_t i;
	for (i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0)
			(*bad)++;
	if (!a)
		(*bad)++;
	return a;
}

static json_t *table_json(const pg_capture *c, const pg_table *t, int *bad)
{
	json_t *o = json_object(), *order = json_array();
	char name[1024];
	size_t k;

	if (!o || !order) {
		json_decref(o);
		json_decref(order);
		(*bad)++;
		return NULL;
	}
	snprintf(name, sizeof(name), "%s.%s", t->schema, t->name);
	put_str(o, "name", name, bad);
	put_str(o, "schema", t->schema, bad);
	put_str(o, "table", t->name, bad);
	put_str(o, "entry", t->entry, bad);
	put(o, "columns", str_array(t->columns, t->ncolumns, bad), bad);
	for (k = 0; k < t->norder; k++) {
		json_t *ob = json_pack("{s:s, s:b}", "column", t->order_by[k], "collate_c", t->order_c[k]);
		if (!ob || json_array_append_new(order, ob) != 0)
			(*bad)++;
	}
	put(o, "order_by", order, bad);
	put(o, "rows", json_integer((json_int_t)t->rows), bad);
	put(o, "bytes", json_integer((json_int_t)t->bytes), bad);
	put_str(o, "checksum", t->checksum, bad);
	if (c->model == HF_PG_MODEL_ROWS) {
		put_str(o, "filter", t->has_tenant_col ? "tenant" : "join", bad);
		if (!t->has_tenant_col)
			put(o, "join",
			    json_pack("{s:s, s:s, s:s, s:s}", "fk", t->join_fk, "parent_schema",
			              c->tables[t->parent].schema, "parent", c->tables[t->parent].name, "pk",
			              t->join_pk),
			    bad);
	} else {
		put_str(o, "filter", "all", bad);
	}
	return o;
}

int pg_info_build(char **out, const pg_capture *c)
{
	json_t *root = json_object(), *tables = json_array(), *seqs = json_array();
	char *text = NULL;
	int bad = !root || !tables || !seqs;
	size_t i;

	if (bad) {
		json_decref(tables);
		json_decref(seqs);
		goto done;
	}
	put(root, "format", json_integer(PG_INFO_FORMAT), &bad);
	put_str(root, "model", pg_model_name(c->model), &bad);
	put_str(root, "database", c->database, &bad);
	put_str(root, "schema", c->schema, &bad);
	put_str(root, "tenant_column", c->tenant_column, &bad);
	put_str(root, "tenant_value", c->tenant_value, &bad);
	put_str(root, "server_version", c->server_version, &bad);
	put(root, "server_version_num", json_integer(c->server_version_num), &bad);
	put_str(root, "encoding", c->encoding, &bad);
	put_str(root, "lc_collate", c->lc_collate, &bad);
	put_str(root, "lc_ctype", c->lc_ctype, &bad);
	put_str(root, "lsn", c->lsn, &bad);
	put_str(root, "snapshot_time", c->snapshot_time, &bad);
	put(root, "snapshot_time_ns", json_integer((json_int_t)c->time_ns), &bad);
	put_str(root, "checksum_algorithm", PG_CHECKSUM_ALGO, &bad);
	put_str(root, "schema_entry", PG_SCHEMA_ENTRY, &bad);
	if (c->model != HF_PG_MODEL_ROWS)
		put_str(root, "post_schema_entry", PG_POST_ENTRY, &bad);
	for (i = 0; i < c->ntables; i++)
		if (json_array_append_new(tables, table_json(c, &c->tables[i], &bad)) != 0)
			bad++;
	put(root, "tables", tables, &bad);
	for (i = 0; i < c->nseqs; i++) {
		char name[1024];
		snprintf(name, sizeof(name), "%s.%s", c->seqs[i].schema, c->seqs[i].name);
		if (json_array_append_new(seqs, json_pack("{s:s, s:s, s:s, s:I, s:b}", "name", name, "schema",
		                                          c->seqs[i].schema, "sequence", c->seqs[i].name,
		                                          "last_value", (json_int_t)c->seqs[i].last_value,
		                                          "is_called", c->seqs[i].is_called)) != 0)
			bad++;
	}
	put(root, "sequences", seqs, &bad);
	if (!bad)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
done:
	json_decref(root);
	if (bad || !text) {
		free(text);
		/* jansson refuses strings that are not UTF-8: names from a SQL_ASCII database. */
		return hf_error_set(HF_ESOURCE,
		                    "unable to encode the postgres source_info (non UTF-8 names?)");
	}
	*out = text;
	return 0;
}

/* ---- parsing ---- */

static int corrupt(const char *what)
{
	return hf_error_set(HF_ECORRUPT, "malformed postgres source_info: %s", what);
}

static int get_str(char **out, json_t *o, const char *key, int required)
{
	json_t *v = json_object_get(o, key);
	if (!v && !required)
		return 0;
	if (!json_is_string(v)) {
		char what[128];
		snprintf(what, sizeof(what), "'%s' missing or not a string", key);
		return corrupt(what);
	}
	if (!(*out = strdup(json_string_value(v))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

static int get_uint(uint64_t *out, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		char what[128];
		snprintf(what, sizeof(what), "'%s' missing or not a count", key);
		return corrupt(what);
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_strv(char ***out, size_t *n, json_t *a)
{
	size_t i;
	if (!json_is_array(a))
		return corrupt("'columns' is not an array");
	if (!(*out = calloc(json_array_size(a) + 1, sizeof(char *))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (i = 0; i < json_array_size(a); i++) {
		if (!json_is_string(json_array_get(a, i)))
			return corrupt("a column name is not a string");
		if (!((*out)[(*n)++] = strdup(json_string_value(json_array_get(a, i)))))
			return hf_error_set(HF_ENOMEM, "out of memory");
	}
	return 0;
}

static int parse_table(pg_capture *c, json_t *o, json_t **join)
{
	char *schema = NULL, *name = NULL, *entry = NULL, *checksum = NULL, *filter = NULL;
	json_t *order = json_object_get(o, "order_by");
	pg_table *t;
	size_t k;
	int rc, i;

	if ((rc = get_str(&schema, o, "schema", 1)) < 0 || (rc = get_str(&name, o, "table", 1)) < 0 ||
	    (rc = get_str(&entry, o, "entry", 1)) < 0 || (rc = get_str(&checksum, o, "checksum", 1)) < 0 ||
	    (rc = get_str(&filter, o, "filter", 1)) < 0)
		goto done;
	if ((rc = i = pg_capture_add_table(c, schema, name)) < 0)
		goto done;
	rc = 0;
	t = &c->tables[i];
	if (t->columns) {
		rc = corrupt("a table is listed twice");
		goto done;
	}
	free(t->entry);
	t->entry = entry, entry = NULL;
	if (strlen(checksum) != 64) {
		rc = corrupt("bad checksum");
		goto done;
	}
	memcpy(t->checksum, checksum, 65);
	if ((rc = get_uint(&t->rows, o, "rows")) < 0 || (rc = get_uint(&t->bytes, o, "bytes")) < 0 ||
	    (rc = get_strv(&t->columns, &t->ncolumns, json_object_get(o, "columns"))) < 0)
		goto done;
	if (!json_is_array(order)) {
		rc = corrupt("'order_by' is not an array");
		goto done;
	}
	t->order_by = calloc(json_array_size(order) + 1, sizeof(char *));
	t->order_c = calloc(json_array_size(order) + 1, sizeof(int));
	if (!t->order_by || !t->order_c) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (k = 0; k < json_array_size(order); k++) {
		json_t *ob = json_array_get(order, k);
		if ((rc = get_str(&t->order_by[t->norder], ob, "column", 1)) < 0)
			goto done;
		t->order_c[t->norder++] = json_is_true(json_object_get(ob, "collate_c"));
	}
	t->has_tenant_col = strcmp(filter, "join") != 0;
	*join = strcmp(filter, "join") == 0 ? json_object_get(o, "join") : NULL;
	if (strcmp(filter, "join") == 0 && !json_is_object(*join))
		rc = corrupt("'join' missing");
done:
	free(schema);
	free(name);
	free(entry);
	free(checksum);
	free(filter);
	return rc;
}

static int parse_join(pg_capture *c, pg_table *t, json_t *j)
{
	char *pschema = NULL, *pname = NULL;
	int rc, p;
	if ((rc = get_str(&t->join_fk, j, "fk", 1)) < 0 || (rc = get_str(&t->join_pk, j, "pk", 1)) < 0 ||
	    (rc = get_str(&pschema, j, "parent_schema", 1)) < 0 || (rc = get_str(&pname, j, "parent", 1)) < 0)
		goto done;
	if ((p = pg_capture_find(c, pschema, pname)) < 0) {
		rc = corrupt("a join parent is not among the tables");
		goto done;
	}
	t->parent = p;
	t->join_parent_schema = pschema, pschema = NULL;
	t->join_parent = pname, pname = NULL;
done:
	free(pschema);
	free(pname);
	return rc;
}

static int parse_model(hf_pg_model *out, const char *s)
{
	if (strcmp(s, "database") == 0)
		*out = HF_PG_MODEL_DATABASE;
	else if (strcmp(s, "schema") == 0)
		*out = HF_PG_MODEL_SCHEMA;
	else if (strcmp(s, "rows") == 0)
		*out = HF_PG_MODEL_ROWS;
	else
		return corrupt("unknown model");
	return 0;
}

int pg_info_parse(pg_capture *out, const char *text)
{
	pg_capture c;
	json_error_t jerr;
	json_t *root = NULL, *tables, *seqs, **joins = NULL;
	char *model = NULL;
	size_t i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	if (!text)
		return hf_error_set(HF_ECORRUPT, "snapshot has no postgres source_info");
	if (!(root = json_loads(text, 0, &jerr)) || !json_is_object(root)) {
		rc = corrupt("not a JSON object");
		goto done;
	}
	if (json_integer_value(json_object_get(root, "format")) != PG_INFO_FORMAT) {
		rc = hf_error_set(HF_EUNSUPPORTED, "postgres source_info format %lld is not supported",
		                  (long long)json_integer_value(json_object_get(root, "format")));
		goto done;
	}
	if ((rc = get_str(&model, root, "model", 1)) < 0 || (rc = parse_model(&c.model, model)) < 0 ||
	    (rc = get_str(&c.database, root, "database", 1)) < 0 ||
	    (rc = get_str(&c.schema, root, "schema", c.model != HF_PG_MODEL_DATABASE)) < 0 ||
	    (rc = get_str(&c.tenant_column, root, "tenant_column", c.model == HF_PG_MODEL_ROWS)) < 0 ||
	    (rc = get_str(&c.tenant_value, root, "tenant_value", c.model == HF_PG_MODEL_ROWS)) < 0 ||
	    (rc = get_str(&c.encoding, root, "encoding", 0)) < 0 ||
	    (rc = get_str(&c.lc_collate, root, "lc_collate", 0)) < 0 ||
	    (rc = get_str(&c.lc_ctype, root, "lc_ctype", 0)) < 0 ||
	    (rc = get_str(&c.lsn, root, "lsn", 0)) < 0 ||
	    (rc = get_str(&c.server_version, root, "server_version", 0)) < 0)
		goto done;
	tables = json_object_get(root, "tables");
	seqs = json_object_get(root, "sequences");
	if (!json_is_array(tables) || !json_is_array(seqs)) {
		rc = corrupt("'tables' or 'sequences' is not an array");
		goto done;
	}
	if (!(joins = calloc(json_array_size(tables) + 1, sizeof(*joins)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < json_array_size(tables); i++)
		if ((rc = parse_table(&c, json_array_get(tables, i), &joins[i])) < 0)
			goto done;
	for (i = 0; i < c.ntables; i++)
		if (joins[i] && (rc = parse_join(&c, &c.tables[i], joins[i])) < 0)
			goto done;
	for (i = 0; i < json_array_size(seqs); i++) {
		json_t *s = json_array_get(seqs, i), *lv = json_object_get(s, "last_value");
		char *schema = NULL, *name = NULL;
		if ((rc = get_str(&schema, s, "schema", 1)) == 0 &&
		    (rc = get_str(&name, s, "sequence", 1)) == 0) {
			if (!json_is_integer(lv))
				rc = corrupt("sequence 'last_value' is not an integer");
			else if ((rc = pg_seq_add(&c, schema, name)) == 0) {
				c.seqs[c.nseqs - 1].last_value = (int64_t)json_integer_value(lv);
				c.seqs[c.nseqs - 1].is_called = json_is_true(json_object_get(s, "is_called"));
			}
		}
		free(schema);
		free(name);
		if (rc < 0)
			goto done;
	}
	*out = c;
	memset(&c, 0, sizeof(c));
done:
	free(joins);
	free(model);
	json_decref(root);
	pg_capture_free(&c);
	return rc;
}

/* --- the selection, for a backup of the same scope (the safety copy before an in-place restore) --- */

static int nameable(const char *s, int is_schema_or_key)
{
	return !strchr(s, ',') && !strchr(s, ':') && !strstr(s, "->") &&
	       !(is_schema_or_key && strchr(s, '.'));
}

/* Append sep (unless b is empty) and "schema.name", refusing names the list syntax cannot carry. */
static int append_table(hf_buf *b, const char *sep, const char *schema, const char *name)
{
	if (!nameable(schema, 1) || !nameable(name, 0))
		return hf_error_set(
		    HF_EUNSUPPORTED,
		    "table '%s.%s' cannot be named in a table list (it holds ',', ':', '->' or a '.' "
		    "in the schema)",
		    schema, name);
	return hf_buf_printf(b, "%s%s.%s", b->len ? sep : "", schema, name);
}

static int selection_lists(hf_pg_selection *s, const pg_capture *c)
{
	hf_buf tables = HF_BUF_INIT, joins = HF_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < c->ntables && rc == 0; i++) {
		const pg_table *t = &c->tables[i];
		if (!t->join_fk) {
			rc = append_table(&tables, ",", t->schema, t->name);
			continue;
		}
		if (!nameable(t->join_fk, 0) || !nameable(t->join_pk, 1))
			rc = hf_error_set(HF_EUNSUPPORTED,
			                  "join path of table '%s.%s' cannot be written as a join path",
			                  t->schema, t->name);
		else if ((rc = append_table(&joins, ",", t->schema, t->name)) == 0 &&
		         (rc = hf_buf_printf(&joins, ":%s->", t->join_fk)) == 0 &&
		         (rc = append_table(&joins, "", t->join_parent_schema, t->join_parent)) == 0)
			rc = hf_buf_printf(&joins, ".%s", t->join_pk);
	}
	if (rc == 0 && (rc = hf_buf_cstr(&tables)) == 0 && (rc = hf_buf_cstr(&joins)) == 0) {
		s->tables = tables.len ? (char *)tables.data : NULL;
		s->joins = joins.len ? (char *)joins.data : NULL;
		if (s->tables)
			memset(&tables, 0, sizeof(tables));
		if (s->joins)
			memset(&joins, 0, sizeof(joins));
	}
	hf_buf_free(&tables);
	hf_buf_free(&joins);
	return rc;
}

int hf_pg_selection_from_info(hf_pg_selection *out, const char *source_info)
{
	hf_pg_selection s;
	pg_capture c;
	int rc;

	memset(&s, 0, sizeof(s));
	if ((rc = pg_info_parse(&c, source_info)) < 0)
		return rc;
	s.model = c.model;
	if ((c.schema && !(s.schema = strdup(c.schema))) ||
	    (c.tenant_column && !(s.tenant_column = strdup(c.tenant_column))) ||
	    (c.tenant_value && !(s.tenant_value = strdup(c.tenant_value))))
		rc = hf_error_set(HF_ENOMEM, "out of memory");
	else if (c.model == HF_PG_MODEL_ROWS)
		rc = selection_lists(&s, &c);
	pg_capture_free(&c);
	if (rc < 0) {
		hf_pg_selection_free(&s);
		return rc;
	}
	*out = s;
	return 0;
}

void hf_pg_selection_free(hf_pg_selection *s)
{
	if (!s)
		return;
	free(s->schema);
	free(s->tenant_column);
	free(s->tenant_value);
	free(s->tables);
	free(s->joins);
	memset(s, 0, sizeof(*s));
}
