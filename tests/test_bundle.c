/* SPDX-License-Identifier: MIT */
/*
 * test_bundle.c - ntm_bundle_import (sync/bundle.c) as an attacker or a
 * damaged USB stick would feed it: lines in reverse order, a NUL byte in
 * a line, an endless line, garbage, and the SPEC.md section 7 basics
 * (header checked, re-import changes nothing).
 */
#include "store_helpers.h"

#include <fcntl.h>
#include <time.h>

#define NENTRIES 1000

static struct ntm_key *root;
static char root_hex[NTM_HEX_ID_LEN + 1];
static struct ntm_store *src;
static char **lines; /* NENTRIES bundle lines, in seq order */

static int
line_cb(void *ud, const struct ntm_entry_view *e)
{
    int *n = ud;
    json_t *o =
        json_pack("{s:s%, s:s}", "entry", e->bytes, e->len, "sig", e->sig);
    assert_non_null(o);
    lines[(*n)++] = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return 0;
}

static int
setup(void **state)
{
    (void)state;
    struct ntm_error err;
    struct ntm_write_result res;
    root = th_key();
    th_author(root, root_hex);
    src = th_store(root, 0);
    assert_int_equal(ntm_store_begin(src, &err), NTM_OK);
    for (int i = 0; i < NENTRIES; i++) {
        char id[NTM_RECORD_ID_LEN + 1], title[32];
        snprintf(title, sizeof(title), "Đường ấp %d", i);
        json_t *fields = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                                   "doan.rural_roads_km", "date", "2019-05-17",
                                   "qty", "1.5", "uom", "km", "title", title);
        if (ntm_record_create(src, root, "activity", "72.710.25657", "doan",
                              fields, id, &res, &err) != NTM_OK)
            fail_msg("record_create: %s", ntm_error_text(&err));
        json_decref(fields);
    }
    assert_int_equal(ntm_store_commit(src, &err), NTM_OK);
    lines = calloc(NENTRIES, sizeof(*lines));
    int n = 0;
    struct ntm_entry_query q = {0};
    q.by_author_seq = 1;
    assert_int_equal(ntm_store_entries(src, &q, line_cb, &n, &err), NTM_OK);
    assert_int_equal(n, NENTRIES);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NENTRIES; i++)
        free(lines[i]);
    free(lines);
    ntm_store_close(src);
    ntm_key_free(root);
    th_rmdir();
    return 0;
}

/* Write a bundle file: the header, then the lines order[0..n) (an index
 * into lines, or -1 for extra). Returns its path (static). */
static const char *
write_bundle(const int *order, int n, const char *extra, size_t extra_len)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/b%d.ntm", th_dir, th_serial++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"by\":\"%s\",\"count\":%d,\"created_ms\":1,\"ntm_bundle\":1}\n",
            root_hex, n);
    for (int i = 0; i < n; i++) {
        if (order[i] < 0 && extra)
            assert_int_equal(fwrite(extra, 1, extra_len, f), extra_len);
        else
            fprintf(f, "%s\n", lines[order[i]]);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Import path into a new replica trusting root; returns the seconds it
 * took. */
static double
import_new(const char *path, struct ntm_bundle_import_result *res,
           enum ntm_err want, struct ntm_store **keep)
{
    struct ntm_store *st = th_store(root, 0);
    struct ntm_error err = {0};
    double t0 = now_s();
    enum ntm_err rc = ntm_bundle_import(st, path, NULL, NULL, res, &err);
    double t = now_s() - t0;
    if (rc != want)
        fail_msg("import of %s gave %d (%s), want %d", path, rc,
                 ntm_error_text(&err), want);
    if (keep)
        *keep = st;
    else
        ntm_store_close(st);
    return t;
}

static void
test_bundle_reversed_lines_import_in_n_log_n(void **state)
{
    (void)state;
    int order[NENTRIES];
    struct ntm_bundle_import_result res;
    for (int i = 0; i < NENTRIES; i++)
        order[i] = i;
    const char *in_order = write_bundle(order, NENTRIES, NULL, 0);
    double t_in = import_new(in_order, &res, NTM_OK, NULL);
    assert_int_equal(res.accepted, NENTRIES);
    ntm_bundle_import_result_release(&res);

    for (int i = 0; i < NENTRIES; i++)
        order[i] = NENTRIES - 1 - i;
    const char *reversed = write_bundle(order, NENTRIES, NULL, 0);
    struct ntm_store *st = NULL;
    double t_rev = import_new(reversed, &res, NTM_OK, &st);
    assert_int_equal(res.accepted, NENTRIES);
    assert_int_equal(json_array_size(res.rejected), 0);
    assert_int_equal(res.lines, NENTRIES);
    assert_int_equal(res.declared, NENTRIES);
    ntm_bundle_import_result_release(&res);
    int64_t head = 0;
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, NENTRIES);

    /* Importing it again changes nothing (SPEC.md 7). */
    struct ntm_error err;
    assert_int_equal(ntm_bundle_import(st, reversed, NULL, NULL, &res, &err),
                     NTM_OK);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.duplicates, NENTRIES);
    ntm_bundle_import_result_release(&res);
    ntm_store_close(st);

    print_message("in order %.3f s, reversed %.3f s\n", t_in, t_rev);
    const char *san = getenv("NTM_SANITIZED");
    if (!(san && !strcmp(san, "1")) && t_rev > 5 * t_in + 0.05)
        fail_msg("reversed lines took %.3f s, %.1f times the in-order %.3f s",
                 t_rev, t_rev / t_in, t_in);
}

