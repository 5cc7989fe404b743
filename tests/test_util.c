/* SPDX-License-Identifier: MIT */
/*
 * test_util.c - the util/ suite: the growable buffer, the error struct and
 * result codes, integer parsing, whole-file reads, atomic writes, mkdir -p,
 * the clock override, and allocation failures injected through
 * ntm_set_alloc_funcs (STYLE rule 39).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

#include "fail_alloc.h"
#include "ntm_text.h"
#include "ntm_util.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ntm-util-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    fa_restore(); /* even when a test failed half-way */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Buffer */

static void
test_buf_init_and_str(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_null(b.buf);
    assert_int_equal(b.len, 0);
    assert_string_equal(ntm_buf_str(&b), "");
    ntm_buf_init(&b);
    assert_string_equal(ntm_buf_str(&b), "");
    ntm_buf_release(&b);
    ntm_buf_release(&b); /* twice is fine */
    assert_null(b.buf);
}

static void
test_buf_add_grows(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    char expect[10001];
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        expect[i] = c;
        if (i % 3 == 0)
            assert_int_equal(ntm_buf_addch(&b, c), NTM_OK);
        else
            assert_int_equal(ntm_buf_add(&b, &c, 1), NTM_OK);
        assert_int_equal(b.len, (size_t)i + 1);
        assert_true(b.alloc >= b.len + 1);
        assert_int_equal(b.buf[b.len], '\0');
    }
    expect[10000] = '\0';
    assert_string_equal(ntm_buf_str(&b), expect);
    assert_int_equal(ntm_buf_adds(&b, "XYZ"), NTM_OK);
    assert_int_equal(b.len, 10003);
    assert_string_equal(b.buf + 10000, "XYZ");
    /* Embedded NUL bytes are kept and counted. */
    assert_int_equal(ntm_buf_add(&b, "a\0b", 3), NTM_OK);
    assert_int_equal(b.len, 10006);
    assert_memory_equal(b.buf + 10003, "a\0b", 4);
    /* Adding nothing keeps the buffer a valid string. */
    assert_int_equal(ntm_buf_add(&b, NULL, 0), NTM_OK);
    assert_int_equal(b.len, 10006);
    ntm_buf_release(&b);

    struct ntm_buf e = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_add(&e, "", 0), NTM_OK);
    assert_non_null(e.buf);
    assert_string_equal(e.buf, "");
    ntm_buf_release(&e);
}

static void
test_buf_grow_overflow_refused(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_adds(&b, "x"), NTM_OK);
    assert_int_equal(ntm_buf_grow(&b, SIZE_MAX), NTM_ENOMEM);
    assert_int_equal(ntm_buf_grow(&b, SIZE_MAX - 1), NTM_ENOMEM);
    assert_string_equal(ntm_buf_str(&b), "x");
    ntm_buf_release(&b);
}

/* The one HTML escaper of the report and ntm ui: markup and quotes are
 * entities, a control character is shown, Vietnamese passes as it is. */
static void
test_buf_add_html(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_add_html(&b, "<script>a&b</script>"), NTM_OK);
    assert_int_equal(ntm_buf_add_html(&b, " \"x\" 'y'\x01\x7f\tĐường\n"),
                     NTM_OK);
    assert_int_equal(ntm_buf_add_html(&b, NULL), NTM_OK);
    assert_string_equal(ntm_buf_str(&b),
                        "&lt;script&gt;a&amp;b&lt;/script&gt; &quot;x&quot; "
                        "&#39;y&#39;\\x01\\x7f\tĐường\n");
    ntm_buf_release(&b);
}

static void
test_buf_addf_growth(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_addf(&b, "%s-%d", "a", 7), NTM_OK);
    assert_string_equal(ntm_buf_str(&b), "a-7");
    /* Longer than the first guess: formatted a second time. */
    char big[5000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ntm_buf_addf(&b, "[%s|%05d]", big, 42), NTM_OK);
    assert_int_equal(b.len, 3 + 1 + 4999 + 7);
    assert_memory_equal(b.buf, "a-7[qqq", 7);
    assert_string_equal(b.buf + b.len - 7, "|00042]");
    /* Many small appends. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ntm_buf_addf(&b, "%d,", i % 10), NTM_OK);
    assert_int_equal(b.len, 3 + 5007 + 2000);
    assert_string_equal(b.buf + b.len - 4, "8,9,");
    /* An empty format adds nothing. */
    size_t len = b.len;
    assert_int_equal(ntm_buf_addf(&b, "%s", ""), NTM_OK);
    assert_int_equal(b.len, len);
    ntm_buf_release(&b);
}

static void
test_buf_reset_keeps_storage(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_adds(&b, "hello"), NTM_OK);
    char *p = b.buf;
    size_t alloc = b.alloc;
    ntm_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.buf, p);
    assert_int_equal(b.alloc, alloc);
    assert_string_equal(ntm_buf_str(&b), "");
    assert_int_equal(ntm_buf_adds(&b, "hi"), NTM_OK);
    assert_string_equal(ntm_buf_str(&b), "hi");
    ntm_buf_release(&b);
    ntm_buf_reset(&b); /* on an empty buffer */
    assert_string_equal(ntm_buf_str(&b), "");
}

