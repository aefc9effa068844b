/* Read-ahead thread for directory walks (see prefetch.h). Directories are taken newest first, which
 * follows the walker's depth-first order; the thread stays at most `window` entries ahead. */
#define _GNU_SOURCE /* O_NOATIME */
#include "source/files/prefetch.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_BYTES (4 << 20) /* read ahead at most the first 4 MiB of a file */

typedef struct pf_dir {
	struct pf_dir *next; /* stack: the newest directory first */
	char *dir;
	char **names;
	size_t n, at;
} pf_dir;

struct hf_prefetch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	pf_dir *top;
	size_t window;
	uint64_t visited, fetched;
	int stop;
	hf_prefetch_skip_cb skip;
	void *payload;
};

static void dir_free(pf_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->dir);
	free(d);
}

static void fetch(hf_prefetch *p, const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	int fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return;
	/* the metadata read warms the inode cache for the walker's lstat */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	if (p->skip && p->skip(path, &st, p->payload))
		return;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)posix_fadvise(fd, 0, st.st_size < HEAD_BYTES ? st.st_size : HEAD_BYTES, POSIX_FADV_WILLNEED);
	close(fd);
}

static void *run(void *arg)
{
	hf_prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		pf_dir *d;
		char *dir, *name;
		while (!p->stop && (!p->top || p->fetched >= p->visited + p->window))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		d = p->top;
		if (d->at == d->n) {
			p->top = d->next;
			dir_free(d);
			continue;
		}
		dir = d->dir;
		name = d->names[d->at++];
		p->fetched++;
		/* the entry stays owned by d, which is only freed by this thread */
		pthread_mutex_unlock(&p->mu);
		fetch(p, dir, name);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

hf_prefetch *hf_prefetch_start(size_t window, hf_prefetch_skip_cb skip, void *payload)
{
	hf_prefetch *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->skip = skip;
	p->payload = payload;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->window = window;
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p);
		return NULL;
	}
	return p;
}

void hf_prefetch_dir(hf_prefetch *p, const char *dir, char *const *names, size_t n)
{
	pf_dir *d;
	if (!p || n == 0 || !(d = calloc(1, sizeof(*d))))
		return;
	if (!(d->dir = strdup(dir)) || !(d->names = calloc(n, sizeof(char *)))) {
		dir_free(d);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!(d->names[d->n] = strdup(names[i])))
			break;
		else
			d->n++;
	pthread_mutex_lock(&p->mu);
	d->next = p->top;
	p->top = d;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void hf_prefetch_advance(hf_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->visited++;
	if (p->fetched < p->visited) /* the walker overtook the prefetcher: let it skip ahead */
		p->fetched = p->visited;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void hf_prefetch_stop(hf_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	while (p->top) {
		pf_dir *d = p->top;
		p->top = d->next;
		dir_free(d);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
