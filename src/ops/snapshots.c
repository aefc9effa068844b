/* Snapshot listing, resolution and catalog sync. */
#include "ops/snapshots.h"
#include "util/clock.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hf_ops_catalog_record(hf_repo *r, const hf_manifest *m)
{
	hf_catalog_snapshot s;
	memset(&s, 0, sizeof(s));
	s.id = m->id;
	s.tenant = m->tenant;
	s.source = m->source;
	s.label = m->label;
	s.time = m->time_ns;
	s.recovery_time = m->recovery_ns;
	s.recovery_lsn = m->lsn;
	s.parent = m->parent[0] ? m->parent : NULL;
	s.files = m->files;
	s.size = m->bytes;
	s.stored = m->stored;
	s.retain_until = m->retain_until;
	s.kind = m->kind;
	return hf_catalog_snapshot_put(r->catalog, &s);
}

typedef struct rows_ctx {
	hf_snaprow *v;
	size_t n, cap;
	char (*ids)[HF_ID_HEX + 1];
	size_t nids;
	char *seen; /* per repository id: present in the catalog */
	int err;
} rows_ctx;

static int cmp_ids(const void *a, const void *b) { return strcmp(a, b); }

static int add_row(rows_ctx *c, const hf_catalog_snapshot *s)
{
	hf_snaprow *row, *v = hf_array_grow(c->v, &c->cap, c->n, sizeof(*v), 16);
	if (!v)
		return hf_error_set(HF_ENOMEM, "out of memory");
	c->v = v;
	row = &c->v[c->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->id, sizeof(row->id), "%s", s->id);
	snprintf(row->parent, sizeof(row->parent), "%s", s->parent ? s->parent : "");
	row->source = strdup(s->source ? s->source : "");
	row->label = strdup(s->label ? s->label : "");
	row->lsn = s->recovery_lsn ? strdup(s->recovery_lsn) : NULL;
	row->time_ns = s->time;
	row->recovery_ns = s->recovery_time;
	row->files = s->files;
	row->size = s->size;
	row->stored = s->stored;
	row->safety = s->kind && !strcmp(s->kind, HF_KIND_SAFETY);
	return 0;
}

static int catalog_row(const hf_catalog_snapshot *s, void *payload)
{
	rows_ctx *c = payload;
	char (*hit)[HF_ID_HEX + 1] = bsearch(s->id, c->ids, c->nids, sizeof(*c->ids), cmp_ids);
	if (!hit)
		return 0; /* stale catalog row: not in the repository */
	c->seen[hit - c->ids] = 1;
	if ((c->err = add_row(c, s)) < 0)
		return 1;
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const hf_snaprow *x = a, *y = b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

int hf_ops_snapshot_rows(hf_repo *r, const hf_tenant *t, hf_snaprow **out, size_t *n, size_t *unreadable)
{
	rows_ctx c;
	int rc;
	memset(&c, 0, sizeof(c));
	if ((rc = hf_manifest_list(r, t, &c.ids, &c.nids)) < 0)
		return rc;
	if (c.nids > 1) /* qsort(NULL, 0) is undefined */
		qsort(c.ids, c.nids, sizeof(*c.ids), cmp_ids);
	if (!(c.seen = calloc(c.nids + 1, 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = hf_catalog_snapshot_list(r->catalog, t->id, NULL, catalog_row, &c)) < 0 || (rc = c.err) < 0)
		goto done;
	for (size_t i = 0; i < c.nids; i++) {
		hf_manifest m;
		hf_catalog_snapshot s;
		if (c.seen[i])
			continue;
		if (hf_manifest_load(r, t, c.ids[i], &m) < 0) {
			hf_log_warn("skipping unreadable snapshot: %s", hf_error_message());
			if (unreadable)
				++*unreadable;
			continue;
		}
		hf_ops_catalog_record(r, &m);
		memset(&s, 0, sizeof(s));
		s.id = m.id;
		s.tenant = m.tenant;
		s.source = m.source;
		s.label = m.label;
		s.time = m.time_ns;
		s.recovery_time = m.recovery_ns;
		s.recovery_lsn = m.lsn;
		s.parent = m.parent;
		s.files = m.files;
		s.size = m.bytes;
		s.stored = m.stored;
		s.kind = m.kind;
		rc = add_row(&c, &s);
		hf_manifest_clear(&m);
		if (rc < 0)
			goto done;
	}
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), cmp_rows);
	*out = c.v;
	*n = c.n;
	c.v = NULL;
	c.n = 0;
done:
	hf_ops_snaprows_free(c.v, c.n);
	free(c.ids);
	free(c.seen);
	return rc;
}

void hf_ops_snaprows_free(hf_snaprow *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].source);
		free(v[i].label);
		free(v[i].lsn);
	}
	free(v);
}

int hf_ops_resolve(hf_repo *r, const hf_tenant *t, const char *snapshot, const char *at, const char *source,
		   hf_manifest *out)
{
	hf_snaprow *rows = NULL;
	size_t n = 0, match = 0, pick = 0;
	int64_t at_ns = 0;
	int rc;

	if (at && (rc = hf_time_parse(at, &at_ns)) < 0)
		return rc;
	/* A time given to the second means that whole second (listings show whole seconds). */
	if (at && !strchr(at, '.'))
		at_ns += 999999999;
	if ((rc = hf_ops_snapshot_rows(r, t, &rows, &n, NULL)) < 0)
		return rc;
	if (snapshot && *snapshot && strcmp(snapshot, "latest") != 0) {
		size_t l = strlen(snapshot);
		for (size_t i = 0; i < n; i++)
			if (strncmp(rows[i].id, snapshot, l) == 0) {
				match++;
				pick = i;
			}
		if (match > 1)
			rc = hf_error_set(HF_EUSAGE, "snapshot prefix '%s' is ambiguous for tenant '%s'", snapshot, t->id);
		else if (match == 0)
			rc = hf_error_set(HF_ENOTFOUND, "no snapshot '%s' for tenant '%s'", snapshot, t->id);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (rows[i].safety || (source && strcmp(rows[i].source, source) != 0))
				continue;
			if (at && rows[i].recovery_ns > at_ns)
				continue;
			match = 1;
			pick = i; /* rows are ordered by time: the last match is the newest */
		}
		if (!match) {
			char when[40] = "";
			if (at)
				hf_time_format(when, sizeof(when), at_ns);
			rc = hf_error_set(HF_ENOTFOUND, "no %s%ssnapshot of tenant '%s'%s%s", source ? source : "",
					  source ? " " : "", t->id, at ? " at or before " : "", when);
		}
	}
	if (rc == 0)
		rc = hf_manifest_load(r, t, rows[pick].id, out);
	hf_ops_snaprows_free(rows, n);
	return rc;
}
