/*
 * tests/unit/test_metrics.c — daemon/metrics.c, the counters of --metrics
 * and their text exposition.
 *
 * Proves: a record is counted under its close code, outcome, initiator and
 * termination ("none" without a code or an initiator); codes 1000-1015
 * always keep their own label, the first METRICS_CODES_MAX others too, and
 * later ones fold into their registry range ("4000-4999", "5000-65535");
 * rejected handshakes by status, beyond METRICS_STATUSES_MAX as "other";
 * the idle-before-close histogram puts a 60 s silence in the le="61"
 * bucket and not in le="59" (a proxy's idle timeout stands out), buckets
 * are cumulative, rejected handshakes are not timed; --metrics-by server
 * writes IPv6 servers in brackets, and a path's quote, backslash, line
 * feed and bytes that are not UTF-8 are escaped or replaced; every
 * violation kind has a series; the store's figures (NULL store: zeros).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../daemon/metrics.h"

#define SEC 1000000LL

static struct ws_record plain(int code, enum outcome o)
{
    struct ws_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_ip, sizeof r.client_ip, "10.0.0.1");
    snprintf(r.server_ip, sizeof r.server_ip, "10.0.0.2");
    r.server_port = 443;
    r.started_at = 100 * SEC;
    r.upgraded_at = 100 * SEC;
    r.ended_at = 101 * SEC;
    r.last_data_at = r.last_frame_at = TS_NONE;
    r.close_code = code;
    r.close_initiator = code >= 0 ? DIR_CLIENT : -1;
    r.close[DIR_CLIENT] = (struct close_info){.code = code, .at = code >= 0 ? r.ended_at : TS_NONE};
    r.close[DIR_SERVER] = (struct close_info){.code = -1, .at = TS_NONE};
    r.outcome = o;
    r.termination = TERM_FIN_SERVER;
    r.http_status = o == OUTCOME_REJECTED ? 403 : 101;
    return r;
}

static char *render(struct metrics *m)
{
    size_t len = 0;
    char *text = metrics_render(m, NULL, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want)) {
        print_error("no line '%s' in:\n%s\n", line, text);
        fail();
    }
}

static void expect_no(const char *text, const char *part)
{
    if (strstr(text, part)) {
        print_error("'%s' should not be in:\n%s\n", part, text);
        fail();
    }
}

static void counted_by_code_outcome_initiator_termination(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("1.2.3", METRICS_BY_NONE);
    struct ws_record a = plain(1000, OUTCOME_CLEAN), b = plain(-1, OUTCOME_UNFINISHED);
    b.termination = TERM_CAPTURE_END;
    metrics_record(m, &a);
    metrics_record(m, &a);
    metrics_record(m, &b);
    metrics_tls(m);
    char *t = render(m);
    expect_line(t, "wsstats_connections_ended_total{code=\"1000\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 2");
    expect_line(t, "wsstats_connections_ended_total{code=\"none\",outcome=\"unfinished\",initiator=\"none\","
                   "termination=\"capture_end\"} 1");
    expect_line(t, "wsstats_build_info{version=\"1.2.3\"} 1");
    expect_line(t, "wsstats_records_written_total 3");
    expect_line(t, "wsstats_tls_flows_total 1");
    expect_line(t, "wsstats_violations_total{kind=\"gap\"} 0");
    expect_line(t, "wsstats_violations_total{kind=\"unmasked_client_frame\"} 0");
    expect_line(t, "wsstats_records_committed_total 0");
    expect_no(t, "wsstats_interface_up"); /* not watched */
    expect_no(t, "by_server");
    free(t);
    metrics_free(m);
}

static void codes_beyond_the_cap_fold_into_their_range(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("x", METRICS_BY_NONE);
    for (int i = 0; i < METRICS_CODES_MAX; i++) {
        struct ws_record r = plain(4000 + i, OUTCOME_CLEAN);
        metrics_record(m, &r);
    }
    struct ws_record later = plain(4999, OUTCOME_CLEAN), invalid = plain(5001, OUTCOME_CLEAN),
                     standard = plain(1015, OUTCOME_CLEAN), again = plain(4000, OUTCOME_CLEAN);
    metrics_record(m, &later);
    metrics_record(m, &invalid);
    metrics_record(m, &standard);
    metrics_record(m, &again);
    char *t = render(m);
    expect_line(t, "wsstats_connections_ended_total{code=\"4000\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 2");
    expect_line(t, "wsstats_connections_ended_total{code=\"4031\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 1");
    expect_line(t, "wsstats_connections_ended_total{code=\"4000-4999\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 1");
    expect_line(t, "wsstats_connections_ended_total{code=\"5000-65535\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 1");
    expect_line(t, "wsstats_connections_ended_total{code=\"1015\",outcome=\"clean\",initiator=\"client\","
                   "termination=\"fin_server\"} 1");
    expect_no(t, "code=\"4999\"");
    free(t);
    metrics_free(m);
}

