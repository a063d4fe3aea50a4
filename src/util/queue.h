/* A bounded multi-producer queue of pointers between threads, drained in batches.
 * A full queue is back-pressure: queue_push() fails with TOCSIN_EFULL (callers answer 429/503 or
 * pause reading), queue_push_wait() blocks until there is room or the queue is closed.
 * The queue never owns the items; whoever pops one owns it. */
#ifndef TOCSIN_QUEUE_H
#define TOCSIN_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    pthread_cond_t nonfull;
    void **items; /* ring of `cap` slots */
    size_t cap, head, len;
    bool closed;
    /* Called (outside the lock) after a push that made the queue non-empty, e.g.
     * curl_multi_wakeup for the notifier: a consumer that empties the queue at each wake-up
     * (and looks again whenever it runs) misses nothing, and a burst of pushes costs one wake. */
    void (*wake)(void *ud);
    void *wake_ud;
};

int queue_init(struct queue *q, size_t cap);
void queue_destroy(struct queue *q); /* items still queued are not freed */
void queue_set_wake(struct queue *q, void (*wake)(void *), void *ud);

int queue_push(struct queue *q, void *item);      /* TOCSIN_EFULL / TOCSIN_ESHUTDOWN */
int queue_push_wait(struct queue *q, void *item); /* blocks while full; TOCSIN_ESHUTDOWN */
/* Moves up to `max` items into `out`, oldest first. Waits up to `timeout_ms` for the first one
 * (-1: forever, 0: don't wait). Returns the count; 0 on timeout or when closed and empty. */
size_t queue_pop_batch(struct queue *q, void **out, size_t max, int64_t timeout_ms);
void queue_close(struct queue *q); /* wakes every waiter; pushes fail from now on */
bool queue_is_closed(struct queue *q);
size_t queue_len(struct queue *q);

#endif
