/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c - the ntm tool's option parser, input checks and exit code
 * mapping (cli/opts.c, cli/msgs.c), tested in-process. The commands
 * themselves are tested end to end by tests/e2e/cli_*.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

static const struct cli_help test_help = {"ntm test - a test", "ntm test", NULL,
                                          NULL, "ntm test"};

struct parsed {
    int flag;
    const char *str;
    int64_t num;
    struct cli_list list;
};

static int
parse(struct parsed *p, int argc, char **argv, int *nargs, int *code)
{
    memset(p, 0, sizeof(*p));
    p->num = -7;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "flag", &p->flag, NULL, "a flag"},
        {CLI_OPT_STRING, "str", &p->str, "<s>", "a string"},
        {CLI_OPT_INT, "num", &p->num, "<n>", "a number"},
        {CLI_OPT_LIST, "set", &p->list, "<f>=<v>", "repeatable"},
        CLI_OPT_END_MARK};
    return cli_parse("test", argc, argv, opts, &test_help, nargs, code);
}

static void
test_parse_forms(void **state)
{
    (void)state;
    char *argv[] = {"test", "a",        "--flag", "--str", "x y",
                    "b",    "--num=42", "--set",  "q=1",   "--set=t=Thạnh Đức",
                    NULL};
    struct parsed p;
    int nargs = -1, code = -1;
    assert_int_equal(parse(&p, 10, argv, &nargs, &code), 0);
    assert_int_equal(code, EXIT_OK);
    assert_int_equal(nargs, 2);
    assert_string_equal(argv[0], "a");
    assert_string_equal(argv[1], "b");
    assert_int_equal(p.flag, 1);
    assert_string_equal(p.str, "x y");
    assert_int_equal(p.num, 42);
    assert_int_equal(p.list.count, 2);
    assert_string_equal(p.list.items[0], "q=1");
    assert_string_equal(p.list.items[1], "t=Thạnh Đức");
    cli_list_release(&p.list);
}

static void
test_parse_double_dash_ends_options(void **state)
{
    (void)state;
    char *argv[] = {"test", "--", "--flag", "-x", NULL};
    struct parsed p;
    int nargs, code;
    assert_int_equal(parse(&p, 4, argv, &nargs, &code), 0);
    assert_int_equal(nargs, 2);
    assert_string_equal(argv[0], "--flag");
    assert_string_equal(argv[1], "-x");
    assert_int_equal(p.flag, 0);
}

static void
test_parse_errors_are_usage_errors(void **state)
{
    (void)state;
    struct parsed p;
    int nargs, code;
    char *unknown[] = {"test", "--nope", NULL};
    assert_int_equal(parse(&p, 2, unknown, &nargs, &code), -1);
    assert_int_equal(code, EXIT_USAGE);
    char *bad_int[] = {"test", "--num", "12x", NULL};
    assert_int_equal(parse(&p, 3, bad_int, &nargs, &code), -1);
    assert_int_equal(code, EXIT_USAGE);
    char *missing[] = {"test", "--str", NULL};
    assert_int_equal(parse(&p, 2, missing, &nargs, &code), -1);
    assert_int_equal(code, EXIT_USAGE);
    char *flag_value[] = {"test", "--flag=1", NULL};
    assert_int_equal(parse(&p, 2, flag_value, &nargs, &code), -1);
    assert_int_equal(code, EXIT_USAGE);
    char *short_opt[] = {"test", "-f", NULL};
    assert_int_equal(parse(&p, 2, short_opt, &nargs, &code), -1);
    assert_int_equal(code, EXIT_USAGE);
}

static void
test_parse_help_exits_ok(void **state)
{
    (void)state;
    struct parsed p;
    int nargs, code = -1;
    char *argv[] = {"test", "--help", NULL};
    assert_int_equal(parse(&p, 2, argv, &nargs, &code), -1);
    assert_int_equal(code, EXIT_OK);
}

static void
test_valid_date(void **state)
{
    (void)state;
    assert_true(ntm_field_date_valid("2019-05-17"));
    assert_true(ntm_field_date_valid("2020-02-29"));
    assert_true(ntm_field_date_valid("2000-02-29"));
    assert_false(ntm_field_date_valid("2019-02-29"));
    assert_false(ntm_field_date_valid("1900-02-29"));
    assert_false(ntm_field_date_valid("2019-04-31"));
    assert_false(ntm_field_date_valid("2019-13-01"));
    assert_false(ntm_field_date_valid("2019-00-10"));
    assert_false(ntm_field_date_valid("2019-1-01"));
    assert_false(ntm_field_date_valid("17/05/2019"));
    assert_false(ntm_field_date_valid("2019-05-17x"));
    assert_false(ntm_field_date_valid(""));
    assert_false(ntm_field_date_valid(NULL));
    /* The record rule stops at 2200; the calendar rule of reports and the
     * plan does not. */
    assert_true(ntm_field_date_valid("2200-12-31"));
    assert_false(ntm_field_date_valid("2201-01-01"));
    assert_true(ntm_date_valid("2201-01-01"));
    assert_false(ntm_date_valid("1899-12-31"));
    assert_false(ntm_date_valid(NULL));
}

