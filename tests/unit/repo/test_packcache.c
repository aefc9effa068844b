/* The whole-pack LRU cache: slices equal the object's bytes, eviction keeps it bounded, concurrent
 * readers of one pack fetch it once, a short object is an error. */
#include "repo/packcache.h"
#include "test.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct counting {
	hf_storage base; /* first member: the vtable */
	hf_storage *inner;
	int gets;
	pthread_mutex_t mu;
} counting;

static hf_storage_vtable vt;

static int counting_get(hf_storage *s, const char *key, hf_buf *out)
{
	counting *c = (counting *)s;
	pthread_mutex_lock(&c->mu);
	c->gets++;
	pthread_mutex_unlock(&c->mu);
	return c->inner->vt->get(c->inner, key, out);
}

static hf_pack_cache *cache;
static counting cs;

static void *reader(void *arg)
{
	hf_buf b = HF_BUF_INIT;
	(void)arg;
	for (int i = 0; i < 50; i++) {
		b.len = 0;
		if (hf_pack_cache_read(cache, &cs.base, "p/0", (uint64_t)i * 10, 10, &b) != 0 || b.len != 10 ||
		    b.data[0] != (uint8_t)(i * 10))
			hf_test_failures++;
	}
	hf_buf_free(&b);
	return NULL;
}

int main(void)
{
	hf_storage *mem = NULL;
	uint8_t data[1000];
	hf_buf b = HF_BUF_INIT;
	pthread_t th[4];
	char key[16];

	for (int i = 0; i < 1000; i++)
		data[i] = (uint8_t)i;
	CHECK_OK(hf_storage_mem_open(&mem, "packcache-test"));
	for (int p = 0; p < 5; p++) {
		snprintf(key, sizeof(key), "p/%d", p);
		CHECK_OK(hf_storage_put(mem, key, data, sizeof(data), NULL));
	}
	vt = *mem->vt;
	vt.get = counting_get;
	cs.base.vt = &vt;
	cs.base.url = "counting";
	cs.inner = mem;
	pthread_mutex_init(&cs.mu, NULL);
	CHECK_OK(hf_pack_cache_new(&cache, 2));

	/* four threads reading one pack: it is fetched once, every slice is right */
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(cs.gets == 1);

	/* LRU: p/0 and p/1 cached; reading p/2 evicts the least recently used (p/0) */
	CHECK_OK(hf_pack_cache_read(cache, &cs.base, "p/1", 5, 3, &b));
	CHECK(cs.gets == 2 && b.len == 3 && b.data[0] == 5);
	CHECK_OK(hf_pack_cache_read(cache, &cs.base, "p/2", 0, 1, &b));
	CHECK(cs.gets == 3);
	CHECK_OK(hf_pack_cache_read(cache, &cs.base, "p/1", 0, 1, &b));
	CHECK(cs.gets == 3); /* still cached */
	CHECK_OK(hf_pack_cache_read(cache, &cs.base, "p/0", 0, 1, &b));
	CHECK(cs.gets == 4); /* was evicted */

	/* a range past the end is a named error; a missing object stays not-found */
	CHECK_RC(hf_pack_cache_read(cache, &cs.base, "p/3", 990, 20, &b), HF_ECORRUPT);
	CHECK(strstr(hf_error_message(), "p/3") != NULL);
	CHECK_RC(hf_pack_cache_read(cache, &cs.base, "p/9", 0, 1, &b), HF_ENOTFOUND);

	hf_buf_free(&b);
	hf_pack_cache_free(cache);
	hf_storage_free(mem);
	TEST_MAIN_END();
}
