/* SPDX-License-Identifier: MIT */
/*
 * opts.c - the option parser of the ntm tool (a small git parse-options):
 * each command declares a static table of struct cli_option and a
 * man-page-style struct cli_help; cli_parse reads "--name value" and
 * "--name=value", keeps plain arguments in order, stops at "--", and
 * prints the help for --help.
 *
 * Global options (--home, --json, --quiet, --lang) are taken out of argv
 * by cli/main.c before a command runs.
 */
#include "cli.h"

#include <string.h>

static const struct cli_option *
find_opt(const struct cli_option *opts, const char *name, size_t n)
{
    for (const struct cli_option *o = opts; o && o->type != CLI_OPT_END; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n))
            return o;
    return NULL;
}

static int
list_add(struct cli_list *l, const char *item)
{
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        const char **items =
            ntm_realloc(l->items, (size_t)cap * sizeof(*items));
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = item;
    return 0;
}

void
cli_list_release(struct cli_list *l)
{
    if (!l)
        return;
    ntm_free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

/* Store value into o; prints a usage error and returns -1 when bad. */
static int
set_value(const char *cmd, const struct cli_option *o, const char *value)
{
    switch (o->type) {
    case CLI_OPT_STRING:
        *(const char **)o->value = value;
        return 0;
    case CLI_OPT_INT:
        if (ntm_parse_int64(value, -(INT64_C(1) << 53) + 1,
                            (INT64_C(1) << 53) - 1,
                            (int64_t *)o->value) != NTM_OK) {
            cli_usage_error(cmd,
                            _("option '--%s' takes a whole number, not "
                              "'%s'"),
                            o->name, value);
            return -1;
        }
        return 0;
    case CLI_OPT_LIST:
        if (list_add((struct cli_list *)o->value, value) != 0) {
            cli_error(_("cannot parse the options: out of memory"));
            return -1;
        }
        return 0;
    case CLI_OPT_FLAG:
    case CLI_OPT_END:
        break;
    }
    return -1;
}

int
cli_parse(const char *cmd, int argc, char **argv, const struct cli_option *opts,
          const struct cli_help *help, int *nargs, int *exit_code)
{
    int n = 0;
    int only_args = 0;
    *exit_code = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            argv[n++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(cmd, opts, help, stdout);
            *exit_code = EXIT_OK;
            return -1;
        }
        if (a[1] != '-') {
            *exit_code = cli_usage_error(cmd,
                                         _("unknown option '%s': ntm options "
                                           "are long, like '--json'"),
                                         a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct cli_option *o = find_opt(opts, name, len);
        if (!o) {
            *exit_code = cli_usage_error(cmd, _("unknown option '--%.*s'"),
                                         (int)len, name);
            return -1;
        }
        if (o->type == CLI_OPT_FLAG) {
            if (eq) {
                *exit_code = cli_usage_error(
                    cmd, _("option '--%s' takes no value"), o->name);
                return -1;
            }
            *(int *)o->value = 1;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            char arg[128];
            *exit_code = cli_usage_error(
                cmd, _("option '--%s' needs a value %s"), o->name,
                cli_tr_placeholders(o->arg, arg, sizeof(arg)));
            return -1;
        }
        if (set_value(cmd, o, value) != 0) {
            *exit_code = EXIT_USAGE;
            return -1;
        }
    }
    if (n < argc)
        argv[n] = NULL;
    *nargs = n;
    return 0;
}

/*
 * The placeholders of synopses and options ("<unit>") are catalogue
 * entries of their own, translated one by one where they are printed, so
 * that every help page names them alike whatever file declares it. This
 * list only marks them for xgettext: a placeholder is looked up in the
 * catalogue like any message, and one without an entry (<n>, <url>,
 * <yyyy-mm-dd>, ...) stays as it is.
 */
static const char *const placeholders[] __attribute__((unused)) = {
    N_("<file>"),    N_("<unit>"),    N_("<text>"),   N_("<org>"),
    N_("<id>"),      N_("<level>"),   N_("<task>"),   N_("<name>"),
    N_("<value>"),   N_("<field>"),   N_("<date>"),   N_("<key>"),
    N_("<dir>"),     N_("<year>"),    N_("<uom>"),    N_("<state>"),
    N_("<role>"),    N_("<q>"),       N_("<kind>"),   N_("<entry>"),
    N_("<code>"),    N_("<command>"), N_("<format>"), N_("<args>"),
    N_("<options>"), N_("<bytes>"),   N_("<lang>"),
};

/* Append text to b with each placeholder the catalogue knows translated. */
static void
add_translated(struct ntm_buf *b, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *lt = strchr(p, '<');
        const char *gt = lt ? strchr(lt, '>') : NULL;
        if (!gt) {
            ntm_buf_adds(b, p);
            return;
        }
        ntm_buf_add(b, p, (size_t)(lt - p));
        size_t n = (size_t)(gt + 1 - lt);
        char token[64];
        if (n < sizeof(token) && !memchr(lt + 1, '<', n - 1)) {
            memcpy(token, lt, n);
            token[n] = '\0';
            ntm_buf_adds(b, cli_tr(token));
        } else {
            ntm_buf_add(b, lt, n);
        }
        p = gt + 1;
    }
}

const char *
cli_tr_placeholders(const char *text, char *out, size_t size)
{
    struct ntm_buf b = NTM_BUF_INIT;
    if (text)
        add_translated(&b, text);
    snprintf(out, size, "%s", b.len ? ntm_buf_str(&b) : (text ? text : ""));
    ntm_buf_release(&b);
    return out;
}

/* Print text with every line indented by four spaces. */
static void
print_indented(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len)
            fprintf(out, "    %.*s\n", (int)len, p);
        else
            fputc('\n', out);
        p += len + (nl ? 1 : 0);
    }
}

