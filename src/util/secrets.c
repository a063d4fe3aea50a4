#include "util/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_MAX (NONCE_BYTES + SECRETS_VALUE_MAX + TAG_BYTES)
#define WHERE_MAX (SECRETS_PATH_MAX + 64) /* a path with its indices, for messages */

struct secrets {
    uint8_t key[SECRETS_KEY_BYTES];
};

_Static_assert(SECRETS_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

/* ---- small helpers ------------------------------------------------------------------- */

bool secrets_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la != lb)
        return false;
    return la == 0 || sodium_memcmp(a, b, la) == 0;
}

bool secrets_sensitive_header(const char *name)
{
    static const char *const words[] = {"auth",      "token",      "secret",  "passw", "key",
                                        "signature", "credential", "session", "cookie"};

    if (!name || !strcasecmp(name, "Idempotency-Key"))
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasestr(name, words[i]))
            return true;
    return false;
}

bool secrets_is_sealed(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, SECRETS_MARK));
}

/* Wipes the bytes of a string that only its parent holds, before it is replaced. jansson
 * frees strings without wiping them; this is the one copy we can reach. */
static void wipe_string(json_t *v)
{
    if (json_is_string(v) && v->refcount == 1)
        sodium_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

static bool is_mask(const json_t *v)
{
    return json_is_string(v) && secrets_streq(json_string_value(v), SECRETS_MASK);
}

/* ---- key paths ----------------------------------------------------------------------- */

struct kpath {
    char buf[SECRETS_PATH_MAX + 1];
    const char *names[SECRETS_PATH_DEPTH];
    bool all[SECRETS_PATH_DEPTH]; /* the segment ended in "[*]" */
    size_t n;
    bool name_rule; /* ends in "[*].value" */
};

static int parse_path(const char *path, struct kpath *p, char *err, size_t errlen)
{
    size_t len = strnlen(path, SECRETS_PATH_MAX + 1);
    char *seg, *dot;

    memset(p, 0, sizeof(*p));
    if (len == 0 || len > SECRETS_PATH_MAX) {
        tocsin_seterr(err, errlen, "secret key path empty or longer than %d bytes",
                      SECRETS_PATH_MAX);
        return TOCSIN_EINVAL;
    }
    memcpy(p->buf, path, len);
    for (seg = p->buf;; seg = dot + 1) {
        size_t sl;

        dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        sl = strlen(seg);
        if (sl >= 3 && !strcmp(seg + sl - 3, "[*]")) {
            seg[sl - 3] = '\0';
            sl -= 3;
            p->all[p->n] = true;
        }
        if (sl == 0 || strpbrk(seg, "[]*") || p->n == SECRETS_PATH_DEPTH) {
            tocsin_seterr(err, errlen, "secret key path \"%s\": bad segment or more than %d", path,
                          SECRETS_PATH_DEPTH);
            return TOCSIN_EINVAL;
        }
        p->names[p->n++] = seg;
        if (!dot)
            break;
    }
    p->name_rule =
        p->n >= 2 && p->all[p->n - 2] && !p->all[p->n - 1] && !strcmp(p->names[p->n - 1], "value");
    return TOCSIN_OK;
}

/* A place holding a secret: an object member or an array element. */
struct slot {
    json_t *container;
    const char *key; /* NULL: an array element */
    size_t index;
};

static int slot_set(const struct slot *s, json_t *v)
{
    if (!v)
        return TOCSIN_ENOMEM;
    if (s->key)
        return json_object_set_new(s->container, s->key, v) ? TOCSIN_ENOMEM : TOCSIN_OK;
    return json_array_set_new(s->container, s->index, v) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* The name/value rule: an element whose "name" is not a sensitive header holds no secret. */
static bool element_skipped(const struct kpath *p, size_t i, const json_t *e)
{
    const json_t *name;

    if (!p->name_rule || i != p->n - 2 || !json_is_object(e))
        return false;
    name = json_object_get(e, "name");
    return json_is_string(name) && !secrets_sensitive_header(json_string_value(name));
}

struct walk {
    const struct kpath *p;
    char where[WHERE_MAX];
    int (*visit)(struct walk *w, const struct slot *s, json_t *v);
    const struct secrets *s; /* for seal and open */
    const char *id;
    char *err;
    size_t errlen;
};

static size_t where_push(struct walk *w, const char *name, size_t idx)
{
    size_t at = strlen(w->where);

    if (name)
        snprintf(w->where + at, sizeof(w->where) - at, "%s%s", at ? "." : "", name);
    else
        snprintf(w->where + at, sizeof(w->where) - at, "[%zu]", idx);
    return at;
}

static int walk(struct walk *w, json_t *node, size_t i)
{
    const char *name = w->p->names[i];
    bool last = i + 1 == w->p->n;
    json_t *v = json_is_object(node) ? json_object_get(node, name) : NULL;
    size_t at;
    int rc = TOCSIN_OK;

    if (!v || json_is_null(v))
        return TOCSIN_OK; /* an optional secret that is not there */
    at = where_push(w, name, 0);
    if (!w->p->all[i]) {
        struct slot sl = {node, name, 0};
        rc = last ? w->visit(w, &sl, v) : walk(w, v, i + 1);
    } else if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v) && rc == TOCSIN_OK; k++) {
            json_t *e = json_array_get(v, k);
            size_t at2;
            struct slot sl = {v, NULL, k};

            if (json_is_null(e) || element_skipped(w->p, i, e))
                continue;
            at2 = where_push(w, NULL, k);
            rc = last ? w->visit(w, &sl, e) : walk(w, e, i + 1);
            w->where[at2] = '\0';
        }
    }
    w->where[at] = '\0';
    return rc;
}

