/* SPDX-License-Identifier: MIT */
/* The status page: ?auto keys in Apache's order with the published figures, JSON, the allow list,
 * and a snapshot that refuses a segment caught mid-write. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/status.h"
#include "shared/strv.h"

static const char *const auto_keys[] = {
        "ServerVersion", "ServerMPM", "Server Built", "CurrentTime", "RestartTime",
        "ParentServerConfigGeneration", "ParentServerMPMGeneration", "ServerUptimeSeconds", "ServerUptime",
        "Load1", "Load5", "Load15", "Total Accesses", "Total kBytes", "Total Duration", "CPUUser", "CPUSystem",
        "CPUChildrenUser", "CPUChildrenSystem", "CPULoad", "Uptime", "ReqPerSec", "BytesPerSec", "BytesPerReq",
        "DurationPerReq", "BusyWorkers", "GracefulWorkers", "IdleWorkers", "Processes", "Stopping", "ConnsTotal",
        "ConnsAsyncWriting", "ConnsAsyncKeepAlive", "ConnsAsyncClosing", "Scoreboard",
};

static HttpStatusData sample(void) {
        HttpStatusData d = {
                .generation = 3,
                .restart_time = 1000000,
                .total_accesses = 200,
                .total_bytes = 4096 * 1024,
                .total_duration_usec = 400000,
                .busy = 2,
                .idle = 5,
                .processes = 2,
                .conns_total = 9,
                .conns_keepalive = 4,
                .n_slots = 4,
        };
        strcpy(d.mpm, "event");
        strcpy(d.server_built, "Nov 22 2026 08:00:00");
        memcpy(d.scoreboard, "_W..", 4);
        return d;
}

Test(status, auto_keys_in_apache_order_with_values) {
        HttpStatusData d = sample();
        char buf[8192];
        int n = http_status_render(&d, HTTP_STATUS_AUTO, "www.example.org", (usec_t) 1000100 * USEC_PER_SEC, buf,
                                   sizeof(buf));
        cr_assert_gt(n, 0);
        cr_assert(strncmp(buf, "www.example.org\n", 16) == 0, "%s", buf);

        char *line = strchr(buf, '\n') + 1;
        for (size_t i = 0; i < sizeof(auto_keys) / sizeof(auto_keys[0]); i++) {
                size_t k = strlen(auto_keys[i]);
                cr_assert(strncmp(line, auto_keys[i], k) == 0 && line[k] == ':', "key %zu: expected %s at %.30s", i,
                          auto_keys[i], line);
                line = strchr(line, '\n') + 1;
        }
        cr_assert_eq(*line, 0, "nothing after Scoreboard");
        cr_assert(strstr(buf, "\nServerMPM: event\n"));
        cr_assert(strstr(buf, "\nParentServerConfigGeneration: 3\n"));
        cr_assert(strstr(buf, "\nServerUptimeSeconds: 100\n"));
        cr_assert(strstr(buf, "\nServerUptime: 1 minute 40 seconds\n"), "%s", buf);
        cr_assert(strstr(buf, "\nTotal Accesses: 200\n"));
        cr_assert(strstr(buf, "\nTotal kBytes: 4096\n"));
        cr_assert(strstr(buf, "\nTotal Duration: 400\n"));
        cr_assert(strstr(buf, "\nReqPerSec: 2\n"), "%s", buf);
        cr_assert(strstr(buf, "\nDurationPerReq: 2\n"), "%s", buf);
        cr_assert(strstr(buf, "\nBusyWorkers: 2\nGracefulWorkers: 0\nIdleWorkers: 5\n"));
        cr_assert(strstr(buf, "\nScoreboard: _W..\n"));
}

Test(status, json_and_html) {
        HttpStatusData d = sample();
        char buf[8192];
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_JSON, "x", 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "\"mpm\":\"event\""));
        cr_assert(strstr(buf, "\"total_accesses\":200"));
        cr_assert(strstr(buf, "\"scoreboard\":\"_W..\""));
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_HTML, "x", 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "<pre>_W..</pre>"));
        cr_assert_eq(http_status_render(&d, HTTP_STATUS_HTML, "x", 0, buf, 64), -ENOBUFS);
}

Test(status, allow_list) {
        char *allow[] = { "127.0.0.0/8", "::1", "192.168.1.0/24", NULL };
        cr_assert(http_status_allowed(allow, "127.0.0.1"));
        cr_assert(http_status_allowed(allow, "127.200.3.4"));
        cr_assert(http_status_allowed(allow, "::1"));
        cr_assert(http_status_allowed(allow, "::ffff:127.0.0.1"), "IPv4 on a dual-stack socket");
        cr_assert(http_status_allowed(allow, "192.168.1.77"));
        cr_assert_not(http_status_allowed(allow, "192.168.2.1"));
        cr_assert_not(http_status_allowed(allow, "10.0.0.1"));
        cr_assert_not(http_status_allowed(allow, "::2"));
        cr_assert_not(http_status_allowed(allow, "-"));
        char *bad[] = { "127.0.0.0/40", "nonsense", NULL };
        cr_assert_not(http_status_allowed(bad, "127.0.0.1"));
        cr_assert_not(http_status_allowed(NULL, "127.0.0.1"));
}

Test(status, snapshot_refuses_a_segment_being_written) {
        HttpStatusData d = sample(), copy;
        d.seq = 7; /* odd: the supervisor is in the middle of an update */
        cr_assert_not(http_status_snapshot(&d, &copy));
        d.seq = 8;
        d.n_slots = 99999; /* hostile or torn: bounded in the copy */
        cr_assert(http_status_snapshot(&d, &copy));
        cr_assert_eq(copy.n_slots, HTTP_STATUS_SLOTS_MAX);
        cr_assert_not(http_status_snapshot(NULL, &copy));
}

