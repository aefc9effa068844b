/* LRU cache of whole packs for remote storage (see packcache.h). */
#include "repo/packcache.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_LOADING, SLOT_READY };

typedef struct slot {
	char *key;
	hf_buf data;
	int state;
	uint64_t used; /* LRU clock */
} slot;

struct hf_pack_cache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	slot *v;
	size_t n;
	uint64_t clock;
};

int hf_pack_cache_new(hf_pack_cache **out, size_t max_packs)
{
	hf_pack_cache *c = calloc(1, sizeof(*c));
	if (!c || !(c->v = calloc(max_packs, sizeof(slot)))) {
		free(c);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	c->n = max_packs;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	*out = c;
	return 0;
}

void hf_pack_cache_free(hf_pack_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		hf_buf_free(&c->v[i].data);
	}
	free(c->v);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static slot *find(hf_pack_cache *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].state != SLOT_EMPTY && !strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

/* An empty slot, or the least recently used ready one; NULL when all are being loaded. */
static slot *victim(hf_pack_cache *c)
{
	slot *best = NULL;
	for (size_t i = 0; i < c->n; i++) {
		slot *s = &c->v[i];
		if (s->state == SLOT_EMPTY)
			return s;
		if (s->state == SLOT_READY && (!best || s->used < best->used))
			best = s;
	}
	return best;
}

static int copy_out(slot *s, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	if (off > s->data.len || len > s->data.len - off)
		return hf_error_set(HF_ECORRUPT, "'%s' is shorter than expected (%zu bytes; need %llu)", key,
				    s->data.len, (unsigned long long)(off + len));
	return hf_buf_append(out, s->data.data + off, len);
}

int hf_pack_cache_read(hf_pack_cache *c, hf_storage *st, const char *key, uint64_t off, size_t len, hf_buf *out)
{
	slot *s;
	hf_buf data = HF_BUF_INIT;
	int rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		if ((s = find(c, key)) && s->state == SLOT_READY) {
			s->used = ++c->clock;
			rc = copy_out(s, key, off, len, out);
			pthread_mutex_unlock(&c->mu);
			return rc;
		}
		if (s) { /* another thread is fetching it */
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		if ((s = victim(c)))
			break;
		pthread_cond_wait(&c->cv, &c->mu); /* every slot is loading: wait for one */
	}
	free(s->key);
	hf_buf_free(&s->data);
	if (!(s->key = strdup(key))) {
		s->state = SLOT_EMPTY;
		pthread_mutex_unlock(&c->mu);
		return hf_error_set(HF_ENOMEM, "out of memory");
	}
	s->state = SLOT_LOADING;
	pthread_mutex_unlock(&c->mu);

	rc = hf_storage_get(st, key, &data);

	pthread_mutex_lock(&c->mu);
	if (rc < 0) {
		free(s->key);
		s->key = NULL;
		s->state = SLOT_EMPTY;
	} else {
		s->data = data;
		s->state = SLOT_READY;
		s->used = ++c->clock;
		rc = copy_out(s, key, off, len, out);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
