/* Backup/restore pipeline over in-memory storage: round trip, an interrupted backup (storage failing
 * mid-way) leaves no visible snapshot and its packs are reused, tenants never share chunks. */
#include "ops/builder.h"
#include "ops/reader.h"
#include "ops/snapshots.h"
#include "repo/pack.h"
#include "ops/fixture.h"
#include "test.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t count_snapshots(hf_repo *r, const char *tenant)
{
	hf_snapshot_info *s = NULL;
	size_t n = 0;
	CHECK_OK(hf_snapshot_list(r, tenant, &s, &n, NULL));
	hf_snapshot_info_free(s, n);
	return n;
}

typedef struct collect {
	hf_buf all;
} collect;

static int collect_cb(const void *d, size_t len, void *payload)
{
	return hf_buf_append(&((collect *)payload)->all, d, len);
}

static int collect_ids(const hf_index_entry *e, void *payload)
{
	hf_buf *b = payload;
	return hf_buf_append(b, e->id, HF_ID_BYTES);
}

int main(void)
{
	hf_backup_options bo;
	hf_backup_result res;
	hf_repo *r;
	const char *paths[1];
	char path[1024];

	CHECK_OK(fixture_init("ops"));
	write_file("big.bin", 6u * 1024 * 1024, 1);
	write_file("small.txt", 1000, 2);
	r = open_repo();
	if (!r)
		TEST_MAIN_END();
	CHECK_OK(hf_tenant_add(r, "acme", "gold"));
	CHECK_OK(hf_tenant_add(r, "beta", "gold"));

	/* 1. the storage fails on the 4th put: the backup fails, nothing becomes visible */
	{
		hf_storage *faulty = NULL;
		CHECK_OK(hf_storage_faulty_open(&faulty, r->storage, "put", 4, HF_EIO));
		r->storage = faulty;
		memset(&bo, 0, sizeof(bo));
		bo.version = HF_BACKUP_OPTIONS_VERSION;
		bo.tenant = "acme";
		paths[0] = data;
		bo.paths = paths;
		bo.npaths = 1;
		CHECK(hf_backup(r, &bo, &res) < 0);
		CHECK(strstr(hf_error_message(), "no snapshot was written") != NULL);
		hf_repo_free(r); /* frees the wrapper and the inner storage */
	}
	r = open_repo();
	if (!r)
		TEST_MAIN_END();
	CHECK(count_snapshots(r, "acme") == 0);

	/* 2. the next backup succeeds and reuses what landed (packs indexed before the failure) */
	memset(&res, 0, sizeof(res));
	CHECK_OK(hf_backup(r, &bo, &res));
	CHECK(res.bytes == 6u * 1024 * 1024 + 1000);
	CHECK(res.new_bytes < res.bytes); /* some chunks came from the failed run */
	CHECK(count_snapshots(r, "acme") == 1);

	/* 3. restore through the reader gives the same bytes */
	{
		hf_tenant *t = NULL;
		hf_index *ix = NULL;
		hf_reader *rd = NULL;
		hf_manifest m;
		collect c = {HF_BUF_INIT};
		hf_buf want = HF_BUF_INIT;
		CHECK_OK(hf_tenant_load(r, "acme", &t));
		CHECK_OK(hf_index_new(&ix));
		CHECK_OK(hf_index_load(ix, r, t, NULL, NULL));
		CHECK_OK(hf_ops_resolve(r, t, "latest", NULL, NULL, &m));
		CHECK_OK(hf_reader_open(&rd, r, t, ix, &m));
		snprintf(path, sizeof(path), "%s/big.bin", data + 1);
		if (rd)
			CHECK_OK(hf_reader_iface(rd)->read(hf_reader_iface(rd), path, collect_cb, &c));
		snprintf(path, sizeof(path), "%s/big.bin", data);
		CHECK_OK(hf_fs_read_file(path, &want));
		CHECK(c.all.len == want.len && memcmp(c.all.data, want.data, want.len) == 0);
		hf_buf_free(&c.all);
		hf_buf_free(&want);
		hf_reader_free(rd);
		rd = NULL;

		/* a damaged directory tree fails the (multi-threaded) tree load with its name; the pack is
		 * put back afterwards */
		{
			hf_index_entry e;
			hf_buf pack = HF_BUF_INIT;
			char pid[HF_ID_HEX + 1], key[160];
			CHECK_OK(hf_index_get(ix, m.tree, &e));
			hf_hex_encode(pid, hf_index_pack_id(ix, e.pack), HF_ID_BYTES);
			hf_key_pack(key, sizeof(key), t->tid, pid);
			CHECK_OK(hf_storage_get(r->storage, key, &pack));
			CHECK(pack.len > e.offset + e.length);
			if (pack.len > e.offset + e.length) {
				hf_repo *r2;
				hf_tenant *t2 = NULL;
				hf_index *ix2 = NULL;
				pack.data[e.offset + e.length / 2] ^= 0x40;
				CHECK_OK(hf_storage_remove(r->storage, key));
				CHECK_OK(hf_storage_put(r->storage, key, pack.data, pack.len, NULL));
				/* a new handle: this one's pack cache still holds the intact pack */
				if ((r2 = open_repo())) {
					CHECK_OK(hf_tenant_load(r2, "acme", &t2));
					CHECK_OK(hf_index_new(&ix2));
					CHECK_OK(hf_index_load(ix2, r2, t2, NULL, NULL));
					CHECK_RC(hf_reader_open(&rd, r2, t2, ix2, &m), HF_ECORRUPT);
					CHECK(strstr(hf_error_message(), "tree") && strstr(hf_error_message(), pid));
					CHECK(rd == NULL);
					hf_index_free(ix2);
					hf_tenant_free(t2);
					hf_repo_free(r2);
				}
				pack.data[e.offset + e.length / 2] ^= 0x40;
				CHECK_OK(hf_storage_remove(r->storage, key));
				CHECK_OK(hf_storage_put(r->storage, key, pack.data, pack.len, NULL));
			}
			hf_buf_free(&pack);
		}
		hf_manifest_clear(&m);
		hf_index_free(ix);
		hf_tenant_free(t);
	}

	/* 4. the same data backed up for another tenant shares no chunk id with the first */
	{
		hf_tenant *a = NULL, *b = NULL;
		hf_index *ia = NULL, *ib = NULL;
		hf_buf ids = HF_BUF_INIT;
		size_t shared = 0;
		bo.tenant = "beta";
		CHECK_OK(hf_backup(r, &bo, &res));
		CHECK(res.new_bytes >= res.bytes); /* nothing deduplicated across tenants */
		CHECK_OK(hf_tenant_load(r, "acme", &a));
		CHECK_OK(hf_tenant_load(r, "beta", &b));
		hf_index_new(&ia);
		hf_index_new(&ib);
		CHECK_OK(hf_index_load(ia, r, a, NULL, NULL));
		CHECK_OK(hf_index_load(ib, r, b, NULL, NULL));
		hf_index_foreach(ia, collect_ids, &ids);
		for (size_t i = 0; i + HF_ID_BYTES <= ids.len; i += HF_ID_BYTES) {
			hf_index_entry e;
			if (hf_index_get(ib, ids.data + i, &e) == 0)
				shared++;
		}
		CHECK(ids.len > 0 && shared == 0);
		/* and b's index cannot be read with a's key */
		CHECK_RC(hf_index_load(ia, r, b, NULL, NULL), 0); /* b's own key: fine */
		hf_buf_free(&ids);
		hf_index_free(ia);
		hf_index_free(ib);
		hf_tenant_free(a);
		hf_tenant_free(b);
	}

	/* 5. check finds nothing wrong, reading everything */
	{
		hf_check_options co;
		hf_check_report *rep = NULL;
		memset(&co, 0, sizeof(co));
		co.version = HF_CHECK_OPTIONS_VERSION;
		co.read_data_pct = 100;
		CHECK_OK(hf_check(r, &co, &rep));
		CHECK(rep && rep->nproblems == 0 && rep->snapshots == 2 && rep->packs_read == rep->packs);
		hf_check_report_free(rep);
	}
	/* 6. a hard link whose file does not come first cannot be restored: check must say so (the builder
	 * never writes one from a walk or an archive; this one is pushed straight into its sink) */
	{
		hf_tenant *t = NULL;
		hf_index *ix = NULL;
		hf_builder *b = NULL;
		hf_sink *sink;
		hf_manifest m;
		hf_entry_meta e;
		hf_check_options co;
		hf_check_report *rep = NULL;
		int found = 0;
		CHECK_OK(hf_tenant_load(r, "beta", &t));
		CHECK_OK(hf_index_new(&ix));
		CHECK_OK(hf_index_load(ix, r, t, NULL, NULL));
		CHECK_OK(hf_builder_new(&b, r, t, ix, NULL, NULL, NULL, NULL));
		sink = hf_builder_sink(b);
		memset(&e, 0, sizeof(e));
		e.name = "aa";
		e.type = HF_ENTRY_HARDLINK;
		e.mode = 0644;
		e.link_target = "nowhere";
		CHECK_OK(sink->entry_begin(sink, &e));
		CHECK_OK(sink->entry_end(sink));
		e.name = "zz";
		e.type = HF_ENTRY_FILE;
		e.link_target = NULL;
		CHECK_OK(sink->entry_begin(sink, &e));
		CHECK_OK(sink->entry_write(sink, "lab result", 10));
		CHECK_OK(sink->entry_end(sink));
		memset(&m, 0, sizeof(m));
		m.tenant = t->id;
		m.tier = t->tier;
		m.source = "files";
		m.label = "bad-link";
		m.hostname = "test";
		CHECK_OK(hf_builder_commit(b, &m));
		memset(&co, 0, sizeof(co));
		co.version = HF_CHECK_OPTIONS_VERSION;
		co.tenant = "beta";
		CHECK_OK(hf_check(r, &co, &rep));
		for (size_t i = 0; rep && i < rep->nproblems; i++)
			found += strstr(rep->problems[i].message, "hardlink 'aa' points to 'nowhere'") != NULL &&
				 rep->problems[i].nfiles == 1 && strstr(rep->problems[i].files[0], ":aa") != NULL;
		CHECK(rep && rep->nproblems == 1 && found == 1);
		hf_check_report_free(rep);
		hf_builder_free(b);
		hf_index_free(ix);
		hf_tenant_free(t);
	}
	hf_repo_free(r);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
	TEST_MAIN_END();
}