static void
test_buf_detach(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    size_t len = 99;
    assert_int_equal(ntm_buf_addf(&b, "id=%s", "abc"), NTM_OK);
    char *s = ntm_buf_detach(&b, &len);
    assert_string_equal(s, "id=abc");
    assert_int_equal(len, 6);
    assert_null(b.buf);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);
    ntm_free(s);
    /* The buffer is reusable after detach. */
    assert_int_equal(ntm_buf_adds(&b, "again"), NTM_OK);
    assert_string_equal(ntm_buf_str(&b), "again");
    ntm_buf_release(&b);
    /* Empty: "" and never NULL. */
    s = ntm_buf_detach(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    ntm_free(s);
    s = ntm_buf_detach(&b, NULL);
    assert_non_null(s);
    ntm_free(s);
}

/* Fail each allocation of an addf in turn: NTM_ENOMEM, the buffer keeps
 * its old contents and stays usable, and nothing leaks. */
static void
test_buf_addf_alloc_failure(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int failures = 0, clean = 0;
    for (int n = 1; n <= 10; n++) {
        fa_inject_at(n);
        struct ntm_buf b = NTM_BUF_INIT;
        enum ntm_err rc = ntm_buf_adds(&b, "keep");
        if (rc == NTM_OK)
            rc = ntm_buf_addf(&b, "%s/%d", big, n);
        if (rc == NTM_OK) {
            if (fa_failures == 0)
                clean = 1; /* ran with no allocation failing */
            char want[400];
            snprintf(want, sizeof(want), "keep%s/%d", big, n);
            assert_string_equal(ntm_buf_str(&b), want);
            assert_int_equal(b.len, strlen(want));
        } else {
            failures++;
            assert_int_equal(rc, NTM_ENOMEM);
            /* Old contents intact and terminated. */
            assert_true(b.len == 0 || b.len == 4);
            assert_string_equal(ntm_buf_str(&b), b.len ? "keep" : "");
            if (b.buf)
                assert_int_equal(b.buf[b.len], '\0');
            /* Still usable once memory is back. */
            fa_disarm();
            assert_int_equal(ntm_buf_addf(&b, "+%d", 1), NTM_OK);
            assert_string_equal(ntm_buf_str(&b) + b.len - 2, "+1");
        }
        ntm_buf_release(&b);
        assert_int_equal(fa_live, 0);
        fa_restore();
    }
    /* The first allocations did fail (so the loop exercised the paths),
     * and a later run had none to fail and succeeded. */
    assert_true(failures >= 2);
    assert_true(clean);
}

static void
test_buf_addf_alloc_failure_first_grow(void **state)
{
    (void)state;
    /* Exactly the addf's own allocations failing, after a successful add. */
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_adds(&b, "abc"), NTM_OK); /* 64 bytes */
    fa_inject_at(1);
    fa_live = 1; /* b's block, allocated before the hook */
    char big[200];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ntm_buf_addf(&b, "%s", big), NTM_ENOMEM);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.buf, "abc");
    fa_restore();
    assert_int_equal(ntm_buf_addf(&b, "%s", big), NTM_OK);
    assert_int_equal(b.len, 3 + 199);
    ntm_buf_release(&b);
}

static void
test_alloc_helpers(void **state)
{
    (void)state;
    assert_null(ntm_calloc(SIZE_MAX / 2, 4)); /* overflow */
    unsigned char *z = ntm_calloc(16, 4);
    assert_non_null(z);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    ntm_free(z);
    ntm_free(NULL);
    char *s = ntm_strdup("xin chào");
    assert_string_equal(s, "xin chào");
    ntm_free(s);
    s = ntm_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    ntm_free(s);
    assert_null(ntm_strdup(NULL));
    /* strdup under memory pressure. */
    fa_inject_at(1);
    assert_null(ntm_strdup("x"));
    fa_restore();
}

/* ------------------------------------------------------------------ */
/* Errors and codes */

static void
test_error_set_formatting(void **state)
{
    (void)state;
    struct ntm_error err;
    memset(&err, 0x55, sizeof(err));
    ntm_error_clear(&err);
    assert_int_equal(err.code, NTM_OK);
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.msg, "");
    assert_string_equal(ntm_error_text(&err), ntm_strerror(NTM_OK));

    assert_int_equal(
        ntm_error_set(&err, NTM_EIO, "cannot open '%s': %d", "ntm.db", 3),
        NTM_EIO);
    assert_int_equal(err.code, NTM_EIO);
    assert_string_equal(err.msg, "cannot open 'ntm.db': 3");
    assert_string_equal(ntm_error_text(&err), "cannot open 'ntm.db': 3");
    /* Replaced, not appended. */
    ntm_error_set(&err, NTM_EINVAL, "second");
    assert_string_equal(err.msg, "second");
    assert_int_equal(err.code, NTM_EINVAL);
    /* NULL err: the code still comes back. */
    assert_int_equal(ntm_error_set(NULL, NTM_EFORK, "x"), NTM_EFORK);
    ntm_error_clear(NULL);
    /* No message: the text falls back to the code's. */
    ntm_error_clear(&err);
    err.code = NTM_EGAP;
    assert_string_equal(ntm_error_text(&err), ntm_strerror(NTM_EGAP));
    assert_non_null(ntm_error_text(NULL));
}

