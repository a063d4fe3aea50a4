/* libFuzzer harness for util/config: the YAML configuration loader (libfyaml underneath).
 *
 * config_load_file() takes a path, so the input is written to an anonymous memory file
 * (memfd_create) and loaded through /proc/self/fd/N: nothing touches the disk, and the file is
 * gone when it is closed at the end of the run.
 *
 * Checks, besides the sanitizers:
 *  - a failed load leaves a NUL-terminated "file:line: message" error, and whatever it loaded
 *    before failing is freed by config_free();
 *  - an accepted file goes through config_validate() and config_reload_check() both ways against
 *    the defaults (their results are free; they just must not misbehave);
 *  - round trip: config_write() of the loaded configuration must load back (config.h: "without
 *    auth.users the output loads back ... to the same configuration"), and writing that gives the
 *    same text. Users are set aside for the round trip, as the promise excludes them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memfd_create, open_memstream */
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/config.h"
#include "util/err.h"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz_config: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* A memory file holding `len` bytes of `text`, and its path; returns the fd (caller closes). */
static int mem_file(const void *text, size_t len, char *path, size_t pathlen)
{
    int fd = memfd_create("tocsin-fuzz-config", MFD_CLOEXEC);
    const char *p = text;

    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            perror("write");
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

/* Loads `len` bytes of YAML over the defaults into cfg; the error goes to err. */
static int load(struct config *cfg, const void *text, size_t len, char *err, size_t errlen)
{
    char path[64];
    int fd = mem_file(text, len, path, sizeof(path)), rc;

    config_defaults(cfg);
    memset(err, 0x55, errlen);
    rc = config_load_file(cfg, path, err, errlen);
    close(fd);
    if (rc != TOCSIN_OK) {
        if (!memchr(err, '\0', errlen))
            fail("config_load_file rc %d: error not NUL-terminated", rc);
        if (strncmp(err, path, strlen(path)) != 0 && strncmp(err, "/proc/", 6) != 0)
            fail("config_load_file rc %d: error does not name the file: '%s'", rc, err);
    }
    return rc;
}

/* config_write() into a malloc'd string (caller frees); *len is its length. */
static char *write_text(const struct config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (!f)
        abort();
    config_write(cfg, f);
    if (fclose(f) != 0 || !text)
        abort();
    return text;
}

static void round_trip(struct config *cfg)
{
    struct config_user *users = cfg->users;
    size_t nusers = cfg->nusers, len, len2;
    struct config again;
    char err[512], *text, *text2;
    int rc;

    cfg->users = NULL;
    cfg->nusers = 0;
    text = write_text(cfg, &len);
    cfg->users = users;
    cfg->nusers = nusers;

    rc = load(&again, text, len, err, sizeof(err));
    if (rc != TOCSIN_OK)
        fail("config_write output does not load back: rc %d: %s\n--- written:\n%s", rc, err, text);
    text2 = write_text(&again, &len2);
    if (len != len2 || memcmp(text, text2, len) != 0)
        fail("config_write output is not a fixed point\n--- first:\n%s\n--- second:\n%s", text,
             text2);
    free(text2);
    free(text);
    config_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg, defaults;
    char err[512];

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    if (load(&cfg, data, size, err, sizeof(err)) == TOCSIN_OK) {
        config_defaults(&defaults);
        memset(err, 0x55, sizeof(err));
        if (config_validate(&cfg, err, sizeof(err)) != TOCSIN_OK && !memchr(err, '\0', sizeof(err)))
            fail("config_validate: error not NUL-terminated");
        memset(err, 0x55, sizeof(err));
        if (config_reload_check(&defaults, &cfg, err, sizeof(err)) != TOCSIN_OK &&
            !memchr(err, '\0', sizeof(err)))
            fail("config_reload_check: error not NUL-terminated");
        memset(err, 0x55, sizeof(err));
        if (config_reload_check(&cfg, &defaults, err, sizeof(err)) != TOCSIN_OK &&
            !memchr(err, '\0', sizeof(err)))
            fail("config_reload_check: error not NUL-terminated");
        round_trip(&cfg);
        config_free(&defaults);
    }
    config_free(&cfg);
    return 0;
}
