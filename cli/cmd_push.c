/* SPDX-License-Identifier: MIT */
/*
 * cmd_push.c - ntm push: send the server every entry it lacks (this
 * device's own and the ones it relays), in batches, and list what it
 * rejected. The work is ntm_client_push (sync/client.c); this file parses
 * options, shows progress and prints the result. Also used by cmd_sync.c.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct cli_help help = {
    N_("ntm push - send new entries to the server"), "ntm push [--batch <n>]",
    N_("Asks the server which entries it holds, then sends every entry this\n"
       "replica holds and the server lacks: this device's own and the ones it\n"
       "relays for others, each author's in order, in batches. Each batch the\n"
       "server acknowledges is remembered, so a push interrupted at any "
       "moment\n"
       "(lost link, killed process) loses nothing: run it again and it sends\n"
       "only what is still missing; entries sent twice are harmless.\n"
       "Entries the server rejects stay here and are listed (exit 5); entries\n"
       "accepted without effect (for example out of the author's scope) are\n"
       "shown as warnings. When the server cannot be reached after a few\n"
       "retries, nothing is lost: try again later (exit 4)."),
    N_("0 all sent; 1 failure; 2 usage; 4 server unreachable (nothing lost);\n"
       "5 the server rejected some entries (kept here, listed)"),
    "ntm push\nntm push --json"};

/* When the progress line started (one at a time: the tool is one
 * thread); the line itself is cli_progress_show's (display width, cut to
 * the terminal). */
static struct {
    struct timespec start;
    int shown;
} progress;

/* ud is the struct cli_ctx. */
void
cli_sync_progress(void *ud, const char *what, int64_t done, int64_t total)
{
    const struct cli_ctx *ctx = ud;
    if (!ctx || !cli_progress_enabled(ctx))
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!progress.shown)
        progress.start = now;
    double secs = (double)(now.tv_sec - progress.start.tv_sec) +
                  (double)(now.tv_nsec - progress.start.tv_nsec) / 1e9;
    int64_t rate = secs > 0 ? (int64_t)((double)done / secs + 0.5) : 0;
    /* The library names the step in English; these two are known. */
    if (!strcmp(what, "sent"))
        what = _("sent");
    else if (!strcmp(what, "received"))
        what = _("received");
    char n1[32], n2[32], r[32], bar[40], text[256];
    cli_human_int(done, n1, sizeof n1);
    cli_human_int(rate, r, sizeof r);
    if (total > 0) {
        cli_human_int(total, n2, sizeof n2);
        cli_progress_bar(done, total, 30, bar, sizeof bar);
        snprintf(text, sizeof text,
                 ngettext("%s%s/%s entry %s (%s/s)",
                          "%s%s/%s entries %s (%s/s)", (unsigned long)total),
                 bar, n1, n2, what, r);
    } else {
        snprintf(text, sizeof text,
                 ngettext("%s entry %s (%s/s)", "%s entries %s (%s/s)",
                          (unsigned long)done),
                 n1, what, r);
    }
    cli_progress_show(ctx, text);
    progress.shown = 1;
}

/* Say what a push or pull found of this device's own chain (struct
 * ntm_heal): a store older than the server's copy of it is the one thing
 * an officer must hear about, in plain words. */
void
cli_sync_heal(struct cli_ctx *ctx, const struct ntm_heal *h)
{
    if (h->server_reset > 0)
        cli_warn(ctx,
                 _("the server was restored from a backup (reset #%lld, "
                   "signed by the root key): it is sent what it lost, and "
                   "this device pulls from the start"),
                 (long long)h->server_reset);
    if (h->copied) {
        /* Said once per run (sync pushes, then pulls). */
        static int said;
        if (!said)
            cli_error(
                _("this phone's history was copied from or to another "
                  "device (the same home on two phones): both sign as one "
                  "key, which the server cannot accept. This device's new "
                  "work is kept here and not sent. Run 'ntm init --rekey' "
                  "to give this device a new key, and ask an admin to "
                  "enroll it: the kept work is then sent under the new key, "
                  "nothing is lost"));
        said = 1;
    } else if (h->stranded > 0)
        cli_warn(ctx,
                 ngettext("this home is older than what the server holds "
                          "of this device (restored from a backup?): its "
                          "entries differed from #%lld on; %lld entry "
                          "written since was set aside and written again "
                          "on top of the server's copy - nothing is lost",
                          "this home is older than what the server holds "
                          "of this device (restored from a backup?): its "
                          "entries differed from #%lld on; %lld entries "
                          "written since were set aside and written again "
                          "on top of the server's copy - nothing is lost",
                          (unsigned long)h->stranded),
                 (long long)h->forked_at, (long long)h->stranded);
    else if (h->reissued > 0)
        cli_note(ctx,
                 ngettext("wrote again %lld entry set aside earlier",
                          "wrote again %lld entries set aside earlier",
                          (unsigned long)h->reissued),
                 (long long)h->reissued);
    if (h->failed > 0)
        cli_error(ngettext("%lld set-aside entry could not be written again "
                           "(this device may have lost its enrollment); it "
                           "is kept - see ntm verify",
                           "%lld set-aside entries could not be written "
                           "again (this device may have lost its "
                           "enrollment); they are kept - see ntm verify",
                           (unsigned long)h->failed),
                  (long long)h->failed);
}

