/* The interface between sources (files, tar, stdin, postgres, s3 objects) and the snapshot
 * machinery. A source pushes entries into a sink during backup and pulls them from a reader
 * during restore. Names are relative, '/'-separated, without "." or ".." components. */
#ifndef HF_SOURCE_H
#define HF_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	HF_ENTRY_FILE = 1,
	HF_ENTRY_DIR = 2,
	HF_ENTRY_SYMLINK = 3,
	HF_ENTRY_HARDLINK = 4, /* link_target names an earlier FILE entry of the same snapshot */
	HF_ENTRY_FIFO = 5,
	HF_ENTRY_CHR = 6,
	HF_ENTRY_BLK = 7
} hf_entry_type;

typedef struct hf_entry_meta {
	const char *name;         /* "dir/sub/file" */
	hf_entry_type type;
	uint32_t mode;            /* permission bits (07777) */
	uint32_t uid, gid;
	const char *user, *group; /* may be NULL */
	int64_t mtime_ns;
	uint64_t size;            /* for FILE: expected size (informational) */
	uint64_t rdev;
	const char *link_target;  /* SYMLINK / HARDLINK */
	/* Change detection (files source; 0 when unknown): a FILE whose size, mtime, ctime, inode and
	 * device equal the previous snapshot's entry of the same name is not read again. */
	int64_t ctime_ns;
	uint64_t inode, dev;
} hf_entry_meta;

/* Backup side: implemented by ops/ (the snapshot builder). Calls: begin, write*, end per FILE entry;
 * begin+end with no writes for other types. Any call may fail; the source must stop and return it. */
typedef struct hf_sink hf_sink;
struct hf_sink {
	int (*entry_begin)(hf_sink *s, const hf_entry_meta *m);
	int (*entry_write)(hf_sink *s, const void *data, size_t len);
	/* Optional (may be NULL), a copy-free entry_write for the current FILE: entry_space offers room for
	 * up to *cap (> 0) bytes at *p; entry_commit(n) then takes the first n <= *cap of them, exactly as
	 * entry_write would. The room is valid until the next call into the sink. */
	int (*entry_space)(hf_sink *s, uint8_t **p, size_t *cap);
	int (*entry_commit)(hf_sink *s, size_t n);
	int (*entry_end)(hf_sink *s);
	/* Record the recovery point of the capture (time in ns since epoch; lsn may be NULL). */
	int (*set_recovery_point)(hf_sink *s, int64_t time_ns, const char *lsn);
	/* Optional (may be NULL): offer a FILE entry before reading it. Returns 1 when the sink took the
	 * entry from the previous snapshot unchanged (the source must then skip it entirely), 0 when the
	 * source must read it, < 0 on error. */
	int (*entry_reuse)(hf_sink *s, const hf_entry_meta *m);
	/* Optional (may be NULL): would entry_reuse take this FILE? No side effects; safe to call from
	 * another thread (the directory walker uses it to read ahead only files that will be read). */
	int (*entry_unchanged)(hf_sink *s, const hf_entry_meta *m);
	/* Attach source-specific metadata to the snapshot manifest, as a JSON object text
	 * (e.g. postgres row counts and checksums). Stored encrypted in the manifest under "source_info". */
	int (*set_source_info)(hf_sink *s, const char *json);
};

/* Restore side: implemented by ops/ over a snapshot. */
typedef struct hf_snapshot_reader hf_snapshot_reader;
typedef int (*hf_reader_entry_cb)(const hf_entry_meta *m, void *payload);
struct hf_snapshot_reader {
	/* All entries in tree order (parents before children). */
	int (*walk)(hf_snapshot_reader *r, hf_reader_entry_cb cb, void *payload);
	/* Stream a FILE entry's content through cb, chunk by chunk, verifying it. */
	int (*read)(hf_snapshot_reader *r, const char *name,
		    int (*cb)(const void *data, size_t len, void *payload), void *payload);
	/* Optional (may be NULL): a sort key for where a FILE's data is stored (its first chunk's pack and
	 * offset). Reading files in this order lets remote reads serve neighbouring small files from one
	 * fetched pack. */
	uint64_t (*locate)(hf_snapshot_reader *r, const char *name);
	/* The manifest's source_info JSON text (NULL if none); valid for the reader's lifetime. */
	const char *(*source_info)(hf_snapshot_reader *r);
};

#endif
