/* The selection a postgres snapshot records, rebuilt as a backup's table list and join paths (what
 * the safety copy before an in-place restore must capture), from source_info written by pg_info_build. */
#include "source/postgres/pg_int.h"
#include "test.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* A ROWS capture: two tables with the tenant column, one child reached by a join path. */
static void capture(pg_capture *c, const char *child_name)
{
	int i;
	memset(c, 0, sizeof(*c));
	c->model = HF_PG_MODEL_ROWS;
	c->database = strdup("clinic");
	c->schema = strdup("public");
	c->tenant_column = strdup("tenant");
	c->tenant_value = strdup("north");
	CHECK(pg_capture_add_table(c, "public", "invoices") == 0);
	CHECK(pg_capture_add_table(c, "billing", "patients") == 1);
	CHECK((i = pg_capture_add_table(c, "public", child_name)) == 2);
	for (size_t k = 0; k < c->ntables; k++) {
		pg_table *t = &c->tables[k];
		memset(t->checksum, 'a', 64);
		t->has_tenant_col = k != 2;
	}
	c->tables[2].join_fk = strdup("invoice_id");
	c->tables[2].join_parent_schema = strdup("public");
	c->tables[2].join_parent = strdup("invoices");
	c->tables[2].join_pk = strdup("id");
	c->tables[2].parent = 0;
}

static void test_rows(void)
{
	pg_capture c;
	hf_pg_selection s;
	char *info = NULL;
	capture(&c, "invoice_lines");
	CHECK_OK(pg_info_build(&info, &c));
	CHECK_OK(hf_pg_selection_from_info(&s, info));
	CHECK(s.model == HF_PG_MODEL_ROWS);
	CHECK_STR(s.schema, "public");
	CHECK_STR(s.tenant_column, "tenant");
	CHECK_STR(s.tenant_value, "north");
	CHECK_STR(s.tables, "public.invoices,billing.patients");
	CHECK_STR(s.joins, "public.invoice_lines:invoice_id->public.invoices.id");
	hf_pg_selection_free(&s);
	hf_pg_selection_free(&s); /* freeing twice is harmless */
	free(info);
	pg_capture_free(&c);

	/* a name the list syntax cannot carry is refused, never split into other tables */
	capture(&c, "lines,archive");
	info = NULL;
	CHECK_OK(pg_info_build(&info, &c));
	CHECK_RC(hf_pg_selection_from_info(&s, info), HF_EUNSUPPORTED);
	CHECK(strstr(hf_error_message(), "public.lines,archive") != NULL);
	free(info);
	pg_capture_free(&c);
}

static void test_schema_and_damage(void)
{
	pg_capture c;
	hf_pg_selection s;
	char *info = NULL;
	memset(&c, 0, sizeof(c));
	c.model = HF_PG_MODEL_SCHEMA;
	c.database = strdup("clinic");
	c.schema = strdup("clinic_a");
	CHECK_OK(pg_info_build(&info, &c));
	CHECK_OK(hf_pg_selection_from_info(&s, info));
	CHECK(s.model == HF_PG_MODEL_SCHEMA && s.tables == NULL && s.joins == NULL &&
	      s.tenant_column == NULL);
	CHECK_STR(s.schema, "clinic_a");
	hf_pg_selection_free(&s);
	CHECK_RC(hf_pg_selection_from_info(&s, "{\"format\": 1"), HF_ECORRUPT);
	CHECK_RC(hf_pg_selection_from_info(&s, NULL), HF_ECORRUPT);
	free(info);
	pg_capture_free(&c);
}

int main(void)
{
	test_rows();
	test_schema_and_damage();
	TEST_MAIN_END();
}