static void
test_error_set_truncates(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    char big[NTM_ERROR_SIZE * 3];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ntm_error_set(&err, NTM_EIO, "start %s end", big);
    assert_int_equal(strlen(err.msg), NTM_ERROR_SIZE - 1);
    assert_memory_equal(err.msg, "start mmm", 9);

    ntm_error_set_errno(&err, NTM_EIO, ENOENT, "%s", big);
    assert_int_equal(strlen(err.msg), NTM_ERROR_SIZE - 1);
    assert_int_equal(err.sys_errno, ENOENT);
}

static void
test_error_set_errno(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    assert_int_equal(
        ntm_error_set_errno(&err, NTM_EIO, ENOENT, "cannot open '%s'", "f"),
        NTM_EIO);
    assert_int_equal(err.sys_errno, ENOENT);
    char want[256];
    snprintf(want, sizeof(want), "cannot open 'f': %s", strerror(ENOENT));
    assert_string_equal(err.msg, want);
    /* The cause decides the code for a full or read-only disk. */
    assert_int_equal(ntm_error_set_errno(&err, NTM_EIO, ENOSPC, "w"),
                     NTM_EFULL);
    assert_int_equal(err.code, NTM_EFULL);
    assert_int_equal(ntm_error_set_errno(&err, NTM_EIO, EROFS, "w"),
                     NTM_EREADONLY);
    /* A later ntm_error_set forgets the errno. */
    ntm_error_set(&err, NTM_EINVAL, "plain");
    assert_int_equal(err.sys_errno, 0);
}

static void
test_strerror_every_code(void **state)
{
    (void)state;
    for (int c = 0; c < NTM_ERR_LAST; c++) {
        const char *s = ntm_strerror((enum ntm_err)c);
        assert_non_null(s);
        if (strcmp(s, "unknown error") == 0 || !*s)
            fail_msg("code %d has no message", c);
        /* Each message says something different. */
        for (int d = 0; d < c; d++)
            if (strcmp(s, ntm_strerror((enum ntm_err)d)) == 0)
                fail_msg("codes %d and %d share a message", c, d);
    }
    assert_non_null(ntm_strerror(NTM_ERR_LAST));
}

static void
test_err_wire_code_round_trip(void **state)
{
    (void)state;
    int named = 0;
    for (int c = 0; c < NTM_ERR_LAST; c++) {
        const char *w = ntm_err_wire_code((enum ntm_err)c);
        if (!w)
            continue;
        named++;
        assert_int_equal(ntm_err_from_wire_code(w), c);
    }
    /* SPEC 2's validation codes. */
    static const struct {
        enum ntm_err code;
        const char *name;
    } spec[] = {{NTM_EBADENTRY, "bad_entry"},
                {NTM_EBADSIG, "bad_signature"},
                {NTM_EFORK, "fork"},
                {NTM_EGAP, "gap"},
                {NTM_EUNKNOWNAUTHOR, "unknown_author"},
                {NTM_EREVOKED, "revoked"},
                {NTM_EBADBODY, "bad_body"},
                {NTM_EFORBIDDEN, "forbidden"}};
    for (size_t i = 0; i < sizeof(spec) / sizeof(*spec); i++) {
        assert_string_equal(ntm_err_wire_code(spec[i].code), spec[i].name);
        assert_int_equal(ntm_err_from_wire_code(spec[i].name), spec[i].code);
    }
    assert_true(named >= 8);
    assert_null(ntm_err_wire_code(NTM_OK));
    assert_int_equal(ntm_err_from_wire_code("no_such_code"), NTM_ERR_LAST);
    assert_int_equal(ntm_err_from_wire_code("FORK"), NTM_ERR_LAST);
    assert_int_equal(ntm_err_from_wire_code(""), NTM_ERR_LAST);
    assert_int_equal(ntm_err_from_wire_code(NULL), NTM_ERR_LAST);
}

/* ------------------------------------------------------------------ */
/* Parsing and the clock */

static void
test_parse_int64_bounds_and_junk(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(ntm_parse_int64("0", 0, 10, &v), NTM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ntm_parse_int64("10", 0, 10, &v), NTM_OK);
    assert_int_equal(v, 10);
    assert_int_equal(ntm_parse_int64("-5", -5, 5, &v), NTM_OK);
    assert_int_equal(v, -5);
    assert_int_equal(ntm_parse_int64("+7", 0, 10, &v), NTM_OK);
    assert_int_equal(v, 7);
    assert_int_equal(ntm_parse_int64("007", 0, 10, &v), NTM_OK);
    assert_int_equal(v, 7);
    assert_int_equal(
        ntm_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v),
        NTM_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(
        ntm_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v),
        NTM_OK);
    assert_true(v == INT64_MIN);

    v = 1234;
    static const char *bad[] = {"",
                                " 1",
                                "1 ",
                                "1x",
                                "x1",
                                "0x10",
                                "--1",
                                "-",
                                "+",
                                "1.5",
                                "1e3",
                                "١",
                                "+-1",
                                "\t1",
                                "9223372036854775808",
                                "-9223372036854775809",
                                "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (ntm_parse_int64(bad[i], INT64_MIN, INT64_MAX, &v) != NTM_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(v, 1234); /* untouched on failure */
    assert_int_equal(ntm_parse_int64("11", 0, 10, &v), NTM_EINVAL);
    assert_int_equal(ntm_parse_int64("-1", 0, 10, &v), NTM_EINVAL);
    assert_int_equal(ntm_parse_int64(NULL, 0, 10, &v), NTM_EINVAL);
    assert_int_equal(v, 1234);
}

