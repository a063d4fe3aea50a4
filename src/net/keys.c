#include "net/keys.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alert.h"
#include "util/err.h"
#include "util/id.h"
#include "util/secrets.h"

#define MIN_BUCKETS 64

struct node {
    struct node *next; /* in the bucket */
    struct key_record rec;
};

struct keys {
    pthread_mutex_t mu;
    uint8_t pepper[KEYS_PEPPER_BYTES];
    struct node **buckets;
    size_t nbuckets; /* a power of two */
    size_t n, max;
};

/* ---- records ------------------------------------------------------------------------- */

void key_record_clear(struct key_record *r)
{
    if (!r)
        return;
    free(r->text);
    memset(r, 0, sizeof(*r));
}

int key_record_copy(struct key_record *dst, const struct key_record *src)
{
    char *text = NULL;

    if (src->text && !(text = strdup(src->text)))
        return TOCSIN_ENOMEM;
    *dst = *src;
    dst->text = text;
    return TOCSIN_OK;
}

const char *key_record_type(const struct key_record *r)
{
    return scope_set_is_read_write(&r->scopes) ? "read-write" : "read-only";
}

bool key_record_expired(const struct key_record *r, int64_t now_ms)
{
    return now_ms >= r->expire_ms;
}

/* A name field: non-empty unless `may_be_empty`, at most PRINCIPAL_NAME_MAX bytes, no control
 * characters. */
