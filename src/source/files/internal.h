/* Helpers shared inside src/source/files/: entry-name rules, a string map, owner-name caches,
 * parent synthesis for imports, and the filtered entry list used by restore and tar export. */
#ifndef HF_SOURCE_FILES_INTERNAL_H
#define HF_SOURCE_FILES_INTERNAL_H

#include "source/files/files.h"

#include <stddef.h>
#include <stdint.h>

/* Large sequential I/O blocks for file content. */
#define HF_FILES_IO_BLOCK ((size_t)4 << 20)

/* Open-addressing map from a string key to an optional string value and a number. */
typedef struct hf_files_map_slot {
	char *key;
	char *val;
	int64_t num;
} hf_files_map_slot;

typedef struct hf_files_map {
	hf_files_map_slot *slots;
	size_t cap, len;
} hf_files_map;

#define HF_FILES_MAP_INIT                                                                                    \
	{                                                                                                    \
		NULL, 0, 0                                                                                   \
	}

/* The slot for key, or NULL. */
hf_files_map_slot *hf_files_map_get(const hf_files_map *m, const char *key);
/* Insert or replace (key and val are copied; val may be NULL). */
int hf_files_map_put(hf_files_map *m, const char *key, const char *val, int64_t num);
void hf_files_map_free(hf_files_map *m);

/* 1 if name is canonical: non-empty, relative, no empty, "." or ".." components, no trailing '/'. */
int hf_files_name_valid(const char *name);
/* Canonicalize in place: strip leading "/" and "./", collapse "//" and "/./", drop a trailing '/'.
 * The result may be "" (the archive root). Returns 0, or -1 if a ".." component is present. */
int hf_files_name_normalize(char *name);
/* Length of the parent part of a canonical name (0 for a top-level name). */
size_t hf_files_parent_len(const char *name);

/* uid/gid <-> user/group name lookups, cached (not thread-safe: one per call). */
typedef struct hf_files_owners {
	hf_files_map map;
} hf_files_owners;

#define HF_FILES_OWNERS_INIT                                                                                 \
	{                                                                                                    \
		HF_FILES_MAP_INIT                                                                            \
	}

/* NULL when the id has no name (also on lookup or allocation failure: names are optional). */
const char *hf_files_user_name(hf_files_owners *c, uint32_t uid);
const char *hf_files_group_name(hf_files_owners *c, uint32_t gid);
/* The id for name, or fallback when name is NULL or unknown. */
uint32_t hf_files_user_id(hf_files_owners *c, const char *name, uint32_t fallback);
uint32_t hf_files_group_id(hf_files_owners *c, const char *name, uint32_t fallback);
void hf_files_owners_free(hf_files_owners *c);

/* Keeps imported entries in tree order: the names seen so far and their types (a directory that
 * was only synthesized as a parent has HF_FILES_TREE_IMPLICIT_DIR until its own entry comes). */
#define HF_FILES_TREE_IMPLICIT_DIR (HF_ENTRY_DIR | 0x100)
typedef struct hf_files_tree {
	hf_files_map names;
} hf_files_tree;

#define HF_FILES_TREE_INIT                                                                                   \
	{                                                                                                    \
		HF_FILES_MAP_INIT                                                                            \
	}

/* Before emitting m (canonical name) from origin ("tar archive 'x'"): emit missing parent
 * directories (mode 0755, m's owner and mtime), reject a parent that is not a directory or a
 * repeated name (HF_ECORRUPT). *skip is 0 for a new entry, 1 for a repeated directory (the first
 * one wins: do not emit it) and 2 for the own entry of a directory synthesized earlier as a parent:
 * emit it, so that the sink takes its metadata, but do not count it again. */
int hf_files_tree_add(hf_files_tree *t, hf_sink *sink, const hf_entry_meta *m, const char *origin,
                      hf_files_stats *stats, int *skip);
void hf_files_tree_free(hf_files_tree *t);

/* Emit one entry without content (begin + end). */
int hf_files_emit(hf_sink *sink, const hf_entry_meta *m);

/* A snapshot entry copied out of the reader; strings are owned. */
typedef struct hf_files_entry {
	hf_entry_meta m;
	const char *data_name; /* FILE: the name to read content from (m.name, or the first name of a
	                        * hardlinked inode whose first name the include filter left out) */
	uint32_t uid, gid;     /* owner to apply on restore */
} hf_files_entry;

typedef struct hf_files_list {
	hf_files_entry *v;
	size_t len, cap;
} hf_files_list;

#define HF_FILES_LIST_INIT                                                                                   \
	{                                                                                                    \
		NULL, 0, 0                                                                                   \
	}

/* All entries of r in walk order, validated (HF_ECORRUPT on unsafe names, parents that are not
 * directories, dangling hardlinks) and filtered by include (HF_ENOTFOUND for an include that
 * matches nothing). */
int hf_files_list_load(hf_files_list *out, hf_snapshot_reader *r, const char *const *include,
                       size_t ninclude);
void hf_files_list_free(hf_files_list *l);

#endif
