#include "util/id.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

/* Random bytes are taken from the kernel a pool at a time, per thread: one getrandom call per
 * ID_POOL / 16 ids instead of one per id, which was 3.5 % of the engine thread's samples and a
 * kernel entry per new alert under single-alert POSTs. The call is made here: libsodium's
 * randombytes_buf asks for 256 bytes a call, 16 calls a pool. Ids are names, not secrets; keys
 * and tokens still draw their bytes through libsodium. The daemon does not fork, so no two
 * processes share a pool. */
#define ID_POOL 4096

static _Thread_local uint8_t pool[ID_POOL];
static _Thread_local size_t pool_used = ID_POOL;

static void refill(void)
{
    size_t got = 0;

    while (got < sizeof(pool)) { /* past 256 bytes a signal may cut a call short */
        ssize_t n = getrandom(pool + got, sizeof(pool) - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (errno != EINTR) {
            randombytes_buf(pool + got, sizeof(pool) - got); /* no getrandom: libsodium's way */
            break;
        }
    }
    pool_used = 0;
}

void id_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *b;
    int o = 0;

    if (pool_used + 16 > ID_POOL)
        refill();
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
