/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "shared/conf-table.h"
#include "shared/macro.h"
#include "http/handler.h"
#include "http/netmask.h"
#include "http/status.h"
#include "shared/json-writer.h"
#include "shared/strv.h"

const usec_t http_status_duration_bounds[HTTP_STATUS_DURATION_BUCKETS] = {
        5 * USEC_PER_MSEC,   10 * USEC_PER_MSEC,  25 * USEC_PER_MSEC, 50 * USEC_PER_MSEC,
        100 * USEC_PER_MSEC, 250 * USEC_PER_MSEC, 500 * USEC_PER_MSEC, 1 * USEC_PER_SEC,
        2500 * USEC_PER_MSEC, 5 * USEC_PER_SEC,   10 * USEC_PER_SEC,
};

unsigned http_status_duration_bucket(usec_t duration) {
        unsigned b = 0;
        while (b < HTTP_STATUS_DURATION_BUCKETS && duration > http_status_duration_bounds[b])
                b++;
        return b;
}

bool http_status_snapshot(const HttpStatusData *shared, HttpStatusData *ret) {
        if (!shared)
                return false;
        for (int tries = 0; tries < 100; tries++) {
                uint32_t before = __atomic_load_n(&shared->seq, __ATOMIC_ACQUIRE);
                if (before & 1)
                        continue;
                memcpy(ret, shared, sizeof(*ret));
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&shared->seq, __ATOMIC_RELAXED) == before) {
                        /* The copy is ours now: make sure its strings end. */
                        ret->mpm[sizeof(ret->mpm) - 1] = 0;
                        ret->server_built[sizeof(ret->server_built) - 1] = 0;
                        if (ret->n_slots > HTTP_STATUS_SLOTS_MAX)
                                ret->n_slots = HTTP_STATUS_SLOTS_MAX;
                        return true;
                }
        }
        return false;
}

typedef struct Out {
        char *buf;
        size_t size, len;
        bool overflow;
} Out;

static void out_printf(Out *o, const char *fmt, ...) _printf_(2, 3);
static void out_printf(Out *o, const char *fmt, ...) {
        va_list ap;
        int n;

        if (o->overflow)
                return;
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= o->size - o->len) {
                o->overflow = true;
                return;
        }
        o->len += (size_t) n;
}

static void out_emit(void *userdata, const char *p, size_t n) {
        Out *o = userdata;

        if (o->overflow)
                return;
        if (n >= o->size - o->len) {
                o->overflow = true;
                return;
        }
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

/* A JSON string, quoted: at most n bytes of s, up to its NUL (json-writer.h says how it escapes:
 * UTF-8 passes, any other byte above 0x7f becomes U+FFFD, so the page is always valid JSON). */
static void out_json_string(Out *o, const char *s, size_t n) {
        json_escape(s, n == SIZE_MAX ? strlen(s) : strnlen(s, n), out_emit, o);
}

/* Text for HTML: the server name is the configuration's, and may hold markup characters. */
static void out_html(Out *o, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '<':
                        out_printf(o, "&lt;");
                        break;
                case '>':
                        out_printf(o, "&gt;");
                        break;
                case '&':
                        out_printf(o, "&amp;");
                        break;
                case '"':
                        out_printf(o, "&quot;");
                        break;
                default:
                        out_printf(o, "%c", *s);
                }
}

static void format_uptime(uint64_t secs, char *buf, size_t n) {
        unsigned d = (unsigned) (secs / 86400), h = (unsigned) (secs / 3600 % 24), m = (unsigned) (secs / 60 % 60),
                 s = (unsigned) (secs % 60);
        int k = 0;

        buf[0] = 0;
        if (d)
                k += snprintf(buf + k, n - k, "%u day%s ", d, d == 1 ? "" : "s");
        if (h)
                k += snprintf(buf + k, n - k, "%u hour%s ", h, h == 1 ? "" : "s");
        if (m)
                k += snprintf(buf + k, n - k, "%u minute%s ", m, m == 1 ? "" : "s");
        snprintf(buf + k, n - k, "%u second%s", s, s == 1 ? "" : "s");
}

