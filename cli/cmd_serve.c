/* SPDX-License-Identifier: MIT */
/*
 * cmd_serve.c - ntm serve: run the central endpoint (SPEC.md section 6) on
 * this home's store until SIGTERM or SIGINT. The server itself is
 * ntm_server_run (sync/server.c); this file only maps options.
 */
#include "cli.h"
#include "ntm_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const struct cli_help help = {
    N_("ntm serve - run the central endpoint on this home's store"),
    "ntm serve --listen <addr:port> [--tls-cert <file> --tls-key <file>]\n"
    "          [--root-key <hex>] [--threads <n>] [--max-batch <n>]\n"
    "          [--max-body <bytes>] [--per-ip <n>] [--connections <n>]\n"
    "          [--max-inflight <n>] [--timeout <seconds>] [--reset <file>]\n"
    "          [--attach-quota <bytes>]\n"
    "ntm serve --attach-usage [--attach-quota <bytes>]\n"
    "ntm serve --attach-usage-reset <device>",
    N_("Serves the HTTP API of SPEC.md section 6 over HTTPS (TLS 1.2 or 1.3\n"
       "only). Plain HTTP is refused unless the address is a loopback one\n"
       "(behind a TLS reverse proxy). The root key comes from --root-key or\n"
       "from the home's pinned root. At start the store is checked (PRAGMA\n"
       "quick_check). One line per request goes to stderr (method, path,\n"
       "status, entries, milliseconds, author). SIGTERM stops it gracefully:\n"
       "requests in flight, such as a push batch being committed, finish "
       "first.\n"
       "Limits answer as SPEC.md section 6 says: when the last eighth of the\n"
       "--connections slots is in use, or --max-inflight requests are being\n"
       "served (a slow upload counts until it ends), new requests get 503 or\n"
       "429 with Retry-After; a connection idle for --timeout seconds is\n"
       "closed."),
    N_("0 stopped cleanly; 1 failure (address in use, bad TLS files, damaged\n"
       "store); 2 usage"),
    "certtool --generate-privkey --outfile key.pem\n"
    "ntm serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem"};

/* ntm serve --attach-usage / --attach-usage-reset DEVICE: the quota's
 * count, read or forgotten in the server's store (beside a running
 * server: SQLite takes turns). */
static int
attach_usage(struct cli_ctx *ctx, const char *device, int64_t quota)
{
    if (device && (strlen(device) != NTM_HEX_ID_LEN ||
                   !ntm_is_lower_hex(device, NTM_HEX_ID_LEN)))
        return cli_usage_error("serve",
                               "--attach-usage-reset takes a device's author "
                               "id (64 hex digits)");
    char *db = cli_home_path(ctx, "ntm.db");
    struct ntm_store *st = NULL;
    struct ntm_error err = {0};
    json_t *list = NULL;
    int64_t bytes = 0;
    if (!db) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    enum ntm_err rc = ntm_store_open(&st, db, 0, &err);
    ntm_free(db);
    if (rc == NTM_OK)
        rc = device ? ntm_store_upload_reset(st, device, &bytes, &err)
                    : ntm_store_upload_usage(st, &list, &err);
    ntm_store_close(st);
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot read the server's attachment quotas"));
    if (device) {
        if (ctx->json)
            return cli_print_json(json_pack("{s:s, s:I}", "device", device,
                                            "forgotten", (json_int_t)bytes));
        printf(_("%s: %lld bytes of attachments forgotten; its quota starts "
                 "again\n"),
               device, (long long)bytes);
        return EXIT_OK;
    }
    size_t i;
    json_t *x;
    json_array_foreach (list, i, x)
        json_object_set_new(x, "quota", json_integer(quota));
    if (ctx->json)
        return cli_print_json(list);
    json_array_foreach (list, i, x)
        printf(_("%s  %lld bytes in %lld files (quota %lld)\n"),
               json_string_value(json_object_get(x, "device")),
               (long long)json_integer_value(json_object_get(x, "bytes")),
               (long long)json_integer_value(json_object_get(x, "files")),
               (long long)quota);
    if (json_array_size(list) == 0)
        printf("%s\n", _("no device has uploaded attachments"));
    json_decref(list);
    return EXIT_OK;
}

