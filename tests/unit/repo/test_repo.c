/* Unit tests of the repository format: sealed objects, packs, index objects, trees, key slots and
 * tenant records, over the in-memory storage. */
#include "repo/pack.h"
#include "repo/tree.h"
#include "test.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key_a[HF_KEY_BYTES] = {1, 2, 3, 4};
static const uint8_t key_b[HF_KEY_BYTES] = {9, 9, 9, 9};
static const uint8_t tid_a[HF_TID_BYTES] = {0xaa};
static const uint8_t tid_b[HF_TID_BYTES] = {0xbb};

static void test_sealed(void)
{
	hf_buf s = HF_BUF_INIT, o = HF_BUF_INIT;
	const char *text = "{\"hello\": \"world\", \"pad\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
	CHECK_OK(hf_sealed_seal(&s, HF_SEALED_SNAPSHOT, tid_a, text, strlen(text), key_a));
	CHECK_OK(hf_sealed_open(&o, HF_SEALED_SNAPSHOT, tid_a, s.data, s.len, key_a, "obj"));
	CHECK(o.len == strlen(text) && memcmp(o.data, text, o.len) == 0);
	o.len = 0;
	/* another tenant's handle, another key, another type: all refused */
	CHECK_RC(hf_sealed_open(&o, HF_SEALED_SNAPSHOT, tid_b, s.data, s.len, key_a, "obj"), HF_EAUTH);
	CHECK_RC(hf_sealed_open(&o, HF_SEALED_SNAPSHOT, tid_a, s.data, s.len, key_b, "obj"), HF_EAUTH);
	CHECK_RC(hf_sealed_open(&o, HF_SEALED_INDEX, tid_a, s.data, s.len, key_a, "obj"), HF_ECORRUPT);
	/* every single flipped byte is detected */
	for (size_t i = 0; i < s.len; i++) {
		s.data[i] ^= 0x40;
		CHECK(hf_sealed_open(&o, HF_SEALED_SNAPSHOT, tid_a, s.data, s.len, key_a, "obj") < 0);
		s.data[i] ^= 0x40;
	}
	CHECK(hf_sealed_open(&o, HF_SEALED_SNAPSHOT, tid_a, s.data, s.len - 1, key_a, "obj") < 0);
	CHECK(strstr(hf_error_message(), "obj") != NULL);
	hf_buf_free(&s);
	hf_buf_free(&o);
}

static void test_pack(void)
{
	hf_pack_builder pb;
	hf_index_entry e[3], *dir = NULL;
	uint8_t pid[HF_ID_BYTES], *where, plain[64];
	size_t n = 0;
	const char *blobs[3] = {"first blob", "second, longer blob", ""};
	memset(&pb, 0, sizeof(pb));
	CHECK_OK(hf_pack_begin(&pb, tid_a, 1024));
	for (int i = 0; i < 3; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		hf_mac(e[i].id, blobs[i], strlen(blobs[i]), key_a);
		e[i].raw = (uint32_t)strlen(blobs[i]);
		e[i].type = i == 2 ? HF_BLOB_TREE : HF_BLOB_DATA;
		CHECK_OK(hf_pack_add(&pb, &e[i], strlen(blobs[i]) + HF_AEAD_OVERHEAD, &where));
		hf_blob_seal(where, tid_a, &e[i], blobs[i], strlen(blobs[i]), key_a);
	}
	CHECK_OK(hf_pack_finish(&pb, key_a, pid));
	CHECK_OK(hf_pack_read_dir(pb.buf.data, pb.buf.len, tid_a, key_a, &dir, &n, "pack"));
	CHECK(n == 3);
	for (size_t i = 0; i < n && i < 3; i++) {
		CHECK(memcmp(dir[i].id, e[i].id, HF_ID_BYTES) == 0);
		CHECK(dir[i].raw == strlen(blobs[i]) && dir[i].type == e[i].type);
		CHECK_OK(hf_blob_open(plain, tid_a, &dir[i], pb.buf.data + dir[i].offset, key_a));
		CHECK(memcmp(plain, blobs[i], dir[i].raw) == 0);
		/* a blob relabelled (other type) or read for another tenant fails */
		hf_index_entry x = dir[i];
		x.type ^= 1;
		CHECK(hf_blob_open(plain, tid_a, &x, pb.buf.data + dir[i].offset, key_a) != 0);
		CHECK(hf_blob_open(plain, tid_b, &dir[i], pb.buf.data + dir[i].offset, key_a) != 0);
	}
	free(dir);
	dir = NULL;
	CHECK_RC(hf_pack_read_dir(pb.buf.data, pb.buf.len, tid_b, key_a, &dir, &n, "pack"), HF_EAUTH);
	CHECK_RC(hf_pack_read_dir(pb.buf.data, pb.buf.len - 3, tid_a, key_a, &dir, &n, "pack"), HF_ECORRUPT);
	pb.buf.data[pb.buf.len - 12] ^= 1; /* inside the sealed directory */
	CHECK_RC(hf_pack_read_dir(pb.buf.data, pb.buf.len, tid_a, key_a, &dir, &n, "pack"), HF_ECORRUPT);
	hf_pack_builder_free(&pb);
}

