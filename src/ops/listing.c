/* Tenant and snapshot listings, and rebuilding the catalog from the repository alone. */
#include "ops/snapshots.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static int tenant_info(hf_repo *r, const hf_tenant *t, hf_tenant_info *out)
{
	hf_snaprow *rows = NULL;
	size_t n = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!(out->id = strdup(t->id)) || !(out->tier = strdup(t->tier)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	memcpy(out->tid, t->tid, sizeof(out->tid));
	out->created = t->created;
	if ((rc = hf_ops_snapshot_rows(r, t, &rows, &n, NULL)) < 0)
		return rc;
	out->snapshots = n;
	for (size_t i = 0; i < n; i++)
		out->stored += rows[i].stored;
	if (n) {
		out->last_backup = rows[n - 1].time_ns;
		out->size = rows[n - 1].size;
	}
	hf_ops_snaprows_free(rows, n);
	return 0;
}

static int cmp_tenants(const void *a, const void *b)
{
	return strcmp((*(hf_tenant *const *)a)->id, (*(hf_tenant *const *)b)->id);
}

int hf_tenant_list(hf_repo *r, hf_tenant_info **out, size_t *n)
{
	hf_tenant **all = NULL;
	hf_tenant_info *v = NULL;
	size_t cnt = 0;
	int rc;
	if ((rc = hf_tenant_load_all(r, &all, &cnt)) < 0)
		return rc;
	if (cnt > 1)
		qsort(all, cnt, sizeof(*all), cmp_tenants);
	if (!(v = calloc(cnt + 1, sizeof(*v)))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < cnt && rc == 0; i++)
		rc = tenant_info(r, all[i], &v[i]);
	if (rc < 0)
		goto done;
	*out = v;
	*n = cnt;
	v = NULL;
done:
	hf_tenant_info_free(v, cnt);
	for (size_t i = 0; i < cnt; i++)
		hf_tenant_free(all[i]);
	free(all);
	return rc;
}

int hf_tenant_show(hf_repo *r, const char *id, hf_tenant_info **out)
{
	hf_tenant *t = NULL;
	hf_tenant_info *v = NULL;
	int rc;
	if ((rc = hf_tenant_load(r, id, &t)) < 0)
		return rc;
	if (!(v = calloc(1, sizeof(*v))))
		rc = hf_error_set(HF_ENOMEM, "out of memory");
	else if ((rc = tenant_info(r, t, v)) == 0) {
		*out = v;
		v = NULL;
	}
	hf_tenant_info_free(v, 1);
	hf_tenant_free(t);
	return rc;
}

static int append_rows(hf_snapshot_info **v, size_t *n, const hf_tenant *t, hf_snaprow *rows, size_t nrows)
{
	hf_snapshot_info *nv = realloc(*v, (*n + nrows + 1) * sizeof(*nv));
	if (!nv)
		return hf_error_set(HF_ENOMEM, "out of memory");
	*v = nv;
	for (size_t i = 0; i < nrows; i++) {
		hf_snapshot_info *s = &nv[(*n)++];
		memset(s, 0, sizeof(*s));
		memcpy(s->id, rows[i].id, sizeof(s->id));
		memcpy(s->parent, rows[i].parent, sizeof(s->parent));
		s->tenant = strdup(t->id);
		s->source = strdup(rows[i].source);
		s->label = strdup(rows[i].label);
		s->lsn = rows[i].lsn ? strdup(rows[i].lsn) : NULL;
		s->time_ns = rows[i].time_ns;
		s->recovery_ns = rows[i].recovery_ns;
		s->files = rows[i].files;
		s->size = rows[i].size;
		s->stored = rows[i].stored;
		s->safety = rows[i].safety;
	}
	return 0;
}

static int cmp_snap(const void *a, const void *b)
{
	const hf_snapshot_info *x = a, *y = b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

int hf_snapshot_list(hf_repo *r, const char *tenant, hf_snapshot_info **out, size_t *n, size_t *unreadable)
{
	hf_tenant **all = NULL, *one = NULL;
	hf_snapshot_info *v = NULL;
	size_t cnt = 0, nv = 0;
	int rc;
	if (tenant) {
		if ((rc = hf_tenant_load(r, tenant, &one)) < 0)
			return rc;
		all = &one;
		cnt = 1;
	} else if ((rc = hf_tenant_load_all(r, &all, &cnt)) < 0) {
		return rc;
	}
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		hf_snaprow *rows = NULL;
		size_t nrows = 0;
		if ((rc = hf_ops_snapshot_rows(r, all[i], &rows, &nrows, unreadable)) == 0)
			rc = append_rows(&v, &nv, all[i], rows, nrows);
		hf_ops_snaprows_free(rows, nrows);
	}
	for (size_t i = 0; i < cnt; i++)
		hf_tenant_free(all[i]);
	if (!tenant)
		free(all);
	if (rc < 0) {
		hf_snapshot_info_free(v, nv);
		return rc;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_snap);
	*out = v;
	*n = nv;
	return 0;
}

void hf_snapshot_info_free(hf_snapshot_info *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].tenant);
		free(s[i].source);
		free(s[i].label);
		free(s[i].lsn);
	}
	free(s);
}

int hf_catalog_rebuild(hf_repo *r, hf_rebuild_result *out)
{
	hf_tenant **all = NULL;
	size_t cnt = 0;
	uint64_t snaps = 0;
	int rc;
	if ((rc = hf_tenant_load_all(r, &all, &cnt)) < 0)
		return rc;
	if ((rc = hf_catalog_begin(r->catalog)) < 0)
		goto done;
	if ((rc = hf_catalog_clear(r->catalog)) < 0)
		goto rollback;
	for (size_t i = 0; i < cnt; i++) {
		hf_catalog_tenant ct = {all[i]->id, all[i]->tid, all[i]->tier, all[i]->created, NULL};
		char (*ids)[HF_ID_HEX + 1] = NULL;
		size_t n = 0;
		if ((rc = hf_catalog_tenant_put(r->catalog, &ct)) < 0 || (rc = hf_manifest_list(r, all[i], &ids, &n)) < 0)
			goto rollback;
		for (size_t k = 0; k < n; k++) {
			hf_manifest m;
			if (hf_manifest_load(r, all[i], ids[k], &m) < 0) {
				hf_log_warn("skipping unreadable snapshot: %s", hf_error_message());
				continue;
			}
			rc = hf_ops_catalog_record(r, &m);
			hf_manifest_clear(&m);
			if (rc < 0) {
				free(ids);
				goto rollback;
			}
			snaps++;
		}
		free(ids);
	}
	if ((rc = hf_catalog_commit(r->catalog)) < 0)
		goto done;
	hf_catalog_audit_add(r->catalog, hf_clock_now_ns() / 1000000000, "catalog rebuild", NULL, NULL);
	if (out) {
		out->tenants = cnt;
		out->snapshots = snaps;
	}
	goto done;
rollback:
	hf_catalog_rollback(r->catalog);
done:
	for (size_t i = 0; i < cnt; i++)
		hf_tenant_free(all[i]);
	free(all);
	return rc;
}