static void
test_now_ms_override(void **state)
{
    (void)state;
    unsetenv("NTM_CLOCK_OFFSET_MS");
    setenv("NTM_NOW_MS", "1700000000000", 1);
    assert_true(ntm_now_ms() == 1700000000000LL);
    setenv("NTM_CLOCK_OFFSET_MS", "-1000", 1);
    assert_true(ntm_now_ms() == 1699999999000LL);
    unsetenv("NTM_NOW_MS");
    unsetenv("NTM_CLOCK_OFFSET_MS");
    /* The real clock: after 2024-01-01. */
    assert_true(ntm_now_ms() > 1704067200000LL);
}

/* ------------------------------------------------------------------ */
/* Files */

static int
count_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void
test_file_write_atomic_read_round_trip(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/data.bin", dir);
    size_t n = 200000; /* more than one read chunk */
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8));
    data[10] = '\0';

    assert_int_equal(ntm_file_write_atomic(path, data, n, 0600, &err), NTM_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, (off_t)n);
    assert_int_equal(count_entries(dir), 1); /* no temporary left */

    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_adds(&b, "pre"), NTM_OK);
    assert_int_equal(ntm_file_read(path, n, &b, &err), NTM_OK); /* appends */
    assert_int_equal(b.len, 3 + n);
    assert_memory_equal(b.buf, "pre", 3);
    assert_memory_equal(b.buf + 3, data, n);
    assert_int_equal(b.buf[b.len], '\0');
    ntm_buf_release(&b);

    /* Replacing keeps one file with the new contents. */
    assert_int_equal(ntm_file_write_atomic(path, "new", 3, 0644, &err), NTM_OK);
    assert_int_equal(ntm_file_read(path, 3, &b, &err), NTM_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.buf, "new");
    ntm_buf_release(&b);
    assert_int_equal(count_entries(dir), 1);

    /* Empty file. */
    assert_int_equal(ntm_file_write_atomic(path, "", 0, 0600, &err), NTM_OK);
    assert_int_equal(ntm_file_read(path, 10, &b, &err), NTM_OK);
    assert_int_equal(b.len, 0);
    ntm_buf_release(&b);
    free(data);
}

static void
test_file_read_too_large_and_missing(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    struct ntm_buf b = NTM_BUF_INIT;
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(ntm_file_write_atomic(path, "0123456789", 10, 0600, &err),
                     NTM_OK);
    assert_int_equal(ntm_file_read(path, 9, &b, &err), NTM_ETOOLARGE);
    assert_int_equal(err.code, NTM_ETOOLARGE);
    assert_non_null(strstr(err.msg, path));
    ntm_buf_release(&b);
    assert_int_equal(ntm_file_read(path, 10, &b, &err), NTM_OK); /* exact */
    ntm_buf_release(&b);

    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(ntm_file_read(path, 10, &b, &err), NTM_ENOENT);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, "missing"));
    ntm_buf_release(&b);

    /* Writing into a folder that does not exist fails and says where. */
    snprintf(path, sizeof(path), "%s/no/such/f", dir);
    assert_int_not_equal(ntm_file_write_atomic(path, "x", 1, 0600, &err),
                         NTM_OK);
    assert_non_null(strstr(err.msg, "no/such"));
}

static void
test_mkdir_p(void **state)
{
    (void)state;
    struct ntm_error err = {0};
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    assert_int_equal(ntm_mkdir_p(path, 0700, &err), NTM_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    /* Existing: fine. Trailing slash: fine. */
    assert_int_equal(ntm_mkdir_p(path, 0700, &err), NTM_OK);
    snprintf(path, sizeof(path), "%s/a/b/d/", dir);
    assert_int_equal(ntm_mkdir_p(path, 0700, &err), NTM_OK);
    snprintf(path, sizeof(path), "%s/a/b/d", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* A file in the way of a parent. */
    snprintf(path, sizeof(path), "%s/file", dir);
    assert_int_equal(ntm_file_write_atomic(path, "x", 1, 0600, &err), NTM_OK);
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    assert_int_not_equal(ntm_mkdir_p(path, 0700, &err), NTM_OK);
    assert_non_null(strstr(err.msg, "file"));

    /* An empty name is an error, not a read past the string. */
    assert_int_equal(ntm_mkdir_p("", 0700, &err), NTM_EINVAL);
}

/* The fold as utf8proc makes it over the whole text at once (what
 * util/text.c did before it folded ASCII itself and gave utf8proc the runs
 * of other characters alone). */
static char *
fold_whole(const char *s, utf8proc_option_t extra)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map(
        (const utf8proc_uint8_t *)s, 0, &out,
        (utf8proc_option_t)(UTF8PROC_NULLTERM | UTF8PROC_STABLE |
                            UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |
                            UTF8PROC_CASEFOLD | extra));
    if (n < 0)
        return NULL;
    char *r = malloc((size_t)n + 1);
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        if (out[i] == 0xc4 && i + 1 < n &&
            (out[i + 1] == 0x91 || out[i + 1] == 0x90)) {
            r[o++] = 'd';
            i++;
        } else {
            r[o++] = (char)out[i];
        }
    }
    r[o] = '\0';
    free(out);
    return r;
}