Test(status, json_escapes_strings) {
        HttpStatusData d = sample();
        char buf[8192];
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_JSON, "a\"b\\c\x01\xc3\xa9\xe9", 1000100 * USEC_PER_SEC, buf,
                                        sizeof(buf)),
                     0);
        /* UTF-8 passes; a byte that is not UTF-8 becomes U+FFFD */
        cr_assert(strstr(buf, "{\"server_name\":\"a\\\"b\\\\c\\u0001\xc3\xa9\\ufffd\","), "%s", buf);
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_HTML, "<b>&", 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "status for &lt;b&gt;&amp;</h1>"), "%s", buf);
}

Test(status, query_picks_the_form_and_ignores_unknown_arguments) {
        static const struct {
                const char *query;
                HttpStatusFormat f;
        } cases[] = {
                { "auto", HTTP_STATUS_AUTO },       { "json", HTTP_STATUS_JSON },
                { "refresh=5&auto", HTTP_STATUS_AUTO }, { "json&auto", HTTP_STATUS_JSON },
                { "auto=1", HTTP_STATUS_AUTO },     { "jsonx", HTTP_STATUS_HTML },
                { "xjson", HTTP_STATUS_HTML },      { "autox", HTTP_STATUS_HTML },
                { "", HTTP_STATUS_HTML },           { "&&", HTTP_STATUS_HTML },
                { "notable", HTTP_STATUS_HTML },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                cr_assert_eq(http_status_format(cases[i].query, strlen(cases[i].query)), cases[i].f, "?%s",
                             cases[i].query);
        cr_assert_eq(http_status_format("json", 3), HTTP_STATUS_HTML, "only len bytes are the query");
}

/* Every sample's family has HELP and TYPE before it; returns the value of the sample named (whole
 * line up to the value), or -1. */
static double metric(const char *page, const char *sample) {
        char needle[256];
        snprintf(needle, sizeof(needle), "\n%s ", sample);
        const char *p = strstr(page, needle);
        return p ? strtod(p + strlen(needle), NULL) : -1;
}

Test(status, metrics_in_prometheus_text_format) {
        HttpStatusData d = sample();
        char buf[16384];
        d.duration_buckets[0] = 150;                             /* <= 5 ms */
        d.duration_buckets[4] = 40;                              /* <= 100 ms */
        d.duration_buckets[HTTP_STATUS_DURATION_BUCKETS] = 10;   /* > 10 s */
        d.workers_by_state[strchr(HTTP_STATUS_WORKER_LETTERS, 'W') - HTTP_STATUS_WORKER_LETTERS] = 3;
        d.reloads_ok = 2;
        d.reloads_failed = 1;
        int n = http_status_render(&d, HTTP_STATUS_METRICS, "x", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf));
        cr_assert_gt(n, 0);

        /* Every sample line is "name{labels} value" of a family announced by HELP and TYPE. */
        for (char *line = buf; *line; line = strchr(line, '\n') + 1) {
                char name[128], head[160];
                size_t k = strcspn(line, "{ ");
                cr_assert(strchr(line, '\n'), "the page ends with a newline");
                if (line[0] == '#')
                        continue;
                cr_assert_lt(k, sizeof(name));
                memcpy(name, line, k);
                name[k] = 0;
                char *suffix = strstr(name, "_bucket");
                if (!suffix)
                        suffix = strstr(name, "_count");
                if (!suffix)
                        suffix = strstr(name, "_sum");
                if (suffix && strncmp(name, "mpmd_request_duration_seconds", 29) == 0)
                        *suffix = 0;
                snprintf(head, sizeof(head), "# HELP %s ", name);
                cr_assert(strstr(buf, head), "no HELP for %s", name);
                snprintf(head, sizeof(head), "# TYPE %s ", name);
                cr_assert(strstr(buf, head), "no TYPE for %s", name);
        }
        cr_assert(strstr(buf, "# TYPE mpmd_requests_total counter\n"));
        cr_assert(strstr(buf, "# TYPE mpmd_request_duration_seconds histogram\n"));
        cr_assert_eq(metric(buf, "mpmd_requests_total"), 200);
        cr_assert_eq(metric(buf, "mpmd_sent_bytes_total"), 4096 * 1024);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"0.005\"}"), 150);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"0.05\"}"), 150);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"0.1\"}"), 190, "cumulative");
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"10\"}"), 190);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"+Inf\"}"), 200);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_count"), 200);
        cr_assert_float_eq(metric(buf, "mpmd_request_duration_seconds_sum"), 0.4, 1e-9);
        cr_assert_eq(metric(buf, "mpmd_workers{state=\"reply\"}"), 3);
        cr_assert_eq(metric(buf, "mpmd_workers{state=\"idle\"}"), 0);
        cr_assert_eq(metric(buf, "mpmd_connections{state=\"keepalive\"}"), 4);
        cr_assert_eq(metric(buf, "mpmd_reloads_total{result=\"ok\"}"), 2);
        cr_assert_eq(metric(buf, "mpmd_reloads_total{result=\"failed\"}"), 1);
        cr_assert_eq(metric(buf, "mpmd_generation"), 3);
        cr_assert_eq(metric(buf, "mpmd_uptime_seconds"), 100);

        /* A histogram read between a request and its bucket: never a bucket above _count. */
        d.duration_buckets[0] = 500;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_METRICS, "x", 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_eq(metric(buf, "mpmd_request_duration_seconds_bucket{le=\"0.005\"}"), 200);
        cr_assert_eq(http_status_format("metrics", 7), HTTP_STATUS_METRICS);
}