int
cmd_serve(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *listen = NULL, *cert = NULL, *key = NULL, *root = NULL;
    int64_t threads = 0, max_batch = 0, max_body = 0, per_ip = 0, conns = 0;
    int64_t inflight = 0, timeout = 0, attach_quota = 0;
    const char *reset_file = NULL, *usage_reset = NULL;
    int usage = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "listen", &listen, "<addr:port>",
         N_("address and port to listen on")},
        {CLI_OPT_STRING, "tls-cert", &cert, "<file>",
         N_("PEM certificate chain")},
        {CLI_OPT_STRING, "tls-key", &key, "<file>", N_("PEM private key")},
        {CLI_OPT_STRING, "root-key", &root, "<hex>",
         N_("the provincial admin's author id (else the home's pinned root)")},
        {CLI_OPT_INT, "threads", &threads, "<n>",
         N_("worker threads (default: one per CPU)")},
        {CLI_OPT_INT, "max-batch", &max_batch, "<n>",
         N_("entries per push request (default 500)")},
        {CLI_OPT_INT, "max-body", &max_body, "<bytes>",
         N_("request body limit (default 8 MiB)")},
        {CLI_OPT_INT, "per-ip", &per_ip, "<n>",
         N_("slow connections per client address (default 32)")},
        {CLI_OPT_INT, "connections", &conns, "<n>",
         N_("connections in all (default 512)")},
        {CLI_OPT_INT, "max-inflight", &inflight, "<n>",
         N_("requests served at once before 429 (default 256)")},
        {CLI_OPT_INT, "timeout", &timeout, "<seconds>",
         N_("close a connection idle this long (default 15)")},
        {CLI_OPT_STRING, "reset", &reset_file, "<file>",
         N_("after a restore: the root's reset statement (ntm admin "
            "server-reset) to keep and hand out to devices")},
        {CLI_OPT_INT, "attach-quota", &attach_quota, "<bytes>",
         N_("attachment bytes one device may upload (default 1 GiB)")},
        {CLI_OPT_FLAG, "attach-usage", &usage, NULL,
         N_("print each device's attachment bytes against its quota, and "
            "exit")},
        {CLI_OPT_STRING, "attach-usage-reset", &usage_reset, "<device>",
         N_("forget a device's attachment bytes (its quota starts again), "
            "and exit")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("serve", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[0]);
    if (attach_quota < 0)
        return cli_usage_error("serve", "a limit is out of range");
    if (usage || usage_reset)
        return attach_usage(ctx, usage_reset,
                            attach_quota ? attach_quota
                                         : NTM_SYNC_DEFAULT_ATTACH_QUOTA);
    if (!listen)
        return cli_usage_error("serve", "--listen <addr:port> is required");
    if (!cert != !key)
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    if (threads < 0 || threads > 256 || max_batch < 0 || max_batch > 100000 ||
        max_body < 0 || per_ip < 0 || per_ip > 100000 || conns < 0 ||
        conns > 100000 || inflight < 0 || inflight > 100000 || timeout < 0 ||
        timeout > 3600 || attach_quota < 0)
        return cli_usage_error("serve", "a limit is out of range");

    char reset[4096] = "";
    if (reset_file) {
        FILE *f = fopen(reset_file, "rb");
        size_t n = f ? fread(reset, 1, sizeof reset - 1, f) : 0;
        int too_long = f && !feof(f);
        if (f)
            fclose(f);
        if (!f || n == 0 || too_long) {
            cli_error("cannot read the reset statement '%s'%s", reset_file,
                      too_long ? ": too long" : "");
            return EXIT_FAIL;
        }
        reset[n] = '\0';
    }
    /* A server's home needs no key: a new one is only its store, made
     * at first start (mode 0700, as 'ntm init' makes homes). */
    if (mkdir(ctx->home, 0700) != 0 && errno != EEXIST) {
        cli_error(_("cannot create the server's home '%s': %s"), ctx->home,
                  strerror(errno));
        return EXIT_FAIL;
    }
    char *db = cli_home_path(ctx, "ntm.db");
    if (!db) {
        cli_error("cannot build the store path: out of memory");
        return EXIT_FAIL;
    }
    struct ntm_server_opts so;
    memset(&so, 0, sizeof so);
    so.db_path = db;
    so.listen = listen;
    so.tls_cert = cert;
    so.tls_key = key;
    so.root_key = root;
    so.threads = (unsigned)threads;
    so.max_batch = (unsigned)max_batch;
    so.max_body = (size_t)max_body;
    so.per_ip_limit = (unsigned)per_ip;
    so.conn_limit = (unsigned)conns;
    so.max_inflight = (unsigned)inflight;
    so.conn_timeout_s = (unsigned)timeout;
    so.attach_quota = attach_quota;
    so.reset = reset_file ? reset : NULL;
    struct ntm_error err = {0};
    enum ntm_err rc = ntm_server_run(&so, &err);
    ntm_free(db);
    if (rc != NTM_OK)
        return cli_fail(&err, "cannot run the server");
    return EXIT_OK;
}