static void
fold_same(const char *s)
{
    for (int compat = 0; compat < 2; compat++) {
        char *a = compat ? ntm_text_fold_compat(s) : ntm_text_fold(s);
        char *b = fold_whole(s, compat ? UTF8PROC_COMPAT : 0);
        if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
            fail_msg("fold%s of '%s': '%s', utf8proc over the whole: '%s'",
                     compat ? "_compat" : "", s, a ? a : "(null)",
                     b ? b : "(null)");
        ntm_free(a);
        free(b);
    }
}

/* Folding ASCII by hand and the other characters run by run gives what
 * utf8proc gives over the whole text: Vietnamese with precomposed and
 * combining marks (after ASCII letters too), marks in non-canonical order,
 * case with expansions, compatibility forms, the d with stroke, long runs,
 * and bytes that are not UTF-8 (each text also altered byte by byte). */
static void
test_text_fold_by_runs_is_whole_fold(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "B\xc3\xaa t\xc3\xb4ng H\xc3\xb3\x61 \xc4\x90\xc6\xb0\xe1\xbb\x9dng "
        "\xe1\xba\xa4p 72.710.25657\n",
        "Ho\xe1\xba\xa1t \xc4\x91\xe1\xbb\x99ng s\xe1\xbb\x91 12\ndoan.x_Y\n",
        "e\xcc\x81\xcc\xa3 a\xcc\xa3\xcc\x81 A\xcc\x80X \xcc\x81\xcc\xa3",
        "Stra\xc3\x9f"
        "e \xc4\xb0stanbul \xce\xa3\xce\x9f\xce\xa6\xce\x99"
        "\xce\x91 \xef\xbc\xa1\xef\xbc\x91 \xe2\x84\xaa \xef\xac\x81",
        "\xe1\xba\xa0\xe1\xba\xa1\xe1\xba\xa2\xe1\xba\xa3\xe1\xba\xa4\xe1\xba"
        "\xa5\xe1\xba\xa6\xe1\xba\xa7\xe1\xba\xa8\xe1\xba\xa9\xe1\xba\xaa",
        "\xf0\x9f\x98\x80 \xe2\x80\x8b \xc2\xa0 \x7f\x01",
        "",
        "ABC xyz 0123 !@#$%^&*()",
    };
    char buf[1024];
    for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++) {
        fold_same(texts[t]);
        size_t n = strlen(texts[t]);
        static const char subst[] = "Aa \x80\xbf\xc3\xcc\xe1\xc4\x90\xff";
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < sizeof(subst) - 1; k++) {
                memcpy(buf, texts[t], n + 1);
                buf[i] = subst[k];
                fold_same(buf);
            }
    }
    /* a run longer than the stack buffer (and marks across it) */
    size_t o = 0;
    for (int i = 0; i < 150; i++) {
        memcpy(buf + o, "\xe1\xba\xa0\xcc\x81", 5);
        o += 5;
    }
    buf[o] = '\0';
    fold_same(buf);
}

/* One text module: the record search folding and the plan's (with
 * compatibility forms) differ only where NFKD does. */
static void
test_text_fold_width_distance(void **state)
{
    (void)state;
    char *f = ntm_text_fold("T\xc3\xa2y Ninh \xc4\x90\xc6\xaf\xe1\xbb\x9cNG");
    assert_string_equal(f, "tay ninh duong");
    ntm_free(f);
    f = ntm_text_fold_compat(
        "\xc4\x90o\xc3\xa0n Thanh ni\xc3\xaan T\xc3\x82Y NINH");
    assert_string_equal(f, "doan thanh nien tay ninh");
    ntm_free(f);
    /* full-width "A1": folded only with compatibility forms */
    f = ntm_text_fold("\xef\xbc\xa1\xef\xbc\x91");
    assert_string_equal(f, "\xef\xbd\x81\xef\xbc\x91");
    ntm_free(f);
    f = ntm_text_fold_compat("\xef\xbc\xa1\xef\xbc\x91");
    assert_string_equal(f, "a1");
    ntm_free(f);
    assert_null(ntm_text_fold("\xff"));
    assert_null(ntm_text_fold(NULL));
    char *n = ntm_text_nfc("Ta\xcc\x82y");
    assert_string_equal(n, "T\xc3\xa2y");
    ntm_free(n);
    assert_int_equal(
        ntm_text_width("Ph\xc6\xb0\xe1\xbb\x9dng Hi\xe1\xbb\x87p Ninh"), 16);
    assert_int_equal(ntm_text_width("\xe4\xb8\xad"), 2);
    assert_int_equal(ntm_text_width("a\xff"
                                    "b"),
                     3);
    assert_int_equal(ntm_text_width(NULL), 0);
    assert_int_equal(ntm_text_char_len("\xe1\xbb\x87"
                                       "x"),
                     3);
    assert_int_equal(ntm_text_char_len("\xe1"
                                       "x"),
                     1);
    assert_int_equal(ntm_text_char_len(""), 0);
    assert_int_equal(ntm_text_distance("kitten", "sitting", 5), 3);
    assert_int_equal(ntm_text_distance("kitten", "sitting", 2), 3);
    assert_int_equal(ntm_text_distance("recrod", "record", 3), 2);
    assert_int_equal(ntm_text_distance("a", "abcdef", 3), 4);
}