static int walk_all(struct walk *w, json_t *config, const char *const *keys)
{
    struct kpath p;
    int rc;

    for (size_t k = 0; keys && keys[k]; k++) {
        if ((rc = parse_path(keys[k], &p, w->err, w->errlen)))
            return rc;
        w->p = &p;
        w->where[0] = '\0';
        if ((rc = walk(w, config, 0)))
            return rc;
    }
    return TOCSIN_OK;
}

/* ---- sealing ------------------------------------------------------------------------- */

/* Opens a sealed value into a new plaintext buffer (*out, *outlen; caller wipes and frees). */
static int open_value(struct walk *w, const json_t *sealed, unsigned char **out,
                      unsigned long long *outlen)
{
    const char *b64 = json_string_value(json_object_get(sealed, SECRETS_MARK));
    size_t b64len = strlen(b64), binlen = 0;
    unsigned char *bin = NULL, *plain = NULL;
    int rc = TOCSIN_OK;

    *out = NULL;
    if (b64len > sodium_base64_ENCODED_LEN(SEALED_MAX, sodium_base64_VARIANT_ORIGINAL)) {
        tocsin_seterr(w->err, w->errlen, "%s: sealed value too long", w->where);
        return TOCSIN_EINVAL;
    }
    if (!(bin = malloc(b64len + 1)) || !(plain = malloc(b64len + 1))) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    if (sodium_base642bin(bin, b64len + 1, b64, b64len, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        binlen < NONCE_BYTES + TAG_BYTES) {
        tocsin_seterr(w->err, w->errlen, "%s: sealed value is not base64 of nonce and ciphertext",
                      w->where);
        rc = TOCSIN_EINVAL;
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, outlen, NULL, bin + NONCE_BYTES, binlen - NONCE_BYTES,
            (const unsigned char *)w->id, strlen(w->id), bin, w->s->key) != 0) {
        tocsin_seterr(w->err, w->errlen,
                      "%s: does not decrypt: wrong secrets key, sealed for another id, or damaged",
                      w->where);
        rc = TOCSIN_EINVAL;
        goto out;
    }
    *out = plain;
    plain = NULL;
out:
    if (plain) {
        sodium_memzero(plain, b64len + 1);
        free(plain);
    }
    free(bin);
    return rc;
}

