/* SPDX-License-Identifier: MIT */
/*
 * cmd_verify.c - ntm verify: check the database file, re-verify every
 * entry this replica holds (bytes against id, signature, stored columns,
 * chain, authorization) and compare the derived state with the log; report
 * invalid entries, forks, file damage and derived differences. Exit 3 for
 * any of these (SPEC.md section 8); flagged entries (without effect) are
 * listed but are not a failure. --rebuild repairs the derived state.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_help help = {
    N_("ntm verify - check the database, every entry and the state derived "
       "from them"),
    "ntm verify [--rebuild]",
    N_("Checks, in order:\n"
       "  1. the database file, with SQLite's PRAGMA integrity_check (every\n"
       "     page, every index against its table);\n"
       "  2. every stored entry: its bytes against its id (the hash), its\n"
       "     signature, the stored columns (author, seq, prev, ts, lc, op,\n"
       "     record) against its bytes, and its link to the author's previous\n"
       "     entry; whether its author was enrolled and not revoked for it;\n"
       "  3. the state derived from the entries: the records, units,\n"
       "     enrollments, revocations and each entry's effect are recomputed\n"
       "     from the log and compared, row by row and column by column, with\n"
       "     what is stored; so are each author's last entry and each entry's\n"
       "     unit. The recomputation is undone afterwards: verify changes\n"
       "     nothing;\n"
       "  4. in a home that has made a report, the facts it keeps for\n"
       "     reports: each against the one its record gives now (records\n"
       "     written since the last report are left to the next one).\n"
       "A changed byte in an entry, an index or the derived state is found;\n"
       "a changed byte in unused space of the file changes nothing and is "
       "not.\n"
       "Invalid entries, forks (two entries with the same author and seq), a\n"
       "damaged file and derived state that differs from the log make it exit\n"
       "with 3, listing what differs (table, key, column, stored and\n"
       "recomputed value); so does a kept fact that differs (the records\n"
       "are sound, a report would not be). Entries kept without effect\n"
       "(forbidden, bad body, revoked) are listed as flagged. A fork whose\n"
       "refused entries were all written again on the true chain (a\n"
       "restored or copied home that healed or was re-keyed) is listed as\n"
       "resolved and fails nothing.\n"
       "\n"
       "--rebuild keeps the recomputed state instead of undoing it, and lists\n"
       "what it changed; it exits with 0 when the file and every entry are\n"
       "sound. It drops the kept facts: the next report makes them again.\n"
       "It refuses to rebuild from a damaged file or a log holding invalid\n"
       "entries."),
    N_("0  every entry is valid and the state matches the log (flagged "
       "entries\n"
       "   may be listed); with --rebuild, the state was repaired\n"
       "1  the check could not run (the message says why)\n"
       "2  usage error\n"
       "3  invalid entries, forks, a damaged file or derived state that "
       "differs\n"
       "   from the log were found"),
    "ntm verify\nntm verify --rebuild\nntm verify --json | jq .derived"};

static void
print_list(const char *title, json_t *list)
{
    size_t i;
    json_t *x;
    if (!json_array_size(list))
        return;
    printf("%s:\n", title);
    json_array_foreach (list, i, x) {
        const char *entry = json_string_value(json_object_get(x, "entry"));
        const char *codev = json_string_value(json_object_get(x, "code"));
        if (entry) {
            printf("  %s  %s\n", entry,
                   codev ? cli_label(NTM_LABEL_STATUS, codev) : "");
            continue;
        }
        /* a fork: {"author","seq","ids":[...],"resolved"} */
        printf(json_is_true(json_object_get(x, "resolved"))
                   ? _("  author %s seq %lld (resolved: written again):")
                   : _("  author %s seq %lld:"),
               json_string_value(json_object_get(x, "author"))
                   ? json_string_value(json_object_get(x, "author"))
                   : "?",
               (long long)json_integer_value(json_object_get(x, "seq")));
        size_t k;
        json_t *id;
        json_array_foreach (json_object_get(x, "ids"), k, id)
            printf(" %s", json_string_value(id) ? json_string_value(id) : "?");
        printf("\n");
    }
}