/* The human forms of the tool's tables and the printed reports. */
static void
test_human_forms(void **state)
{
    (void)state;
    char out[64];
    ntm_human_date("vi", "2019-05-17", out, sizeof(out));
    assert_string_equal(out, "17/05/2019");
    ntm_human_date("vi", "2019-05-17 08:30:00", out, sizeof(out));
    assert_string_equal(out, "17/05/2019 08:30:00");
    ntm_human_date("en", "2019-05-17", out, sizeof(out));
    assert_string_equal(out, "2019-05-17");
    ntm_human_date("vi", "2019-5-17", out, sizeof(out));
    assert_string_equal(out, "2019-5-17");
    ntm_human_decimal("vi", "-1234567.25", out, sizeof(out));
    assert_string_equal(out, "-1.234.567,25");
    ntm_human_decimal("vi", "1234.", out, sizeof(out));
    assert_string_equal(out, "1234.");
    ntm_human_decimal(NULL, "1234.5", out, sizeof(out));
    assert_string_equal(out, "1234.5");
    ntm_human_decimal("vi", "1234567", out, 6);
    assert_string_equal(out, "1.234");
    ntm_human_int("vi", 1200, out, sizeof(out));
    assert_string_equal(out, "1.200");
    char fig[64] = "\xe2\x89\xa5 1234.5* / 63.6 %";
    ntm_human_figures("vi", fig, sizeof(fig));
    assert_string_equal(fig, "\xe2\x89\xa5 1.234,5* / 63,6 %");
    ntm_human_figures("en", fig, sizeof(fig));
    assert_string_equal(fig, "\xe2\x89\xa5 1.234,5* / 63,6 %");
}

/* The catalogue: per call, per language, from any thread. */
static void *
tr_thread(void *arg)
{
    const char *lang = arg;
    for (int i = 0; i < 200; i++) {
        const char *t = ntm_tr(lang, "met");
        if (strcmp(t, strcmp(lang, "vi") ? "met" : "\xc4\x90\xe1\xba\xa1t"))
            return (void *)1;
    }
    return NULL;
}

