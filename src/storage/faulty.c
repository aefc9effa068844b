/* A test wrapper around any storage that makes exactly the Nth call of one operation (or of any, "*") fail
 * with a chosen code and the message "injected failure"; every other call goes to the inner storage. */
#include "storage/storage.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct faulty_storage {
	hf_storage base;
	hf_storage_vtable vt; /* features and optional ops mirror the inner storage */
	hf_storage *inner;
	char op[16];
	int nth, code, calls;
	pthread_mutex_t mu;
} faulty_storage;

static const char *const ops[] = {"put",    "get",         "get_range", "stat", "list",
                                  "remove", "extend_lock", "prepare",   "*"};

/* 0 to go ahead, or the injected error when this is the chosen call. */
static int should_fail(hf_storage *s, const char *op)
{
	faulty_storage *f = (faulty_storage *)s;
	int hit = 0;
	if (strcmp(f->op, "*") != 0 && strcmp(f->op, op) != 0)
		return 0;
	pthread_mutex_lock(&f->mu);
	hit = ++f->calls == f->nth;
	pthread_mutex_unlock(&f->mu);
	return hit ? hf_error_set(f->code, "injected failure") : 0;
}

#define INNER(s) (((faulty_storage *)(s))->inner)

static int f_put(hf_storage *s, const char *key, const void *data, size_t len, const hf_storage_put_opts *o)
{
	int rc = should_fail(s, "put");
	return rc ? rc : INNER(s)->vt->put(INNER(s), key, data, len, o);
}

static int f_get(hf_storage *s, const char *key, hf_buf *out)
{
	int rc = should_fail(s, "get");
	return rc ? rc : INNER(s)->vt->get(INNER(s), key, out);
}

static int f_get_range(hf_storage *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	int rc = should_fail(s, "get_range");
	return rc ? rc : INNER(s)->vt->get_range(INNER(s), key, off, len, out);
}

static int f_stat(hf_storage *s, const char *key, hf_storage_stat *out)
{
	int rc = should_fail(s, "stat");
	return rc ? rc : INNER(s)->vt->stat(INNER(s), key, out);
}

static int f_list(hf_storage *s, const char *prefix, hf_storage_list_cb cb, void *payload)
{
	int rc = should_fail(s, "list");
	return rc ? rc : INNER(s)->vt->list(INNER(s), prefix, cb, payload);
}

static int f_remove(hf_storage *s, const char *key)
{
	int rc = should_fail(s, "remove");
	return rc ? rc : INNER(s)->vt->remove(INNER(s), key);
}

static int f_extend_lock(hf_storage *s, const char *key, hf_lock_mode mode, int64_t until)
{
	int rc = should_fail(s, "extend_lock");
	return rc ? rc : INNER(s)->vt->extend_lock(INNER(s), key, mode, until);
}

static int f_prepare(hf_storage *s, const hf_storage_prepare_opts *o)
{
	int rc = should_fail(s, "prepare");
	return rc ? rc : INNER(s)->vt->prepare(INNER(s), o);
}

static void f_free(hf_storage *s)
{
	faulty_storage *f = (faulty_storage *)s;
	if (!f)
		return;
	hf_storage_free(f->inner);
	pthread_mutex_destroy(&f->mu);
	free(f->base.url);
	free(f);
}

int hf_storage_faulty_open(hf_storage **out, hf_storage *inner, const char *op, int nth, int code)
{
	faulty_storage *f = NULL;
	const hf_storage_vtable *in;
	size_t i;

	for (i = 0; op && i < sizeof(ops) / sizeof(ops[0]) && strcmp(op, ops[i]) != 0; i++)
		;
	if (!inner || !op || i == sizeof(ops) / sizeof(ops[0]))
		return hf_error_set(HF_EUSAGE, "faulty storage: unknown operation '%s'", op ? op : "(null)");
	if (nth < 1 || code >= 0)
		return hf_error_set(HF_EUSAGE, "faulty storage: call number must be >= 1 and code negative");
	if (!(f = calloc(1, sizeof(*f))) || !(f->base.url = strdup(inner->url))) {
		free(f);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	in = inner->vt;
	f->vt = (hf_storage_vtable){
	    .name = in->name,
	    .features = in->features,
	    .put = f_put,
	    .get = f_get,
	    .get_range = in->get_range ? f_get_range : NULL,
	    .stat = f_stat,
	    .list = f_list,
	    .remove = in->remove ? f_remove : NULL,
	    .extend_lock = in->extend_lock ? f_extend_lock : NULL,
	    .prepare = in->prepare ? f_prepare : NULL,
	    .free = f_free,
	};
	f->base.vt = &f->vt;
	f->inner = inner;
	strcpy(f->op, op);
	f->nth = nth;
	f->code = code;
	pthread_mutex_init(&f->mu, NULL);
	*out = &f->base;
	return 0;
}