/* print_indented with each known placeholder translated (synopses). */
static void
print_translated(FILE *out, const char *text)
{
    struct ntm_buf b = NTM_BUF_INIT;
    add_translated(&b, text);
    print_indented(out, b.len ? ntm_buf_str(&b) : text);
    ntm_buf_release(&b);
}

static const char standard_exit_status[] =
    N_("0  success\n"
       "1  failure (the message says what failed and what to do)\n"
       "2  usage error: wrong options or bad input\n"
       "3  verification found invalid or forked entries\n"
       "4  could not reach the server (nothing lost: retry later)\n"
       "5  some entries were rejected (they are kept and listed)");

void
cli_print_help(const char *cmd, const struct cli_option *opts,
               const struct cli_help *help, FILE *out)
{
    fputs(_("NAME\n"), out);
    print_indented(out, help && help->name ? cli_tr(help->name) : cmd);
    fputs(_("\nSYNOPSIS\n"), out);
    if (help && help->synopsis)
        print_translated(out, cli_tr(help->synopsis));
    else
        fprintf(out, "    ntm %s [<options>]\n", cmd);
    if (help && help->description) {
        fputs(_("\nDESCRIPTION\n"), out);
        print_indented(out, cli_tr(help->description));
    }
    fputs(_("\nOPTIONS\n"), out);
    for (const struct cli_option *o = opts; o && o->type != CLI_OPT_END; o++) {
        char arg[128];
        fprintf(out, "    --%s%s%s%s\n", o->name, o->arg ? " " : "",
                cli_tr_placeholders(o->arg, arg, sizeof(arg)),
                o->type == CLI_OPT_LIST ? _(" (repeatable)") : "");
        fprintf(out, "        %s\n", o->help ? cli_tr(o->help) : "");
    }
    fputs(_("    --help\n        show this help\n"), out);
    fputs(_("    Global options, before or after the command: --home <dir>, "
            "--json,\n    --quiet, --lang (vi | en). See 'ntm --help'.\n"),
          out);
    fputs(_("\nEXIT STATUS\n"), out);
    print_indented(out,
                   cli_tr(help && help->exit_status ? help->exit_status
                                                    : standard_exit_status));
    if (help && help->example) {
        fputs(_("\nEXAMPLE\n"), out);
        print_indented(out, cli_tr(help->example));
    }
}
