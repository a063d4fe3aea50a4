#include "core/timer.h"

#include <stdlib.h>

#define LEVELS 4
#define BITS 8
#define SLOTS (1u << BITS)
#define WORDS (SLOTS / 64)
#define NONE UINT64_MAX /* "no deadline" in tick space: deadlines stop at INT64_MAX - 1 */

/* Values of timer.level besides the wheel levels 0..LEVELS-1. */
enum { IN_LATE = LEVELS, IN_OVER, IN_BATCH, IN_NONE };

/* Times inside the wheel are "ticks": ms mapped to uint64_t preserving order (INT64_MIN -> 0),
 * so that the level arithmetic is plain unsigned shifts.
 *
 * Invariants between calls (cur = wheel time, the first ms not yet fired):
 * - late: deadline < cur; fired first by the next advance.
 * - level L timers: same 256^(L+1)-ms block as cur, slot index > cur's index at that level
 *   (level 0: >=). During an advance a slot whose index equals cur's may wait to be cascaded.
 * - over: deadline in a later 2^32-ms block than cur (or cur's block, waiting to be sorted). */
struct timer_wheel {
    uint64_t cur;
    struct timer_link slots[LEVELS][SLOTS];
    uint64_t bits[LEVELS][WORDS]; /* bit set <=> slot list not empty */
    struct timer_link late;
    struct timer_link over;
    uint64_t late_min; /* lower bounds of the deadlines in late / over */
    uint64_t over_min;
    uint64_t seq;
    size_t count;
    bool busy; /* inside timer_wheel_advance() */
};

/* What advance does next: cascade a slot of level 1..3, sort the overflow list (IN_OVER) or
 * fire a level-0 slot, at tick `at`. */
struct event {
    uint64_t at;
    unsigned level;
    unsigned slot;
};

static uint64_t tick_of(int64_t ms)
{
    return (uint64_t)ms ^ (UINT64_C(1) << 63);
}