static void
test_catalog(void **state)
{
    (void)state;
    assert_string_equal(ntm_tr("vi", "met"), "\xc4\x90\xe1\xba\xa1t");
    assert_string_equal(ntm_tr("en", "met"), "met");
    assert_string_equal(ntm_tr(NULL, "met"), "met");
    assert_string_equal(ntm_tr("xx", "met"), "met");
    assert_string_equal(ntm_tr("../vi", "met"), "met");
    assert_string_equal(ntm_tr("vi", "no such message here"),
                        "no such message here");
    assert_null(ntm_tr_find("vi", "no such message here"));
    assert_null(ntm_tr_find("en", "met"));
    assert_string_equal(ntm_tr("vi", ""), "");
    assert_null(ntm_tr("vi", NULL));
    /* a context: the same English, two Vietnamese */
    assert_string_equal(ntm_tr("vi", NC_("report column", "Unit")),
                        "M\xc3\xa3 \xc4\x91\xc6\xa1n v\xe1\xbb\x8b");
    assert_string_equal(ntm_tr("vi", "Unit"),
                        "\xc4\x90\xc6\xa1n v\xe1\xbb\x8b");
    assert_string_equal(ntm_tr("en", NC_("report column", "Unit")), "Unit");
    pthread_t a, b;
    void *ra, *rb;
    assert_int_equal(pthread_create(&a, NULL, tr_thread, "vi"), 0);
    assert_int_equal(pthread_create(&b, NULL, tr_thread, "en"), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_null(ra);
    assert_null(rb);
}

/* Errors carry their message id and arguments; the translation looks the
 * id up, never the English. */
static void
test_error_message_ids(void **state)
{
    (void)state;
    struct ntm_error why, err;
    char out[2 * NTM_ERROR_SIZE];
    ntm_error_set(&why, NTM_EFORBIDDEN, "a %s may not perform %s", "recorder",
                  "unit.create");
    assert_string_equal(why.msg, "a recorder may not perform unit.create");
    assert_non_null(why.msgid);
    assert_int_equal(why.nargs, 2);
    ntm_error_wrap(&err, NTM_EFORBIDDEN, "refused before signing: %s", &why);
    assert_string_equal(err.msg, "refused before signing: a recorder may not "
                                 "perform unit.create");
    ntm_error_text_lang(&err, "vi", out, sizeof(out));
    assert_non_null(strstr(out, ": vai tr\xc3\xb2 recorder kh\xc3\xb4ng "
                                "\xc4\x91\xc6\xb0\xe1\xbb\xa3\x63 "
                                "ph\xc3\xa9p l\xc3\xa0m unit.create"));
    ntm_error_text_lang(&err, "en", out, sizeof(out));
    assert_string_equal(out, err.msg);
    /* wrapping itself, and conversions with precision and length */
    ntm_error_set(&err, NTM_EREVOKED,
                  "author %.16s... is revoked after seq %lld",
                  "0123456789abcdef0123", 7LL);
    ntm_error_wrap(&err, NTM_EREVOKED, "refused before signing: %s", &err);
    ntm_error_text_lang(&err, "vi", out, sizeof(out));
    assert_non_null(strstr(out, "0123456789abcdef... "));
    assert_non_null(strstr(out, " 7"));
    assert_null(strstr(out, "revoked"));
    /* an inner message without an id: the code's text, then the English */
    ntm_error_set(&why, NTM_EBADBODY, "%s", "odd detail");
    assert_null(why.msgid);
    ntm_error_wrap(&err, NTM_EBADBODY, "refused before signing: %s", &why);
    ntm_error_text_lang(&err, "vi", out, sizeof(out));
    assert_non_null(strstr(out, " - odd detail"));
    /* a message changed behind the setter's back is not translated from a
     * stale id; nor is one with the system's text */
    ntm_error_set(&err, NTM_EINVAL, "nothing to set");
    snprintf(err.msg, sizeof(err.msg), "something else");
    ntm_error_text_lang(&err, "vi", out, sizeof(out));
    assert_non_null(strstr(out, " - something else"));
    ntm_error_set_errno(&err, NTM_EIO, ENOENT, "nothing to set");
    assert_null(err.msgid);
    ntm_error_clear(&err);
    assert_null(err.msgid);
    ntm_error_text_lang(&err, "vi", out, sizeof(out));
    assert_string_equal(out, ntm_tr("vi", ntm_strerror(NTM_OK)));
    assert_string_equal(ntm_error_text_lang(NULL, "vi", out, sizeof(out)),
                        ntm_tr("vi", "unknown error"));
}

/* Labels: the identifier in English, the catalogue's words in
 * Vietnamese; typed back in either language, with or without diacritics,
 * dashes or underscores; unknown words refused. */
static void
test_labels(void **state)
{
    (void)state;
    char list[256];
    assert_string_equal(ntm_label("en", NTM_LABEL_STATE, "approved"),
                        "approved");
    assert_string_equal(ntm_label("vi", NTM_LABEL_STATE, "approved"),
                        "đã duyệt");
    assert_string_equal(ntm_label("vi", NTM_LABEL_STATE, "nonsense"),
                        "nonsense");
    assert_null(ntm_label("vi", NTM_LABEL_STATE, NULL));
    assert_string_equal(ntm_label("vi", NTM_LABEL_ROLE, "recorder"),
                        "người ghi");
    const char *approved[] = {"approved", "đã duyệt", "đã-duyệt",
                              "ĐÃ DUYỆT", "da duyet", "da_duyet"};
    for (size_t i = 0; i < sizeof(approved) / sizeof(approved[0]); i++)
        assert_string_equal(ntm_label_parse(NTM_LABEL_STATE, approved[i]),
                            "approved");
    assert_string_equal(ntm_label_parse(NTM_LABEL_STATE, "has issues"),
                        "has_issues");
    assert_string_equal(ntm_label_parse(NTM_LABEL_STATE, "cần sửa"),
                        "has_issues");
    assert_null(ntm_label_parse(NTM_LABEL_STATE, "approve"));
    assert_null(ntm_label_parse(NTM_LABEL_STATE, ""));
    assert_null(ntm_label_parse(NTM_LABEL_STATE, "\xff"));
    /* a label of another set is not one of this set */
    assert_null(ntm_label_parse(NTM_LABEL_STATE, "activity"));
    assert_string_equal(ntm_label_parse(NTM_LABEL_LEVEL, "ấp"), "hamlet");
    ntm_label_values(NTM_LABEL_KIND, "en", list, sizeof(list));
    assert_string_equal(list, "activity, measure");
    ntm_label_values(NTM_LABEL_KIND, "vi", list, 8);
    assert_true(strlen(list) < 8);
}

/* Numbers, dates and periods as people type them: both forms read back,
 * what reads two ways in the language refused, never guessed. */
static void
test_human_parse(void **state)
{
    (void)state;
    char out[64], d[11], p[8];
    static const struct {
        const char *lang, *in, *want; /* want NULL: bad; "?": ambiguous */
    } nums[] = {
        {"vi", "2,4", "2.4"},
        {"en", "2,4", "2.4"},
        {"vi", "1234.5", "1234.5"},
        {"vi", "1.234,5", "1234.5"},
        {"en", "1,234.5", "1234.5"},
        {"en", "1.234,5", "1234.5"},
        {"vi", "1 234,5", "1234.5"},
        {"vi", "1.234.567", "1234567"},
        {"en", "1,234,567", "1234567"},
        {"vi", "0.125", "0.125"},
        {"vi", "1234.500", "1234.500"},
        {"en", "1.234", "1.234"},
        {"vi", "1,234", "1.234"},
        {"vi", "1.234", "?"},
        {"en", "1,234", "?"},
        {"vi", "12.34,5", NULL},
        {"vi", "1.", NULL},
        {"vi", ".5", NULL},
        {"vi", "-1", NULL},
        {"vi", "1,2,3", NULL},
        {"vi", "", NULL},
        {"vi", "abc", NULL},
        {"vi", "1.234,5,6", NULL},
        {"en", "1,23,456", NULL},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        enum ntm_human_parse r =
            ntm_human_parse_decimal(nums[i].lang, nums[i].in, out, sizeof(out));
        if (!nums[i].want)
            assert_int_equal(r, NTM_HUMAN_BAD);
        else if (!strcmp(nums[i].want, "?"))
            assert_int_equal(r, NTM_HUMAN_AMBIGUOUS);
        else {
            assert_int_equal(r, NTM_HUMAN_OK);
            assert_string_equal(out, nums[i].want);
        }
    }
    assert_int_equal(ntm_human_parse_date("vi", "05/04/2017", d), NTM_HUMAN_OK);
    assert_string_equal(d, "2017-04-05");
    assert_int_equal(ntm_human_parse_date("vi", "5.4.2017", d), NTM_HUMAN_OK);
    assert_string_equal(d, "2017-04-05");
    /* English prints and reads ISO dates only */
    assert_int_equal(ntm_human_parse_date("en", "17/05/2019", d),
                     NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_date("en", "05/04/2017", d),
                     NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_period("en", "04/2017", p), NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_date("vi", "2019-05-17", d), NTM_HUMAN_OK);
    assert_string_equal(d, "2019-05-17");
    assert_int_equal(ntm_human_parse_date("vi", "05/04-2017", d),
                     NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_date("vi", "5/4/17", d), NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_date("vi", "123/4/2017", d),
                     NTM_HUMAN_BAD);
    assert_int_equal(ntm_human_parse_period("vi", "04/2017", p), NTM_HUMAN_OK);
    assert_string_equal(p, "2017-04");
    assert_int_equal(ntm_human_parse_period("vi", "4/2017", p), NTM_HUMAN_OK);
    assert_string_equal(p, "2017-04");
    assert_int_equal(ntm_human_parse_period("vi", "2017", p), NTM_HUMAN_OK);
    assert_string_equal(p, "2017");
    assert_int_equal(ntm_human_parse_period("en", "2017-04", p), NTM_HUMAN_OK);
    assert_int_equal(ntm_human_parse_period("vi", "04/17", p), NTM_HUMAN_BAD);
    /* the printed form of a month period reads back */
    ntm_human_date("vi", "2017-04", out, sizeof(out));
    assert_string_equal(out, "04/2017");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ------------------------------------------------------------------ */
/* One step ahead */

struct ahead_probe {
    int runs;
    pthread_t on;
};

static void
ahead_step(void *ud)
{
    struct ahead_probe *p = ud;
    p->runs++;
    p->on = pthread_self();
}

/* The step runs once, on a thread of its own while the caller goes on;
 * when no thread can be had (its handle not allocated), the wait runs it
 * on the caller's: done either way, never twice, nothing leaked. A wait
 * with nothing started is a no-op. */
static void
test_ahead_runs_once_on_its_own_thread(void **state)
{
    (void)state;
    struct ahead_probe p = {0};
    struct ntm_ahead a;
    memset(&a, 0, sizeof a);
    ntm_ahead_wait(&a);
    ntm_ahead_start(&a, ahead_step, &p);
    assert_non_null(a.thread);
    ntm_ahead_wait(&a);
    assert_int_equal(p.runs, 1);
    assert_false(pthread_equal(p.on, pthread_self()));
    ntm_ahead_wait(&a);
    assert_int_equal(p.runs, 1);

    memset(&p, 0, sizeof p);
    fa_inject_at(1);
    ntm_ahead_start(&a, ahead_step, &p);
    assert_null(a.thread);
    assert_int_equal(p.runs, 0);
    ntm_ahead_wait(&a);
    assert_int_equal(fa_failures, 1);
    assert_int_equal(fa_live, 0);
    fa_restore();
    assert_int_equal(p.runs, 1);
    assert_true(pthread_equal(p.on, pthread_self()));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_buf_init_and_str),
        T(test_ahead_runs_once_on_its_own_thread),
        T(test_buf_add_grows),
        T(test_buf_grow_overflow_refused),
        T(test_buf_add_html),
        T(test_buf_addf_growth),
        T(test_buf_reset_keeps_storage),
        T(test_buf_detach),
        T(test_buf_addf_alloc_failure),
        T(test_buf_addf_alloc_failure_first_grow),
        T(test_alloc_helpers),
        T(test_error_set_formatting),
        T(test_error_set_truncates),
        T(test_error_set_errno),
        T(test_strerror_every_code),
        T(test_err_wire_code_round_trip),
        T(test_parse_int64_bounds_and_junk),
        T(test_now_ms_override),
        T(test_file_write_atomic_read_round_trip),
        T(test_file_read_too_large_and_missing),
        T(test_mkdir_p),
        T(test_text_fold_width_distance),
        T(test_text_fold_by_runs_is_whole_fold),
        T(test_human_forms),
        T(test_catalog),
        T(test_labels),
        T(test_human_parse),
        T(test_error_message_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