static int visit_seal(struct walk *w, const struct slot *sl, json_t *v)
{
    unsigned char *buf = NULL, *plain = NULL, nonce[NONCE_BYTES];
    unsigned long long clen = 0, plen = 0;
    size_t len, b64len;
    char *b64 = NULL;
    int rc = TOCSIN_OK;

    if (secrets_is_sealed(v)) { /* stored before: keep it if it is ours */
        if ((rc = open_value(w, v, &plain, &plen)) == TOCSIN_OK) {
            sodium_memzero(plain, (size_t)plen);
            free(plain);
        }
        return rc;
    }
    if (!json_is_string(v) || is_mask(v)) {
        tocsin_seterr(w->err, w->errlen, "%s: %s", w->where,
                      json_is_string(v) ? "the mask stands for a stored secret: merge it first"
                                        : "a secret must be a string");
        return TOCSIN_EINVAL;
    }
    len = json_string_length(v);
    if (len > SECRETS_VALUE_MAX) {
        tocsin_seterr(w->err, w->errlen, "%s: longer than %d bytes", w->where, SECRETS_VALUE_MAX);
        return TOCSIN_EINVAL;
    }
    b64len =
        sodium_base64_ENCODED_LEN(NONCE_BYTES + len + TAG_BYTES, sodium_base64_VARIANT_ORIGINAL);
    if (!(buf = malloc(NONCE_BYTES + len + TAG_BYTES)) || !(b64 = malloc(b64len))) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    randombytes_buf(nonce, sizeof(nonce));
    memcpy(buf, nonce, sizeof(nonce));
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        buf + NONCE_BYTES, &clen, (const unsigned char *)json_string_value(v), len,
        (const unsigned char *)w->id, strlen(w->id), NULL, nonce, w->s->key);
    sodium_bin2base64(b64, b64len, buf, NONCE_BYTES + (size_t)clen, sodium_base64_VARIANT_ORIGINAL);
    wipe_string(v);
    rc = slot_set(sl, json_pack("{s:s}", SECRETS_MARK, b64));
out:
    free(buf);
    free(b64);
    return rc;
}

static int visit_open(struct walk *w, const struct slot *sl, json_t *v)
{
    unsigned char *plain = NULL;
    unsigned long long plen = 0;
    json_t *str;
    int rc;

    if (json_is_string(v))
        return TOCSIN_OK; /* written in plain by hand */
    if (!secrets_is_sealed(v)) {
        tocsin_seterr(w->err, w->errlen, "%s: neither a string nor a sealed value", w->where);
        return TOCSIN_EINVAL;
    }
    if ((rc = open_value(w, v, &plain, &plen)))
        return rc;
    str = json_stringn((const char *)plain, (size_t)plen);
    sodium_memzero(plain, (size_t)plen);
    free(plain);
    if (!str) {
        tocsin_seterr(w->err, w->errlen, "%s: decrypted value is not UTF-8", w->where);
        return TOCSIN_EINVAL;
    }
    return slot_set(sl, str);
}

static int visit_mask(struct walk *w, const struct slot *sl, json_t *v)
{
    (void)w;
    wipe_string(v);
    return slot_set(sl, json_string(SECRETS_MASK));
}

static bool good_id(const char *id, char *err, size_t errlen)
{
    size_t len = id ? strnlen(id, SECRETS_ID_MAX + 1) : 0;

    if (len == 0 || len > SECRETS_ID_MAX) {
        tocsin_seterr(err, errlen, "secrets: id empty or longer than %d bytes", SECRETS_ID_MAX);
        return false;
    }
    return true;
}

int secrets_seal(const struct secrets *s, const char *id, json_t *config,
                 const char *const *secret_keys, char *err, size_t errlen)
{
    struct walk w = {.visit = visit_seal, .s = s, .id = id, .err = err, .errlen = errlen};

    if (!good_id(id, err, errlen))
        return TOCSIN_EINVAL;
    return walk_all(&w, config, secret_keys);
}

int secrets_open_json(const struct secrets *s, const char *id, json_t *config,
                      const char *const *secret_keys, char *err, size_t errlen)
{
    struct walk w = {.visit = visit_open, .s = s, .id = id, .err = err, .errlen = errlen};

    if (!good_id(id, err, errlen))
        return TOCSIN_EINVAL;
    return walk_all(&w, config, secret_keys);
}

void secrets_mask(json_t *config, const char *const *secret_keys)
{
    struct walk w = {.visit = visit_mask};

    /* A bad path is a programming error in a channel's table: mask nothing for it but go on
     * with the others (masking is best effort and must not fail an answer). */
    for (size_t k = 0; secret_keys && secret_keys[k]; k++) {
        const char *one[2] = {secret_keys[k], NULL};
        walk_all(&w, config, one);
    }
}

/* ---- merging masked values ----------------------------------------------------------- */

struct merge {
    const struct kpath *p;
    char where[WHERE_MAX];
    char *err;
    size_t errlen;
};

/* The element of old array `ov` matching new element `ne`: the one with the same "name"
 * (case-insensitively) when `ne` has one, else the one at the same index. */
static const json_t *old_element(const json_t *ov, const json_t *ne, size_t k)
{
    const json_t *name = json_is_object(ne) ? json_object_get(ne, "name") : NULL;

    if (!json_is_array(ov))
        return NULL;
    if (!json_is_string(name))
        return json_array_get(ov, k);
    for (size_t j = 0; j < json_array_size(ov); j++) {
        const json_t *on = json_object_get(json_array_get(ov, j), "name");
        if (json_is_string(on) && !strcasecmp(json_string_value(on), json_string_value(name)))
            return json_array_get(ov, j);
    }
    return NULL;
}

