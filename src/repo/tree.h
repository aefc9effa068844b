/* Tree nodes (one directory level per tree blob, JSON) and snapshot manifests (sealed objects). */
#ifndef HF_REPO_TREE_H
#define HF_REPO_TREE_H

#include "repo/index.h"
#include "source/source.h"

typedef struct hf_node {
	char *name;
	hf_entry_type type;
	uint32_t mode, uid, gid;
	char *user, *group;
	int64_t mtime_ns;
	uint64_t size, rdev;
	char *target;                    /* symlink / hardlink target */
	int64_t ctime_ns;                /* change detection for the next backup (files only) */
	uint64_t inode, dev;
	uint8_t (*content)[HF_ID_BYTES]; /* chunk ids of a file */
	size_t ncontent, capcontent;
	uint8_t hash[HF_ID_BYTES];       /* file: MAC over chunk ids and size; dir: subtree id */
	int has_hash;
	struct hf_node **children;       /* dirs while building / after loading */
	size_t nchildren, capchildren;
	int sorted;
	size_t build_ref;                /* builder: first arena slot of this file's chunk ids */
	int build_pending;               /* builder: content and hash still to be resolved */
} hf_node;

hf_node *hf_node_new(const char *name, hf_entry_type type);
void hf_node_free(hf_node *n);
/* Find or create a child by name (dirs created with mode 0755 when implicit). */
int hf_node_child(hf_node *dir, const char *name, hf_entry_type type, hf_node **out);
hf_node *hf_node_find(hf_node *dir, const char *name);
/* The node at a '/'-separated path below root (NULL when absent or when path names root itself). */
hf_node *hf_node_lookup(hf_node *root, const char *path);
/* Order of two snapshot names in a depth-first walk of sorted directories (a restore's order): they
 * compare component by component, an ancestor before what it holds. <0, 0 or >0 like strcmp. */
int hf_path_order(const char *p, const char *q);
int hf_node_add_chunk(hf_node *n, const uint8_t id[HF_ID_BYTES]);
void hf_node_sort(hf_node *dir);

/* Serialize one directory's children (sorted; subdirectories must have has_hash = subtree id). */
int hf_tree_encode(const hf_node *dir, hf_buf *out);
/* Parse a tree blob into dir's children (dirs get hash = subtree id, no children loaded). */
int hf_tree_decode(hf_node *dir, const uint8_t *data, size_t len, const char *what);

#define HF_KIND_SAFETY "safety" /* hf_manifest.kind of an in-place restore's copy of what it replaced */

typedef struct hf_manifest {
	char id[HF_ID_HEX + 1];
	char *tenant;
	char tid[HF_TID_HEX + 1];
	char *tier;
	char *source;        /* "files", "postgres", ... */
	char *label;
	char *hostname;
	int64_t time_ns;
	int64_t recovery_ns;
	char *lsn;
	uint8_t tree[HF_ID_BYTES];
	char parent[HF_ID_HEX + 1];
	uint64_t files, dirs, bytes, chunks, new_chunks, new_bytes, stored;
	int64_t retain_until;
	char *source_info;   /* JSON text or NULL */
	char *kind;          /* NULL for a backup; "safety": an in-place restore's copy of what it replaced */
} hf_manifest;

void hf_manifest_clear(hf_manifest *m);
/* Seal and store (sets m->id). */
int hf_manifest_write(hf_repo *r, const hf_tenant *t, hf_manifest *m, uint64_t *stored);
/* Load snapshots/<tid>/<id>; verifies content hash, authenticity and that it belongs to t. */
int hf_manifest_load(hf_repo *r, const hf_tenant *t, const char *id, hf_manifest *out);
/* Ids of all snapshots of a tenant (malloc'd array of 65-byte strings). */
int hf_manifest_list(hf_repo *r, const hf_tenant *t, char (**out)[HF_ID_HEX + 1], size_t *n);

/* Read one blob (tree or chunk) into out (appended), verifying it. Thread-safe. */
struct hf_zctx;
int hf_blob_read(hf_repo *r, const hf_tenant *t, hf_index *ix, const uint8_t id[HF_ID_BYTES], hf_buf *out,
		 struct hf_zctx *z);
/* Load a directory's children from its tree blob. */
int hf_tree_load(hf_repo *r, const hf_tenant *t, hf_index *ix, hf_node *dir, const uint8_t tree_id[HF_ID_BYTES]);

#endif
