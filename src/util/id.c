#include "util/id.h"

#include <sodium.h>
#include <stdint.h>

/* Random bytes are taken from the kernel (libsodium's randombytes_buf: one getrandom call) a
 * pool at a time, per thread: one system call per ID_POOL / 16 ids instead of one per id, which
 * was 3.5 % of the engine thread's samples and a kernel entry per new alert under single-alert
 * POSTs. Ids are names, not secrets; keys and tokens still draw their bytes directly. The
 * daemon does not fork, so no two processes share a pool. */
#define ID_POOL 4096

static _Thread_local uint8_t pool[ID_POOL];
static _Thread_local size_t pool_used = ID_POOL;

void id_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *b;
    int o = 0;

    if (pool_used + 16 > ID_POOL) {
        randombytes_buf(pool, sizeof(pool));
        pool_used = 0;
    }
    b = pool + pool_used;
    pool_used += 16;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}