typedef struct parsed {
	size_t packs, entries;
	uint32_t last_len;
} parsed;

static int parse_cb(const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n, void *payload)
{
	parsed *p = payload;
	(void)pack_id;
	p->packs++;
	p->entries += n;
	if (n)
		p->last_len = e[n - 1].length;
	return 0;
}

static void test_index(void)
{
	hf_index *ix = NULL;
	hf_index_entry e[100], got;
	uint8_t pack[HF_ID_BYTES] = {7};
	hf_buf plain = HF_BUF_INIT;
	parsed p = {0, 0, 0};
	CHECK_OK(hf_index_new(&ix));
	for (int i = 0; i < 100; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		hf_mac(e[i].id, &i, sizeof(i), key_a);
		e[i].offset = 20 + (uint32_t)i * 100;
		e[i].length = 100;
		e[i].raw = 60;
		CHECK(hf_index_reserve(ix, e[i].id, HF_BLOB_DATA, 60) == 1);
		CHECK(hf_index_reserve(ix, e[i].id, HF_BLOB_DATA, 60) == 0); /* dedup */
	}
	CHECK_OK(hf_index_get(ix, e[5].id, &got));
	CHECK(got.pack == HF_PACK_PENDING);
	CHECK_OK(hf_index_add_pack(ix, pack, e, 100));
	CHECK_OK(hf_index_get(ix, e[5].id, &got));
	CHECK(got.pack == 0 && got.offset == e[5].offset && got.length == 100);
	CHECK(hf_index_count(ix) == 100 && hf_index_pack_count(ix) == 1 && hf_index_unflushed(ix) == 1);
	hf_index_free(ix);

	/* the object format parses back and rejects truncation */
	hf_buf_append(&plain, "HFI1", 4);
	hf_buf_append_le32(&plain, 1);
	hf_buf_append(&plain, pack, HF_ID_BYTES);
	hf_buf_append_le32(&plain, 2);
	for (int i = 0; i < 2; i++) {
		uint8_t ent[46] = {0};
		memcpy(ent + 2, e[i].id, HF_ID_BYTES);
		hf_put_le32(ent + 38, 77);
		hf_buf_append(&plain, ent, sizeof(ent));
	}
	CHECK_OK(hf_index_parse(plain.data, plain.len, parse_cb, &p, "index"));
	CHECK(p.packs == 1 && p.entries == 2 && p.last_len == 77);
	CHECK_RC(hf_index_parse(plain.data, plain.len - 1, parse_cb, &p, "index"), HF_ECORRUPT);
	hf_buf_append_u8(&plain, 0);
	CHECK_RC(hf_index_parse(plain.data, plain.len, parse_cb, &p, "index"), HF_ECORRUPT);
	hf_buf_free(&plain);
}

