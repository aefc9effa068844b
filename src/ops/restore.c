/* hf_restore: resolve a tenant's snapshot and hand a reader to the source that recreates it. */
#include "ops/adopt.h"
#include "ops/backup.h"
#include "ops/reader.h"
#include "ops/snapshots.h"
#include "source/files/files.h"
#include "source/postgres/pg.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>


/* An unreadable index object must not block the restore of snapshots whose blobs other index
 * objects map: say which one is skipped; files that needed it then fail (or are skipped with
 * keep_going) naming their missing blobs. */
static void warn_bad_index(const char *object, int code, const char *message, void *payload)
{
	(void)code;
	(void)payload;
	hf_log_warn("ignoring unreadable index '%s': %s", object, message);
}

/* Before an in-place restore replaces a tenant's data, snapshot what is there now, so the restore
 * itself can be undone. A tenant with nothing in the target has nothing to protect. */
static int safety_backup(hf_repo *r, const hf_restore_options *o, const hf_manifest *m, char *out_id)
{
	hf_pg_selection sel;
	hf_pg_source pg;
	hf_backup_options bo;
	hf_backup_result res;
	char label[160];
	int rc;

	/* the snapshot's own selection, join-path tables included: what the restore will replace */
	if ((rc = hf_pg_selection_from_info(&sel, m->source_info)) < 0)
		return hf_error_wrap(rc, "snapshot %.12s: unable to tell what an in-place restore replaces", m->id);
	memset(&pg, 0, sizeof(pg));
	pg.dsn = o->target_pg;
	pg.model = sel.model == HF_PG_MODEL_DATABASE ? HF_PG_ISOLATION_DATABASE
		   : sel.model == HF_PG_MODEL_SCHEMA ? HF_PG_ISOLATION_SCHEMA : HF_PG_ISOLATION_ROWS;
	pg.schema = sel.schema;
	pg.tenant_column = sel.tenant_column;
	pg.tenant_value = sel.tenant_value;
	pg.tables = sel.tables;
	pg.joins = sel.joins;
	snprintf(label, sizeof(label), "safety copy before in-place restore of %.12s", m->id);
	memset(&bo, 0, sizeof(bo));
	bo.version = HF_BACKUP_OPTIONS_VERSION;
	bo.tenant = o->tenant;
	bo.pg = &pg;
	bo.label = label;
	memset(&res, 0, sizeof(res));
	rc = hf_ops_backup(r, &bo, HF_KIND_SAFETY, &res);
	hf_pg_selection_free(&sel);
	if (rc == HF_ENOTFOUND) {
		hf_log_info("no current data of tenant '%s' in the target: no safety copy needed", o->tenant);
		hf_error_clear();
		return 0;
	}
	if (rc < 0)
		return hf_error_wrap(rc, "unable to take the safety copy before restoring in place");
	memcpy(out_id, res.snapshot_id, HF_ID_HEX + 1);
	return 0;
}

static int check_options(const hf_restore_options *o)
{
	int n = (o->target_dir != NULL) + (o->tar_file != NULL) + (o->target_pg != NULL);
	if (!o->tenant || !*o->tenant)
		return hf_error_set(HF_EUSAGE, "restore needs a tenant");
	if (n != 1)
		return hf_error_set(HF_EUSAGE, "restore needs exactly one target: a directory, a tar file or a database");
	if (o->snapshot && o->at)
		return hf_error_set(HF_EUSAGE, "give either a snapshot or a time, not both");
	return 0;
}

int hf_restore(hf_repo *r, const hf_restore_options *o, hf_restore_result *out)
{
	hf_tenant *t = NULL;
	hf_index *ix = NULL;
	hf_reader *rd = NULL;
	hf_manifest m;
	hf_files_stats st;
	hf_files_restore_opts fo;
	const char *source = o->source;
	char safety[HF_ID_HEX + 1] = "";
	double start = hf_clock_mono();
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&st, 0, sizeof(st));
	if ((rc = check_options(o)) < 0 || (rc = hf_tenant_load(r, o->tenant, &t)) < 0)
		return rc;
	if (!source && o->target_pg)
		source = "postgres";
	if ((rc = hf_ops_resolve(r, t, o->snapshot, o->at, source, &m)) < 0)
		goto done;
	if (o->target_pg ? strcmp(m.source, "postgres") != 0 : strcmp(m.source, "files") != 0) {
		rc = hf_error_set(HF_EUSAGE, "snapshot %.12s of tenant '%s' is a %s snapshot; it cannot be restored %s",
				  m.id, t->id, m.source, o->target_pg ? "into a database" : "as files");
		goto done;
	}
	if (o->target_pg && o->in_place && (rc = safety_backup(r, o, &m, safety)) < 0)
		goto done;
	/* packs whose index object is lost or was never written are still readable from their directories */
	if ((rc = hf_index_new(&ix)) < 0 || (rc = hf_index_load(ix, r, t, warn_bad_index, NULL)) < 0 ||
	    (rc = hf_ops_adopt_unindexed(r, t, ix)) < 0)
		goto done;
	if ((rc = hf_reader_open(&rd, r, t, ix, &m)) < 0)
		goto done;
	hf_log_info("restore of tenant '%s' snapshot %.12s: index (%zu blobs) and trees loaded in %.2f s", t->id,
		    m.id, hf_index_count(ix), hf_clock_mono() - start);
	memset(&fo, 0, sizeof(fo));
	fo.overwrite = o->overwrite;
	fo.include = o->include;
	fo.ninclude = o->ninclude;
	fo.keep_going = o->keep_going;
	fo.cancel = o->version >= 2 ? o->cancel : NULL; /* older callers' structs end before it */
	fo.no_sync = o->version >= 2 ? o->no_sync : 0;
	/* local restores overlap I/O with a few more threads than cores; remote reads are latency-bound
	 * and want as many requests in flight as --parallel allows */
	fo.threads = hf_storage_has(r->storage, HF_STORAGE_FEAT_LOCAL) ? (r->threads > 4 ? r->threads : 4)
									 : (r->parallel > r->threads ? r->parallel : r->threads);
	if (o->target_pg) {
		hf_pg_restore_opts po;
		hf_pg_restore_stats ps;
		memset(&po, 0, sizeof(po));
		memset(&ps, 0, sizeof(ps));
		po.conninfo = o->target_pg;
		po.in_place = o->in_place;
		rc = hf_pg_restore(&po, hf_reader_iface(rd), &ps);
		st.files = ps.tables;
		st.bytes = ps.bytes;
		if (out)
			out->verified = rc == 0 && ps.tables_verified == ps.tables;
	} else if (o->tar_file) {
		rc = hf_tar_export(hf_reader_iface(rd), o->tar_file, &fo, &st);
	} else {
		rc = hf_files_restore(hf_reader_iface(rd), o->target_dir, &fo, &st);
	}
	if (rc < 0) {
		rc = hf_error_wrap(rc, "restore of tenant '%s' snapshot %.12s failed", t->id, m.id);
		goto done;
	}
	hf_catalog_audit_add(r->catalog, hf_clock_now_ns() / 1000000000, "restore", t->id, m.id);
done:
	if (out) {
		memcpy(out->snapshot_id, m.id, sizeof(out->snapshot_id));
		memcpy(out->safety_snapshot, safety, sizeof(out->safety_snapshot));
		out->files = st.files;
		out->bytes = st.bytes;
		out->errors = st.errors;
		out->seconds = hf_clock_mono() - start;
	}
	hf_reader_free(rd);
	hf_index_free(ix);
	hf_manifest_clear(&m);
	hf_tenant_free(t);
	return rc;
}