/* Apache's "Sunday, 22-Nov-2026 08:30:00 UTC" */
static void format_time(int64_t t, char *buf, size_t n) {
        struct tm tm;
        time_t tt = (time_t) t;
        gmtime_r(&tt, &tm);
        strftime(buf, n, "%A, %d-%b-%Y %H:%M:%S UTC", &tm);
}

/* A Prometheus label value: '\\', '"' and newlines escaped. */
static void out_label(Out *o, const char *s, size_t n) {
        for (size_t i = 0; i < n && s[i]; i++)
                if (s[i] == '\\' || s[i] == '"')
                        out_printf(o, "\\%c", s[i]);
                else if (s[i] == '\n')
                        out_printf(o, "\\n");
                else
                        out_printf(o, "%c", s[i]);
}

static void out_metric_head(Out *o, const char *name, const char *type, const char *help) {
        out_printf(o, "# HELP mpmd_%s %s\n# TYPE mpmd_%s %s\n", name, help, name, type);
}

/* The names of HTTP_STATUS_WORKER_LETTERS, as Prometheus's apache_exporter labels them. */
static const char *const worker_state_names[HTTP_STATUS_WORKER_STATES] = {
        "open_slot", "startup", "idle",    "read",          "reply",
        "keepalive", "closing", "logging", "graceful_stop", "idle_cleanup",
};

/* Prometheus text exposition format 0.0.4: every family with its HELP and TYPE, counters *_total.
 * The histogram's buckets are cumulative, each held to _count (the requests): the workers count a
 * request before its bucket, so a reading between the two may find a bucket short, never over. */