static int keep_old(struct merge *m, const struct slot *sl, const json_t *old)
{
    if (!old || json_is_null(old) || is_mask(old)) {
        tocsin_seterr(m->err, m->errlen, "%s: \"%s\" but no stored secret to keep", m->where,
                      SECRETS_MASK);
        return TOCSIN_EINVAL;
    }
    return slot_set(sl, json_deep_copy(old));
}

static int merge_walk(struct merge *m, json_t *node, const json_t *old, size_t i)
{
    const char *name = m->p->names[i];
    bool last = i + 1 == m->p->n;
    json_t *v = json_is_object(node) ? json_object_get(node, name) : NULL;
    const json_t *ov = json_is_object(old) ? json_object_get(old, name) : NULL;
    size_t at = strlen(m->where);
    int rc = TOCSIN_OK;

    if (!v || json_is_null(v))
        return TOCSIN_OK;
    snprintf(m->where + at, sizeof(m->where) - at, "%s%s", at ? "." : "", name);
    if (!m->p->all[i]) {
        struct slot sl = {node, name, 0};
        if (last)
            rc = is_mask(v) ? keep_old(m, &sl, ov) : TOCSIN_OK;
        else
            rc = merge_walk(m, v, ov, i + 1);
    } else if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v) && rc == TOCSIN_OK; k++) {
            json_t *e = json_array_get(v, k);
            const json_t *oe = old_element(ov, e, k);
            size_t at2 = strlen(m->where);
            struct slot sl = {v, NULL, k};

            if (json_is_null(e) || element_skipped(m->p, i, e))
                continue;
            snprintf(m->where + at2, sizeof(m->where) - at2, "[%zu]", k);
            if (last)
                rc = is_mask(e) ? keep_old(m, &sl, oe) : TOCSIN_OK;
            else
                rc = merge_walk(m, e, oe, i + 1);
            m->where[at2] = '\0';
        }
    }
    m->where[at] = '\0';
    return rc;
}

int secrets_merge_masked(json_t *new_config, const json_t *old_config,
                         const char *const *secret_keys, char *err, size_t errlen)
{
    struct merge m = {.err = err, .errlen = errlen};
    struct kpath p;
    int rc;

    for (size_t k = 0; secret_keys && secret_keys[k]; k++) {
        if ((rc = parse_path(secret_keys[k], &p, err, errlen)))
            return rc;
        m.p = &p;
        m.where[0] = '\0';
        if ((rc = merge_walk(&m, new_config, old_config, 0)))
            return rc;
    }
    return TOCSIN_OK;
}

/* ---- the key and key files ----------------------------------------------------------- */

struct secrets *secrets_new(const uint8_t key[SECRETS_KEY_BYTES])
{
    struct secrets *s;

    if (sodium_init() < 0 || !(s = sodium_malloc(sizeof(*s))))
        return NULL;
    memcpy(s->key, key, SECRETS_KEY_BYTES);
    return s;
}

void secrets_free(struct secrets *s)
{
    if (s)
        sodium_free(s); /* wipes */
}

