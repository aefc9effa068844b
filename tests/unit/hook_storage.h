/* A storage wrapper for unit tests that need another actor to step in at an exact point of the code
 * under test (a second 'key remove' between a listing and a removal, a backup committing while a check
 * lists): every call is forwarded to the wrapped storage, and the test's hook runs just before and just
 * after it with the operation's name ("put", "get", "get_range", "stat", "list", "remove") and its key
 * (the prefix for "list"). Header-only, for one test program. */
#ifndef HF_TEST_HOOK_STORAGE_H
#define HF_TEST_HOOK_STORAGE_H

#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

typedef enum { HOOK_BEFORE, HOOK_AFTER } hook_when;
typedef void (*hook_fn)(const char *op, const char *key, hook_when when, void *arg);

typedef struct hook_storage {
	hf_storage base;
	hf_storage_vtable vt;
	hf_storage *inner;
	hook_fn fn;
	void *arg;
} hook_storage;

#define HOOK_INNER(s) (((hook_storage *)(s))->inner)
#define HOOK_CALL(s, op, key, when) ((hook_storage *)(s))->fn(op, key, when, ((hook_storage *)(s))->arg)
#define HOOK_AROUND(s, op, key, call)                \
	do {                                         \
		int hook_rc_;                        \
		HOOK_CALL(s, op, key, HOOK_BEFORE);  \
		hook_rc_ = (call);                   \
		HOOK_CALL(s, op, key, HOOK_AFTER);   \
		return hook_rc_;                     \
	} while (0)

static inline int hook_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	HOOK_AROUND(s, "put", key, HOOK_INNER(s)->vt->put(HOOK_INNER(s), key, data, len, o));
}

static inline int hook_get(hf_storage *s, const char *key, hf_buf *out)
{
	HOOK_AROUND(s, "get", key, HOOK_INNER(s)->vt->get(HOOK_INNER(s), key, out));
}

static inline int hook_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	HOOK_AROUND(s, "get_range", key, HOOK_INNER(s)->vt->get_range(HOOK_INNER(s), key, off, len, out));
}

static inline int hook_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	HOOK_AROUND(s, "stat", key, HOOK_INNER(s)->vt->stat(HOOK_INNER(s), key, out));
}

static inline int hook_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	HOOK_AROUND(s, "list", prefix, HOOK_INNER(s)->vt->list(HOOK_INNER(s), prefix, cb, payload));
}

static inline int hook_remove(hf_storage *s, const char *key)
{
	HOOK_AROUND(s, "remove", key, HOOK_INNER(s)->vt->remove(HOOK_INNER(s), key));
}

static inline void hook_free(hf_storage *s)
{
	hf_storage_free(HOOK_INNER(s));
	free(s->url);
	free(s);
}

/* Wraps inner (owned from now on: freed with the wrapper); NULL when out of memory. */
static inline hf_storage *hook_wrap(hf_storage *inner, hook_fn fn, void *arg)
{
	hook_storage *h = calloc(1, sizeof(*h));
	if (!h || !(h->base.url = strdup(inner->url))) {
		free(h);
		return NULL;
	}
	h->vt = (hf_storage_vtable){
	    .name = inner->vt->name,
	    .features = inner->vt->features,
	    .put = hook_put,
	    .get = hook_get,
	    .get_range = hook_get_range,
	    .stat = hook_stat,
	    .list = hook_list,
	    .remove = inner->vt->remove ? hook_remove : NULL,
	    .free = hook_free,
	};
	h->base.vt = &h->vt;
	h->inner = inner;
	h->fn = fn;
	h->arg = arg;
	return &h->base;
}

/* The common case: fn(arg) runs once, just before the first `op` on a key starting with `prefix` (NULL:
 * any key). Wraps *storage in place; the wrapper lives as long as the storage it replaces would have. */
typedef struct hook_once {
	const char *op, *prefix;
	void (*fn)(void *);
	void *arg;
	int fired;
} hook_once;

static inline void hook_once_fn(const char *op, const char *key, hook_when when, void *arg)
{
	hook_once *o = arg;
	if (!o->fired && when == HOOK_BEFORE && !strcmp(op, o->op) &&
	    (!o->prefix || !strncmp(key, o->prefix, strlen(o->prefix)))) {
		o->fired = 1;
		o->fn(o->arg);
	}
}

static inline hook_once *hook_before_first(hf_storage **storage, const char *op, const char *prefix, void (*fn)(void *),
				    void *arg)
{
	static hook_once slots[8];
	static size_t used;
	hf_storage *h;
	if (used == sizeof(slots) / sizeof(slots[0]))
		return NULL;
	slots[used] = (hook_once){op, prefix, fn, arg, 0};
	if (!(h = hook_wrap(*storage, hook_once_fn, &slots[used])))
		return NULL;
	*storage = h;
	return &slots[used++];
}

#endif
