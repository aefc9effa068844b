/* Reading large files with O_DIRECT ahead of their consumer (dread.h). */
#include "source/files/dread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct piece {
	uint8_t *p;
	ssize_t n;
	uint64_t off;
	int err;
} piece;

struct hf_dread {
	pthread_mutex_t mu;
	pthread_cond_t cv_read; /* the reading thread: work to do, or quit */
	pthread_cond_t cv_take; /* the consumer: a piece is ready; end: the read in flight is over */
	pthread_t thread;
	piece *ring;
	size_t nbufs, buf_size;
	size_t head, filled; /* ring[head] is the consumer's next piece; filled pieces from there */
	int fd;              /* -1: no file */
	uint64_t off;        /* file offset of the next read */
	int done;            /* the current file needs no more reads (its end or a failure was read) */
	int unaligned;       /* done after a short read that left off unaligned */
	int inflight;        /* the thread reads into ring[(head + filled) % nbufs] */
	uint64_t gen;        /* incremented by each end: a read in flight for an ended file is dropped */
	int quit;
};

static void *dread_main(void *arg)
{
	hf_dread *d = arg;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		piece *pc;
		uint64_t gen, off;
		ssize_t n;
		int fd, err;
		if (d->quit)
			break;
		if (d->fd < 0 || d->done || d->filled == d->nbufs) {
			pthread_cond_wait(&d->cv_read, &d->mu);
			continue;
		}
		pc = &d->ring[(d->head + d->filled) % d->nbufs];
		fd = d->fd;
		off = d->off;
		gen = d->gen;
		d->inflight = 1;
		pthread_mutex_unlock(&d->mu);
		do
			n = pread(fd, pc->p, d->buf_size, (off_t)off);
		while (n < 0 && errno == EINTR);
		err = n < 0 ? errno : 0;
		pthread_mutex_lock(&d->mu);
		d->inflight = 0;
		if (gen == d->gen) {
			pc->n = n;
			pc->off = off;
			pc->err = err;
			d->filled++;
			if (n > 0)
				d->off += (uint64_t)n;
			/* the end, a failure, or a short read from whose end O_DIRECT cannot go on (a local
			 * file system returns one only at the end of the file) */
			if (n <= 0 || n % HF_DREAD_ALIGN)
				d->done = 1;
			d->unaligned = n > 0 && n % HF_DREAD_ALIGN;
		}
		pthread_cond_broadcast(&d->cv_take);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

hf_dread *hf_dread_new(size_t nbufs, size_t buf_size)
{
	hf_dread *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->nbufs = nbufs;
	d->buf_size = buf_size;
	d->fd = -1;
	if (!(d->ring = calloc(nbufs, sizeof(*d->ring))))
		goto fail;
	for (size_t i = 0; i < nbufs; i++)
		if (!(d->ring[i].p = aligned_alloc(HF_DREAD_ALIGN, buf_size)))
			goto fail;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv_read, NULL);
	pthread_cond_init(&d->cv_take, NULL);
	if (pthread_create(&d->thread, NULL, dread_main, d) != 0) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv_read);
		pthread_cond_destroy(&d->cv_take);
		goto fail;
	}
	return d;
fail:
	for (size_t i = 0; d->ring && i < nbufs; i++)
		free(d->ring[i].p);
	free(d->ring);
	free(d);
	return NULL;
}

void hf_dread_begin(hf_dread *d, int fd)
{
	pthread_mutex_lock(&d->mu);
	d->fd = fd;
	d->off = 0;
	d->done = d->unaligned = 0;
	d->head = d->filled = 0;
	pthread_cond_signal(&d->cv_read);
	pthread_mutex_unlock(&d->mu);
}

ssize_t hf_dread_next(hf_dread *d, const uint8_t **p, uint64_t *off, int *err)
{
	piece *pc;
	pthread_mutex_lock(&d->mu);
	while (!d->filled && !d->done)
		pthread_cond_wait(&d->cv_take, &d->mu);
	if (!d->filled) { /* after the last piece: the end, or go on through the page cache */
		int unaligned = d->unaligned;
		*off = d->off;
		*err = unaligned ? EINVAL : 0;
		pthread_mutex_unlock(&d->mu);
		return unaligned ? -1 : 0;
	}
	pc = &d->ring[d->head];
	pthread_mutex_unlock(&d->mu);
	*p = pc->p;
	*off = pc->off;
	*err = pc->err;
	return pc->n < 0 ? -1 : pc->n;
}

void hf_dread_release(hf_dread *d)
{
	pthread_mutex_lock(&d->mu);
	d->head = (d->head + 1) % d->nbufs;
	d->filled--;
	pthread_cond_signal(&d->cv_read);
	pthread_mutex_unlock(&d->mu);
}

void hf_dread_end(hf_dread *d)
{
	pthread_mutex_lock(&d->mu);
	d->fd = -1;
	d->gen++;
	d->head = d->filled = 0;
	while (d->inflight)
		pthread_cond_wait(&d->cv_take, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

void hf_dread_free(hf_dread *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->quit = 1;
	pthread_cond_signal(&d->cv_read);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	for (size_t i = 0; i < d->nbufs; i++)
		free(d->ring[i].p);
	free(d->ring);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv_read);
	pthread_cond_destroy(&d->cv_take);
	free(d);
}
