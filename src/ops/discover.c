/* Tenant discovery behind the public API (the CLI enrols tenants from a tier's blueprint). */
#include "holdfast/holdfast.h"
#include "source/postgres/pg.h"
#include "util/error.h"

int hf_pg_discover_values(const char *dsn, hf_pg_isolation model, const char *pattern, const char *schema,
			  char ***out, size_t *n)
{
	hf_pg_model m = model == HF_PG_ISOLATION_DATABASE ? HF_PG_MODEL_DATABASE
			: model == HF_PG_ISOLATION_SCHEMA ? HF_PG_MODEL_SCHEMA : HF_PG_MODEL_ROWS;
	if (model == HF_PG_ISOLATION_NONE || !dsn || !pattern)
		return hf_error_set(HF_EUSAGE, "discovery needs a connection string, a model and a pattern");
	return hf_pg_discover(dsn, m, pattern, schema, out, n);
}

void hf_strv_free(char **v, size_t n) { hf_pg_strv_free(v, n); }