static void
test_bundle_nul_line_does_not_swallow_the_next(void **state)
{
    (void)state;
    /* line 2 (entry 1) is fine, line 3 a damaged line with a NUL byte and
     * no entry, line 4 the second entry: it must be taken. */
    static const char damaged[] = "{\"entry\":\"x\0\"}\n";
    int order[] = {0, -1, 1};
    const char *path = write_bundle(order, 3, damaged, sizeof(damaged) - 1);
    struct ntm_bundle_import_result res;
    struct ntm_store *st = NULL;
    import_new(path, &res, NTM_OK, &st);
    assert_int_equal(res.accepted, 2);
    assert_int_equal(json_array_size(res.rejected), 1);
    json_t *r = json_array_get(res.rejected, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "line")), 3);
    assert_non_null(
        strstr(json_string_value(json_object_get(r, "message")), "NUL"));
    ntm_bundle_import_result_release(&res);
    int64_t head = 0;
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 2);
    ntm_store_close(st);

    /* A NUL byte inside an otherwise good line: that line is rejected,
     * the next one is taken. */
    char *with_nul = strdup(lines[1]);
    size_t len = strlen(with_nul);
    with_nul[len / 2] = '\0';
    char *buf = malloc(len + 1);
    memcpy(buf, with_nul, len);
    buf[len] = '\n';
    int order2[] = {0, -1, 2};
    path = write_bundle(order2, 3, buf, len + 1);
    import_new(path, &res, NTM_OK, NULL);
    /* entry 3 waits for entry 2, which is lost: a gap, not swallowed */
    assert_int_equal(res.accepted, 1);
    assert_int_equal(json_array_size(res.rejected), 2);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(res.rejected, 1), "line")),
                     4);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(res.rejected, 1), "code")),
                        "gap");
    ntm_bundle_import_result_release(&res);
    free(buf);
    free(with_nul);
}

static void
test_bundle_endless_and_garbage_input_stop(void **state)
{
    (void)state;
    struct ntm_bundle_import_result res;
    /* /dev/zero: an endless first line */
    double t = import_new("/dev/zero", &res, NTM_ETOOLARGE, NULL);
    assert_int_equal(res.bad_line, 1);
    ntm_bundle_import_result_release(&res);
    assert_true(t < 10);

    /* a 10 MiB line after a good one: refused, nothing stored */
    size_t big = 10u << 20;
    char *x = malloc(big + 1);
    memset(x, 'a', big);
    x[big] = '\n';
    int order[] = {0, -1, 1};
    const char *path = write_bundle(order, 3, x, big + 1);
    struct ntm_store *st = NULL;
    import_new(path, &res, NTM_ETOOLARGE, &st);
    assert_int_equal(res.bad_line, 3);
    ntm_bundle_import_result_release(&res);
    int64_t head = 0;
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_ENOENT);
    ntm_store_close(st);

    /* endless short garbage lines: stops after NTM_BUNDLE_MAX_BAD_LINES */
    int many[NTM_BUNDLE_MAX_BAD_LINES + 10];
    for (int i = 0; i < NTM_BUNDLE_MAX_BAD_LINES + 10; i++)
        many[i] = -1;
    path =
        write_bundle(many, NTM_BUNDLE_MAX_BAD_LINES + 10, "\x01garbage\n", 9);
    import_new(path, &res, NTM_EINVAL, NULL);
    assert_int_equal(res.bad_line, NTM_BUNDLE_MAX_BAD_LINES + 2);
    ntm_bundle_import_result_release(&res);
    free(x);
}