Test(status, tls_counters_after_apache_keys_when_the_server_has_tls) {
        HttpStatusData d = sample();
        char buf[16384];

        d.tls_conns = 12;
        d.ktls_conns = 3;
        d.tls_hellos_refused = 5;
        d.tls_names_unrecognized = 2;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_AUTO, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_null(strstr(buf, "TLSConns"), "a server without TLS listeners shows Apache's page as it was");

        d.tls = 1;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_AUTO, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        const char *sb = strstr(buf, "\nScoreboard: _W..\n");
        cr_assert_not_null(sb);
        cr_assert_str_eq(sb + strlen("\nScoreboard: _W..\n"), "TLSConns: 12\nKTLSConns: 3\nTLSHellosRefused: 5\nTLSNamesUnrecognized: 2\n", "%s", buf);

        cr_assert_gt(http_status_render(&d, HTTP_STATUS_JSON, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "\"tls_connections\":12,\"ktls_connections\":3,\"tls_hellos_refused\":5,"
                              "\"tls_names_unrecognized\":2,"),
                  "%s", buf);

        cr_assert_gt(http_status_render(&d, HTTP_STATUS_METRICS, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_eq(metric(buf, "mpmd_tls_connections_total{record_layer=\"all\"}"), 12);
        cr_assert_eq(metric(buf, "mpmd_tls_connections_total{record_layer=\"ktls\"}"), 3);
        cr_assert(strstr(buf, "# TYPE mpmd_tls_connections_total counter\n"));
        cr_assert_eq(metric(buf, "mpmd_tls_hellos_refused_total{reason=\"malformed\"}"), 5);
        cr_assert_eq(metric(buf, "mpmd_tls_hellos_refused_total{reason=\"unrecognized_name\"}"), 2);
}

Test(status, proxy_refusals_in_json_and_metrics_not_in_auto) {
        HttpStatusData d = sample();
        char buf[16384];

        d.proxy_refused = 7;
        d.tls = 1;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_AUTO, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_null(strstr(buf, "roxy"), "?auto stays Apache's page (and mpmd's TLS keys): %s", buf);
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_JSON, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "\"tls_names_unrecognized\":0,\"proxy_refused\":7,\"load\":"), "%s", buf);
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_METRICS, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "# TYPE mpmd_proxy_refused_total counter\n"));
        cr_assert_eq(metric(buf, "mpmd_proxy_refused_total"), 7);
}

Test(status, health_says_the_node_state_and_auto_shows_it_when_not_serving) {
        HttpStatusData d = sample();
        char buf[16384];

        cr_assert_eq(http_status_format("health", 6), HTTP_STATUS_HEALTH);
        cr_assert_eq(http_status_format("x=1&health", 10), HTTP_STATUS_HEALTH);
        d.node_state = HTTP_NODE_SERVING;
        cr_assert_eq(http_status_render(&d, HTTP_STATUS_HEALTH, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)),
                     8);
        cr_assert_str_eq(buf, "serving\n");
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_AUTO, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_null(strstr(buf, "NodeState"));

        d.node_state = HTTP_NODE_DRAINED;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_HEALTH, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "drained\n");
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_AUTO, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_not_null(strstr(buf, "\nNodeState: drained\n"), "%s", buf);
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_JSON, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_not_null(strstr(buf, "\"node_state\":\"drained\"}"), "%s", buf);

        d.node_state = HTTP_NODE_STOPPING;
        cr_assert_gt(http_status_render(&d, HTTP_STATUS_HEALTH, "h", (usec_t) 1000100 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "stopping\n");
}