static void test_tree(void)
{
	hf_node *dir = hf_node_new("", HF_ENTRY_DIR), *back = hf_node_new("", HF_ENTRY_DIR), *c = NULL;
	hf_buf enc = HF_BUF_INIT, enc2 = HF_BUF_INIT;
	uint8_t id[HF_ID_BYTES] = {1, 2, 3};
	CHECK_OK(hf_node_child(dir, "b-file", HF_ENTRY_FILE, &c));
	c->size = 1234;
	c->mode = 0640;
	c->mtime_ns = 1700000000123456789LL;
	CHECK_OK(hf_node_add_chunk(c, id));
	c->has_hash = 1;
	CHECK_OK(hf_node_child(dir, "a-link", HF_ENTRY_SYMLINK, &c));
	c->target = strdup("../b-file");
	CHECK_OK(hf_node_child(dir, "bad-\xff-utf8", HF_ENTRY_FILE, &c));
	CHECK_OK(hf_node_child(dir, "sub", HF_ENTRY_DIR, &c));
	c->has_hash = 1;
	hf_node_sort(dir);
	CHECK_OK(hf_tree_encode(dir, &enc));
	CHECK_OK(hf_tree_decode(back, enc.data, enc.len, "tree"));
	CHECK(back->nchildren == 4);
	CHECK_OK(hf_tree_encode(back, &enc2));
	CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0); /* canonical */
	c = hf_node_find(back, "b-file");
	CHECK(c && c->size == 1234 && c->mode == 0640 && c->mtime_ns == 1700000000123456789LL && c->ncontent == 1);
	CHECK(hf_node_find(back, "bad-\xff-utf8") != NULL);
	c = hf_node_find(back, "a-link");
	CHECK(c && c->target && strcmp(c->target, "../b-file") == 0);
	/* names with '/' or "..", duplicates and unknown types are refused */
	hf_node_free(back);
	back = hf_node_new("", HF_ENTRY_DIR);
	const char *bad[] = {"{\"v\":1,\"nodes\":[{\"name\":\"..\",\"type\":\"file\"}]}",
			     "{\"v\":1,\"nodes\":[{\"name\":\"a/b\",\"type\":\"file\"}]}",
			     "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\"},{\"name\":\"a\",\"type\":\"file\"}]}",
			     "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"socket\"}]}",
			     "{\"v\":1,\"nodes\":[{\"name\":\"d\",\"type\":\"dir\"}]}", "{\"v\":2,\"nodes\":[]}", "[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hf_node *t = hf_node_new("", HF_ENTRY_DIR);
		CHECK_RC(hf_tree_decode(t, (const uint8_t *)bad[i], strlen(bad[i]), "tree"), HF_ECORRUPT);
		hf_node_free(t);
	}
	hf_node_free(back);
	hf_node_free(dir);
	hf_buf_free(&enc);
	hf_buf_free(&enc2);
}

/* Lookups in a sorted (decoded) directory bisect; in one being built they scan. Both must find every
 * child, including the first and last, and nothing else. */
static void test_node_find(void)
{
	hf_node *dir = hf_node_new("", HF_ENTRY_DIR), *c = NULL;
	char name[32];
	/* inserted out of order, as a tar import may */
	for (int i = 999; i >= 0; i -= 2) {
		snprintf(name, sizeof(name), "f%04d", i);
		CHECK_OK(hf_node_child(dir, name, HF_ENTRY_FILE, &c));
	}
	for (int i = 0; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "f%04d", i);
		CHECK_OK(hf_node_child(dir, name, HF_ENTRY_FILE, &c));
	}
	for (int pass = 0; pass < 2; pass++) {
		CHECK(dir->sorted == pass);
		for (int i = 0; i < 1000; i++) {
			snprintf(name, sizeof(name), "f%04d", i);
			c = hf_node_find(dir, name);
			CHECK(c && strcmp(c->name, name) == 0);
		}
		CHECK(hf_node_find(dir, "f") == NULL && hf_node_find(dir, "f1000") == NULL);
		CHECK(hf_node_find(dir, "e9999") == NULL && hf_node_find(dir, "f0000a") == NULL);
		hf_node_sort(dir);
	}
	/* a child added after sorting is found, and the directory is no longer taken as sorted */
	CHECK_OK(hf_node_child(dir, "a-late", HF_ENTRY_FILE, &c));
	CHECK(!dir->sorted && hf_node_find(dir, "a-late") == c && hf_node_find(dir, "f0500") != NULL);
	hf_node_free(dir);
}

