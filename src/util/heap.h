/* The process's memory allocator: which one it is, and handing back what it keeps.
 *
 * The daemon's release build links jemalloc (docs/architecture.md, Dependencies); builds with
 * the sanitizers keep glibc's malloc, which they intercept. */
#ifndef TOCSIN_HEAP_H
#define TOCSIN_HEAP_H

/* "jemalloc <version>" or "glibc" (static). */
const char *heap_allocator(void);
/* Gives the system back the free memory the allocator holds (glibc: malloc_trim; jemalloc:
 * every arena's dirty pages purged at once instead of decaying over 10 s). Walks the heap:
 * for a quiet moment, not between two busy commits. */
void heap_trim(void);

#endif