static void render_metrics(Out *o, const HttpStatusData *d, uint64_t uptime) {
        uint64_t cum = 0;

        out_metric_head(o, "info", "gauge", "The server: its version and MPM (always 1).");
        out_printf(o, "mpmd_info{version=\"%s\",mpm=\"", PACKAGE_VERSION);
        out_label(o, d->mpm, sizeof(d->mpm));
        out_printf(o, "\"} 1\n");
        out_metric_head(o, "generation", "gauge", "The configuration generation serving.");
        out_printf(o, "mpmd_generation %u\n", d->generation);
        out_metric_head(o, "start_time_seconds", "gauge", "When the serving generation started (Unix time).");
        out_printf(o, "mpmd_start_time_seconds %lld\n", (long long) d->restart_time);
        out_metric_head(o, "uptime_seconds", "gauge", "Seconds since the serving generation started.");
        out_printf(o, "mpmd_uptime_seconds %llu\n", (unsigned long long) uptime);
        out_metric_head(o, "requests_total", "counter", "Requests served.");
        out_printf(o, "mpmd_requests_total %llu\n", (unsigned long long) d->total_accesses);
        out_metric_head(o, "sent_bytes_total", "counter", "Bytes of responses sent.");
        out_printf(o, "mpmd_sent_bytes_total %llu\n", (unsigned long long) d->total_bytes);
        out_metric_head(o, "request_duration_seconds", "histogram", "How long requests took to serve.");
        for (unsigned b = 0; b < HTTP_STATUS_DURATION_BUCKETS; b++) {
                cum = MIN(cum + d->duration_buckets[b], d->total_accesses);
                out_printf(o, "mpmd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                           (double) http_status_duration_bounds[b] / USEC_PER_SEC, (unsigned long long) cum);
        }
        out_printf(o, "mpmd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                   (unsigned long long) d->total_accesses);
        out_printf(o, "mpmd_request_duration_seconds_sum %.6f\n", (double) d->total_duration_usec / USEC_PER_SEC);
        out_printf(o, "mpmd_request_duration_seconds_count %llu\n", (unsigned long long) d->total_accesses);
        out_metric_head(o, "workers", "gauge", "Worker slots by state (the scoreboard letters of mod_status).");
        for (unsigned k = 0; k < HTTP_STATUS_WORKER_STATES; k++)
                out_printf(o, "mpmd_workers{state=\"%s\"} %u\n", worker_state_names[k], d->workers_by_state[k]);
        out_metric_head(o, "processes", "gauge", "Worker processes, and of them those told to finish.");
        out_printf(o, "mpmd_processes{state=\"all\"} %u\nmpmd_processes{state=\"stopping\"} %u\n", d->processes,
                   d->stopping);
        out_metric_head(o, "connections", "gauge", "Connections open, by state.");
        out_printf(o,
                   "mpmd_connections{state=\"total\"} %u\nmpmd_connections{state=\"writing\"} %u\n"
                   "mpmd_connections{state=\"keepalive\"} %u\nmpmd_connections{state=\"closing\"} %u\n",
                   d->conns_total, d->conns_writing, d->conns_keepalive, d->conns_closing);
        out_metric_head(o, "tls_connections_total", "counter",
                        "Connections whose TLS handshake completed, by who does the record layer.");
        out_printf(o, "mpmd_tls_connections_total{record_layer=\"all\"} %llu\n"
                      "mpmd_tls_connections_total{record_layer=\"ktls\"} %llu\n",
                   (unsigned long long) d->tls_conns, (unsigned long long) d->ktls_conns);
        out_metric_head(o, "tls_hellos_refused_total", "counter",
                        "Connections perchild's dispatchers closed for their ClientHello, by why.");
        out_printf(o, "mpmd_tls_hellos_refused_total{reason=\"malformed\"} %llu\n"
                      "mpmd_tls_hellos_refused_total{reason=\"unrecognized_name\"} %llu\n",
                   (unsigned long long) d->tls_hellos_refused, (unsigned long long) d->tls_names_unrecognized);
        out_metric_head(o, "proxy_refused_total", "counter",
                        "Connections perchild's dispatchers closed on a PROXY listener: an untrusted peer or a "
                        "malformed header.");
        out_printf(o, "mpmd_proxy_refused_total %llu\n", (unsigned long long) d->proxy_refused);
        out_metric_head(o, "cpu_seconds_total", "counter",
                        "CPU time of the workers and the supervisor, and of the processes they waited for.");
        out_printf(o,
                   "mpmd_cpu_seconds_total{mode=\"user\"} %.2f\nmpmd_cpu_seconds_total{mode=\"system\"} %.2f\n"
                   "mpmd_cpu_seconds_total{mode=\"children_user\"} %.2f\n"
                   "mpmd_cpu_seconds_total{mode=\"children_system\"} %.2f\n",
                   d->cpu_user, d->cpu_system, d->cpu_children_user, d->cpu_children_system);
        out_metric_head(o, "reloads_total", "counter", "Reloads since the server started, by result.");
        out_printf(o,
                   "mpmd_reloads_total{result=\"ok\"} %llu\nmpmd_reloads_total{result=\"partial\"} %llu\n"
                   "mpmd_reloads_total{result=\"failed\"} %llu\n",
                   (unsigned long long) d->reloads_ok, (unsigned long long) d->reloads_partial,
                   (unsigned long long) d->reloads_failed);
}

static const char *const node_state_names[_HTTP_NODE_STATE_MAX] = {
        [HTTP_NODE_SERVING] = "serving",
        [HTTP_NODE_DRAINED] = "drained",
        [HTTP_NODE_STOPPING] = "stopping",
};

static const char *node_state_name(uint32_t s) {
        return s < _HTTP_NODE_STATE_MAX ? node_state_names[s] : "serving";
}

int http_status_render(const HttpStatusData *d, HttpStatusFormat f, const char *server_name, usec_t now, char *buf,
                       size_t size) {
        Out o = { .buf = buf, .size = size };
        int64_t now_s = (int64_t) (now / USEC_PER_SEC);
        uint64_t uptime = now_s > d->restart_time ? (uint64_t) (now_s - d->restart_time) : 0;
        double up = uptime > 0 ? (double) uptime : 1.0;
        double loads[3] = { 0, 0, 0 };
        char current[64], restart[64], upt[96];

        (void) !getloadavg(loads, 3);
        format_time(now_s, current, sizeof(current));
        format_time(d->restart_time, restart, sizeof(restart));
        format_uptime(uptime, upt, sizeof(upt));
        double req_per_sec = (double) d->total_accesses / up;
        double bytes_per_sec = (double) d->total_bytes / up;
        double bytes_per_req = d->total_accesses ? (double) d->total_bytes / (double) d->total_accesses : 0;
        double ms_per_req = d->total_accesses ? (double) d->total_duration_usec / 1000.0 / (double) d->total_accesses
                                              : 0;
        double cpu_load = (d->cpu_user + d->cpu_system + d->cpu_children_user + d->cpu_children_system) / up * 100;

        switch (f) {
        case HTTP_STATUS_AUTO:
                out_printf(&o, "%s\n", server_name);
                out_printf(&o, "ServerVersion: mpmd/%s\nServerMPM: %s\nServer Built: %s\n", PACKAGE_VERSION, d->mpm,
                           d->server_built);
                out_printf(&o, "CurrentTime: %s\nRestartTime: %s\n", current, restart);
                out_printf(&o, "ParentServerConfigGeneration: %u\nParentServerMPMGeneration: %u\n", d->generation,
                           d->generation - 1);
                out_printf(&o, "ServerUptimeSeconds: %llu\nServerUptime: %s\n", (unsigned long long) uptime, upt);
                out_printf(&o, "Load1: %.2f\nLoad5: %.2f\nLoad15: %.2f\n", loads[0], loads[1], loads[2]);
                out_printf(&o, "Total Accesses: %llu\nTotal kBytes: %llu\nTotal Duration: %llu\n",
                           (unsigned long long) d->total_accesses, (unsigned long long) (d->total_bytes / 1024),
                           (unsigned long long) (d->total_duration_usec / 1000));
                out_printf(&o, "CPUUser: %.2f\nCPUSystem: %.2f\nCPUChildrenUser: %.2f\nCPUChildrenSystem: %.2f\n",
                           d->cpu_user, d->cpu_system, d->cpu_children_user, d->cpu_children_system);
                out_printf(&o, "CPULoad: %g\nUptime: %llu\n", cpu_load, (unsigned long long) uptime);
                out_printf(&o, "ReqPerSec: %g\nBytesPerSec: %g\nBytesPerReq: %g\nDurationPerReq: %g\n", req_per_sec,
                           bytes_per_sec, bytes_per_req, ms_per_req);
                out_printf(&o, "BusyWorkers: %u\nGracefulWorkers: %u\nIdleWorkers: %u\n", d->busy, d->graceful, d->idle);
                out_printf(&o, "Processes: %u\nStopping: %u\n", d->processes, d->stopping);
                out_printf(&o, "ConnsTotal: %u\nConnsAsyncWriting: %u\nConnsAsyncKeepAlive: %u\nConnsAsyncClosing: %u\n",
                           d->conns_total, d->conns_writing, d->conns_keepalive, d->conns_closing);
                out_printf(&o, "Scoreboard: %.*s\n", (int) d->n_slots, d->scoreboard);
                /* Ours, after every key of Apache's (mod_ssl adds none here), so that a parser of
                 * Apache's page reads the same page. */
                if (d->tls)
                        out_printf(&o, "TLSConns: %llu\nKTLSConns: %llu\nTLSHellosRefused: %llu\nTLSNamesUnrecognized: %llu\n",
                                   (unsigned long long) d->tls_conns, (unsigned long long) d->ktls_conns,
                                   (unsigned long long) d->tls_hellos_refused,
                                   (unsigned long long) d->tls_names_unrecognized);
                /* Only when it is news, so that a serving node's page is Apache's. */
                if (d->node_state != HTTP_NODE_SERVING)
                        out_printf(&o, "NodeState: %s\n", node_state_name(d->node_state));
                break;
        case HTTP_STATUS_HEALTH:
                out_printf(&o, "%s\n", node_state_name(d->node_state));
                break;
        case HTTP_STATUS_JSON:
                out_printf(&o, "{\"server_name\":");
                out_json_string(&o, server_name, SIZE_MAX);
                out_printf(&o, ",\"server_version\":");
                out_json_string(&o, "mpmd/" PACKAGE_VERSION, SIZE_MAX);
                out_printf(&o, ",\"mpm\":");
                out_json_string(&o, d->mpm, sizeof(d->mpm));
                out_printf(&o,
                           ",\"generation\":%u,"
                           "\"uptime_seconds\":%llu,\"total_accesses\":%llu,\"total_bytes\":%llu,"
                           "\"total_duration_ms\":%llu,\"requests_per_second\":%g,\"busy_workers\":%u,"
                           "\"idle_workers\":%u,\"graceful_workers\":%u,\"processes\":%u,\"stopping\":%u,"
                           "\"connections\":{\"total\":%u,\"writing\":%u,\"keepalive\":%u,\"closing\":%u},"
                           "\"tls_connections\":%llu,\"ktls_connections\":%llu,"
                           "\"tls_hellos_refused\":%llu,\"tls_names_unrecognized\":%llu,\"proxy_refused\":%llu,"
                           "\"load\":[%.2f,%.2f,%.2f],\"scoreboard\":",
                           d->generation, (unsigned long long) uptime, (unsigned long long) d->total_accesses,
                           (unsigned long long) d->total_bytes, (unsigned long long) (d->total_duration_usec / 1000),
                           req_per_sec, d->busy, d->idle, d->graceful, d->processes, d->stopping, d->conns_total,
                           d->conns_writing, d->conns_keepalive, d->conns_closing, (unsigned long long) d->tls_conns,
                           (unsigned long long) d->ktls_conns, (unsigned long long) d->tls_hellos_refused,
                           (unsigned long long) d->tls_names_unrecognized, (unsigned long long) d->proxy_refused,
                           loads[0], loads[1], loads[2]);
                out_json_string(&o, d->scoreboard, d->n_slots);
                out_printf(&o, ",\"node_state\":\"%s\"}\n", node_state_name(d->node_state));
                break;
        case HTTP_STATUS_METRICS:
                render_metrics(&o, d, uptime);
                break;
        case HTTP_STATUS_HTML:
        default:
                out_printf(&o,
                           "<!DOCTYPE html>\n<html><head><title>mpmd status</title></head><body>\n"
                           "<h1>mpmd server status for ");
                out_html(&o, server_name);
                out_printf(&o,
                           "</h1>\n<dl>\n"
                           "<dt>Server version: mpmd/%s</dt>\n<dt>Server MPM: %s</dt>\n<dt>Server built: %s</dt>\n"
                           "<dt>Current time: %s</dt>\n<dt>Restart time: %s</dt>\n"
                           "<dt>Node: %s</dt>\n"
                           "<dt>Configuration generation: %u</dt>\n<dt>Server uptime: %s</dt>\n"
                           "<dt>Server load: %.2f %.2f %.2f</dt>\n"
                           "<dt>Total accesses: %llu - Total traffic: %llu kB</dt>\n"
                           "<dt>%g requests/sec - %g B/second - %g B/request</dt>\n"
                           "<dt>%u requests currently being processed, %u idle workers, %u connections "
                           "(%u keep-alive)</dt>\n</dl>\n<pre>%.*s</pre>\n"
                           "<p>Scoreboard key: \"<b><code>_</code></b>\" Waiting for Connection, "
                           "\"<b><code>S</code></b>\" Starting up, \"<b><code>R</code></b>\" Reading Request, "
                           "\"<b><code>W</code></b>\" Sending Reply, \"<b><code>K</code></b>\" Keepalive (read), "
                           "\"<b><code>C</code></b>\" Closing connection, \"<b><code>G</code></b>\" Gracefully "
                           "finishing, \"<b><code>.</code></b>\" Open slot with no current process</p>\n"
                           "</body></html>\n",
                           PACKAGE_VERSION, d->mpm, d->server_built, current, restart,
                           node_state_name(d->node_state), d->generation, upt,
                           loads[0], loads[1], loads[2], (unsigned long long) d->total_accesses,
                           (unsigned long long) (d->total_bytes / 1024), req_per_sec, bytes_per_sec, bytes_per_req,
                           d->busy, d->idle, d->conns_total, d->conns_keepalive, (int) d->n_slots, d->scoreboard);
                break;
        }
        return o.overflow ? -ENOBUFS : (int) o.len;
}

HttpStatusFormat http_status_format(const char *query, size_t len) {
        static const struct {
                const char *name;
                HttpStatusFormat format;
        } forms[] = {
                { "auto", HTTP_STATUS_AUTO },
                { "json", HTTP_STATUS_JSON },
                { "metrics", HTTP_STATUS_METRICS },
                { "health", HTTP_STATUS_HEALTH },
        };
        const char *end = query + len;

        for (const char *a = query; a < end;) {
                const char *amp = memchr(a, '&', (size_t) (end - a));
                const char *next = amp ? amp + 1 : end;
                const char *eq = memchr(a, '=', (size_t) ((amp ? amp : end) - a));
                size_t n = (size_t) ((eq ? eq : amp ? amp : end) - a);

                for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                        if (n == strlen(forms[i].name) && memcmp(a, forms[i].name, n) == 0)
                                return forms[i].format;
                a = next;
        }
        return HTTP_STATUS_HTML;
}

/* ServerStatusAllow is read as words (a CONF_STRV): each is parsed here, as netmask.h reads it. */
static bool address_in(const char *entry, const char *peer) {
        HttpNetmask m;

        return http_netmask_parse(entry, &m) >= 0 && http_netmask_contains(&m, peer);
}

bool http_status_allowed(char *const *allow, const char *peer) {
        STRV_FOREACH(a, allow)
                if (address_in(*a, peer))
                        return true;
        return false;
}

void http_status_serve(const HttpRequest *q, const char *peer, char *scratch, size_t scratch_size,
                       HttpResponse *r) {
        HttpStatusData d;
        HttpStatusFormat f = HTTP_STATUS_HTML;
        const HttpRequestHead *h = q->head;
        int n;

        if (!peer || !http_status_allowed(q->site->cfg->server_status_allow, peer)) {
                http_response_set_error(r, 403);
                return;
        }
        if (h->has_query)
                f = http_status_format(q->buf + h->query.off, h->query.len);
        if (!http_status_snapshot(q->site->status, &d)) {
                http_response_set_error(r, 503);
                return;
        }
        n = http_status_render(&d, f, q->site->cfg->server_name ? q->site->cfg->server_name : "localhost", q->now,
                               scratch, scratch_size);
        if (n < 0) {
                http_response_set_error(r, 500);
                return;
        }
        r->status = f == HTTP_STATUS_HEALTH && d.node_state == HTTP_NODE_STOPPING ? 503 : 200;
        http_response_add_header(r, "Content-Type", "%s",
                                 f == HTTP_STATUS_HEALTH    ? "text/plain; charset=utf-8"
                                 : f == HTTP_STATUS_AUTO    ? "text/plain; charset=ISO-8859-1"
                                 : f == HTTP_STATUS_JSON    ? "application/json"
                                 : f == HTTP_STATUS_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
                                                            : "text/html; charset=ISO-8859-1");
        http_response_add_header(r, "Cache-Control", "no-store");
        r->body = scratch;
        r->body_len = (size_t) n;
}

/* ---- the handler's vtable (handler.h) ------------------------------------------------------ */

#define HTTP_STATUS_PAGE_MAX (16 * 1024)

/* The page is rendered into memory the response owns: a status page is rare and may be large. */
static int status_handler_start(HttpHandler *h, HttpResponse *resp) {
        resp->body_owned = malloc(HTTP_STATUS_PAGE_MAX);
        if (!resp->body_owned)
                http_response_set_error(resp, 500);
        else
                http_status_serve(h->request, h->request->peer, resp->body_owned, HTTP_STATUS_PAGE_MAX, resp);
        return HTTP_HANDLER_RESPOND;
}

const HttpHandlerType http_status_handler = {
        .name = "status",
        .size = sizeof(HttpHandler),
        .start = status_handler_start,
};