static void rejected_by_status_then_other(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("x", METRICS_BY_NONE);
    for (int i = 0; i < METRICS_STATUSES_MAX + 2; i++) {
        struct ws_record r = plain(-1, OUTCOME_REJECTED);
        r.http_status = 400 + i;
        r.ended_at = r.started_at + 1000 * SEC; /* not timed */
        metrics_record(m, &r);
    }
    char *t = render(m);
    expect_line(t, "wsstats_handshakes_rejected_total{status=\"400\"} 1");
    expect_line(t, "wsstats_handshakes_rejected_total{status=\"415\"} 1");
    expect_line(t, "wsstats_handshakes_rejected_total{status=\"other\"} 2");
    expect_no(t, "status=\"416\"");
    expect_line(t, "wsstats_connection_duration_seconds_count 0");
    free(t);
    metrics_free(m);
}

static void a_sixty_second_silence_stands_out(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("x", METRICS_BY_NONE);
    struct ws_record r = plain(1006, OUTCOME_ABNORMAL);
    r.close[DIR_CLIENT] = (struct close_info){.code = -1, .at = TS_NONE};
    r.close_initiator = -1;
    r.last_data_at = 200 * SEC;
    r.ended_at = 260 * SEC; /* 60 s of silence, then TCP ended */
    metrics_record(m, &r);
    char *t = render(m);
    expect_line(t, "wsstats_connection_idle_before_close_seconds_bucket{le=\"59\"} 0");
    expect_line(t, "wsstats_connection_idle_before_close_seconds_bucket{le=\"61\"} 1");
    expect_line(t, "wsstats_connection_idle_before_close_seconds_bucket{le=\"+Inf\"} 1");
    expect_line(t, "wsstats_connection_idle_before_close_seconds_sum 60");
    expect_line(t, "wsstats_connection_duration_seconds_bucket{le=\"120\"} 0");
    expect_line(t, "wsstats_connection_duration_seconds_bucket{le=\"300\"} 1");
    expect_line(t, "wsstats_connection_duration_seconds_sum 160");
    free(t);
    metrics_free(m);
}

static void by_server_and_by_path_labels(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("x", METRICS_BY_SERVER);
    struct ws_record v4 = plain(1000, OUTCOME_CLEAN), v6 = plain(1000, OUTCOME_CLEAN);
    snprintf(v6.server_ip, sizeof v6.server_ip, "2001:db8::1");
    metrics_record(m, &v4);
    metrics_record(m, &v6);
    char *t = render(m);
    expect_line(t, "wsstats_connections_ended_by_server_total{server=\"10.0.0.2:443\",code=\"1000\",outcome=\"clean\"} 1");
    expect_line(t, "wsstats_connections_ended_by_server_total{server=\"[2001:db8::1]:443\",code=\"1000\","
                   "outcome=\"clean\"} 1");
    free(t);
    metrics_free(m);

    m = metrics_new("x", METRICS_BY_PATH);
    struct ws_record odd = plain(1000, OUTCOME_CLEAN), none = plain(1000, OUTCOME_CLEAN);
    odd.path = "/a\"b\\c\nd\xff";
    metrics_record(m, &odd);
    metrics_record(m, &none);
    for (int i = 0; i < METRICS_KEYS_MAX + 1; i++) {
        char path[16];
        snprintf(path, sizeof path, "/p%d", i);
        struct ws_record r = plain(1000, OUTCOME_CLEAN);
        r.path = path;
        metrics_record(m, &r);
    }
    t = render(m);
    expect_line(t, "wsstats_connections_ended_by_path_total{path=\"/a\\\"b\\\\c\\nd?\",code=\"1000\",outcome=\"clean\"} 1");
    expect_line(t, "wsstats_connections_ended_by_path_total{path=\"\",code=\"1000\",outcome=\"clean\"} 1");
    expect_line(t, "wsstats_connections_ended_by_path_total{path=\"/p17\",code=\"1000\",outcome=\"clean\"} 1");
    expect_line(t, "wsstats_connections_ended_by_path_total{path=\"other\",code=\"1000\",outcome=\"clean\"} 3");
    free(t);
    metrics_free(m);
}

static void health_as_published(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("x", METRICS_BY_NONE);
    struct metrics_health h = {.packets = 7, .kernel_drops = 2, .if_drops = 1, .connections_open = 3,
                               .evicted_memcap = 4, .evicted_max_flows = 5, .interface_up = 0};
    metrics_set_health(m, &h);
    char *t = render(m);
    expect_line(t, "wsstats_packets_total 7");
    expect_line(t, "wsstats_capture_drops_total{where=\"kernel\"} 2");
    expect_line(t, "wsstats_capture_drops_total{where=\"interface\"} 1");
    expect_line(t, "wsstats_connections_open 3");
    expect_line(t, "wsstats_flow_evictions_total{reason=\"memcap\"} 4");
    expect_line(t, "wsstats_flow_evictions_total{reason=\"max_flows\"} 5");
    expect_line(t, "wsstats_interface_up 0");
    free(t);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counted_by_code_outcome_initiator_termination),
        cmocka_unit_test(codes_beyond_the_cap_fold_into_their_range),
        cmocka_unit_test(rejected_by_status_then_other),
        cmocka_unit_test(a_sixty_second_silence_stands_out),
        cmocka_unit_test(by_server_and_by_path_labels),
        cmocka_unit_test(health_as_published),
    };
    RUN_TESTS(tests);
}