json_t *
cli_sync_heal_json(const struct ntm_heal *h)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "restored",
        (json_int_t)h->restored, "forked_at", (json_int_t)h->forked_at,
        "stranded", (json_int_t)h->stranded, "reissued",
        (json_int_t)h->reissued, "failed", (json_int_t)h->failed,
        "server_reset", (json_int_t)h->server_reset, "copied", (int)h->copied);
}

void
cli_sync_begin(struct cli_ctx *ctx, struct ntm_client_opts *co,
               char place[NTM_HEX_ID_LEN + 1])
{
    co->progress = cli_sync_progress;
    co->progress_ud = ctx;
    co->lang = ctx->lang;
    cli_join_resend(ctx, co);
    cli_home_place(ctx, place);
    co->place = place;
}

void
cli_sync_progress_end(void)
{
    cli_progress_done();
    progress.shown = 0;
}

int
cli_push_run(struct cli_ctx *ctx, struct ntm_client_opts *co, json_t **out)
{
    struct ntm_error err = {0};
    struct ntm_push_result res;
    char place[NTM_HEX_ID_LEN + 1];
    cli_sync_begin(ctx, co, place);
    enum ntm_err rc = ntm_client_push(ctx->store, ctx->key, co, &res, &err);
    cli_sync_progress_end();
    if (rc != NTM_OK) {
        int code = cli_fail(&err, _("push failed"));
        if (res.sent > 0)
            cli_note(ctx,
                     ngettext("the server acknowledged %lld entry before the "
                              "failure; it is marked as pushed",
                              "the server acknowledged %lld entries before "
                              "the failure; they are marked as pushed",
                              (unsigned long)res.sent),
                     (long long)res.sent);
        ntm_push_result_release(&res);
        return code;
    }
    cli_sync_heal(ctx, &res.heal);
    size_t i;
    json_t *x;
    json_array_foreach (res.flagged, i, x) {
        cli_warn(ctx,
                 _("entry %.16s... #%lld was accepted without effect (%s): %s"),
                 json_string_value(json_object_get(x, "author")),
                 (long long)json_integer_value(json_object_get(x, "seq")),
                 json_string_value(json_object_get(x, "code")),
                 json_string_value(json_object_get(x, "message")));
    }
    json_array_foreach (res.rejected, i, x) {
        cli_error(_("server rejected entry %.16s... #%lld (%s): %s"),
                  json_string_value(json_object_get(x, "author")),
                  (long long)json_integer_value(json_object_get(x, "seq")),
                  json_string_value(json_object_get(x, "code")),
                  json_string_value(json_object_get(x, "message")));
    }
    size_t nrej = json_array_size(res.rejected);
    if (out) {
        *out = json_pack(
            "{s:I, s:I, s:I, s:I, s:O, s:O, s:o}", "sent", (json_int_t)res.sent,
            "accepted", (json_int_t)res.accepted, "duplicates",
            (json_int_t)res.duplicates, "batches", (json_int_t)res.batches,
            "flagged", res.flagged, "rejected", res.rejected, "heal",
            cli_sync_heal_json(&res.heal));
        if (*out) {
            json_t *rk = cli_rekey_json(ctx);
            json_object_set_new(*out, "rekey", rk ? rk : json_null());
        }
    } else if (res.sent == 0 && !res.heal.copied) {
        cli_note(ctx, _("nothing to push: the server holds every entry"));
    } else if (res.sent == 0) {
        /* A copied home: said by cli_sync_heal. */
    } else {
        /* One plural per message: the count that names the noun. */
        cli_note(ctx,
                 ngettext("pushed %lld entry: %lld accepted, %lld already "
                          "there, %zu rejected (requests: %lld)",
                          "pushed %lld entries: %lld accepted, %lld already "
                          "there, %zu rejected (requests: %lld)",
                          (unsigned long)res.sent),
                 (long long)res.sent, (long long)res.accepted,
                 (long long)res.duplicates, nrej, (long long)res.batches);
    }
    if (nrej > 0)
        cli_error(ngettext("%zu entry was rejected by the server; it stays "
                           "in this home - see 'ntm verify' and ask an admin",
                           "%zu entries were rejected by the server; they "
                           "stay in this home - see 'ntm verify' and ask an "
                           "admin",
                           (unsigned long)nrej),
                  nrej);
    int copied = res.heal.copied > 0;
    ntm_push_result_release(&res);
    /* Then the bytes of the attachments (docs/contract.md, attachments). */
    int acode = cli_attach_sync(ctx, co, 1, out ? *out : NULL);
    /* A copied home's own entries stay here: as rejected ones do. */
    return nrej > 0 || copied ? EXIT_REJECTED : acode;
}

int
cmd_push(int argc, char **argv, struct cli_ctx *ctx)
{
    int64_t batch = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_INT, "batch", &batch, "<n>",
         N_("entries per request (default: the server's max_batch)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("push", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("push", _("unexpected argument '%s'"), argv[0]);
    if (batch < 0 || batch > 100000)
        return cli_usage_error("push", _("--batch must be in 1..100000"));
    struct ntm_client_opts co;
    memset(&co, 0, sizeof co);
    co.max_batch = (unsigned)batch;
    json_t *out = NULL;
    code = cli_push_run(ctx, &co, ctx->json ? &out : NULL);
    if (out) {
        int pc = cli_print_json(out);
        if (code == EXIT_OK)
            code = pc;
    }
    return code;
}