/* The encoder as it was written with jansson (the repository format's reference): the direct writer in
 * repo/tree.c must produce the same bytes, or unchanged directories would get new ids. */
static void ref_text(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s);
	if (!v) {
		char k[32], *b64 = malloc(hf_base64_len(strlen(s)));
		hf_base64_encode(b64, (const uint8_t *)s, strlen(s));
		snprintf(k, sizeof(k), "%s_b64", key);
		v = json_string(b64);
		free(b64);
		key = k;
		json_object_set_new(o, key, v);
		return;
	}
	json_object_set_new(o, key, v);
}

static char *ref_encode(const hf_node *dir)
{
	static const char *types[] = {NULL, "file", "dir", "symlink", "hardlink", "fifo", "chr", "blk"};
	json_t *root = json_object(), *nodes = json_array();
	char hex[HF_ID_HEX + 1], *text;
	for (size_t i = 0; i < dir->nchildren; i++) {
		const hf_node *n = dir->children[i];
		json_t *o = json_object();
		ref_text(o, "name", n->name);
		json_object_set_new(o, "type", json_string(types[n->type]));
		json_object_set_new(o, "mode", json_integer(n->mode));
		json_object_set_new(o, "uid", json_integer(n->uid));
		json_object_set_new(o, "gid", json_integer(n->gid));
		if (n->user)
			ref_text(o, "user", n->user);
		if (n->group)
			ref_text(o, "group", n->group);
		json_object_set_new(o, "mtime", json_integer(n->mtime_ns));
		if (n->type == HF_ENTRY_FILE) {
			json_t *content = json_array();
			json_object_set_new(o, "size", json_integer((json_int_t)n->size));
			if (n->inode) {
				json_object_set_new(o, "ctime", json_integer(n->ctime_ns));
				json_object_set_new(o, "inode", json_integer((json_int_t)n->inode));
				json_object_set_new(o, "dev", json_integer((json_int_t)n->dev));
			}
			for (size_t k = 0; k < n->ncontent; k++) {
				hf_hex_encode(hex, n->content[k], HF_ID_BYTES);
				json_array_append_new(content, json_string(hex));
			}
			json_object_set_new(o, "content", content);
		}
		if (n->has_hash) {
			hf_hex_encode(hex, n->hash, HF_ID_BYTES);
			json_object_set_new(o, n->type == HF_ENTRY_DIR ? "subtree" : "hash", json_string(hex));
		}
		if (n->target)
			ref_text(o, "target", n->target);
		if (n->type == HF_ENTRY_CHR || n->type == HF_ENTRY_BLK)
			json_object_set_new(o, "rdev", json_integer((json_int_t)n->rdev));
		json_array_append_new(nodes, o);
	}
	json_object_set_new(root, "v", json_integer(1));
	json_object_set_new(root, "nodes", nodes);
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* 1-12 bytes, mostly from a mix of ASCII, control characters, quotes, backslashes, valid multi-byte
 * UTF-8 (2, 3 and 4 bytes) and invalid sequences (stray continuation bytes, overlong forms,
 * surrogates, values past U+10FFFF). */
static char *rnd_text(uint64_t *x)
{
	static const char *pieces[] = {"a", "Z", "0", ".", "-", " ", "/", "\"", "\\", "\n", "\t", "\b", "\f",
				       "\r", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
				       "\xff", "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
				       "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xc3", "\xe2\x82", "\xef\xbf\xbf",
				       "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xe0\x9f\xbf",
				       "\xe0\xa0\x80", "\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80"};
	char *s = calloc(64, 1);
	size_t n = 1 + rnd(x) % 6;
	for (size_t i = 0; i < n; i++)
		strcat(s, pieces[rnd(x) % (sizeof(pieces) / sizeof(pieces[0]))]);
	return s;
}

static void test_tree_encoding_matches_reference(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t same = 0, b64 = 0;
	for (int round = 0; round < 300; round++) {
		hf_node *dir = hf_node_new("", HF_ENTRY_DIR);
		hf_buf enc = HF_BUF_INIT;
		size_t nkids = rnd(&x) % 8;
		for (size_t i = 0; i < nkids; i++) {
			char *name = rnd_text(&x);
			hf_entry_type t = (hf_entry_type)(1 + rnd(&x) % HF_ENTRY_BLK);
			hf_node *c = NULL;
			if (hf_node_find(dir, name) || hf_node_child(dir, name, t, &c) < 0) {
				free(name);
				continue;
			}
			free(name);
			c->mode = (uint32_t)(rnd(&x) % 010000);
			c->uid = (uint32_t)rnd(&x);
			c->gid = (uint32_t)(rnd(&x) % 70000);
			c->mtime_ns = (int64_t)rnd(&x);
			if (rnd(&x) % 2)
				c->user = rnd_text(&x);
			if (rnd(&x) % 2)
				c->group = rnd_text(&x);
			if (t == HF_ENTRY_FILE) {
				c->size = rnd(&x) >> (rnd(&x) % 64);
				if (rnd(&x) % 2) {
					c->inode = rnd(&x);
					c->ctime_ns = -(int64_t)(rnd(&x) >> 2);
					c->dev = rnd(&x) % 4096;
				}
				for (size_t k = rnd(&x) % 4; k > 0; k--) {
					uint8_t id[HF_ID_BYTES];
					for (size_t b = 0; b < sizeof(id); b++)
						id[b] = (uint8_t)rnd(&x);
					CHECK_OK(hf_node_add_chunk(c, id));
				}
			}
			if (t != HF_ENTRY_DIR || rnd(&x) % 2) {
				c->has_hash = t == HF_ENTRY_DIR || t == HF_ENTRY_FILE ? (int)(rnd(&x) % 2) : 0;
				for (size_t b = 0; b < HF_ID_BYTES; b++)
					c->hash[b] = (uint8_t)rnd(&x);
			}
			if (t == HF_ENTRY_SYMLINK || t == HF_ENTRY_HARDLINK)
				c->target = rnd_text(&x);
			if (t == HF_ENTRY_CHR || t == HF_ENTRY_BLK)
				c->rdev = rnd(&x);
		}
		hf_node_sort(dir);
		char *ref = ref_encode(dir);
		CHECK(ref != NULL);
		CHECK_OK(hf_tree_encode(dir, &enc));
		if (ref && enc.len == strlen(ref) && memcmp(enc.data, ref, enc.len) == 0)
			same++;
		else if (ref)
			fprintf(stderr, "tree encoding differs:\n  ref %s\n  got %.*s\n", ref, (int)enc.len, (const char *)enc.data);
		b64 += ref && strstr(ref, "_b64") != NULL;
		free(ref);
		hf_buf_free(&enc);
		hf_node_free(dir);
	}
	CHECK(same == 300);
	CHECK(b64 > 30); /* the invalid-UTF-8 path was exercised */
}

static void test_keyslots_and_tenants(void)
{
	hf_repo_options o;
	hf_init_options io;
	hf_repo *r = NULL;
	hf_tenant *a = NULL, *b = NULL, *a2 = NULL;
	char id[HF_ID_HEX + 1], dir[] = "/tmp/hf-test-repo-XXXXXX", pass[512], wrong[512], url[600], cat[600];
	FILE *f;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	snprintf(wrong, sizeof(wrong), "%s/wrong", dir);
	snprintf(url, sizeof(url), "mem://%s", dir + 5);
	snprintf(cat, sizeof(cat), "%s/catalog.db", dir);
	f = fopen(pass, "w");
	fputs("correct horse battery staple\n", f);
	fclose(f);
	f = fopen(wrong, "w");
	fputs("incorrect horse battery staple\n", f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.version = HF_REPO_OPTIONS_VERSION;
	o.url = url;
	o.catalog_path = cat;
	o.cred.password_file = pass;
	o.cred.password_fd = -1;
	o.compression = -1;
	memset(&io, 0, sizeof(io));
	io.compression = -1;
	io.kdf_ops = 1;
	io.kdf_mem = 8u * 1024 * 1024;
	CHECK_OK(hf_repo_init(&o, &io, id));
	CHECK_RC(hf_repo_init(&o, &io, id), HF_EEXISTS);
	o.cred.password_file = wrong;
	CHECK_RC(hf_repo_open(&r, &o), HF_EAUTH);
	CHECK(strstr(hf_error_message(), "incorrect") == NULL); /* the passphrase never reaches messages */
	o.cred.password_file = pass;
	CHECK_OK(hf_repo_open(&r, &o));
	if (!r)
		return;
	CHECK(strcmp(hf_repo_id(r), id) == 0);
	CHECK_OK(hf_tenant_create(r, "acme", "gold", &a));
	CHECK_OK(hf_tenant_create(r, "beta", "standard", &b));
	CHECK_RC(hf_tenant_create(r, "acme", "gold", NULL), HF_EEXISTS);
	CHECK_RC(hf_tenant_create(r, "../x", "gold", NULL), HF_EUSAGE);
	CHECK_RC(hf_tenant_load(r, "nobody", &a2), HF_ENOTFOUND);
	CHECK_OK(hf_tenant_load(r, "acme", &a2));
	if (a && b && a2) {
		/* per-tenant keys: distinct tenants, distinct key material; reload gives the same keys */
		CHECK(memcmp(a->keys->enc, b->keys->enc, HF_KEY_BYTES) != 0);
		CHECK(memcmp(a->keys->mac, b->keys->mac, HF_KEY_BYTES) != 0);
		CHECK(memcmp(a->keys->enc, a->keys->mac, HF_KEY_BYTES) != 0);
		CHECK(memcmp(a->keys->gear_seed, a2->keys->gear_seed, HF_KEY_BYTES) == 0);
		CHECK(strcmp(a->tid, a2->tid) == 0 && strcmp(a->tid, b->tid) != 0);
	}
	hf_tenant_free(a);
	hf_tenant_free(b);
	hf_tenant_free(a2);
	hf_repo_free(r);
	snprintf(url, sizeof(url), "rm -rf '%s'", dir);
	CHECK(system(url) == 0);
}

/* util/buf.h's array growth, used by the pack builder, trees and listings */
static void test_array_grow(void)
{
	size_t cap = 0;
	uint32_t *v = hf_array_grow(NULL, &cap, 0, sizeof(*v), 4), *w;
	CHECK(v && cap == 4);
	if (!v)
		return;
	for (uint32_t i = 0; i < 4; i++)
		v[i] = i;
	CHECK(hf_array_grow(v, &cap, 3, sizeof(*v), 4) == v && cap == 4); /* room left: unchanged */
	w = hf_array_grow(v, &cap, 4, sizeof(*v), 4);
	CHECK(w && cap == 8);
	if (w) {
		CHECK(w[0] == 0 && w[3] == 3);
		v = w;
	}
	cap = SIZE_MAX / 2 + 1; /* doubling would overflow: refused, array and capacity unchanged */
	CHECK(hf_array_grow(v, &cap, cap, sizeof(*v), 4) == NULL && cap == SIZE_MAX / 2 + 1);
	free(v);
}

int main(void)
{
	CHECK_OK(hf_crypto_init());
	{
		/* the library makes jansson wipe what it frees (tenant keys pass through it as base64) */
		json_malloc_t m0, m1;
		json_free_t f0, f1;
		json_get_alloc_funcs(&m0, &f0);
		CHECK_OK(hf_library_init(0));
		json_get_alloc_funcs(&m1, &f1);
		CHECK(f0 == free && f1 != free && m1 != NULL);
		json_decref(json_string("a value freed through the wiping free"));
	}
	test_array_grow();
	test_sealed();
	test_pack();
	test_index();
	test_tree();
	test_node_find();
	test_tree_encoding_matches_reference();
	test_keyslots_and_tenants();
	TEST_MAIN_END();
}