/* One value of a difference, cut to fit a line. */
static void
print_value(json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *s = t ? t : "?";
    if (strlen(s) > 60)
        printf("%.57s...", s);
    else
        printf("%s", s);
    free(t);
}

/* A JSON object held as text (records.fields), or NULL (new). */
static json_t *
object_of(json_t *v)
{
    const char *t = json_string_value(v);
    json_t *o = t && *t == '{' ? json_loads(t, 0, NULL) : NULL;
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static void
print_diff(const char *table, const char *key, const char *col, json_t *sv,
           json_t *ev)
{
    printf("  %s  %s  %s: ", table, key, col);
    print_value(sv);
    printf(", ");
    print_value(ev);
    printf("\n");
}

/* One difference; a JSON object column member by member. */
static void
print_one(json_t *x)
{
    const char *table = json_string_value(json_object_get(x, "table"));
    const char *key = json_string_value(json_object_get(x, "key"));
    const char *col = json_string_value(json_object_get(x, "column"));
    json_t *sv = json_object_get(x, "stored");
    json_t *ev = json_object_get(x, "expected");
    json_t *a = col ? object_of(sv) : NULL, *b = col ? object_of(ev) : NULL;
    int shown = 0;
    if (a && b) {
        const char *k;
        json_t *v;
        char name[160];
        json_object_foreach (a, k, v) {
            json_t *w = json_object_get(b, k);
            if (json_equal(v, w))
                continue;
            snprintf(name, sizeof(name), "%s.%s", col, k);
            print_diff(table, key, name, v, w ? w : json_null());
            shown = 1;
        }
        json_object_foreach (b, k, v) {
            if (json_object_get(a, k))
                continue;
            snprintf(name, sizeof(name), "%s.%s", col, k);
            print_diff(table, key, name, json_null(), v);
            shown = 1;
        }
    }
    if (!shown)
        print_diff(table ? table : "?", key ? key : "?",
                   col ? col : _("(whole row)"), sv, ev);
    json_decref(a);
    json_decref(b);
}

/* What a device restored from a backup (or copied) wrote again, and what
 * this home set aside: not a failure, but admins must know. */
static void
print_reissued(json_t *rep)
{
    json_t *re = json_object_get(rep, "reissued");
    json_t *st = json_object_get(rep, "stranded");
    size_t i;
    json_t *x;
    if (json_array_size(re)) {
        printf(_("entries written again by a device whose store was older "
                 "than its chain (restored from a backup, or copied): %zu\n"),
               json_array_size(re));
        json_array_foreach (re, i, x)
            printf(_("  author %.16s... seq %lld replaces %s\n"),
                   json_string_value(json_object_get(x, "author")),
                   (long long)json_integer_value(json_object_get(x, "seq")),
                   json_string_value(json_object_get(x, "replaces")));
    }
    if (json_array_size(st)) {
        printf(_("entries this home set aside (kept, never sent): %zu\n"),
               json_array_size(st));
        json_array_foreach (st, i, x) {
            const char *as =
                json_string_value(json_object_get(x, "reissued_as"));
            printf(_("  seq %lld %s -> %s\n"),
                   (long long)json_integer_value(json_object_get(x, "seq")),
                   json_string_value(json_object_get(x, "entry")),
                   as && *as ? as
                             : json_string_value(json_object_get(x, "reason")));
        }
    }
}

static void
print_derived(json_t *rep, int rebuilt)
{
    json_t *list = json_object_get(rep, "derived");
    size_t i;
    json_t *x;
    json_int_t total =
        json_integer_value(json_object_get(rep, "derived_total"));
    if (!total)
        return;
    printf(rebuilt ? _("derived state repaired from the log (table, key, "
                       "column: was, now):\n")
                   : _("derived state differs from the log (table, key, "
                       "column: stored, recomputed):\n"));
    json_array_foreach (list, i, x)
        print_one(x);
    if ((size_t)total > json_array_size(list))
        printf(_("  ... and %lld more\n"),
               (long long)(total - (json_int_t)json_array_size(list)));
}

/* The report facts kept in the home against its records (needs the
 * plan: without one, they are not compared, and it says so). *out: the
 * comparison, NULL when the home keeps none. */
static int
check_facts(struct cli_ctx *ctx, int drop, json_t **out)
{
    struct ntm_plan *plan = NULL;
    struct ntm_error err = {0};
    *out = NULL;
    if (ntm_plan_load(&plan, NULL, &err) != NTM_OK) {
        char why[512];
        cli_note(ctx,
                 _("the facts kept for reports were not compared with the "
                   "records: %s"),
                 cli_error_text(&err, why, sizeof(why)));
        return EXIT_OK;
    }
    enum ntm_err rc = ntm_report_check_facts(plan, ctx->store, drop, out, &err);
    ntm_plan_free(plan);
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot compare the facts kept for reports"));
    if (!json_is_true(json_object_get(*out, "kept"))) {
        json_decref(*out);
        *out = NULL;
    }
    return EXIT_OK;
}

static void
print_facts(json_t *facts)
{
    if (!facts)
        return;
    json_int_t total =
        json_integer_value(json_object_get(facts, "differ_total"));
    printf(_("%lld report facts checked: %lld differ from their records\n"),
           (long long)json_integer_value(json_object_get(facts, "checked")),
           (long long)total);
    if (total > 0) {
        size_t i;
        json_t *x;
        printf("%s:\n", _("records whose kept report facts differ"));
        json_array_foreach (json_object_get(facts, "differ"), i, x)
            printf("  %s\n", json_string_value(x));
    }
    if (json_is_true(json_object_get(facts, "dropped")))
        printf(_("the report facts were dropped: the next report makes them "
                 "again from the records\n"));
}

int
cmd_verify(int argc, char **argv, struct cli_ctx *ctx)
{
    int rebuild = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "rebuild", &rebuild, NULL,
         N_("repair the derived state from the log")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("verify", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("verify", _("unexpected argument '%s'"),
                               argv[0]);
    struct ntm_error err = {0};
    json_t *rep = NULL;
    if (ntm_store_verify_ex(ctx->store, rebuild ? NTM_VERIFY_REBUILD : 0, &rep,
                            &err) != NTM_OK)
        return cli_fail(&err, _("cannot verify the store"));
    size_t invalid = json_array_size(json_object_get(rep, "invalid"));
    size_t forks = json_array_size(json_object_get(rep, "forks"));
    /* a fork whose refused entries were all written again (a restored or
     * copied home that healed) is listed, but fails nothing */
    size_t open_forks = 0, fi;
    json_t *fx;
    json_array_foreach (json_object_get(rep, "forks"), fi, fx)
        open_forks += !json_is_true(json_object_get(fx, "resolved"));
    size_t flagged = json_array_size(json_object_get(rep, "flagged"));
    size_t damage = json_array_size(json_object_get(rep, "integrity"));
    int rebuilt = json_is_true(json_object_get(rep, "rebuilt"));
    int derived =
        json_integer_value(json_object_get(rep, "derived_total")) != 0;
    int bad =
        invalid > 0 || open_forks > 0 || damage > 0 || (derived && !rebuilt);
    /* The attachments' bytes against their hashes (docs/contract.md,
     * attachments): a damaged file fails, a missing one is said. */
    json_t *att = NULL;
    char *att_dir = cli_home_path(ctx, "attachments");
    if (!att_dir ||
        ntm_attach_verify(ctx->store, att_dir, &att, &err) != NTM_OK) {
        ntm_free(att_dir);
        json_decref(rep);
        return cli_fail(&err, _("cannot verify the attachments"));
    }
    ntm_free(att_dir);
    size_t att_bad = json_array_size(json_object_get(att, "bad"));
    size_t att_missing = json_array_size(json_object_get(att, "missing"));
    json_object_set_new(rep, "attachments", att);
    bad = bad || att_bad > 0;
    /* The facts the home keeps for reports against its records: one that
     * differs would make a report say what the records do not. */
    json_t *facts = NULL;
    int facts_bad = 0;
    if (check_facts(ctx, rebuild, &facts) != EXIT_OK) {
        json_decref(rep);
        return EXIT_VERIFY;
    }
    if (facts) {
        facts_bad =
            json_integer_value(json_object_get(facts, "differ_total")) > 0 &&
            !json_is_true(json_object_get(facts, "dropped"));
        json_object_set_new(rep, "facts", facts);
    }
    bad = bad || facts_bad;
    if (ctx->json) {
        code = cli_print_json(rep);
        return code != EXIT_OK ? code : bad ? EXIT_VERIFY : EXIT_OK;
    }
    if (damage) {
        printf(_("the database file is damaged (PRAGMA integrity_check):\n"));
        size_t i;
        json_t *x;
        json_array_foreach (json_object_get(rep, "integrity"), i, x)
            printf("  %s\n", json_string_value(x));
    }
    printf(_("%lld entries checked: %lld valid, %zu invalid, %zu flagged, %zu "
             "forks\n"),
           (long long)json_integer_value(json_object_get(rep, "entries")),
           (long long)json_integer_value(json_object_get(rep, "valid")),
           invalid, flagged, forks);
    print_list(_("invalid entries"), json_object_get(rep, "invalid"));
    print_list(_("forks"), json_object_get(rep, "forks"));
    print_list(_("flagged entries (kept without effect)"),
               json_object_get(rep, "flagged"));
    print_reissued(rep);
    print_derived(rep, rebuilt);
    printf(_("%lld attachments checked: %lld sound, %zu damaged, %zu missing "
             "from this home\n"),
           (long long)json_integer_value(json_object_get(att, "checked")),
           (long long)json_integer_value(json_object_get(att, "ok")), att_bad,
           att_missing);
    if (att_bad) {
        printf("%s:\n",
               _("damaged attachments (their bytes do not match their hash)"));
        size_t ai;
        json_t *ax;
        json_array_foreach (json_object_get(att, "bad"), ai, ax)
            printf("  %s\n", json_string_value(ax));
    }
    if (att_missing)
        cli_note(ctx,
                 _("%zu attachments of records held are not in this home "
                   "(not an error of the log): 'ntm attachment get HASH' "
                   "fetches one from the server"),
                 att_missing);
    print_facts(facts);
    int checked = json_is_true(json_object_get(rep, "derived_checked"));
    json_decref(rep);
    if (rebuild && !rebuilt)
        cli_warn(ctx, _("the derived state was not rebuilt: the database file "
                        "is damaged or the log holds invalid entries"));
    else if (!checked && !damage)
        cli_warn(ctx, _("the derived state was not compared with the log"));
    if (att_bad) {
        cli_error(_("%zu attachments in '%s/attachments' are damaged: keep "
                    "them as evidence, move them aside and fetch them again "
                    "with 'ntm attachment get HASH'"),
                  att_bad, ctx->home);
        if (!(invalid > 0 || open_forks > 0 || damage > 0 ||
              (derived && !rebuilt)))
            return EXIT_VERIFY;
    }
    if (facts_bad && !(invalid > 0 || open_forks > 0 || damage > 0 ||
                       (derived && !rebuilt) || att_bad)) {
        cli_error(_("the facts this home keeps for reports differ from its "
                    "records (the records are sound): run 'ntm verify "
                    "--rebuild' to drop them; the next report makes them "
                    "again"));
        return EXIT_VERIFY;
    }
    if (bad) {
        cli_error(_("the store holds invalid or forked entries, is damaged, "
                    "or its derived state differs from the log: keep a copy "
                    "of '%s/ntm.db' as evidence and tell your admin"),
                  ctx->home);
        return EXIT_VERIFY;
    }
    return EXIT_OK;
}