int secrets_load(const char *data_dir, struct secrets **out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    uint8_t key[SECRETS_KEY_BYTES];
    int rc;

    *out = NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, SECRETS_KEY_FILE) >= sizeof(path)) {
        tocsin_seterr(err, errlen, "%s: data directory path too long", data_dir);
        return TOCSIN_EINVAL;
    }
    if ((rc = secrets_keyfile_load(path, KEYFILE_RAW, key, sizeof(key), err, errlen)))
        return rc;
    *out = secrets_new(key);
    sodium_memzero(key, sizeof(key));
    if (!*out) {
        tocsin_seterr(err, errlen, "%s: cannot start libsodium or allocate guarded memory", path);
        return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

/* Parses what was read from a key file. */
static int parse_keyfile(const char *path, enum keyfile_fmt fmt, const char *buf, size_t n,
                         uint8_t *out, size_t len, char *err, size_t errlen)
{
    size_t bin_len = 0;
    const char *end = NULL;

    if (fmt == KEYFILE_RAW) {
        if (n != len) {
            tocsin_seterr(
                err, errlen,
                "%s: %zu bytes, expected %zu: a damaged or foreign key file (a new key cannot "
                "open what the old one sealed: restore it from a backup)",
                path, n, len);
            return TOCSIN_EINVAL;
        }
        memcpy(out, buf, len);
        return TOCSIN_OK;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n != 2 * len || sodium_hex2bin(out, len, buf, n, NULL, &bin_len, &end) != 0 ||
        bin_len != len || end != buf + n) {
        tocsin_seterr(err, errlen, "%s: expected %zu hex digits", path, 2 * len);
        return TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

static int read_keyfile(int fd, const char *path, enum keyfile_fmt fmt, uint8_t *out, size_t len,
                        char *err, size_t errlen)
{
    char buf[SECRETS_KEYFILE_MAX];
    size_t n = 0;
    struct stat st;
    int rc;

    if (fstat(fd, &st) != 0) {
        tocsin_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return TOCSIN_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        tocsin_seterr(err, errlen, "%s: not a regular file", path);
        return TOCSIN_EINVAL;
    }
    if (st.st_mode & 077) {
        tocsin_seterr(err, errlen,
                      "%s: mode %04o gives group or others access to a key; refused (chmod 600 it, "
                      "and consider the key exposed)",
                      path, (unsigned)(st.st_mode & 07777));
        return TOCSIN_EINVAL;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size >= sizeof(buf)) {
        tocsin_seterr(err, errlen, "%s: %lld bytes, far too large for a key file", path,
                      (long long)st.st_size);
        return TOCSIN_EINVAL;
    }
    while (n < sizeof(buf)) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tocsin_seterr(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            sodium_memzero(buf, sizeof(buf));
            return TOCSIN_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    rc = parse_keyfile(path, fmt, buf, n, out, len, err, errlen);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsyncs the directory holding `path`, so that a new link survives a crash. */
static int sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rc;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Makes a new key file. TOCSIN_EEXIST if another process made it first. */
static int make_keyfile(const char *path, enum keyfile_fmt fmt, uint8_t *out, size_t len, char *err,
                        size_t errlen)
{
    char tmp[PATH_MAX], text[SECRETS_KEYFILE_MAX];
    size_t n;
    int fd, rc = TOCSIN_OK;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
        tocsin_seterr(err, errlen, "%s: path too long", path);
        return TOCSIN_EINVAL;
    }
    randombytes_buf(out, len);
    if (fmt == KEYFILE_RAW) {
        memcpy(text, out, len);
        n = len;
    } else {
        sodium_bin2hex(text, sizeof(text), out, len);
        n = 2 * len;
        text[n++] = '\n';
    }
    fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0) {
        tocsin_seterr(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        sodium_memzero(text, sizeof(text));
        return TOCSIN_EIO;
    }
    if (write_all(fd, text, n) != 0 || fsync(fd) != 0) {
        tocsin_seterr(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        rc = TOCSIN_EIO;
    }
    if (close(fd) != 0 && rc == TOCSIN_OK) {
        tocsin_seterr(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        rc = TOCSIN_EIO;
    }
    if (rc == TOCSIN_OK && link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = TOCSIN_EEXIST;
        } else {
            tocsin_seterr(err, errlen, "%s: cannot link into place: %s", path, strerror(errno));
            rc = TOCSIN_EIO;
        }
    }
    unlink(tmp);
    if (rc == TOCSIN_OK && sync_dir(path) != 0) {
        tocsin_seterr(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
        rc = TOCSIN_EIO;
    }
    sodium_memzero(text, sizeof(text));
    return rc;
}

int secrets_keyfile_load(const char *path, enum keyfile_fmt fmt, uint8_t *out, size_t len,
                         char *err, size_t errlen)
{
    int fd, rc;

    if (sodium_init() < 0) {
        tocsin_seterr(err, errlen, "libsodium cannot start");
        return TOCSIN_EIO;
    }
    if (len == 0 || 2 * len + 2 >= SECRETS_KEYFILE_MAX) {
        tocsin_seterr(err, errlen, "%s: bad key length %zu", path, len);
        return TOCSIN_EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        rc = make_keyfile(path, fmt, out, len, err, errlen);
        if (rc != TOCSIN_EEXIST)
            goto out;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY); /* another process won: use its key */
    }
    if (fd < 0) {
        tocsin_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        rc = TOCSIN_EIO;
        goto out;
    }
    rc = read_keyfile(fd, path, fmt, out, len, err, errlen);
    close(fd);
out:
    if (rc != TOCSIN_OK)
        sodium_memzero(out, len);
    return rc;
}