static bool good_name(const char *s, bool may_be_empty)
{
    size_t len = s ? strnlen(s, PRINCIPAL_NAME_MAX + 1) : 0;

    if ((!len && !may_be_empty) || len > PRINCIPAL_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool good_id(const char *id)
{
    size_t len = strnlen(id, sizeof(((struct key_record *)0)->id));

    if (len == 0 || len >= sizeof(((struct key_record *)0)->id))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-'))
            return false;
    return true;
}

/* ---- the table ----------------------------------------------------------------------- */

/* The hash is uniformly random (a keyed BLAKE2b): its first bytes index the buckets. */
static size_t bucket_of(const uint8_t *hash, size_t nbuckets)
{
    uint64_t v;

    memcpy(&v, hash, sizeof(v));
    return (size_t)(v & (nbuckets - 1));
}

static void hash_key(const struct keys *k, const char *key, size_t len,
                     uint8_t out[KEYS_HASH_BYTES])
{
    crypto_generichash(out, KEYS_HASH_BYTES, (const unsigned char *)key, len, k->pepper,
                       sizeof(k->pepper));
}

static struct node *find_hash(const struct keys *k, const uint8_t *hash)
{
    for (struct node *e = k->buckets[bucket_of(hash, k->nbuckets)]; e; e = e->next)
        if (sodium_memcmp(e->rec.hash, hash, KEYS_HASH_BYTES) == 0)
            return e;
    return NULL;
}

static struct node *find_id(const struct keys *k, const char *id)
{
    for (size_t b = 0; b < k->nbuckets; b++)
        for (struct node *e = k->buckets[b]; e; e = e->next)
            if (!strcmp(e->rec.id, id))
                return e;
    return NULL;
}

static void link_node(struct node **buckets, size_t nbuckets, struct node *e)
{
    struct node **head = &buckets[bucket_of(e->rec.hash, nbuckets)];

    e->next = *head;
    *head = e;
}

static void unlink_node(struct keys *k, struct node *e)
{
    struct node **pp = &k->buckets[bucket_of(e->rec.hash, k->nbuckets)];

    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
}

/* Doubles the buckets when they hold more than one record each on average; a failed
 * allocation keeps the old ones (longer chains, still correct). */
static void maybe_grow(struct keys *k)
{
    size_t nb = k->nbuckets * 2;
    struct node **nbk;

    if (k->n <= k->nbuckets || !(nbk = calloc(nb, sizeof(*nbk))))
        return;
    for (size_t b = 0; b < k->nbuckets; b++) {
        for (struct node *e = k->buckets[b], *next; e; e = next) {
            next = e->next;
            link_node(nbk, nb, e);
        }
    }
    free(k->buckets);
    k->buckets = nbk;
    k->nbuckets = nb;
}

struct keys *keys_new(const uint8_t pepper[KEYS_PEPPER_BYTES], size_t max_keys)
{
    struct keys *k;

    if (sodium_init() < 0 || !pepper)
        return NULL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->buckets = calloc(MIN_BUCKETS, sizeof(*k->buckets));
    if (!k->buckets) {
        free(k);
        return NULL;
    }
    k->nbuckets = MIN_BUCKETS;
    k->max = max_keys ? max_keys : KEYS_DEFAULT_MAX;
    memcpy(k->pepper, pepper, sizeof(k->pepper));
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void keys_free(struct keys *k)
{
    if (!k)
        return;
    for (size_t b = 0; b < k->nbuckets; b++) {
        for (struct node *e = k->buckets[b], *next; e; e = next) {
            next = e->next;
            key_record_clear(&e->rec);
            free(e);
        }
    }
    free(k->buckets);
    pthread_mutex_destroy(&k->mu);
    sodium_memzero(k->pepper, sizeof(k->pepper));
    free(k);
}

size_t keys_count(struct keys *k)
{
    size_t n;

    if (!k)
        return 0;
    pthread_mutex_lock(&k->mu);
    n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

int keys_put(struct keys *k, const struct key_record *rec)
{
    struct node *fresh = NULL, *byid, *byhash;
    char *text = NULL;
    int rc = TOCSIN_OK;

    if (!good_id(rec->id) || !good_name(rec->user, false) || !good_name(rec->customer, true) ||
        (rec->text && strlen(rec->text) > KEYS_TEXT_MAX))
        return TOCSIN_EINVAL;
    /* Allocate before taking the lock. */
    if ((rec->text && !(text = strdup(rec->text))) || !(fresh = calloc(1, sizeof(*fresh)))) {
        free(text);
        return TOCSIN_ENOMEM;
    }
    pthread_mutex_lock(&k->mu);
    byid = find_id(k, rec->id);
    byhash = find_hash(k, rec->hash);
    if (byhash && byhash != byid) {
        rc = TOCSIN_EEXIST;
        goto out;
    }
    if (!byid && k->n >= k->max) {
        rc = TOCSIN_ETOOBIG;
        goto out;
    }
    if (byid) { /* replace in place: the hash, hence the bucket, may change */
        unlink_node(k, byid);
        key_record_clear(&byid->rec);
        byid->rec = *rec;
        byid->rec.text = text;
        link_node(k->buckets, k->nbuckets, byid);
    } else {
        fresh->rec = *rec;
        fresh->rec.text = text;
        link_node(k->buckets, k->nbuckets, fresh);
        fresh = NULL;
        k->n++;
        maybe_grow(k);
    }
    text = NULL;
out:
    pthread_mutex_unlock(&k->mu);
    free(fresh);
    free(text);
    return rc;
}

int keys_delete(struct keys *k, const char *id)
{
    struct node *e;

    if (!id)
        return TOCSIN_ENOTFOUND;
    pthread_mutex_lock(&k->mu);
    e = find_id(k, id);
    if (e) {
        unlink_node(k, e);
        k->n--;
    }
    pthread_mutex_unlock(&k->mu);
    if (!e)
        return TOCSIN_ENOTFOUND;
    key_record_clear(&e->rec);
    free(e);
    return TOCSIN_OK;
}

int keys_get(struct keys *k, const char *id, struct key_record *out)
{
    struct node *e;
    int rc;

    if (!id)
        return TOCSIN_ENOTFOUND;
    pthread_mutex_lock(&k->mu);
    e = find_id(k, id);
    rc = e ? key_record_copy(out, &e->rec) : TOCSIN_ENOTFOUND;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

int keys_find_by_key(struct keys *k, const char *key, struct key_record *out)
{
    uint8_t h[KEYS_HASH_BYTES];
    size_t len = key ? strnlen(key, KEYS_MAX_KEY_LEN + 1) : 0;
    struct node *e;
    int rc;

    if (!k || len == 0 || len > KEYS_MAX_KEY_LEN)
        return TOCSIN_ENOTFOUND;
    hash_key(k, key, len, h);
    pthread_mutex_lock(&k->mu);
    e = find_hash(k, h);
    rc = e ? key_record_copy(out, &e->rec) : TOCSIN_ENOTFOUND;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

void keys_list_free(struct key_record *recs, size_t n)
{
    for (size_t i = 0; recs && i < n; i++)
        key_record_clear(&recs[i]);
    free(recs);
}

int keys_list(struct keys *k, const char *user, struct key_record **out, size_t *n)
{
    struct key_record *recs = NULL;
    size_t cnt = 0;
    int rc = TOCSIN_OK;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&k->mu);
    if (k->n && !(recs = calloc(k->n, sizeof(*recs))))
        rc = TOCSIN_ENOMEM;
    for (size_t b = 0; b < k->nbuckets && rc == TOCSIN_OK; b++) {
        for (struct node *e = k->buckets[b]; e && rc == TOCSIN_OK; e = e->next) {
            if (user && strcmp(user, e->rec.user))
                continue;
            rc = key_record_copy(&recs[cnt], &e->rec);
            cnt += rc == TOCSIN_OK;
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (rc != TOCSIN_OK || !cnt) {
        keys_list_free(recs, cnt);
        return rc;
    }
    *out = recs;
    *n = cnt;
    return TOCSIN_OK;
}

static void fill_principal(const struct key_record *r, struct principal *out)
{
    principal_nobody(out);
    out->kind = AUTH_KIND_KEY;
    memcpy(out->user, r->user, sizeof(out->user));
    out->scopes = r->scopes;
    out->is_admin = scope_set_is_admin(&r->scopes);
    if (r->customer[0])
        principal_add_customer(out, r->customer); /* the record was checked: it fits */
    memcpy(out->key_id, r->id, sizeof(out->key_id));
}

int keys_use(struct keys *k, const char *key, int64_t now_ms, struct principal *out)
{
    uint8_t h[KEYS_HASH_BYTES];
    size_t len = key ? strnlen(key, KEYS_MAX_KEY_LEN + 1) : 0;
    struct node *e;
    int rc = TOCSIN_ENOTFOUND;

    if (!k || len == 0 || len > KEYS_MAX_KEY_LEN)
        return TOCSIN_ENOTFOUND;
    hash_key(k, key, len, h);
    pthread_mutex_lock(&k->mu);
    e = find_hash(k, h);
    if (e && key_record_expired(&e->rec, now_ms)) {
        rc = TOCSIN_EAUTH;
    } else if (e) {
        e->rec.count++;
        e->rec.last_used_ms = now_ms;
        fill_principal(&e->rec, out);
        rc = TOCSIN_OK;
    }
    pthread_mutex_unlock(&k->mu);
    sodium_memzero(h, sizeof(h));
    return rc;
}

void keys_default_scopes(struct scope_set *out)
{
    scope_set_clear(out);
    scope_set_add(out, "read", NULL, 0);
    scope_set_add(out, "write", NULL, 0);
}

int keys_create(struct keys *k, const struct key_params *p, int64_t now_ms,
                char key_out[KEYS_KEY_LEN + 1], struct key_record *rec_out, char *err,
                size_t errlen)
{
    struct key_record r;
    int rc = TOCSIN_OK;

    if (!p || !good_name(p->user, false)) {
        net_seterr(err, errlen, "a key needs a user (1..%d bytes, no control characters)",
                   PRINCIPAL_NAME_MAX);
        return TOCSIN_EINVAL;
    }
    if (!good_name(p->customer, true)) {
        net_seterr(err, errlen, "customer must be at most %d bytes, without control characters",
                   PRINCIPAL_NAME_MAX);
        return TOCSIN_EINVAL;
    }
    if (p->text && strlen(p->text) > KEYS_TEXT_MAX) {
        net_seterr(err, errlen, "text is longer than %d bytes", KEYS_TEXT_MAX);
        return TOCSIN_EINVAL;
    }
    memset(&r, 0, sizeof(r));
    id_uuid4(r.id);
    snprintf(r.user, sizeof(r.user), "%s", p->user);
    snprintf(r.customer, sizeof(r.customer), "%s", p->customer ? p->customer : "");
    if (p->scopes && !scope_set_empty(p->scopes))
        r.scopes = *p->scopes;
    else
        keys_default_scopes(&r.scopes);
    r.text = p->text ? (char *)p->text : NULL; /* keys_put copies it */
    r.expire_ms = p->expire_ms ? p->expire_ms : now_ms + KEYS_EXPIRE_DEFAULT_MS;
    /* A hash collision between two 240-bit random keys does not happen; the loop is there so
     * that keys_put's EEXIST can never reach a caller as a spurious failure. */
    for (int tries = 0; tries < 3; tries++) {
        keys_generate(key_out);
        hash_key(k, key_out, KEYS_KEY_LEN, r.hash);
        memcpy(r.hint, key_out, KEYS_HINT_LEN);
        rc = keys_put(k, &r);
        if (rc != TOCSIN_EEXIST)
            break;
    }
    if (rc == TOCSIN_OK && rec_out && key_record_copy(rec_out, &r) != TOCSIN_OK) {
        keys_delete(k, r.id); /* the caller could not persist it: it must not exist */
        rc = TOCSIN_ENOMEM;
    }
    if (rc != TOCSIN_OK) {
        sodium_memzero(key_out, KEYS_KEY_LEN + 1);
        net_seterr(err, errlen, "%s",
                   rc == TOCSIN_ETOOBIG ? "too many API keys" : tocsin_strerror(rc));
    }
    return rc;
}

/* ---- helpers ------------------------------------------------------------------------- */

void keys_generate(char out[KEYS_KEY_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[KEYS_KEY_LEN];

    randombytes_buf(rnd, sizeof(rnd));
    for (size_t i = 0; i < KEYS_KEY_LEN; i++)
        out[i] = alphabet[rnd[i] & 63]; /* 64 divides 256: no bias */
    out[KEYS_KEY_LEN] = '\0';
    sodium_memzero(rnd, sizeof(rnd));
}

int keys_type_to_scopes(const char *type, bool admin_user, struct scope_set *out)
{
    bool rw = type && !strcmp(type, "read-write"), ro = type && !strcmp(type, "read-only");

    if (!rw && !ro)
        return TOCSIN_EINVAL;
    scope_set_clear(out);
    if (admin_user)
        scope_set_add(out, "admin", NULL, 0);
    scope_set_add(out, "read", NULL, 0);
    if (rw || admin_user)
        scope_set_add(out, "write", NULL, 0);
    return TOCSIN_OK;
}

int keys_pepper_load(const char *path, uint8_t out[KEYS_PEPPER_BYTES], char *err, size_t errlen)
{
    return secrets_keyfile_load(path, KEYFILE_HEX, out, KEYS_PEPPER_BYTES, err, errlen);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static json_t *time_or_null(int64_t ms)
{
    char t[32];

    if (!ms)
        return json_null();
    iso8601_ms(ms, t);
    return json_string(t);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* The fields both forms share, into o. */
static int put_common(json_t *o, const struct key_record *r)
{
    char t[32];

    iso8601_ms(r->expire_ms, t);
    return json_object_set_new(o, "id", json_string(r->id)) ||
           json_object_set_new(o, "user", json_string(r->user)) ||
           json_object_set_new(o, "scopes", scope_set_to_json(&r->scopes)) ||
           json_object_set_new(o, "type", json_string(key_record_type(r))) ||
           json_object_set_new(o, "text", json_string(r->text ? r->text : "")) ||
           json_object_set_new(o, "expireTime", json_string(t)) ||
           json_object_set_new(o, "count", json_integer((json_int_t)r->count)) ||
           json_object_set_new(o, "lastUsedTime", time_or_null(r->last_used_ms)) ||
           json_object_set_new(o, "customer", str_or_null(r->customer)) ||
           json_object_set_new(o, "hint", json_string(r->hint));
}

json_t *keys_record_to_json(const struct key_record *r)
{
    char hex[2 * KEYS_HASH_BYTES + 1];
    json_t *o = json_object();

    sodium_bin2hex(hex, sizeof(hex), r->hash, KEYS_HASH_BYTES);
    if (!o || put_common(o, r) || json_object_set_new(o, "hash", json_string(hex))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *keys_record_to_api_json(const struct key_record *r, int64_t now_ms)
{
    json_t *o = json_object();

    if (!o || put_common(o, r) ||
        json_object_set_new(o, "status",
                            json_string(key_record_expired(r, now_ms) ? "expired" : "active"))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string member into dst (NUL-terminated, at most cap - 1 bytes); null or absent is "" when
 * `optional`. */
static int get_str(const json_t *j, const char *name, bool optional, char *dst, size_t cap,
                   char *err, size_t errlen)
{
    const json_t *v = json_object_get(j, name);
    size_t len;

    if ((!v || json_is_null(v)) && optional) {
        dst[0] = '\0';
        return TOCSIN_OK;
    }
    len = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || len >= cap || strlen(json_string_value(v)) != len) {
        net_seterr(err, errlen, "key record: '%s' must be a string of at most %zu bytes", name,
                   cap - 1);
        return TOCSIN_EINVAL;
    }
    memcpy(dst, json_string_value(v), len + 1);
    return TOCSIN_OK;
}

static int get_time(const json_t *j, const char *name, bool optional, int64_t *out, char *err,
                    size_t errlen)
{
    const json_t *v = json_object_get(j, name);

    *out = 0;
    if ((!v || json_is_null(v)) && optional)
        return TOCSIN_OK;
    if (!json_is_string(v) || !iso8601_parse(json_string_value(v), json_string_length(v), out)) {
        net_seterr(err, errlen, "key record: '%s' must be an ISO 8601 time", name);
        return TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

static int get_hash(const json_t *j, uint8_t out[KEYS_HASH_BYTES], char *err, size_t errlen)
{
    const json_t *v = json_object_get(j, "hash");
    const char *end = NULL;
    size_t bin_len = 0;

    if (!json_is_string(v) || json_string_length(v) != 2 * KEYS_HASH_BYTES ||
        sodium_hex2bin(out, KEYS_HASH_BYTES, json_string_value(v), 2 * KEYS_HASH_BYTES, NULL,
                       &bin_len, &end) != 0 ||
        bin_len != KEYS_HASH_BYTES || *end) {
        net_seterr(err, errlen, "key record: 'hash' must be %d hex digits", 2 * KEYS_HASH_BYTES);
        return TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

static int get_text(const json_t *j, char **out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(j, "text");

    *out = NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return TOCSIN_OK;
    if (!json_is_string(v) || json_string_length(v) > KEYS_TEXT_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        net_seterr(err, errlen, "key record: 'text' must be a string of at most %d bytes",
                   KEYS_TEXT_MAX);
        return TOCSIN_EINVAL;
    }
    *out = strdup(json_string_value(v));
    if (!*out) {
        net_seterr(err, errlen, "out of memory");
        return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

int keys_record_from_json(const json_t *j, struct key_record *out, char *err, size_t errlen)
{
    const json_t *count;
    struct key_record r;
    char msg[256];
    int rc;

    memset(&r, 0, sizeof(r));
    if (!json_is_object(j)) {
        net_seterr(err, errlen, "key record: expected an object");
        return TOCSIN_EINVAL;
    }
    count = json_object_get(j, "count");
    rc = get_str(j, "id", false, r.id, sizeof(r.id), err, errlen);
    if (!rc && !good_id(r.id)) {
        net_seterr(err, errlen, "key record: bad 'id'");
        rc = TOCSIN_EINVAL;
    }
    if (!rc)
        rc = get_hash(j, r.hash, err, errlen);
    if (!rc)
        rc = get_str(j, "hint", true, r.hint, sizeof(r.hint), err, errlen);
    if (!rc)
        rc = get_str(j, "user", false, r.user, sizeof(r.user), err, errlen);
    if (!rc && !good_name(r.user, false)) {
        net_seterr(err, errlen, "key record: bad 'user'");
        rc = TOCSIN_EINVAL;
    }
    if (!rc)
        rc = get_str(j, "customer", true, r.customer, sizeof(r.customer), err, errlen);
    if (!rc && scope_set_parse_json(&r.scopes, json_object_get(j, "scopes"), msg, sizeof(msg))) {
        net_seterr(err, errlen, "key record: %s", msg);
        rc = TOCSIN_EINVAL;
    }
    if (!rc)
        rc = get_time(j, "expireTime", false, &r.expire_ms, err, errlen);
    if (!rc)
        rc = get_time(j, "lastUsedTime", true, &r.last_used_ms, err, errlen);
    if (!rc && count && !(json_is_integer(count) && json_integer_value(count) >= 0)) {
        net_seterr(err, errlen, "key record: 'count' must be a whole number");
        rc = TOCSIN_EINVAL;
    }
    r.count = count && !rc ? (uint64_t)json_integer_value(count) : 0;
    if (!rc)
        rc = get_text(j, &r.text, err, errlen);
    if (rc) {
        key_record_clear(&r);
        return rc;
    }
    *out = r;
    return TOCSIN_OK;
}