static void
test_bundle_header_is_checked(void **state)
{
    (void)state;
    struct ntm_bundle_import_result res;
    char path[400];
    snprintf(path, sizeof(path), "%s/nohead.ntm", th_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", lines[0]);
    fclose(f);
    import_new(path, &res, NTM_EINVAL, NULL);
    assert_int_equal(res.bad_line, 1);
    ntm_bundle_import_result_release(&res);
    f = fopen(path, "w");
    fclose(f);
    import_new(path, &res, NTM_EINVAL, NULL);
    ntm_bundle_import_result_release(&res);
    snprintf(path, sizeof(path), "%s/missing.ntm", th_dir);
    import_new(path, &res, NTM_ENOENT, NULL);
    ntm_bundle_import_result_release(&res);
}

/* Export progress: called with the lines written so far, never more than
 * the total, ending at the total. */
struct progress {
    int calls;
    int64_t last, total;
};

static void
on_progress(void *ud, int64_t done, int64_t total)
{
    struct progress *p = ud;
    assert_true(done >= p->last);
    assert_true(done <= total);
    p->calls++;
    p->last = done;
    p->total = total;
}

/* ntm_bundle_export writes every entry with a signed header that
 * ntm_bundle_import takes whole into a new replica; an unknown author
 * writes nothing; the file is the only thing left (no path.tmp). */
static void
test_bundle_export_round_trip(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    struct ntm_bundle_export_result ex;
    struct progress pr = {0};
    char path[400];
    snprintf(path, sizeof(path), "%s/export%d.ntm", th_dir, th_serial++);
    if (ntm_bundle_export(src, root, path, NULL, on_progress, &pr, &ex, &err) !=
        NTM_OK)
        fail_msg("export: %s", ntm_error_text(&err));
    assert_int_equal(ex.count, NENTRIES);
    assert_string_equal(ex.by, root_hex);
    assert_true(pr.calls > 0);
    assert_int_equal(pr.last, NENTRIES);
    assert_int_equal(pr.total, NENTRIES);
    char tmp[420], sig[420];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(sig, sizeof(sig), "%s.minisig", path);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(sig, F_OK), 0);

    struct ntm_bundle_import_result res;
    struct ntm_store *st;
    import_new(path, &res, NTM_OK, &st);
    assert_int_equal(res.signature, 1);
    assert_int_equal(res.declared, NENTRIES);
    assert_int_equal(res.accepted, NENTRIES);
    assert_int_equal(json_array_size(res.rejected), 0);
    assert_int_equal(json_array_size(res.flagged), 0);
    ntm_bundle_import_result_release(&res);
    ntm_store_close(st);

    /* Only one author's entries, and that author holds none here. */
    char other[NTM_HEX_ID_LEN + 1];
    memset(other, 'a', NTM_HEX_ID_LEN);
    other[NTM_HEX_ID_LEN] = 0;
    snprintf(path, sizeof(path), "%s/export%d.ntm", th_dir, th_serial++);
    assert_int_equal(
        ntm_bundle_export(src, root, path, other, NULL, NULL, &ex, &err),
        NTM_ENOENT);
    assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
    ntm_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_reversed_lines_import_in_n_log_n),
        cmocka_unit_test(test_bundle_nul_line_does_not_swallow_the_next),
        cmocka_unit_test(test_bundle_endless_and_garbage_input_stop),
        cmocka_unit_test(test_bundle_header_is_checked),
        cmocka_unit_test(test_bundle_export_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
