/* An in-memory snapshot for source tests: a sink that keeps every entry (checking the
 * begin/write/end protocol) and a reader over it that streams in small chunks, both with hooks
 * for fault injection. Stands in for the snapshot builder; only source/source.h is needed. */
#ifndef HF_TESTS_PG_TESTKIT_H
#define HF_TESTS_PG_TESTKIT_H

#include "source/source.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct pgkit_entry {
	char *name;
	hf_entry_type type;
	uint32_t mode;
	int64_t mtime_ns;
	hf_buf data;
} pgkit_entry;

typedef struct pgkit_snapshot pgkit_snapshot;
struct pgkit_snapshot {
	hf_sink sink; /* first member: the sink callbacks get this struct */
	pgkit_entry *entries;
	size_t n;
	int open; /* 1 while a FILE/DIR entry is between begin and end */
	int64_t time_ns;
	char *lsn;
	int recovery_point_set;
	char *source_info;
	/* Called before each write with the entry name and the bytes written to it so far; a negative
	 * return fails the write. */
	int (*on_write)(pgkit_snapshot *s, const char *entry, uint64_t written, void *arg);
	void *arg;
};

static inline pgkit_entry *pgkit_find(const pgkit_snapshot *s, const char *name)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].name, name) == 0)
			return &s->entries[i];
	return NULL;
}

static inline int pgkit_entry_begin(hf_sink *sink, const hf_entry_meta *m)
{
	pgkit_snapshot *s = (pgkit_snapshot *)sink;
	pgkit_entry *grown, *e;
	if (s->open)
		return hf_error_set(HF_EUSAGE, "pgkit: entry '%s' begun inside another entry", m->name);
	if (!m->name || !*m->name || m->name[0] == '/' || strstr(m->name, "//"))
		return hf_error_set(HF_EUSAGE, "pgkit: bad entry name");
	if (pgkit_find(s, m->name))
		return hf_error_set(HF_EEXISTS, "pgkit: entry '%s' written twice", m->name);
	if (!(grown = realloc(s->entries, (s->n + 1) * sizeof(*grown))))
		return hf_error_set(HF_ENOMEM, "out of memory");
	s->entries = grown;
	e = &s->entries[s->n];
	memset(e, 0, sizeof(*e));
	if (!(e->name = strdup(m->name)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	e->type = m->type;
	e->mode = m->mode;
	e->mtime_ns = m->mtime_ns;
	s->n++;
	s->open = 1;
	return 0;
}

static inline int pgkit_entry_write(hf_sink *sink, const void *data, size_t len)
{
	pgkit_snapshot *s = (pgkit_snapshot *)sink;
	pgkit_entry *e = s->n ? &s->entries[s->n - 1] : NULL;
	int rc;
	if (!s->open || !e || e->type != HF_ENTRY_FILE)
		return hf_error_set(HF_EUSAGE, "pgkit: write outside a file entry");
	if (s->on_write && (rc = s->on_write(s, e->name, e->data.len, s->arg)) < 0)
		return rc;
	return hf_buf_append(&e->data, data, len);
}

static inline int pgkit_entry_end(hf_sink *sink)
{
	pgkit_snapshot *s = (pgkit_snapshot *)sink;
	if (!s->open)
		return hf_error_set(HF_EUSAGE, "pgkit: end without begin");
	s->open = 0;
	return 0;
}

static inline int pgkit_set_recovery_point(hf_sink *sink, int64_t time_ns, const char *lsn)
{
	pgkit_snapshot *s = (pgkit_snapshot *)sink;
	s->time_ns = time_ns;
	free(s->lsn);
	s->lsn = lsn ? strdup(lsn) : NULL;
	s->recovery_point_set = 1;
	return 0;
}

static inline int pgkit_set_source_info(hf_sink *sink, const char *json)
{
	pgkit_snapshot *s = (pgkit_snapshot *)sink;
	free(s->source_info);
	if (!(s->source_info = strdup(json)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

static inline void pgkit_snapshot_init(pgkit_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->sink.entry_begin = pgkit_entry_begin;
	s->sink.entry_write = pgkit_entry_write;
	s->sink.entry_end = pgkit_entry_end;
	s->sink.set_recovery_point = pgkit_set_recovery_point;
	s->sink.set_source_info = pgkit_set_source_info;
}

static inline void pgkit_snapshot_free(pgkit_snapshot *s)
{
	size_t i;
	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->entries[i].name);
		hf_buf_free(&s->entries[i].data);
	}
	free(s->entries);
	free(s->lsn);
	free(s->source_info);
	memset(s, 0, sizeof(*s));
}

/* 1 when entry `name` exists in both snapshots with identical bytes. */
static inline int pgkit_same_entry(const pgkit_snapshot *a, const pgkit_snapshot *b, const char *name)
{
	const pgkit_entry *x = pgkit_find(a, name), *y = pgkit_find(b, name);
	return x && y && x->data.len == y->data.len &&
	       (x->data.len == 0 || memcmp(x->data.data, y->data.data, x->data.len) == 0);
}

typedef struct pgkit_reader pgkit_reader;
struct pgkit_reader {
	hf_snapshot_reader reader; /* first member */
	const pgkit_snapshot *snap;
	size_t chunk; /* bytes per callback */
	/* Called before each chunk with the entry name and the offset of the chunk; negative fails. */
	int (*on_chunk)(pgkit_reader *r, const char *entry, size_t offset, void *arg);
	void *arg;
};

static inline int pgkit_walk(hf_snapshot_reader *hr, hf_reader_entry_cb cb, void *payload)
{
	pgkit_reader *r = (pgkit_reader *)hr;
	size_t i;
	int rc;
	for (i = 0; i < r->snap->n; i++) {
		const pgkit_entry *e = &r->snap->entries[i];
		hf_entry_meta m;
		memset(&m, 0, sizeof(m));
		m.name = e->name;
		m.type = e->type;
		m.mode = e->mode;
		m.mtime_ns = e->mtime_ns;
		m.size = e->data.len;
		if ((rc = cb(&m, payload)) < 0)
			return rc;
	}
	return 0;
}

static inline int pgkit_read(hf_snapshot_reader *hr, const char *name,
                             int (*cb)(const void *data, size_t len, void *payload), void *payload)
{
	pgkit_reader *r = (pgkit_reader *)hr;
	const pgkit_entry *e = pgkit_find(r->snap, name);
	size_t off = 0, chunk = r->chunk ? r->chunk : 4096;
	int rc;
	if (!e || e->type != HF_ENTRY_FILE)
		return hf_error_set(HF_ENOTFOUND, "pgkit: no file entry '%s' in the snapshot", name);
	while (off < e->data.len) {
		size_t n = e->data.len - off < chunk ? e->data.len - off : chunk;
		if (r->on_chunk && (rc = r->on_chunk(r, name, off, r->arg)) < 0)
			return rc;
		if ((rc = cb(e->data.data + off, n, payload)) < 0)
			return rc;
		off += n;
	}
	return 0;
}

static inline const char *pgkit_source_info(hf_snapshot_reader *hr)
{
	return ((pgkit_reader *)hr)->snap->source_info;
}

static inline void pgkit_reader_init(pgkit_reader *r, const pgkit_snapshot *s)
{
	memset(r, 0, sizeof(*r));
	r->reader.walk = pgkit_walk;
	r->reader.read = pgkit_read;
	r->reader.source_info = pgkit_source_info;
	r->snap = s;
	r->chunk = 4096;
}

#endif
