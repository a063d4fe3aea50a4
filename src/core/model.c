#include "core/model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const sev_names[SEV_COUNT] = {"info", "warning", "critical"};
static const char *const status_names[ALERT_STATUS_COUNT] = {"open", "resolved"};
static const char *const nstatus_names[NOTIFY_STATUS_COUNT] = {"pending", "delivered", "failed"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *severity_name(enum severity s)
{
    return (unsigned)s < SEV_COUNT ? sev_names[s] : "info";
}

int severity_parse(const char *s)
{
    return lookup(sev_names, SEV_COUNT, s);
}

const char *alert_status_name(enum alert_status s)
{
    return (unsigned)s < ALERT_STATUS_COUNT ? status_names[s] : "open";
}

int alert_status_parse(const char *s)
{
    return lookup(status_names, ALERT_STATUS_COUNT, s);
}

const char *notify_status_name(enum notify_status s)
{
    return (unsigned)s < NOTIFY_STATUS_COUNT ? nstatus_names[s] : "pending";
}

int notify_status_parse(const char *s)
{
    return lookup(nstatus_names, NOTIFY_STATUS_COUNT, s);
}

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void alert_rec_free(struct alert_rec *a)
{
    if (!a)
        return;
    free(a->fingerprint);
    free(a->trigger_id);
    free(a->name);
    free(a->source);
    free(a->description);
    free(a->projection_json);
    free(a->projection_names);
    free(a->projection_values);
    free(a->properties_json);
    free(a->message);
    free(a);
}

struct alert_rec *alert_rec_dup(const struct alert_rec *a)
{
    struct alert_rec *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    *d = *a;
    d->fingerprint = sdup(a->fingerprint);
    d->trigger_id = sdup(a->trigger_id);
    d->name = sdup(a->name);
    d->source = sdup(a->source);
    d->description = sdup(a->description);
    d->projection_json = sdup(a->projection_json);
    d->projection_names = sdup(a->projection_names);
    d->projection_values = sdup(a->projection_values);
    d->properties_json = sdup(a->properties_json);
    d->message = sdup(a->message);
    if ((a->fingerprint && !d->fingerprint) || (a->trigger_id && !d->trigger_id) ||
        (a->name && !d->name) || (a->source && !d->source) ||
        (a->description && !d->description) || (a->projection_json && !d->projection_json) ||
        (a->projection_names && !d->projection_names) ||
        (a->projection_values && !d->projection_values) ||
        (a->properties_json && !d->properties_json) || (a->message && !d->message)) {
        alert_rec_free(d);
        return NULL;
    }
    return d;
}

void notify_rec_free(struct notify_rec *n)
{
    if (!n)
        return;
    free(n->trigger_id);
    free(n->channel);
    free(n->method);
    free(n->url);
    free(n->headers_json);
    free(n->body);
    free(n->last_error);
    free(n->rule_id);
    free(n->channel_id);
    free(n->change);
    free(n->ctx);
    free(n->ticket);
    free(n);
}

struct notify_rec *notify_rec_dup(const struct notify_rec *n)
{
    struct notify_rec *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    *d = *n;
    d->trigger_id = sdup(n->trigger_id);
    d->channel = sdup(n->channel);
    d->method = sdup(n->method);
    d->url = sdup(n->url);
    d->headers_json = sdup(n->headers_json);
    d->body = sdup(n->body);
    d->last_error = sdup(n->last_error);
    d->rule_id = sdup(n->rule_id);
    d->channel_id = sdup(n->channel_id);
    d->change = sdup(n->change);
    d->ctx = sdup(n->ctx);
    d->ticket = sdup(n->ticket);
    if ((n->rule_id && !d->rule_id) || (n->channel_id && !d->channel_id) ||
        (n->change && !d->change) || (n->ctx && !d->ctx) || (n->ticket && !d->ticket) ||
        (n->trigger_id && !d->trigger_id) || (n->channel && !d->channel) ||
        (n->method && !d->method) || (n->url && !d->url) ||
        (n->headers_json && !d->headers_json) || (n->body && !d->body) ||
        (n->last_error && !d->last_error)) {
        notify_rec_free(d);
        return NULL;
    }
    return d;
}