static int64_t ms_of(uint64_t tick)
{
    if (tick >= (UINT64_C(1) << 63))
        return (int64_t)(tick - (UINT64_C(1) << 63));
    return -(int64_t)((UINT64_C(1) << 63) - 1 - tick) - 1;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static struct timer *timer_of(struct timer_link *l)
{
    return (struct timer *)(void *)((char *)l - offsetof(struct timer, link));
}

static void list_init(struct timer_link *h)
{
    h->next = h->prev = h;
}

static bool list_empty(const struct timer_link *h)
{
    return h->next == h;
}

static void list_append(struct timer_link *h, struct timer_link *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static void list_unlink(struct timer_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

/* Moves every node of src to dst (empty before), leaving src empty. */
static void list_move(struct timer_link *dst, struct timer_link *src)
{
    list_init(dst);
    if (list_empty(src))
        return;
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    list_init(src);
}

static void bit_set(uint64_t *b, unsigned i)
{
    b[i / 64] |= UINT64_C(1) << (i % 64);
}

static void bit_clear(uint64_t *b, unsigned i)
{
    b[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* Index of the first set bit >= from, or SLOTS if none. */
static unsigned bit_next(const uint64_t *b, unsigned from)
{
    for (unsigned wi = from / 64; wi < WORDS; wi++) {
        uint64_t word = b[wi];
        if (wi == from / 64)
            word &= ~UINT64_C(0) << (from % 64);
        if (word)
            return wi * 64 + (unsigned)__builtin_ctzll(word);
    }
    return SLOTS;
}

static unsigned index_at(uint64_t tick, unsigned level)
{
    return (unsigned)(tick >> (BITS * level)) & (SLOTS - 1);
}

/* Links t where its deadline belongs relative to cur. O(1). */
static void place(struct timer_wheel *w, struct timer *t)
{
    uint64_t d = tick_of(t->deadline);

    if (d < w->cur) {
        w->late_min = list_empty(&w->late) ? d : min64(w->late_min, d);
        t->level = IN_LATE;
        list_append(&w->late, &t->link);
        return;
    }
    for (unsigned lv = 0; lv < LEVELS; lv++) {
        unsigned above = BITS * (lv + 1);
        if ((d >> above) == (w->cur >> above)) {
            unsigned slot = index_at(d, lv);
            t->level = (uint8_t)lv;
            t->slot = (uint8_t)slot;
            list_append(&w->slots[lv][slot], &t->link);
            bit_set(w->bits[lv], slot);
            return;
        }
    }
    w->over_min = list_empty(&w->over) ? d : min64(w->over_min, d);
    t->level = IN_OVER;
    list_append(&w->over, &t->link);
}

/* Unlinks an armed timer from whichever list holds it. O(1). */
static void detach(struct timer_wheel *w, struct timer *t)
{
    list_unlink(&t->link);
    if (t->level < LEVELS && list_empty(&w->slots[t->level][t->slot]))
        bit_clear(w->bits[t->level], t->slot);
    t->level = IN_NONE;
}

static bool before(const struct timer *a, const struct timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static struct timer_link *merge(struct timer_link *a, struct timer_link *b)
{
    struct timer_link head = {NULL, NULL}, *tail = &head;

    while (a && b) {
        if (before(timer_of(b), timer_of(a))) {
            tail->next = b;
            b = b->next;
        } else {
            tail->next = a;
            a = a->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

/* Merge sort of a NULL-terminated chain linked through next; depth log2(n). */
static struct timer_link *msort(struct timer_link *h)
{
    struct timer_link *slow = h, *fast, *second;

    if (!h || !h->next)
        return h;
    fast = h->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    second = slow->next;
    slow->next = NULL;
    return merge(msort(h), msort(second));
}

/* Sorts a list by (deadline, seq); usually already sorted, which costs one pass. */
static void list_sort(struct timer_link *list)
{
    struct timer_link *p, *first;
    bool sorted = true;

    for (p = list->next; p != list && p->next != list; p = p->next) {
        if (before(timer_of(p->next), timer_of(p))) {
            sorted = false;
            break;
        }
    }
    if (sorted)
        return;
    list->prev->next = NULL;
    first = msort(list->next);
    list_init(list);
    while (first) {
        p = first;
        first = first->next;
        list_append(list, p);
    }
}

/* Fires a detached, sorted batch one timer at a time; callbacks may cancel or re-arm members
 * of the batch, which unlinks them from it. */
static size_t run_batch(struct timer_wheel *w, struct timer_link *batch, void *ud)
{
    size_t n = 0;

    for (struct timer_link *p = batch->next; p != batch; p = p->next)
        timer_of(p)->level = IN_BATCH;
    list_sort(batch);
    while (!list_empty(batch)) {
        struct timer *t = timer_of(batch->next);
        list_unlink(&t->link);
        t->level = IN_NONE;
        w->count--;
        t->fn(t, ud);
        n++;
    }
    return n;
}

static size_t fire_late(struct timer_wheel *w, void *ud)
{
    struct timer_link batch;

    list_move(&batch, &w->late);
    w->late_min = NONE;
    return run_batch(w, &batch, ud);
}

/* Fires level-0 slot ev->slot, whose timers all have deadline ev->at. Wheel time moves past
 * it first, so a callback arming for ev->at (or earlier) lands in the late list. */
static size_t fire_slot(struct timer_wheel *w, const struct event *ev, void *ud)
{
    struct timer_link batch;

    w->cur = ev->at;
    list_move(&batch, &w->slots[0][ev->slot]);
    bit_clear(w->bits[0], ev->slot);
    w->cur = ev->at + 1;
    return run_batch(w, &batch, ud);
}

/* Moves the timers of a due slot of level >= 1, or of the overflow list, to where they belong
 * now that wheel time has reached ev->at. */
static void cascade(struct timer_wheel *w, const struct event *ev)
{
    struct timer_link moving;

    if (ev->at > w->cur)
        w->cur = ev->at;
    if (ev->level == IN_OVER) {
        list_move(&moving, &w->over);
        w->over_min = NONE;
    } else {
        list_move(&moving, &w->slots[ev->level][ev->slot]);
        bit_clear(w->bits[ev->level], ev->slot);
    }
    while (!list_empty(&moving)) {
        struct timer *t = timer_of(moving.next);
        list_unlink(&t->link);
        place(w, t);
    }
}

/* The earliest thing to do. At equal times, sorting the overflow comes first, then cascades
 * from the highest level down, then firing, so that every timer due at a time is in its
 * level-0 slot before that slot fires. */
static bool next_event(const struct timer_wheel *w, struct event *ev)
{
    bool found = false;

    if (!list_empty(&w->over)) {
        uint64_t at = w->over_min >> (BITS * LEVELS) << (BITS * LEVELS);
        *ev = (struct event){at > w->cur ? at : w->cur, IN_OVER, 0};
        found = true;
    }
    for (unsigned lv = LEVELS; lv-- > 0;) {
        unsigned shift = BITS * lv, slot = bit_next(w->bits[lv], index_at(w->cur, lv));
        uint64_t at;
        if (slot == SLOTS)
            continue;
        at = (w->cur >> (shift + BITS) << (shift + BITS)) | ((uint64_t)slot << shift);
        if (at < w->cur)
            at = w->cur; /* the slot of cur itself, waiting to be cascaded */
        if (!found || at < ev->at) {
            *ev = (struct event){at, lv, slot};
            found = true;
        }
    }
    return found;
}

struct timer_wheel *timer_wheel_new(int64_t now_ms)
{
    struct timer_wheel *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    for (unsigned lv = 0; lv < LEVELS; lv++) {
        for (unsigned s = 0; s < SLOTS; s++)
            list_init(&w->slots[lv][s]);
    }
    list_init(&w->late);
    list_init(&w->over);
    w->late_min = w->over_min = NONE;
    w->cur = tick_of(now_ms == INT64_MAX ? INT64_MAX - 1 : now_ms);
    return w;
}

static void disarm_all(struct timer_link *list)
{
    while (!list_empty(list)) {
        struct timer *t = timer_of(list->next);
        list_unlink(&t->link);
        t->level = IN_NONE;
    }
}

void timer_wheel_free(struct timer_wheel *w)
{
    if (!w)
        return;
    for (unsigned lv = 0; lv < LEVELS; lv++) {
        for (unsigned s = 0; s < SLOTS; s++)
            disarm_all(&w->slots[lv][s]);
    }
    disarm_all(&w->late);
    disarm_all(&w->over);
    free(w);
}

void timer_init(struct timer *t, timer_fn fn)
{
    t->link.next = t->link.prev = NULL;
    t->deadline = 0;
    t->seq = 0;
    t->fn = fn;
    t->level = IN_NONE;
    t->slot = 0;
}

void timer_arm(struct timer_wheel *w, struct timer *t, int64_t deadline_ms)
{
    if (t->link.next)
        detach(w, t);
    else
        w->count++;
    t->deadline = deadline_ms == INT64_MAX ? INT64_MAX - 1 : deadline_ms;
    t->seq = w->seq++;
    place(w, t);
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
    if (!t->link.next)
        return;
    detach(w, t);
    w->count--;
}

bool timer_armed(const struct timer *t)
{
    return t->link.next != NULL;
}

size_t timer_wheel_advance(struct timer_wheel *w, int64_t now_ms, void *ud)
{
    struct event ev;
    uint64_t now;
    size_t n;

    if (w->busy)
        return 0;
    w->busy = true;
    now = tick_of(now_ms == INT64_MAX ? INT64_MAX - 1 : now_ms);
    n = fire_late(w, ud);
    while (next_event(w, &ev) && ev.at <= now) {
        if (ev.level == 0)
            n += fire_slot(w, &ev, ud);
        else
            cascade(w, &ev);
    }
    if (now + 1 > w->cur)
        w->cur = now + 1;
    /* Leave no slot of cur's own index waiting, so that between advances the levels hold
     * strictly later deadlines than the levels below them. */
    while (next_event(w, &ev) && ev.level != 0 && ev.at <= w->cur)
        cascade(w, &ev);
    w->busy = false;
    return n;
}

int64_t timer_wheel_next(const struct timer_wheel *w)
{
    uint64_t best = list_empty(&w->late) ? NONE : w->late_min;

    for (unsigned lv = 0; lv < LEVELS; lv++) {
        unsigned shift = BITS * lv, slot = bit_next(w->bits[lv], index_at(w->cur, lv));
        uint64_t at;
        if (slot == SLOTS)
            continue;
        at = (w->cur >> (shift + BITS) << (shift + BITS)) | ((uint64_t)slot << shift);
        best = min64(best, at > w->cur ? at : w->cur);
    }
    if (!list_empty(&w->over))
        best = min64(best, w->over_min > w->cur ? w->over_min : w->cur);
    return best == NONE ? INT64_MAX : ms_of(best);
}

size_t timer_wheel_count(const struct timer_wheel *w)
{
    return w->count;
}
