/* JSON renderings of result structs (include/holdfast/report.h): what --json prints, so that the CLI
 * needs no JSON library. Members are added in the documented order; a failed allocation anywhere makes
 * the whole rendering fail with HF_ENOMEM rather than print a document with members missing. */
#include "holdfast/errors.h"
#include "holdfast/report.h"
#include "util/clock.h"
#include "util/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string; NULL becomes null. File names need not be UTF-8, JSON strings must be: a string that
 * is not valid UTF-8 is written with '?' for each non-ASCII byte instead of being dropped. */
static json_t *text(const char *s)
{
	json_t *v;
	char *copy;
	if (!s)
		return json_null();
	if ((v = json_string(s)) != NULL || !(copy = strdup(s)))
		return v;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static json_t *num(uint64_t u)
{
	return json_integer((json_int_t)u);
}

static json_t *when(int64_t ns)
{
	char s[40];
	hf_time_format(s, sizeof(s), ns);
	return json_string(s);
}

/* Add v (consumed) to object o under k, or to array o when k is NULL; *ok drops to 0 at a failure. */
static void put(int *ok, json_t *o, const char *k, json_t *v)
{
	if (!o || !v) {
		json_decref(v);
		*ok = 0;
	} else if ((k ? json_object_set_new(o, k, v) : json_array_append_new(o, v)) != 0) {
		*ok = 0;
	}
}

/* Serialise j (consumed) into *out. */
static int finish(int *ok, json_t *j, char **out)
{
	char *s = *ok && j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!s)
		return hf_error_set(HF_ENOMEM, "out of memory while rendering a JSON report");
	*out = s;
	return 0;
}

int hf_report_fields_json(char **out, const hf_report_field *fields, size_t n)
{
	int ok = 1;
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		const hf_report_field *f = &fields[i];
		put(&ok, o, f->name,
		    f->type == HF_FIELD_STRING ? text(f->s)
		    : f->type == HF_FIELD_BOOL ? json_boolean(f->u)
		                               : num(f->u));
	}
	return finish(&ok, o, out);
}

int hf_report_backup_json(char **out, const char *tenant, const hf_backup_result *res)
{
	int ok = 1;
	json_t *o = json_object();
	put(&ok, o, "id", text(res->snapshot_id));
	put(&ok, o, "tenant", text(tenant));
	put(&ok, o, "source", text(res->source));
	put(&ok, o, "files", num(res->files));
	put(&ok, o, "dirs", num(res->dirs));
	put(&ok, o, "bytes", num(res->bytes));
	put(&ok, o, "chunks", num(res->chunks));
	put(&ok, o, "new_chunks", num(res->new_chunks));
	put(&ok, o, "new_bytes", num(res->new_bytes));
	put(&ok, o, "stored_bytes", num(res->stored_bytes));
	put(&ok, o, "warnings", num(res->warnings));
	put(&ok, o, "seconds", json_real(res->seconds));
	return finish(&ok, o, out);
}

int hf_report_restore_json(char **out, const char *tenant, const hf_restore_result *res)
{
	int ok = 1;
	json_t *o = json_object();
	put(&ok, o, "snapshot", text(res->snapshot_id));
	put(&ok, o, "tenant", text(tenant));
	put(&ok, o, "files", num(res->files));
	put(&ok, o, "bytes", num(res->bytes));
	put(&ok, o, "errors", num(res->errors));
	put(&ok, o, "verified", json_boolean(res->verified));
	put(&ok, o, "safety_snapshot", text(res->safety_snapshot[0] ? res->safety_snapshot : NULL));
	put(&ok, o, "seconds", json_real(res->seconds));
	return finish(&ok, o, out);
}

static json_t *problem_json(int *ok, const hf_check_problem *p)
{
	json_t *o = json_object(), *files = json_array();
	for (size_t k = 0; k < p->nfiles; k++)
		put(ok, files, NULL, text(p->files[k]));
	put(ok, o, "object", text(p->object));
	put(ok, o, "tenant", text(p->tenant));
	put(ok, o, "message", text(p->message));
	put(ok, o, "affected", files);
	return o;
}

int hf_report_check_json(char **out, const hf_check_report *rep)
{
	int ok = 1;
	json_t *o = json_object(), *probs = json_array();
	for (size_t i = 0; i < rep->nproblems; i++)
		put(&ok, probs, NULL, problem_json(&ok, &rep->problems[i]));
	put(&ok, o, "ok", json_boolean(rep->nproblems == 0));
	put(&ok, o, "tenants", num(rep->tenants));
	put(&ok, o, "snapshots", num(rep->snapshots));
	put(&ok, o, "packs", num(rep->packs));
	put(&ok, o, "packs_read", num(rep->packs_read));
	put(&ok, o, "bytes_read", num(rep->bytes_read));
	put(&ok, o, "blobs_read", num(rep->chunks));
	put(&ok, o, "unreferenced_packs", num(rep->unreferenced_packs));
	put(&ok, o, "problems", probs);
	return finish(&ok, o, out);
}

static json_t *snapshot_json(int *ok, const hf_snapshot_info *s)
{
	json_t *o = json_object();
	put(ok, o, "id", text(s->id));
	put(ok, o, "tenant", text(s->tenant));
	put(ok, o, "source", text(s->source));
	put(ok, o, "kind", text(s->safety ? "safety" : "backup"));
	put(ok, o, "label", text(s->label));
	put(ok, o, "time", when(s->time_ns));
	put(ok, o, "recovery_time", when(s->recovery_ns));
	put(ok, o, "lsn", text(s->lsn));
	put(ok, o, "parent", text(s->parent[0] ? s->parent : NULL));
	put(ok, o, "files", num(s->files));
	put(ok, o, "size", num(s->size));
	put(ok, o, "stored", num(s->stored));
	return o;
}

int hf_report_snapshots_json(char **out, const hf_snapshot_info *s, size_t n)
{
	int ok = 1;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		put(&ok, a, NULL, snapshot_json(&ok, &s[i]));
	return finish(&ok, a, out);
}

static json_t *tenant_json(int *ok, const hf_tenant_info *t)
{
	json_t *o = json_object();
	put(ok, o, "id", text(t->id));
	put(ok, o, "tier", text(t->tier));
	put(ok, o, "handle", text(t->tid));
	put(ok, o, "created", json_integer((json_int_t)t->created));
	put(ok, o, "snapshots", num(t->snapshots));
	put(ok, o, "last_backup", t->last_backup ? when(t->last_backup) : json_null());
	put(ok, o, "size", num(t->size));
	put(ok, o, "stored", num(t->stored));
	return o;
}

int hf_report_tenant_json(char **out, const hf_tenant_info *t)
{
	int ok = 1;
	return finish(&ok, tenant_json(&ok, t), out);
}

int hf_report_tenants_json(char **out, const hf_tenant_info *t, size_t n)
{
	int ok = 1;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		put(&ok, a, NULL, tenant_json(&ok, &t[i]));
	return finish(&ok, a, out);
}

int hf_report_keys_json(char **out, const hf_key_info *k, size_t n)
{
	int ok = 1;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		put(&ok, o, "id", text(k[i].id));
		put(&ok, o, "type", text(k[i].type));
		put(&ok, o, "created", json_integer((json_int_t)k[i].created));
		put(&ok, o, "current", json_boolean(k[i].current));
		put(&ok, a, NULL, o);
	}
	return finish(&ok, a, out);
}
