/* How many bytes each socket has handed to recv() in this process.
 *
 * http.c guards against libwebsockets 4.1.6's endless loop on a request with a body pipelined
 * behind another one (see pipelined() there): it must know whether lws read from the socket
 * between the end of one request and the head of the next. It asked the kernel (TCP_INFO's
 * bytes received minus FIONREAD's queue, at both ends: four system calls per request, a quarter
 * of the network thread's CPU per single-alert POST on this VM, docs/performance.md). lws reads
 * its sockets with recv() through the dynamic linker, and a definition in the executable comes
 * before libc's in the linker's search (the mechanism an allocator such as jemalloc uses for
 * malloc): this recv() is libc's recvfrom() plus a relaxed atomic add to a per-descriptor count,
 * so the guard reads a counter instead.
 *
 * lws reads a plain socket with recv(); the listener has no TLS (a proxy in front terminates
 * it), and one with TLS would read through OpenSSL, with read(), which this does not count: it
 * would need its own count before it could use this one.
 *
 * Every caller in the process goes through it (libcurl too); the counts of other descriptors
 * are never read. A count only ever grows and is only compared with itself on one connection,
 * so a descriptor reused by a new connection needs no reset. When this recv() is not the one
 * the process resolves (rx_counting() false: a static or differently linked build), or a
 * descriptor is past RX_FDS, callers fall back to asking the kernel. */
#undef _FORTIFY_SOURCE /* glibc's fortified recv() is an inline definition of the same name */
#include "net/net_priv.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#define RX_FDS 65536 /* descriptors counted: 512 KiB of zeroed memory, resident as touched */

static _Atomic uint64_t rx_bytes[RX_FDS];
static atomic_int rx_state; /* 0 unknown, 1 counting, 2 not */

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);

    if (n > 0 && !(flags & MSG_PEEK) && fd >= 0 && fd < RX_FDS)
        atomic_fetch_add_explicit(&rx_bytes[fd], (uint64_t)n, memory_order_relaxed);
    return n;
}

bool rx_counting(void)
{
    int st = atomic_load_explicit(&rx_state, memory_order_relaxed);

    if (!st) {
        ssize_t (*resolved)(int, void *, size_t, int) = NULL;
        void *sym = dlsym(RTLD_DEFAULT, "recv");

        memcpy(&resolved, &sym, sizeof(resolved)); /* POSIX: dlsym's answer as a function */
        st = resolved == recv ? 1 : 2;
        atomic_store_explicit(&rx_state, st, memory_order_relaxed);
    }
    return st == 1;
}

void rx_count_use(bool on)
{
    atomic_store_explicit(&rx_state, on ? 0 : 2, memory_order_relaxed);
}

bool rx_count(int fd, int64_t *out)
{
    if (fd < 0 || fd >= RX_FDS || !rx_counting())
        return false;
    *out = (int64_t)atomic_load_explicit(&rx_bytes[fd], memory_order_relaxed);
    return true;
}
