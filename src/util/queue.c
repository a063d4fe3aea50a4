#include "util/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "util/err.h"

int queue_init(struct queue *q, size_t cap)
{
    pthread_condattr_t ca;

    q->items = calloc(cap ? cap : 1, sizeof(void *));
    if (!q->items)
        return TOCSIN_ENOMEM;
    q->cap = cap ? cap : 1;
    q->head = q->len = 0;
    q->closed = false;
    q->wake = NULL;
    q->wake_ud = NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &ca);
    pthread_cond_init(&q->nonfull, &ca);
    pthread_condattr_destroy(&ca);
    return TOCSIN_OK;
}

void queue_destroy(struct queue *q)
{
    if (!q->items)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->nonfull);
    free(q->items);
    q->items = NULL;
}

void queue_set_wake(struct queue *q, void (*wake)(void *), void *ud)
{
    pthread_mutex_lock(&q->mu);
    q->wake = wake;
    q->wake_ud = ud;
    pthread_mutex_unlock(&q->mu);
}

static int push(struct queue *q, void *item, bool wait)
{
    void (*wake)(void *);
    void *ud;

    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->len == q->cap && wait)
        pthread_cond_wait(&q->nonfull, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return TOCSIN_ESHUTDOWN;
    }
    if (q->len == q->cap) {
        pthread_mutex_unlock(&q->mu);
        return TOCSIN_EFULL;
    }
    q->items[(q->head + q->len) % q->cap] = item;
    wake = q->len++ == 0 ? q->wake : NULL;
    ud = q->wake_ud;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
    if (wake)
        wake(ud);
    return TOCSIN_OK;
}

int queue_push(struct queue *q, void *item)
{
    return push(q, item, false);
}

int queue_push_wait(struct queue *q, void *item)
{
    return push(q, item, true);
}

size_t queue_pop_batch(struct queue *q, void **out, size_t max, int64_t timeout_ms)
{
    size_t n = 0;

    pthread_mutex_lock(&q->mu);
    if (q->len == 0 && !q->closed && timeout_ms != 0) {
        if (timeout_ms < 0) {
            while (q->len == 0 && !q->closed)
                pthread_cond_wait(&q->nonempty, &q->mu);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += timeout_ms / 1000;
            ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            while (q->len == 0 && !q->closed)
                if (pthread_cond_timedwait(&q->nonempty, &q->mu, &ts) == ETIMEDOUT)
                    break;
        }
    }
    while (n < max && q->len > 0) {
        out[n++] = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    if (n)
        pthread_cond_broadcast(&q->nonfull);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_cond_broadcast(&q->nonfull);
    pthread_mutex_unlock(&q->mu);
}

bool queue_is_closed(struct queue *q)
{
    bool c;
    pthread_mutex_lock(&q->mu);
    c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

size_t queue_len(struct queue *q)
{
    size_t n;
    pthread_mutex_lock(&q->mu);
    n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
