/* The configuration-state ("files") source: directory trees, tar archives and a command's output
 * captured into a snapshot sink, and restored from a snapshot reader into a directory or a tar.
 * This folder is the only place that includes <archive.h>. */
#ifndef HF_SOURCE_FILES_H
#define HF_SOURCE_FILES_H

#include "source/source.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Counters; the functions below add to them (zero the struct before the first call). */
typedef struct hf_files_stats {
	uint64_t files;    /* non-directory entries: files, hardlinks, symlinks, fifos, devices */
	uint64_t dirs;     /* directories */
	uint64_t bytes;    /* file content bytes */
	uint64_t direct_bytes; /* of those, read (backup) or written (restore) with O_DIRECT */
	uint64_t warnings; /* skipped items: vanished, unreadable, unsupported */
	uint64_t errors;   /* restore only: files skipped because their data is damaged (keep_going) */
} hf_files_stats;

typedef struct hf_files_backup_opts {
	int one_file_system; /* record mount points but do not descend into them (default 0) */
	/* fnmatch(3) patterns on the entry name ("etc/app/x.log"); a pattern without '/' also matches
	 * the last component; a leading '/' is ignored. An excluded directory is skipped whole. */
	const char *const *excludes;
	size_t nexcludes;
} hf_files_backup_opts;

typedef struct hf_files_restore_opts {
	int overwrite;              /* replace existing non-directory entries in the target */
	const char *const *include; /* restore only these names and everything below them (plus parents) */
	size_t ninclude;
	int threads;    /* file content writers; 0 = 2 (restore only) */
	int keep_going; /* skip files whose data is damaged, count them, return HF_ECORRUPT */
	/* restore and tar export: when it becomes non-zero (e.g. set by the caller's signal handler),
	 * they stop, undo what they had not finished and return HF_EINTERRUPTED; NULL = never */
	const volatile sig_atomic_t *cancel;
	int no_sync; /* restore only: do not syncfs(2) the target before returning success */
} hf_files_restore_opts;

/* Walk paths (lstat, symlinks never followed) and push their entries into sink in a deterministic
 * order: parents before children, names sorted bytewise. "/etc/app" is recorded as "etc/app" with
 * its parent "etc"; relative paths are made absolute first. o may be NULL. Vanished or unreadable
 * items are warned about and counted; a read error inside a file fails the backup. Regular files
 * are first offered to sink->entry_reuse (when set) with their size, mtime, ctime, inode and dev,
 * and are not opened when the sink takes them from the previous snapshot. */
int hf_files_backup(const char *const *paths, size_t npaths, const hf_files_backup_opts *o, hf_sink *sink,
                    hf_files_stats *stats);

/* Import a tar archive (any format and compression libarchive detects) from a file or "-" (stdin). */
int hf_tar_import(const char *path_or_dash, hf_sink *sink, hf_files_stats *stats);

/* Capture everything readable from fd as one file entry `name` (relative, mode 0600, mtime now). */
int hf_stdin_import(int fd, const char *name, hf_sink *sink, hf_files_stats *stats);

/* Recreate a snapshot under target_dir (created if missing); never writes outside it. o may be NULL.
 * Existing entries make it fail with HF_EEXISTS before anything is written unless o->overwrite. */
int hf_files_restore(hf_snapshot_reader *r, const char *target_dir, const hf_files_restore_opts *o,
                     hf_files_stats *stats);

/* Write a snapshot as a pax tar to a file (must not exist unless o->overwrite) or "-" (stdout).
 * o->threads and o->keep_going are ignored: a tar cannot skip a file once its header is written. */
int hf_tar_export(hf_snapshot_reader *r, const char *path_or_dash, const hf_files_restore_opts *o,
                  hf_files_stats *stats);

#endif