static void
test_valid_qty(void **state)
{
    (void)state;
    assert_true(ntm_field_qty_valid("0"));
    assert_true(ntm_field_qty_valid("1.2"));
    assert_true(ntm_field_qty_valid("123456789012.123"));
    assert_false(ntm_field_qty_valid("1234567890123"));
    assert_false(ntm_field_qty_valid("1.2345"));
    assert_false(ntm_field_qty_valid("1."));
    assert_false(ntm_field_qty_valid(".5"));
    assert_false(ntm_field_qty_valid("-1"));
    assert_false(ntm_field_qty_valid("1,5"));
    assert_false(ntm_field_qty_valid("1e3"));
    assert_false(ntm_field_qty_valid(""));
}

static void
test_valid_period(void **state)
{
    (void)state;
    assert_true(ntm_field_period_valid("2019"));
    assert_true(ntm_field_period_valid("2019-12"));
    assert_false(ntm_field_period_valid("2019-13"));
    assert_false(ntm_field_period_valid("2019-00"));
    assert_false(ntm_field_period_valid("19"));
    assert_false(ntm_field_period_valid("2019-1"));
    assert_false(ntm_field_period_valid("2019-05-01"));
    assert_false(ntm_field_period_valid(NULL));
}

/* The whole rule of one field, as the store applies it to entries. */
static void
test_field_valid(void **state)
{
    (void)state;
    json_t *v = json_integer(0);
    assert_true(ntm_field_valid("num", v));
    assert_false(ntm_field_valid("den", v));
    json_decref(v);
    v = json_integer(-1);
    assert_false(ntm_field_valid("people", v));
    assert_true(ntm_field_valid("x_unknown", v));
    json_decref(v);
    v = json_string("");
    assert_false(ntm_field_valid("task", v));
    assert_true(ntm_field_valid("note", v));
    assert_false(ntm_field_valid("deleted", v));
    assert_false(ntm_field_valid("qty", v));
    json_decref(v);
    assert_true(ntm_field_is_int("amount_vnd"));
    assert_false(ntm_field_is_int("qty"));
}

static void
test_parse_set(void **state)
{
    (void)state;
    const char *items[] = {"qty=2.5", "people=40", "note=đo lại", "title="};
    struct cli_list l = {items, 4, 4};
    json_t *o = cli_parse_set("edit", &l);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "qty")), "2.5");
    assert_int_equal(json_integer_value(json_object_get(o, "people")), 40);
    assert_string_equal(json_string_value(json_object_get(o, "note")),
                        "đo lại");
    assert_string_equal(json_string_value(json_object_get(o, "title")), "");
    json_decref(o);

    const char *bad[][1] = {{"qty"},       {"=1"},         {"Qty=1"},
                            {"people=x"},  {"qty=1.2345"}, {"date=2019-02-30"},
                            {"deleted=1"}, {"den=0"},      {"task="}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cli_list b = {bad[i], 1, 1};
        assert_null(cli_parse_set("edit", &b));
    }
    const char *twice[] = {"qty=1", "qty=2"};
    struct cli_list t = {twice, 2, 2};
    assert_null(cli_parse_set("edit", &t));
}

static void
test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_code(NTM_OK), 0);
    assert_int_equal(cli_exit_code(NTM_EUSAGE), 2);
    assert_int_equal(cli_exit_code(NTM_ENET), 4);
    assert_int_equal(cli_exit_code(NTM_ETIMEOUT), 4);
    assert_int_equal(cli_exit_code(NTM_EUNAVAIL), 4);
    assert_int_equal(cli_exit_code(NTM_EIO), 1);
    assert_int_equal(cli_exit_code(NTM_EBUSY), 1);
    assert_int_equal(cli_exit_code(NTM_EFULL), 1);
    assert_int_equal(cli_exit_code(NTM_ECORRUPT), 1);
    assert_int_equal(cli_exit_code(NTM_EPASSPHRASE), 1);
}

/* Terminal escape sequences in titles, notes, names and server messages
 * are shown, never obeyed. */
static void
test_escape_text_shows_controls(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Bê tông\n", "Bê tông\n"},
        {"a\x1b[2Jb", "a\\x1b[2Jb"},
        {"line\rover", "line\\rover"},
        {"t\tb\x07\x7f", "t\\tb\\x07\\x7f"},
        {"c1 \xc2\x9b"
         "31m",
         "c1 \\u009b31m"},
        {"raw \x9b"
         "31m",
         "raw \\x9b31m"},
        {"\xc2\xa0nbsp", "\xc2\xa0nbsp"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ntm_buf b = NTM_BUF_INIT;
        size_t n = strlen(cases[i].in);
        assert_int_equal(cli_escape_text(&b, cases[i].in, n, 1), n);
        assert_string_equal(ntm_buf_str(&b), cases[i].want);
        ntm_buf_release(&b);
    }
    /* A UTF-8 character cut between two writes waits for its end. */
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(cli_escape_text(&b, "ab\xe1\xba", 4, 0), 2);
    assert_string_equal(ntm_buf_str(&b), "ab");
    ntm_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_escape_text_shows_controls),
        cmocka_unit_test(test_parse_double_dash_ends_options),
        cmocka_unit_test(test_parse_errors_are_usage_errors),
        cmocka_unit_test(test_parse_help_exits_ok),
        cmocka_unit_test(test_valid_date),
        cmocka_unit_test(test_valid_qty),
        cmocka_unit_test(test_valid_period),
        cmocka_unit_test(test_field_valid),
        cmocka_unit_test(test_parse_set),
        cmocka_unit_test(test_exit_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
