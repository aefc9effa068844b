/* The mem:// storage driver for tests: named in-process stores. Opening the same name twice gives two
 * handles on the same objects; a store lives until the process exits (so "reopen" works like a real
 * repository). One mutex per store; list callbacks run without it held. */
#include "storage/storage.h"
#include "util/clock.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_obj {
	struct mem_obj *next; /* hash chain */
	char *key;
	uint8_t *data;
	size_t len;
	int64_t mtime;
} mem_obj;

typedef struct mem_store {
	struct mem_store *next; /* registry list */
	char *name;
	pthread_mutex_t mu;
	mem_obj **slots;
	size_t nslots, count;
} mem_store;

typedef struct mem_storage {
	hf_storage base;
	mem_store *st;
} mem_storage;

/* Stores stay reachable from here until exit, so leak checkers do not report them. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static mem_store *registry;

static int oom(void)
{
	return hf_error_set(HF_ENOMEM, "out of memory");
}

static size_t hash_key(const char *k)
{
	size_t h = 1469598103934665603u; /* FNV-1a */
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211u;
	return h;
}

static mem_obj **find_slot(mem_store *st, const char *key)
{
	mem_obj **pp = &st->slots[hash_key(key) & (st->nslots - 1)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int grow(mem_store *st)
{
	size_t n = st->nslots * 2;
	mem_obj **slots = calloc(n, sizeof(*slots));
	if (!slots)
		return oom();
	for (size_t i = 0; i < st->nslots; i++) {
		for (mem_obj *o = st->slots[i], *next; o; o = next) {
			next = o->next;
			o->next = slots[hash_key(o->key) & (n - 1)];
			slots[hash_key(o->key) & (n - 1)] = o;
		}
	}
	free(st->slots);
	st->slots = slots;
	st->nslots = n;
	return 0;
}

static int mem_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	mem_store *st = ((mem_storage *)s)->st;
	mem_obj *obj = NULL;
	mem_obj **pp;
	int rc = 0;
	(void)o;

	if (!(obj = calloc(1, sizeof(*obj))) || !(obj->key = strdup(key)) ||
	    !(obj->data = malloc(len ? len : 1))) {
		rc = oom();
		goto done;
	}
	if (len)
		memcpy(obj->data, data, len);
	obj->len = len;
	obj->mtime = hf_clock_now_ns() / 1000000000;
	pthread_mutex_lock(&st->mu);
	if (st->count >= st->nslots && (rc = grow(st)) < 0) {
		pthread_mutex_unlock(&st->mu);
		goto done;
	}
	pp = find_slot(st, key);
	if (*pp) {
		rc = hf_error_set(HF_EEXISTS, "object '%s' already exists in '%s'", key, s->url);
	} else {
		*pp = obj;
		st->count++;
		obj = NULL;
	}
	pthread_mutex_unlock(&st->mu);
done:
	if (obj) {
		free(obj->data);
		free(obj->key);
		free(obj);
	}
	return rc;
}

static int not_found(hf_storage *s, const char *key)
{
	return hf_error_set(HF_ENOTFOUND, "object '%s' not found in '%s'", key, s->url);
}

/* Copy [off, off+len) of an object into out; len SIZE_MAX means "to the end". */
static int mem_read(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	mem_store *st = ((mem_storage *)s)->st;
	mem_obj *obj;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	obj = *find_slot(st, key);
	if (!obj) {
		rc = not_found(s, key);
	} else if (len == SIZE_MAX) {
		rc = hf_buf_append(out, obj->data, obj->len);
	} else if (off > obj->len || len > obj->len - off) {
		rc = hf_error_set(
		    HF_ECORRUPT,
		    "object '%s' in '%s' is truncated: wanted %zu bytes at offset %llu, size is %zu", key,
		    s->url, len, (unsigned long long)off, obj->len);
	} else {
		rc = hf_buf_append(out, obj->data + off, len);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int mem_get(hf_storage *s, const char *key, hf_buf *out)
{
	return mem_read(s, key, 0, SIZE_MAX, out);
}

static int mem_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	if (len == SIZE_MAX)
		return hf_error_set(HF_EUSAGE, "invalid range length for '%s' in '%s'", key, s->url);
	return mem_read(s, key, off, len, out);
}

static int mem_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	mem_store *st = ((mem_storage *)s)->st;
	mem_obj *obj;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	obj = *find_slot(st, key);
	if (!obj) {
		rc = not_found(s, key);
	} else {
		out->size = obj->len;
		out->mtime = obj->mtime;
		out->lock_mode = HF_LOCK_NONE;
		out->lock_until = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

typedef struct listed {
	char *key;
	uint64_t size;
} listed;

/* Snapshot the matching names under the lock, then call back without it (callbacks may use the store). */
static int mem_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	mem_store *st = ((mem_storage *)s)->st;
	size_t plen = strlen(prefix), n = 0, i;
	listed *items = NULL;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	if (st->count && !(items = calloc(st->count, sizeof(*items))))
		rc = oom();
	for (i = 0; rc == 0 && i < st->nslots; i++) {
		for (mem_obj *o = st->slots[i]; o && rc == 0; o = o->next) {
			if (strncmp(o->key, prefix, plen) != 0)
				continue;
			if (!(items[n].key = strdup(o->key)))
				rc = oom();
			else
				items[n++].size = o->len;
		}
	}
	pthread_mutex_unlock(&st->mu);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(items[i].key, items[i].size, payload);
	for (i = 0; i < n; i++)
		free(items[i].key);
	free(items);
	return rc;
}

static int mem_remove(hf_storage *s, const char *key)
{
	mem_store *st = ((mem_storage *)s)->st;
	mem_obj **pp, *obj = NULL;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	pp = find_slot(st, key);
	if (!*pp) {
		rc = not_found(s, key);
	} else {
		obj = *pp;
		*pp = obj->next;
		st->count--;
	}
	pthread_mutex_unlock(&st->mu);
	if (obj) {
		free(obj->data);
		free(obj->key);
		free(obj);
	}
	return rc;
}

/* Same rule as the file driver: a new repository needs an empty location. */
static int mem_prepare(hf_storage *s, const hf_storage_prepare_opts *o)
{
	mem_store *st = ((mem_storage *)s)->st;
	size_t count;
	(void)o;
	pthread_mutex_lock(&st->mu);
	count = st->count;
	pthread_mutex_unlock(&st->mu);
	if (count)
		return hf_error_set(HF_EEXISTS, "repository location '%s' is not empty", s->url);
	return 0;
}

static void mem_free(hf_storage *s)
{
	if (!s)
		return;
	free(s->url);
	free(s);
}

static const hf_storage_vtable mem_vt = {
    .name = "mem",
    .features = HF_STORAGE_FEAT_RANGE,
    .put = mem_put,
    .get = mem_get,
    .get_range = mem_get_range,
    .stat = mem_stat,
    .list = mem_list,
    .remove = mem_remove,
    .extend_lock = NULL,
    .prepare = mem_prepare,
    .free = mem_free,
};

/* The store called name, created on first use; the caller holds registry_mu. */
static int store_get(const char *name, mem_store **out)
{
	mem_store *st;
	for (st = registry; st; st = st->next) {
		if (!strcmp(st->name, name)) {
			*out = st;
			return 0;
		}
	}
	if (!(st = calloc(1, sizeof(*st))))
		return oom();
	st->nslots = 64;
	if (!(st->name = strdup(name)) || !(st->slots = calloc(st->nslots, sizeof(*st->slots)))) {
		free(st->name);
		free(st);
		return oom();
	}
	pthread_mutex_init(&st->mu, NULL);
	st->next = registry;
	registry = st;
	*out = st;
	return 0;
}

int hf_storage_mem_open(hf_storage **out, const char *name)
{
	mem_storage *ms = NULL;
	size_t n;
	int rc;

	if (!name || !*name)
		return hf_error_set(HF_EUSAGE, "missing mem storage name");
	n = strlen(name) + sizeof("mem://");
	if (!(ms = calloc(1, sizeof(*ms))) || !(ms->base.url = malloc(n))) {
		free(ms);
		return oom();
	}
	ms->base.vt = &mem_vt;
	memcpy(ms->base.url, "mem://", 6);
	memcpy(ms->base.url + 6, name, n - 6);
	pthread_mutex_lock(&registry_mu);
	rc = store_get(name, &ms->st);
	pthread_mutex_unlock(&registry_mu);
	if (rc < 0) {
		mem_free(&ms->base);
		return rc;
	}
	*out = &ms->base;
	return 0;
}
