/* Queue between the walking and the reading thread of a directory backup, with read-ahead (readq.h). */
#define _GNU_SOURCE /* O_NOATIME */
#include "source/files/readq.h"
#include "util/error.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD_BYTES (4 << 20) /* read ahead at most the first 4 MiB of a file */
/* Threads are woken in batches, not per item: handing over 30,000 unchanged files one at a time cost
 * 42,000 context switches in a second backup (6,500 before the walk had its own thread). */
#define WAKE_ITEMS 64

struct hf_readq {
	pthread_mutex_t mu;
	pthread_cond_t cv_items, cv_space, cv_ahead;
	hf_readq_item *head, *tail;
	hf_readq_item *pf; /* next item the read-ahead thread looks at (NULL: none yet) */
	size_t n, ahead;
	size_t bytes, max_bytes; /* memory held by queued items */
	uint64_t next_seq, taken; /* items queued; items taken by the reading thread */
	int closed, aborted, stop;
	int r_waiting, w_waiting, a_waiting; /* the reading, walking, read-ahead thread waits */
	int rc;
	char msg[1024];
	pthread_t thread;
	int have_thread;
};

static void read_ahead(const char *path, off_t size)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)posix_fadvise(fd, 0, size < HEAD_BYTES ? size : HEAD_BYTES, POSIX_FADV_WILLNEED);
	close(fd);
}

/* Wake the read-ahead thread when a batch of work is there for it (under mu). */
static void wake_ahead(hf_readq *q)
{
	uint64_t end = q->taken + q->ahead < q->next_seq ? q->taken + q->ahead : q->next_seq;
	if (q->a_waiting && q->pf && end > q->pf->seq && (end - q->pf->seq >= WAKE_ITEMS / 4 || q->closed))
		pthread_cond_signal(&q->cv_ahead);
}

/* Follows the queue at most `ahead` items past the reading thread. Items are only looked at under the
 * lock and while still queued (the reading thread moves pf past the item it takes). */
static void *ahead_main(void *arg)
{
	hf_readq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		char *path;
		off_t size;
		while (!q->stop && (!q->pf || q->pf->seq >= q->taken + q->ahead)) {
			q->a_waiting = 1;
			pthread_cond_wait(&q->cv_ahead, &q->mu);
			q->a_waiting = 0;
		}
		if (q->stop)
			break;
		if (!q->pf->readahead || q->pf->st.st_size == 0) {
			q->pf = q->pf->next;
			continue;
		}
		path = strdup(q->pf->path);
		size = q->pf->st.st_size;
		q->pf = q->pf->next;
		pthread_mutex_unlock(&q->mu);
		if (path)
			read_ahead(path, size);
		free(path);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

hf_readq *hf_readq_new(size_t max_bytes, size_t ahead)
{
	hf_readq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv_items, NULL);
	pthread_cond_init(&q->cv_space, NULL);
	pthread_cond_init(&q->cv_ahead, NULL);
	q->max_bytes = max_bytes;
	q->ahead = ahead;
	/* without the read-ahead thread the backup is slower, not wrong */
	q->have_thread = ahead > 0 && pthread_create(&q->thread, NULL, ahead_main, q) == 0;
	return q;
}

void hf_readq_item_free(hf_readq_item *it)
{
	if (!it)
		return;
	free(it->path);
	free(it->target);
	free(it);
}

int hf_readq_put(hf_readq *q, hf_readq_item *it)
{
	pthread_mutex_lock(&q->mu);
	size_t cost = sizeof(*it) + strlen(it->path) + 1 + (it->target ? strlen(it->target) + 1 : 0);
	while (q->n > 0 && q->bytes + cost > q->max_bytes && !q->aborted) {
		if (q->r_waiting) /* never both wait */
			pthread_cond_signal(&q->cv_items);
		q->w_waiting = 1;
		pthread_cond_wait(&q->cv_space, &q->mu);
		q->w_waiting = 0;
	}
	if (q->aborted) {
		pthread_mutex_unlock(&q->mu);
		hf_readq_item_free(it);
		return -1;
	}
	it->next = NULL;
	it->seq = q->next_seq++;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
	q->bytes += cost;
	it->cost = cost;
	if (!q->pf)
		q->pf = it;
	if (q->r_waiting && q->n >= WAKE_ITEMS)
		pthread_cond_signal(&q->cv_items);
	wake_ahead(q);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void hf_readq_flush(hf_readq *q)
{
	pthread_mutex_lock(&q->mu);
	if (q->r_waiting && q->n > 0)
		pthread_cond_signal(&q->cv_items);
	pthread_mutex_unlock(&q->mu);
}

void hf_readq_close(hf_readq *q, int rc, const char *msg)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	q->rc = rc;
	if (rc < 0)
		snprintf(q->msg, sizeof(q->msg), "%s", msg ? msg : "directory walk failed");
	pthread_cond_signal(&q->cv_items);
	wake_ahead(q);
	pthread_mutex_unlock(&q->mu);
}

hf_readq_item *hf_readq_get(hf_readq *q, int *rc)
{
	hf_readq_item *it;
	*rc = 0;
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->closed) {
		q->r_waiting = 1;
		pthread_cond_wait(&q->cv_items, &q->mu);
		q->r_waiting = 0;
	}
	/* a failed walk stops the backup at once: what is still queued is not read */
	if (q->closed && q->rc < 0) {
		*rc = hf_error_set(q->rc, "%s", q->msg);
		pthread_mutex_unlock(&q->mu);
		return NULL;
	}
	if ((it = q->head)) {
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		if (q->pf == it)
			q->pf = it->next;
		q->n--;
		q->bytes -= it->cost;
		q->taken++;
		if (q->w_waiting && (q->bytes <= q->max_bytes / 2 || q->n == 0))
			pthread_cond_signal(&q->cv_space);
		wake_ahead(q);
	}
	pthread_mutex_unlock(&q->mu);
	return it;
}

void hf_readq_abort(hf_readq *q)
{
	pthread_mutex_lock(&q->mu);
	q->aborted = 1;
	pthread_cond_broadcast(&q->cv_space);
	pthread_mutex_unlock(&q->mu);
}

void hf_readq_free(hf_readq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->cv_ahead);
	pthread_mutex_unlock(&q->mu);
	if (q->have_thread)
		pthread_join(q->thread, NULL);
	while (q->head) {
		hf_readq_item *it = q->head;
		q->head = it->next;
		hf_readq_item_free(it);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv_items);
	pthread_cond_destroy(&q->cv_space);
	pthread_cond_destroy(&q->cv_ahead);
	free(q);
}
