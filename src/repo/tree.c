/* Tree nodes and their JSON encoding (one blob per directory, canonical: sorted keys and names). */
#include "repo/tree.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *type_names[] = {NULL, "file", "dir", "symlink", "hardlink", "fifo", "chr", "blk"};

hf_node *hf_node_new(const char *name, hf_entry_type type)
{
	hf_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (!(n->name = strdup(name ? name : ""))) {
		free(n);
		return NULL;
	}
	n->type = type;
	n->mode = type == HF_ENTRY_DIR ? 0755 : 0644;
	return n;
}

void hf_node_free(hf_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nchildren; i++)
		hf_node_free(n->children[i]);
	free(n->children);
	free(n->content);
	free(n->name);
	free(n->user);
	free(n->group);
	free(n->target);
	free(n);
}

hf_node *hf_node_find(hf_node *dir, const char *name)
{
	/* Most lookups hit the most recent child (entries arrive in walk order). */
	for (size_t i = dir->nchildren; i-- > 0;)
		if (strcmp(dir->children[i]->name, name) == 0)
			return dir->children[i];
	return NULL;
}

hf_node *hf_node_lookup(hf_node *root, const char *path)
{
	char *copy = strdup(path), *save = NULL, *part;
	hf_node *n = root;
	if (!copy)
		return NULL;
	for (part = strtok_r(copy, "/", &save); part && n; part = strtok_r(NULL, "/", &save))
		n = n->type == HF_ENTRY_DIR ? hf_node_find(n, part) : NULL;
	free(copy);
	return n == root ? NULL : n;
}

