#ifndef TOCSIN_ID_H
#define TOCSIN_ID_H

/* A random (v4) UUID, lower-case, NUL-terminated in out[36]: bytes of the kernel's CSPRNG (through
 * libsodium), drawn a pool at a time per thread. */
void id_uuid4(char out[37]);

#endif
