/* SPDX-License-Identifier: MIT */
/* status.h — the server-status page.
 *
 * The supervisor, which alone sees every worker, publishes an HttpStatusData once a second into a
 * shared segment that workers map read-only (sealed against writable mappings); a worker serving
 * the status path renders a consistent copy of it (a sequence counter, odd while being written).
 * Four forms: HTML for people, `?auto` with Apache mod_status's keys in Apache's order so that
 * existing monitoring parses it, `?json`, and `?metrics` for Prometheus. Only clients in ServerStatusAllow get it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"
#include "http/response.h"

#define HTTP_STATUS_SLOTS_MAX 1024

/* The request duration histogram of ?metrics: the upper bounds of its finite buckets (seconds:
 * 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10, Prometheus's default ones); counters have one more,
 * for the requests longer than the last. Workers count each request in its bucket (scoreboard.h),
 * the supervisor sums them: per bucket, not cumulative. */
#define HTTP_STATUS_DURATION_BUCKETS 11
extern const usec_t http_status_duration_bounds[HTTP_STATUS_DURATION_BUCKETS];
/* The bucket (0 … HTTP_STATUS_DURATION_BUCKETS) of a request that lasted duration. */
unsigned http_status_duration_bucket(usec_t duration);

/* The worker states (mod_status letters, scoreboard.h's WorkerState) in the order that
 * HttpStatusData.workers_by_state counts them. */
#define HTTP_STATUS_WORKER_LETTERS ".S_RWKCLGI"
#define HTTP_STATUS_WORKER_STATES (sizeof(HTTP_STATUS_WORKER_LETTERS) - 1)

typedef struct HttpStatusData {
        uint32_t seq; /* odd while the supervisor writes */
        uint32_t generation;
        char mpm[16];
        char server_built[32];
        int64_t restart_time; /* CLOCK_REALTIME seconds */
        uint64_t total_accesses;
        uint64_t total_bytes;
        uint64_t total_duration_usec;
        double cpu_user, cpu_system, cpu_children_user, cpu_children_system;
        uint32_t busy, idle, graceful;
        uint32_t processes, stopping;
        uint32_t conns_total, conns_keepalive, conns_writing, conns_closing;
        uint32_t n_slots;
        char scoreboard[HTTP_STATUS_SLOTS_MAX]; /* one mod_status letter per slot */
        uint64_t duration_buckets[HTTP_STATUS_DURATION_BUCKETS + 1]; /* requests per bucket */
        uint32_t workers_by_state[HTTP_STATUS_WORKER_STATES]; /* worker threads, by HTTP_STATUS_WORKER_LETTERS */
        uint64_t reloads_ok, reloads_partial, reloads_failed; /* the server's view only */
        /* HTTPS: connections whose TLS handshake completed, and of them those with kTLS. ?auto shows
         * them (TLSConns, KTLSConns, after Apache's keys) when the generation has TLS listeners. */
        uint32_t tls;
        uint64_t tls_conns, ktls_conns;
        /* perchild's dispatchers: connections closed for a malformed, too long or unfinished
         * ClientHello, and those refused with unrecognized_name (TLSHellosRefused,
         * TLSNamesUnrecognized, with the two above). */
        uint64_t tls_hellos_refused, tls_names_unrecognized;
        /* perchild's dispatchers: connections on a PROXY listener closed unread (an untrusted peer,
         * a malformed header): JSON and metrics only, as ?auto stays Apache's page. */
        uint64_t proxy_refused;
        uint32_t node_state; /* HttpNodeState: serving, drained (`mpmctl drain`) or stopping */
} HttpStatusData;

/* The node as a load balancer sees it: ?health answers 200 while serving (drained too: a failing
 * check would mark the node DOWN instead of DRAIN, agent-check.h) and 503 while stopping. */
typedef enum HttpNodeState {
        HTTP_NODE_SERVING,
        HTTP_NODE_DRAINED,
        HTTP_NODE_STOPPING,
        _HTTP_NODE_STATE_MAX,
} HttpNodeState;

/* The bytes of a status segment, whole 4 KiB pages: what the supervisor creates and maps. */
#define HTTP_STATUS_SEGMENT_SIZE ((sizeof(HttpStatusData) + 4095) & ~(size_t) 4095)

typedef enum HttpStatusFormat {
        HTTP_STATUS_HTML,
        HTTP_STATUS_AUTO,
        HTTP_STATUS_JSON,
        HTTP_STATUS_METRICS, /* Prometheus text exposition format 0.0.4 */
        HTTP_STATUS_HEALTH,  /* ?health: one word for a load balancer's check, 200 or 503 */
} HttpStatusFormat;

/* A consistent copy of what the supervisor published; false when none could be had. */
bool http_status_snapshot(const HttpStatusData *shared, HttpStatusData *ret);

/* The form a query asks for: the first of its '&'-separated arguments (the name before any '=') that
 * names one, "auto", "json" or "metrics"; the HTML page when none does. Unknown arguments are ignored, as
 * Apache's mod_status ignores them ("?refresh=5&auto" is the ?auto form, "?jsonx" the HTML page). */
HttpStatusFormat http_status_format(const char *query, size_t len);

/* Render into buf (NUL-terminated); returns the length, or -ENOBUFS. now is CLOCK_REALTIME usec. */
int http_status_render(const HttpStatusData *d, HttpStatusFormat f, const char *server_name, usec_t now, char *buf,
                       size_t size);

/* Is the peer address (text, as in HttpConnInfo.peer) in the list of "ADDR" / "ADDR/BITS" entries? */
bool http_status_allowed(char *const *allow, const char *peer);

/* The handler: picks the format from the query (http_status_format()), checks ServerStatusAllow (403), renders
 * what the site is shown (HttpSite.status; 503 when none) into the connection's scratch buffer. */
void http_status_serve(const HttpRequest *q, const char *peer, char *scratch, size_t scratch_size,
                       HttpResponse *r);
