/* SPDX-License-Identifier: MIT */
/*
 * cmd_status.c - ntm status: what is waiting to go up, when this device
 * last pushed and pulled, which server it uses, and how many records are
 * in conflict. Reads the store only; never talks to the server.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct cli_help help = {
    N_("ntm status - unpushed entries, last push and pull, server, conflicts"),
    "ntm status",
    N_("Shows, from this home only (no network): how many entries the server\n"
       "is not known to hold yet, when the last push and pull succeeded, the\n"
       "server and its trust settings, the pull position, and the number of\n"
       "records with a conflict."),
    NULL, "ntm status\nntm status --json"};

/* The human form of a time in ms since the epoch, or "never"; borrowed:
 * buf or the catalog. */
static const char *
time_text(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0)
        return _("never");
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char iso[64];
    localtime_r(&t, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%d %H:%M:%S", &tm);
    cli_human_date(iso, buf, size);
    return buf;
}

int
cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("status", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("status", _("unexpected argument '%s'"),
                               argv[0]);

    struct ntm_error err = {0};
    struct ntm_sync_status ss;
    json_t *conflicts = NULL;
    if (ntm_sync_status(ctx->store, &ss, &err) != NTM_OK)
        return cli_fail(&err, _("cannot read the sync state"));
    if (ntm_store_conflicts(ctx->store, &conflicts, &err) != NTM_OK) {
        ntm_sync_status_release(&ss);
        return cli_fail(&err, _("cannot read the sync state"));
    }
    int64_t unpushed = ss.unpushed, last_push = ss.last_push_ms,
            last_pull = ss.last_pull_ms, cursor = ss.cursor;
    const char *server = ss.server, *pin = ss.pin, *cacert = ss.cacert;
    size_t nconf = json_array_size(conflicts);
    json_decref(conflicts);
    /* Entries set aside that wait to be written again (a copied home's,
     * until its new key) have not reached the server either. */
    int64_t aside = 0, aside_total = 0;
    ntm_store_stranded(ctx->store, NULL, &aside, &aside_total, NULL);
    unpushed += aside;

    if (ctx->json) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "unpushed", json_integer(unpushed));
            json_object_set_new(o, "last_push_ms",
                                last_push ? json_integer(last_push)
                                          : json_null());
            json_object_set_new(o, "last_pull_ms",
                                last_pull ? json_integer(last_pull)
                                          : json_null());
            json_object_set_new(o, "server",
                                server ? json_string(server) : json_null());
            json_object_set_new(o, "conflicts", json_integer((int64_t)nconf));
            json_object_set_new(o, "cursor", json_integer(cursor));
            json_object_set_new(o, "pin", pin ? json_string(pin) : json_null());
            json_object_set_new(o, "cacert",
                                cacert ? json_string(cacert) : json_null());
            json_t *rk = cli_rekey_json(ctx);
            json_object_set_new(o, "rekey", rk ? rk : json_null());
        }
        code = cli_print_json(o);
    } else {
        char num[32];
        printf(_("server:      %s\n"), server ? server : _("none"));
        if (pin)
            printf(_("pin:         %s%s\n"), pin,
                   cacert ? ""
                          : _(" (pin-only: certificate dates not checked)"));
        if (cacert)
            printf(_("ca file:     %s\n"), cacert);
        cli_human_int(unpushed, num, sizeof(num));
        printf(_("unpushed:    %s\n"), num);
        char when[64];
        printf(_("last push:   %s\n"),
               time_text(last_push, when, sizeof(when)));
        printf(_("last pull:   %s\n"),
               time_text(last_pull, when, sizeof(when)));
        printf(_("position:    %lld\n"), (long long)cursor);
        printf(_("conflicts:   %zu%s\n"), nconf,
               nconf ? _(" (see 'ntm conflicts')") : "");
        cli_rekey_say(ctx);
        code = EXIT_OK;
    }
    ntm_sync_status_release(&ss);
    return code;
}