int hf_node_child(hf_node *dir, const char *name, hf_entry_type type, hf_node **out)
{
	hf_node *c = NULL, **v;
	/* Entries usually arrive sorted: a name after the last child cannot exist yet. */
	if (dir->nchildren == 0 || strcmp(name, dir->children[dir->nchildren - 1]->name) > 0)
		c = NULL;
	else
		c = hf_node_find(dir, name);
	if (c) {
		*out = c;
		return 0;
	}
	if (!(v = hf_array_grow(dir->children, &dir->capchildren, dir->nchildren, sizeof(*v), 8)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	dir->children = v;
	if (!(c = hf_node_new(name, type)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	dir->children[dir->nchildren++] = c;
	dir->sorted = 0;
	*out = c;
	return 0;
}

int hf_node_add_chunk(hf_node *n, const uint8_t id[HF_ID_BYTES])
{
	if (n->ncontent == n->capcontent) {
		size_t cap = n->capcontent ? n->capcontent * 2 : 4;
		void *v = realloc(n->content, cap * HF_ID_BYTES);
		if (!v)
			return hf_error_set(HF_ENOMEM, "out of memory");
		n->content = v;
		n->capcontent = cap;
	}
	memcpy(n->content[n->ncontent++], id, HF_ID_BYTES);
	return 0;
}

static int cmp_nodes(const void *a, const void *b)
{
	return strcmp((*(hf_node *const *)a)->name, (*(hf_node *const *)b)->name);
}

void hf_node_sort(hf_node *dir)
{
	if (!dir->sorted && dir->nchildren > 1)
		qsort(dir->children, dir->nchildren, sizeof(*dir->children), cmp_nodes);
	dir->sorted = 1;
}

static json_t *text_value(const char *s)
{
	return json_string(s); /* NULL when not valid UTF-8 */
}

static int set_text(json_t *o, const char *key, const char *s)
{
	json_t *v = text_value(s);
	if (!v) {
		char *b64;
		size_t n = strlen(s);
		char k[32];
		if (!(b64 = malloc(hf_base64_len(n))))
			return -1;
		hf_base64_encode(b64, (const uint8_t *)s, n);
		snprintf(k, sizeof(k), "%s_b64", key);
		v = json_string(b64);
		free(b64);
		return json_object_set_new(o, k, v);
	}
	return json_object_set_new(o, key, v);
}

static json_t *encode_node(const hf_node *n)
{
	char hex[HF_ID_HEX + 1];
	json_t *o = json_object(), *content;
	if (!o || set_text(o, "name", n->name) < 0)
		goto fail;
	json_object_set_new(o, "type", json_string(type_names[n->type]));
	json_object_set_new(o, "mode", json_integer(n->mode));
	json_object_set_new(o, "uid", json_integer(n->uid));
	json_object_set_new(o, "gid", json_integer(n->gid));
	if (n->user && set_text(o, "user", n->user) < 0)
		goto fail;
	if (n->group && set_text(o, "group", n->group) < 0)
		goto fail;
	json_object_set_new(o, "mtime", json_integer(n->mtime_ns));
	if (n->type == HF_ENTRY_FILE) {
		json_object_set_new(o, "size", json_integer((json_int_t)n->size));
		if (n->inode) {
			json_object_set_new(o, "ctime", json_integer(n->ctime_ns));
			json_object_set_new(o, "inode", json_integer((json_int_t)n->inode));
			json_object_set_new(o, "dev", json_integer((json_int_t)n->dev));
		}
		if (!(content = json_array()))
			goto fail;
		for (size_t i = 0; i < n->ncontent; i++) {
			hf_hex_encode(hex, n->content[i], HF_ID_BYTES);
			json_array_append_new(content, json_string(hex));
		}
		json_object_set_new(o, "content", content);
	}
	if (n->has_hash) {
		hf_hex_encode(hex, n->hash, HF_ID_BYTES);
		json_object_set_new(o, n->type == HF_ENTRY_DIR ? "subtree" : "hash", json_string(hex));
	}
	if (n->target && set_text(o, "target", n->target) < 0)
		goto fail;
	if (n->type == HF_ENTRY_CHR || n->type == HF_ENTRY_BLK)
		json_object_set_new(o, "rdev", json_integer((json_int_t)n->rdev));
	return o;
fail:
	json_decref(o);
	return NULL;
}

int hf_tree_encode(const hf_node *dir, hf_buf *out)
{
	json_t *root = json_object(), *nodes = json_array();
	char *text = NULL;
	int rc = 0;
	if (!root || !nodes) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < dir->nchildren; i++) {
		json_t *o = encode_node(dir->children[i]);
		if (!o) {
			rc = hf_error_set(HF_ENOMEM, "unable to encode tree node '%s'", dir->children[i]->name);
			goto done;
		}
		json_array_append_new(nodes, o);
	}
	json_object_set_new(root, "v", json_integer(1));
	json_object_set(root, "nodes", nodes);
	if (!(text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = hf_error_set(HF_ENOMEM, "unable to encode tree");
		goto done;
	}
	rc = hf_buf_append(out, text, strlen(text));
done:
	free(text);
	json_decref(nodes);
	json_decref(root);
	return rc;
}

/* Read a text field, or its _b64 form. Returns malloc'd string or NULL (absent). *bad on error. */
static char *get_text(json_t *o, const char *key, int *bad)
{
	json_t *v = json_object_get(o, key);
	char k[32];
	if (v) {
		if (!json_is_string(v)) {
			*bad = 1;
			return NULL;
		}
		return strdup(json_string_value(v));
	}
	snprintf(k, sizeof(k), "%s_b64", key);
	if ((v = json_object_get(o, k))) {
		const char *s = json_string_value(v);
		size_t n = 0, cap;
		char *r;
		if (!s) {
			*bad = 1;
			return NULL;
		}
		cap = strlen(s) + 1;
		if (!(r = malloc(cap)) || hf_base64_decode((uint8_t *)r, cap - 1, &n, s) < 0 || memchr(r, 0, n)) {
			free(r);
			*bad = 1;
			return NULL;
		}
		r[n] = '\0';
		return r;
	}
	return NULL;
}

static int decode_node(hf_node *dir, json_t *o)
{
	hf_node *n = NULL;
	const char *type;
	char *name = NULL;
	json_t *content, *v;
	int bad = 0, t = 0, rc;

	if (!json_is_object(o) || !(type = json_string_value(json_object_get(o, "type"))))
		return HF_ECORRUPT;
	for (int i = 1; i <= HF_ENTRY_BLK; i++)
		if (!strcmp(type, type_names[i]))
			t = i;
	name = get_text(o, "name", &bad);
	if (!t || bad || !name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		free(name);
		return HF_ECORRUPT;
	}
	if (dir->nchildren && strcmp(name, dir->children[dir->nchildren - 1]->name) <= 0) {
		free(name); /* names must be strictly increasing: no duplicates */
		return HF_ECORRUPT;
	}
	rc = hf_node_child(dir, name, (hf_entry_type)t, &n);
	free(name);
	if (rc < 0)
		return rc;
	n->mode = (uint32_t)json_integer_value(json_object_get(o, "mode")) & 07777;
	n->uid = (uint32_t)json_integer_value(json_object_get(o, "uid"));
	n->gid = (uint32_t)json_integer_value(json_object_get(o, "gid"));
	n->mtime_ns = json_integer_value(json_object_get(o, "mtime"));
	n->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
	n->rdev = (uint64_t)json_integer_value(json_object_get(o, "rdev"));
	n->ctime_ns = json_integer_value(json_object_get(o, "ctime"));
	n->inode = (uint64_t)json_integer_value(json_object_get(o, "inode"));
	n->dev = (uint64_t)json_integer_value(json_object_get(o, "dev"));
	n->user = get_text(o, "user", &bad);
	n->group = get_text(o, "group", &bad);
	n->target = get_text(o, "target", &bad);
	if (bad)
		return HF_ECORRUPT;
	if ((v = json_object_get(o, n->type == HF_ENTRY_DIR ? "subtree" : "hash"))) {
		if (!json_is_string(v) || hf_hex_decode(n->hash, HF_ID_BYTES, json_string_value(v)) < 0)
			return HF_ECORRUPT;
		n->has_hash = 1;
	}
	if (n->type == HF_ENTRY_DIR && !n->has_hash)
		return HF_ECORRUPT;
	if ((content = json_object_get(o, "content"))) {
		size_t i;
		json_t *c;
		if (!json_is_array(content))
			return HF_ECORRUPT;
		json_array_foreach(content, i, c) {
			uint8_t id[HF_ID_BYTES];
			if (!json_is_string(c) || hf_hex_decode(id, HF_ID_BYTES, json_string_value(c)) < 0)
				return HF_ECORRUPT;
			if ((rc = hf_node_add_chunk(n, id)) < 0)
				return rc;
		}
	}
	if ((n->type == HF_ENTRY_SYMLINK || n->type == HF_ENTRY_HARDLINK) && !n->target)
		return HF_ECORRUPT;
	return 0;
}

int hf_tree_decode(hf_node *dir, const uint8_t *data, size_t len, const char *what)
{
	json_t *root = json_loadb((const char *)data, len, 0, NULL), *nodes, *o;
	size_t i;
	int rc = 0;
	if (!root || !(nodes = json_object_get(root, "nodes")) || !json_is_array(nodes) ||
	    json_integer_value(json_object_get(root, "v")) != 1) {
		rc = hf_error_set(HF_ECORRUPT, "%s is not a valid tree", what);
		goto done;
	}
	json_array_foreach(nodes, i, o) {
		if ((rc = decode_node(dir, o)) < 0) {
			if (rc == HF_ECORRUPT)
				hf_error_set(HF_ECORRUPT, "%s has an invalid node (#%zu)", what, i);
			goto done;
		}
	}
	dir->sorted = 1;
done:
	json_decref(root);
	return rc;
}
