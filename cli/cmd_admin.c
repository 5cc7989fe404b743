/* SPDX-License-Identifier: MIT */
/*
 * cmd_admin.c - ntm admin enroll | revoke | unit: the admin operations
 * (device.enroll, device.revoke, unit.create of SPEC.md section 3). The
 * inputs are checked here (key format, role, scope and parent unit
 * against the unit tree); role and scope of this admin are checked by the
 * store before it signs. join-code makes a new device's one-time join
 * code (joincode.c) and draws it as a QR code with libqrencode, the only
 * user of that library; enroll --join takes the grant from such a code,
 * and without an author id the device from its join request, once the
 * admin confirmed its fingerprint. requests lists the join requests the
 * server keeps; forks the fork evidence of the server and of this replica.
 */
#include "cli.h"

#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_help help = {
    N_("ntm admin - enroll or revoke devices, create units"),
    "ntm admin enroll <key> --role <role> --scope <unit> [--org <org>]\n"
    "                 [--name <name>] [--from-seq <n>]\n"
    "ntm admin enroll [<key>] --join <code> [--fingerprint <XXXX ...>]\n"
    "ntm admin requests [--join <code>]\n"
    "ntm admin forks\n"
    "ntm admin join-code --role <role> --scope <unit> [--org <org>]\n"
    "                 [--name <name>] [--expires <7d>] [--server <url>]\n"
    "                 [--pin sha256//<b64>]\n"
    "ntm admin revoke <key> [--after-seq <n>] --reason <text>\n"
    "ntm admin unit <code> --name <name> [--level <level>]\n"
    "ntm admin server-reset [--out <file>]",
    N_("enroll lets the device with author id <key> write entries with a "
       "role\n"
       "(recorder, coordinator or admin) for the units at or below <unit>.\n"
       "--from-seq reassigns a device: the enrollment governs its entries "
       "from\n"
       "that seq on (default 1).\n"
       "\n"
       "join-code makes a one-time code for a new device, printed as text "
       "and\n"
       "as a QR code: it holds the server's URL and pin (this home's sync\n"
       "settings, or --server and --pin), the root key and the role, scope,\n"
       "organization and name the device will get, and expires (--expires,\n"
       "7d by default; h for hours, m for minutes). The device runs 'ntm "
       "init\n"
       "--join CODE', which asks the server to enroll it and shows its\n"
       "fingerprint. 'ntm admin enroll --join CODE' fetches that request,\n"
       "shows the device's name, author id and fingerprint, and enrolls it\n"
       "as the code says once you type the fingerprint the device shows (or\n"
       "give --fingerprint); a fingerprint that differs, or several devices\n"
       "asking with one code, enroll nothing. 'ntm admin enroll <author id>\n"
       "--join CODE' enrolls a device whose author id you have.\n"
       "\n"
       "requests lists the devices waiting to be enrolled with your codes.\n"
       "\n"
       "forks lists the devices whose key signed two different entries at\n"
       "one place of its chain (its home was copied or restored from a\n"
       "backup), from the server's evidence and this replica's: each such\n"
       "device must get a new key.\n"
       "\n"
       "revoke makes the device's entries after --after-seq invalid "
       "everywhere\n"
       "(default: the highest seq this replica holds of it): use it for a "
       "lost\n"
       "or stolen device.\n"
       "\n"
       "unit creates a unit missing from the shipped unit tree, usually a\n"
       "hamlet (ấp, khu phố) under its commune: <code> is the commune's "
       "code,\n"
       "a dot and the hamlet's number.\n"
       "\n"
       "server-reset (the root key only), after the server was restored "
       "from a\n"
       "backup: signs the statement that its history was reset, for its\n"
       "operator to start it with (ntm serve --reset <file>); devices then\n"
       "send it what it lost instead of refusing it.\n"
       "\n"
       "The entries are signed by this device, which must be an admin whose\n"
       "scope holds the unit."),
    NULL,
    /* TRANSLATORS: keep the commands; translate the quoted names and
       reason. */
    N_("ntm admin enroll 3f0c...e1 --role recorder --scope 72.710.25657 \\\n"
       "    --name \"Ấp Thạnh Hòa\"\n"
       "ntm admin unit 72.710.25657.1 --name \"Ấp Thạnh Hòa\" --level "
       "hamlet\n"
       "ntm admin revoke 3f0c...e1 --reason \"phone lost on 2019-06-02\"")};

static int
print_entry(struct cli_ctx *ctx, const struct ntm_write_result *res,
            const char *what)
{
    if (ctx->json)
        return cli_print_json(json_pack("{s:s, s:I}", "entry", res->id, "seq",
                                        (json_int_t)res->seq));
    printf(_("%s\nentry %s\n"), what, res->id);
    return EXIT_OK;
}

/* The one device that asked to be enrolled with the code jc (GET
 * /v1/join?nonce=), into hex; its name into *asked_name (new). */
static int
fetch_request(struct cli_ctx *ctx, const struct cli_join *jc,
              char hex[NTM_HEX_ID_LEN + 1], char **asked_name)
{
    struct ntm_error err = {0};
    struct ntm_client_opts co;
    json_t *reqs = NULL, *x;
    size_t i;
    char fp[40], when[32];
    memset(&co, 0, sizeof(co));
    co.lang = ctx->lang;
    if (ntm_client_join_requests(ctx->store, ctx->key, &co, jc->nonce, &reqs,
                                 &err) != NTM_OK) {
        int code = cli_fail(&err, _("cannot fetch the device's request to be "
                                    "enrolled"));
        cli_note(ctx, _("or give the author id the device shows: ntm admin "
                        "enroll <author id> --join CODE"));
        return code;
    }
    size_t n = json_array_size(reqs);
    if (n == 0) {
        cli_error(_("no device has asked to be enrolled with this code yet: "
                    "on the device, run 'ntm sync' (it sends its request), "
                    "then try again; or give the author id it shows: ntm "
                    "admin enroll <author id> --join CODE"));
        json_decref(reqs);
        return EXIT_FAIL;
    }
    if (n > 1) {
        cli_error(ngettext("%zu device asked to be enrolled with this code: "
                           "someone else may have used it. Nothing was "
                           "enrolled. Ask the device's holder for its "
                           "fingerprint and enroll only the matching one "
                           "(ntm admin enroll <author id> --join CODE "
                           "--fingerprint ...), or make a new code",
                           "%zu devices asked to be enrolled with this code: "
                           "someone else may have used it. Nothing was "
                           "enrolled. Ask the device's holder for its "
                           "fingerprint and enroll only the matching one "
                           "(ntm admin enroll <author id> --join CODE "
                           "--fingerprint ...), or make a new code",
                           (unsigned long)n),
                  n);
        json_array_foreach (reqs, i, x) {
            const char *a = json_string_value(json_object_get(x, "author"));
            cli_short_fingerprint(a, fp);
            cli_format_time(
                json_integer_value(json_object_get(x, "received_ms")), when);
            fprintf(stderr, _("  %s  fingerprint %s  name \"%s\"  asked %s\n"),
                    a, fp, json_string_value(json_object_get(x, "name")), when);
        }
        json_decref(reqs);
        return EXIT_FAIL;
    }
    x = json_array_get(reqs, 0);
    snprintf(hex, NTM_HEX_ID_LEN + 1, "%s",
             json_string_value(json_object_get(x, "author")));
    *asked_name = ntm_strdup(json_string_value(json_object_get(x, "name")));
    cli_short_fingerprint(hex, fp);
    cli_format_time(json_integer_value(json_object_get(x, "received_ms")),
                    when);
    if (!ctx->json)
        printf(_("device asking to be enrolled: \"%s\" (asked %s)\n"
                 "author id:   %s\n"),
               *asked_name ? *asked_name : "", when, hex);
    json_decref(reqs);
    return EXIT_OK;
}

/* The admin confirms the fingerprint the device shows: given, or typed
 * at the terminal. 0 when it is hex's. */
static int
confirm_fingerprint(const char *hex, const char *given)
{
    char typed[80];
    if (!given) {
        if (cli_read_answer(_("type the fingerprint the device shows: "), typed,
                            sizeof(typed)) != 0) {
            cli_error(_("cannot ask for the fingerprint: there is no "
                        "terminal; give --fingerprint \"XXXX XXXX XXXX "
                        "XXXX\" as the device shows it"));
            return -1;
        }
        given = typed;
    }
    struct cli_check c;
    if (cli_check_fingerprint(hex, given, &c) != 0) {
        cli_check_say("admin", &c);
        return -1;
    }
    return 0;
}

static int
admin_enroll(struct cli_ctx *ctx, const char *key, const char *role,
             const char *scope, const char *org, const char *name,
             int64_t from_seq, const char *join, const char *fingerprint)
{
    struct ntm_error err = {0};
    struct ntm_write_result res;
    struct cli_join jc;
    char hex[NTM_HEX_ID_LEN + 1], fp[40];
    char *asked_name = NULL;
    int code;
    memset(&jc, 0, sizeof(jc));
    struct cli_check c;
    if (key && cli_check_device_key(key, hex, &c) != 0)
        return cli_check_say("admin", &c);
    if (!key && !join)
        return cli_usage_error("admin",
                               _("'admin enroll' needs the device's key, or "
                                 "--join CODE"));
    if (fingerprint && !join)
        return cli_usage_error("admin", _("--fingerprint goes with --join"));
    if (join) {
        if (role || scope || org || name)
            return cli_usage_error("admin",
                                   _("--join takes the role, scope, "
                                     "organization and name from the code: "
                                     "give none of them"));
        enum cli_join_status js = cli_join_read(join, ntm_now_ms(), &jc);
        if (js == CLI_JOIN_BAD) {
            cli_error(_("this join code is damaged or was altered (its "
                        "signature does not match): copy it again whole"));
            return EXIT_FAIL;
        }
        if (cli_check_join_signer(ctx, jc.signer, &c) != 0) {
            cli_join_release(&jc);
            return cli_check_say("admin", &c);
        }
        /* Past its expiry the code still says what was meant: the device
         * joined with it in time, or could not have. */
        role = jc.role;
        scope = jc.scope;
        org = jc.org;
        name = jc.name;
        /* Without the author id: the device's own request names it. */
        if (!key &&
            (code = fetch_request(ctx, &jc, hex, &asked_name)) != EXIT_OK)
            goto out;
        if (cli_check_join_unused(ctx, jc.nonce, hex, &c) != 0) {
            code = cli_check_say("admin", &c);
            goto out;
        }
    }
    if (!role || !scope) {
        code = cli_usage_error("admin", _("enroll needs --role and --scope "
                                          "(or --join)"));
        goto out;
    }
    /* the devices page's checks too (cli/checks.c) */
    if (cli_check_grant(ctx, &role, scope, org, &c) != 0) {
        code = cli_check_say("admin", &c);
        goto out;
    }
    if (from_seq < 1) {
        code = cli_usage_error("admin", _("--from-seq must be 1 or more"));
        goto out;
    }
    if (join) {
        cli_short_fingerprint(hex, fp);
        if (!key || fingerprint) {
            if (!ctx->json)
                printf(_("fingerprint: %s\n"), fp);
            if (confirm_fingerprint(hex, fingerprint) != 0) {
                code = EXIT_FAIL;
                goto out;
            }
        } else if (!ctx->json)
            printf(_("device fingerprint: %s (it must be the one the device "
                     "shows; if not, revoke it at once)\n"),
                   fp);
    }
    if (ntm_device_enroll(ctx->store, ctx->key, hex, role, scope,
                          name ? name : "", org, from_seq, &res,
                          &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot enroll the device"));
        goto out;
    }
    if (join)
        cli_join_mark_used(ctx, jc.nonce, hex);
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:I}", "entry", res.id, "seq",
                              (json_int_t)res.seq);
        if (o && join) {
            json_object_set_new(o, "fingerprint", json_string(fp));
            json_object_set_new(o, "role", json_string(role));
            json_object_set_new(o, "scope", json_string(scope));
            json_object_set_new(o, "author", json_string(hex));
            json_object_set_new(o, "confirmed",
                                json_boolean(!key || fingerprint));
            if (asked_name)
                json_object_set_new(o, "asked_name", json_string(asked_name));
        }
        code = cli_print_json(o);
    } else {
        struct ntm_buf what = NTM_BUF_INIT;
        ntm_buf_addf(&what, _("enrolled %s as %s of %s"), hex,
                     cli_label(NTM_LABEL_ROLE, role), scope);
        code = print_entry(ctx, &res, ntm_buf_str(&what));
        ntm_buf_release(&what);
    }
out:
    cli_join_release(&jc);
    ntm_free(asked_name);
    return code;
}

/* "7d", "12h", "30m": a duration in ms; -1 when not one. */
static int64_t
parse_duration(const char *s)
{
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0 || n > 366 * 24 * 60 || !end[0] || end[1])
        return -1;
    switch (end[0]) {
    case 'd':
        return n * 86400000LL;
    case 'h':
        return n * 3600000LL;
    case 'm':
        return n * 60000LL;
    default:
        return -1;
    }
}

/* The QR code of text on stdout, two modules per character cell (upper
 * and lower half blocks), with its quiet zone. */
static void
print_qr(const char *text)
{
    QRcode *qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
    if (!qr)
        return;
    const int quiet = 2, w = qr->width;
    for (int y = -quiet; y < w + quiet; y += 2) {
        for (int x = -quiet; x < w + quiet; x++) {
            int top =
                y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
            int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
                      (qr->data[(y + 1) * w + x] & 1);
            /* Dark modules are drawn as spaces on a light cell: the
             * terminal's background is dark more often than not, so the
             * light parts are the ones painted. */
            fputs(top ? (bot ? " " : "\u2584") : (bot ? "\u2580" : "\u2588"),
                  stdout);
        }
        putchar('\n');
    }
    QRcode_free(qr);
}

static int
admin_join_code(struct cli_ctx *ctx, const char *role, const char *scope,
                const char *org, const char *name, const char *expires,
                const char *server, const char *pin)
{
    struct ntm_error err = {0};
    struct ntm_sync_status ss;
    char root[NTM_HEX_ID_LEN + 1];
    struct cli_check c;
    int code;
    if (!role || !scope)
        return cli_usage_error("admin", _("join-code needs --role and "
                                          "--scope"));
    if (cli_check_grant(ctx, &role, scope, org, &c) != 0)
        return cli_check_say("admin", &c);
    int64_t ttl = parse_duration(expires ? expires : "7d");
    if (ttl < 0)
        return cli_usage_error("admin",
                               _("invalid --expires '%s': write a number "
                                 "and d, h or m, e.g. 7d"),
                               expires);
    if (pin && strncmp(pin, "sha256//", 8) != 0)
        return cli_usage_error("admin",
                               _("invalid pin '%s': write "
                                 "sha256//<base64 of the key hash>"),
                               pin);
    if (ntm_store_root(ctx->store, root) != NTM_OK) {
        cli_error(_("this home has no root key pinned: a join code cannot "
                    "be made"));
        return EXIT_FAIL;
    }
    if (ntm_sync_status(ctx->store, &ss, &err) != NTM_OK)
        return cli_fail(&err, _("cannot read the sync settings"));
    if (!server)
        server = ss.server;
    if (!pin)
        pin = ss.pin;
    code = EXIT_USAGE;
    if (!server)
        cli_usage_error("admin",
                        _("this home has no server: give --server URL"));
    else if (!pin)
        cli_usage_error("admin",
                        _("this home trusts the server through a CA file, "
                          "not a pin: give --pin sha256//... (the hash of "
                          "the server's public key, as 'certtool "
                          "--pubkey-info' prints it)"));
    else if (strncmp(server, "https://", 8) != 0)
        cli_usage_error("admin",
                        _("a join code needs an https:// server, not '%s'"),
                        server);
    else {
        struct cli_join j;
        memset(&j, 0, sizeof(j));
        j.server = server;
        j.pin = pin;
        j.root = root;
        j.role = role;
        j.scope = scope;
        j.org = org;
        j.name = name;
        j.expires = ntm_now_ms() + ttl;
        char *text = cli_join_make(ctx->key, &j);
        code = EXIT_FAIL;
        if (!text)
            cli_error(_("cannot make the join code: out of memory"));
        else if (ctx->json) {
            code = cli_print_json(
                json_pack("{s:s, s:I, s:s, s:s}", "code", text, "expires",
                          (json_int_t)j.expires, "role", role, "scope", scope));
        } else {
            char when[32];
            cli_format_time(j.expires, when);
            printf(_("join code for a %s of %s (valid until %s, once):\n"),
                   role, scope, when);
            printf("%s\n", text);
            print_qr(text);
            printf(_("on the new device: ntm init --join CODE\n"
                     "then, with the fingerprint it shows: ntm admin enroll "
                     "--join CODE\n"));
            code = EXIT_OK;
        }
        ntm_free(text);
    }
    ntm_sync_status_release(&ss);
    return code;
}

static int
admin_revoke(struct cli_ctx *ctx, const char *key, int64_t after_seq,
             int have_after, const char *reason)
{
    struct ntm_error err = {0};
    struct ntm_write_result res;
    char hex[NTM_HEX_ID_LEN + 1];
    struct cli_check c;
    if (cli_check_device_key(key, hex, &c) != 0)
        return cli_check_say("admin", &c);
    if (!reason || !*reason)
        return cli_usage_error("admin",
                               _("revoke needs --reason: say why, e.g. "
                                 "--reason \"phone stolen\""));
    if (have_after && after_seq < 0)
        return cli_usage_error("admin", _("--after-seq must be 0 or more"));
    if (!have_after) {
        after_seq = 0;
        if (ntm_store_head(ctx->store, hex, &after_seq, NULL) != NTM_OK)
            after_seq = 0;
        cli_note(ctx,
                 _("revoking the entries of %.12s... after seq %lld (the "
                   "last held here)"),
                 hex, (long long)after_seq);
    }
    if (ntm_device_revoke(ctx->store, ctx->key, hex, after_seq, reason, &res,
                          &err) != NTM_OK)
        return cli_fail(&err, _("cannot revoke the device"));
    struct ntm_buf what = NTM_BUF_INIT;
    ntm_buf_addf(&what, _("revoked %s after seq %lld"), hex,
                 (long long)after_seq);
    int code = print_entry(ctx, &res, ntm_buf_str(&what));
    ntm_buf_release(&what);
    return code;
}

static int
valid_code(const char *code)
{
    size_t n = strlen(code);
    if (n == 0 || n > 100 || code[0] == '.' || code[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (code[i] == '.' && code[i + 1] == '.')
            return 0;
        if (code[i] != '.' && (code[i] < '0' || code[i] > '9'))
            return 0;
    }
    return strchr(code, '.') != NULL;
}

static int
admin_unit(struct cli_ctx *ctx, const char *code, const char *name,
           const char *level)
{
    struct ntm_error err = {0};
    struct ntm_write_result res;
    if (!valid_code(code))
        return cli_usage_error("admin",
                               _("invalid unit code '%s': write the "
                                 "parent's code, a dot and a number, e.g. "
                                 "72.710.25657.3"),
                               code);
    if (!name || !*name)
        return cli_usage_error("admin", _("unit needs --name, e.g. --name "
                                          "\"Ấp Thạnh Hòa\""));
    if (!level)
        level = "hamlet";
    const char *lv = ntm_label_parse(NTM_LABEL_LEVEL, level);
    if (!lv || !strcmp(lv, "province"))
        return cli_usage_error("admin",
                               _("unknown level '%s': use %s, %s or %s"), level,
                               cli_label(NTM_LABEL_LEVEL, "hamlet"),
                               cli_label(NTM_LABEL_LEVEL, "commune"),
                               cli_label(NTM_LABEL_LEVEL, "district"));
    level = lv;
    char parent[128];
    size_t plen = (size_t)(strrchr(code, '.') - code);
    if (plen >= sizeof(parent))
        return cli_usage_error("admin", _("unit code '%s' is too long"), code);
    memcpy(parent, code, plen);
    parent[plen] = '\0';
    if (ntm_plan_check_unit(ctx->plan, ctx->store, parent, NULL, &err) !=
        NTM_OK) {
        cli_fail(&err, _("the parent of the new unit"));
        return EXIT_USAGE;
    }
    struct ntm_error err2 = {0};
    /* A unit made by unit.create may be named again: the new entry names
     * its current versions and supersedes them (it also settles a name
     * conflict). A unit of the shipped tree may not. */
    int created = 0;
    json_t *made = NULL;
    if (ntm_store_units_created(ctx->store, &made, NULL) == NTM_OK) {
        size_t i;
        json_t *m;
        json_array_foreach (made, i, m)
            if (strcmp(json_string_value(json_object_get(m, "code")), code) ==
                0)
                created = 1;
    }
    json_decref(made);
    if (!created && ntm_plan_check_unit(ctx->plan, ctx->store, code, NULL,
                                        &err2) == NTM_OK) {
        cli_error(_("unit '%s' exists already: see 'ntm units --under %s'"),
                  code, parent);
        return EXIT_FAIL;
    }
    if (ntm_unit_create(ctx->store, ctx->key, code, name, level, &res, &err) !=
        NTM_OK)
        return cli_fail(&err, _("cannot create the unit"));
    struct ntm_buf what = NTM_BUF_INIT;
    /* TRANSLATORS: "created hamlet 72.710.25657.1 (Ấp Thạnh Hòa)"; the
       level is its label (ấp, xã, huyện in Vietnamese). */
    ntm_buf_addf(&what, _("created %s %s (%s)"),
                 cli_label(NTM_LABEL_LEVEL, level), code, name);
    int rc = print_entry(ctx, &res, ntm_buf_str(&what));
    ntm_buf_release(&what);
    return rc;
}

/* server-reset: the root's statement that the server's history was reset
 * (restored from a backup), written to out for the server's operator. */
static int
admin_server_reset(struct cli_ctx *ctx, const char *out)
{
    struct ntm_error err = {0};
    char *text = NULL;
    int64_t epoch = 0, last = 0;
    if (!out)
        out = "server-reset.json";
    enum ntm_err rc = ntm_client_reset_statement(ctx->store, ctx->key, NULL,
                                                 &text, &epoch, &last, &err);
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot make the reset statement"));
    FILE *f = fopen(out, "wx");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    free(text);
    if (!ok) {
        cli_error(_("cannot write '%s' (it must not exist yet)"), out);
        return EXIT_FAIL;
    }
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:I, s:I}", "file", out, "epoch",
                              (json_int_t)epoch, "last_gseq", (json_int_t)last);
        return cli_print_json(o);
    }
    cli_note(ctx,
             _("wrote %s: reset #%lld of the server, restored at position "
               "%lld; give it to the server's operator, who restarts it with "
               "ntm serve ... --reset %s - devices then send it what it lost"),
             out, (long long)epoch, (long long)last, out);
    return EXIT_OK;
}

/* requests: the devices that asked the server to be enrolled with this
 * admin's codes (all of them for the root), or with one code. */
static int
admin_requests(struct cli_ctx *ctx, const char *join)
{
    struct ntm_error err = {0};
    struct ntm_client_opts co;
    struct cli_join jc;
    json_t *reqs = NULL, *x;
    size_t i;
    char fp[40], when[32], until[32];
    memset(&co, 0, sizeof(co));
    memset(&jc, 0, sizeof(jc));
    co.lang = ctx->lang;
    if (join && cli_join_read(join, ntm_now_ms(), &jc) == CLI_JOIN_BAD) {
        cli_error(_("this join code is damaged or was altered (its "
                    "signature does not match): copy it again whole"));
        return EXIT_FAIL;
    }
    enum ntm_err rc = ntm_client_join_requests(
        ctx->store, ctx->key, &co, join ? jc.nonce : NULL, &reqs, &err);
    cli_join_release(&jc);
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot fetch the requests to be enrolled"));
    json_array_foreach (reqs, i, x) {
        const char *a = json_string_value(json_object_get(x, "author"));
        cli_short_fingerprint(a, fp);
        json_object_set_new(x, "fingerprint", json_string(fp));
    }
    if (ctx->json)
        return cli_print_json(reqs);
    if (json_array_size(reqs) == 0)
        cli_note(ctx, _("no device is waiting to be enrolled"));
    json_array_foreach (reqs, i, x) {
        const char *a = json_string_value(json_object_get(x, "author"));
        cli_short_fingerprint(a, fp);
        cli_format_time(json_integer_value(json_object_get(x, "received_ms")),
                        when);
        cli_format_time(json_integer_value(json_object_get(x, "expires")),
                        until);
        /* TRANSLATORS: one device waiting to be enrolled: its name, author
           id, fingerprint, the role and unit its code gives, when it asked,
           the code's nonce and expiry. */
        printf(_("\"%s\" %s\n  fingerprint %s, %s of %s, asked %s\n"
                 "  code %s (valid until %s)%s\n"),
               json_string_value(json_object_get(x, "name")), a, fp,
               json_string_value(json_object_get(x, "role")),
               json_string_value(json_object_get(x, "scope")), when,
               json_string_value(json_object_get(x, "nonce")), until,
               json_is_true(json_object_get(x, "enrolled"))
                   ? _(", enrolled already")
                   : "");
    }
    if (json_array_size(reqs) > 0)
        printf(_("to enroll one: ntm admin enroll --join CODE (you type the "
                 "fingerprint the device shows)\n"));
    json_decref(reqs);
    return EXIT_OK;
}

/* One fork's ids, the held one first, for merging. */
static void
fork_merge(json_t *into, json_t *f, const char *source)
{
    const char *a = json_string_value(json_object_get(f, "author"));
    int64_t seq = json_integer_value(json_object_get(f, "seq"));
    json_t *x, *same = NULL;
    size_t i;
    json_array_foreach (into, i, x)
        if (!strcmp(json_string_value(json_object_get(x, "author")), a) &&
            json_integer_value(json_object_get(x, "seq")) == seq)
            same = x;
    if (!same) {
        same = json_deep_copy(f);
        json_object_set_new(same, "sources", json_array());
        json_array_append_new(into, same);
    } else {
        json_t *refused = json_object_get(same, "refused"), *r, *y;
        size_t j, k;
        json_array_foreach (json_object_get(f, "refused"), j, r) {
            int have = 0;
            json_array_foreach (refused, k, y)
                have |= json_equal(json_object_get(y, "id"),
                                   json_object_get(r, "id"));
            if (!have)
                json_array_append(refused, r);
        }
        if (json_is_null(json_object_get(same, "held")))
            json_object_set(same, "held", json_object_get(f, "held"));
    }
    json_array_append_new(json_object_get(same, "sources"),
                          json_string(source));
}

static void
print_fork_side(const char *what, json_t *e)
{
    char when[32];
    cli_format_time(json_integer_value(json_object_get(e, "ts")), when);
    /* TRANSLATORS: "followed" or "refused", an entry id and its time. */
    printf(_("    %-9s %s  written %s\n"), what,
           json_string_value(json_object_get(e, "id")), when);
}

/* forks: the fork evidence of the server (GET /v1/forks) and of this
 * replica, with what to tell the device. */
static int
admin_forks(struct cli_ctx *ctx)
{
    struct ntm_error err = {0};
    struct ntm_sync_status ss;
    json_t *all = json_array(), *server = NULL, *local = NULL, *x;
    size_t i;
    int code = EXIT_OK, asked = 0;
    if (!all)
        return EXIT_FAIL;
    if (ntm_sync_status(ctx->store, &ss, &err) == NTM_OK) {
        asked = ss.server != NULL;
        ntm_sync_status_release(&ss);
    }
    ntm_error_clear(&err);
    if (asked) {
        struct ntm_client_opts co;
        memset(&co, 0, sizeof(co));
        co.lang = ctx->lang;
        enum ntm_err rc =
            ntm_client_forks(ctx->store, ctx->key, &co, &server, &err);
        if (rc == NTM_EFORBIDDEN || rc == NTM_EUNKNOWNAUTHOR ||
            rc == NTM_EREVOKED || rc == NTM_EAUTH) {
            code = cli_fail(&err, _("the server does not show its fork "
                                    "evidence to this device"));
            goto out;
        }
        if (rc != NTM_OK) {
            char text[2 * NTM_ERROR_SIZE];
            cli_warn(ctx,
                     _("cannot read the server's fork evidence (%s): showing "
                       "this replica's only"),
                     cli_error_text(&err, text, sizeof(text)));
        }
    } else {
        struct ntm_enrollment me;
        if (ntm_store_enrollment(ctx->store, ctx->author, 0, &me, NULL) !=
                NTM_OK ||
            (!me.is_root && strcmp(me.role, "admin") != 0)) {
            cli_error(_("only an admin sees the fork evidence: this device "
                        "is not one"));
            code = EXIT_FAIL;
            goto out;
        }
    }
    if (ntm_store_forks(ctx->store, &local, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot read this replica's fork evidence"));
        goto out;
    }
    json_array_foreach (server, i, x)
        fork_merge(all, x, "server");
    json_array_foreach (local, i, x)
        fork_merge(all, x, "local");
    json_array_foreach (all, i, x) {
        const char *a = json_string_value(json_object_get(x, "author"));
        struct ntm_enrollment e;
        if (!json_object_get(x, "name") &&
            ntm_store_enrollment(ctx->store, a,
                                 json_integer_value(json_object_get(x, "seq")),
                                 &e, NULL) == NTM_OK) {
            json_object_set_new(x, "name", json_string(e.name));
            json_object_set_new(x, "role", json_string(e.role));
            json_object_set_new(x, "scope", json_string(e.scope));
        }
        json_object_set_new(x, "advice", json_string("rekey"));
    }
    if (ctx->json) {
        code = cli_print_json(all);
        all = NULL;
        goto out;
    }
    if (json_array_size(all) == 0)
        cli_note(ctx, _("no fork: no device has signed two entries at one "
                        "place of its chain"));
    const char *prev = "";
    json_array_foreach (all, i, x) {
        const char *a = json_string_value(json_object_get(x, "author"));
        json_t *r;
        size_t j;
        if (strcmp(prev, a) != 0) {
            const char *nm = json_string_value(json_object_get(x, "name"));
            const char *role = json_string_value(json_object_get(x, "role"));
            const char *scope = json_string_value(json_object_get(x, "scope"));
            /* TRANSLATORS: the device's name, role, unit and author id. */
            printf(_("device \"%s\" (%s of %s), author %s:\n"), nm ? nm : "",
                   role && *role ? role : "-", scope && *scope ? scope : "-",
                   a);
            /* TRANSLATORS: keep the command as it is. */
            printf(_("  two copies of this device's home sign as one device "
                     "(its home was copied to another phone, or restored "
                     "from a backup): re-key it - on that device run 'ntm "
                     "init --rekey', enroll the new key and revoke this "
                     "one\n"));
        }
        prev = a;
        printf(_("  seq %lld:\n"),
               (long long)json_integer_value(json_object_get(x, "seq")));
        if (!json_is_null(json_object_get(x, "held")) &&
            json_object_get(x, "held"))
            print_fork_side(_("followed"), json_object_get(x, "held"));
        json_array_foreach (json_object_get(x, "refused"), j, r)
            print_fork_side(_("refused"), r);
    }
out:
    json_decref(all);
    json_decref(server);
    json_decref(local);
    return code;
}

int
cmd_admin(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *role = NULL, *scope = NULL, *org = NULL, *name = NULL;
    const char *reason = NULL, *level = NULL, *out = NULL;
    const char *join = NULL, *expires = NULL, *server = NULL, *pin = NULL;
    const char *fingerprint = NULL;
    int64_t from_seq = 1, after_seq = -1;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "role", &role, "<role>",
         N_("enroll: recorder, coordinator or admin")},
        {CLI_OPT_STRING, "scope", &scope, "<unit>",
         N_("enroll: the unit code the device may act on (and below)")},
        {CLI_OPT_STRING, "org", &org, "<org>",
         N_("enroll: the device's organization (mttq, hlhpn, ...)")},
        {CLI_OPT_STRING, "name", &name, "<name>",
         N_("enroll: the device's name; unit: the unit's name")},
        {CLI_OPT_INT, "from-seq", &from_seq, "<n>",
         N_("enroll: first seq of the device this enrollment governs")},
        {CLI_OPT_INT, "after-seq", &after_seq, "<n>",
         N_("revoke: entries after this seq become invalid")},
        {CLI_OPT_STRING, "reason", &reason, "<text>", N_("revoke: why")},
        {CLI_OPT_STRING, "level", &level, "<level>",
         N_("unit: hamlet (default), commune or district")},
        {CLI_OPT_STRING, "join", &join, "<code>",
         N_("enroll: take role, scope, org and name from this join code")},
        {CLI_OPT_STRING, "expires", &expires, "<7d>",
         N_("join-code: valid for this long (d, h or m; 7d)")},
        {CLI_OPT_STRING, "server", &server, "<url>",
         N_("join-code: the server (default: this home's)")},
        {CLI_OPT_STRING, "pin", &pin, "sha256//<b64>",
         N_("join-code: the server's pin (default: this home's)")},
        {CLI_OPT_STRING, "out", &out, "<file>",
         N_("server-reset: the statement's file (server-reset.json)")},
        {CLI_OPT_STRING, "fingerprint", &fingerprint, "<XXXX XXXX ...>",
         N_("enroll --join: the fingerprint the device shows")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("admin", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs < 1)
        return cli_usage_error("admin", _("missing sub-command: enroll, "
                                          "revoke or unit"));
    const char *sub = argv[0];
    if (fingerprint && strcmp(sub, "enroll"))
        return cli_usage_error("admin", _("--fingerprint goes with enroll "
                                          "--join"));
    if (!strcmp(sub, "requests") || !strcmp(sub, "forks")) {
        if (nargs > 1)
            return cli_usage_error("admin", _("unexpected argument '%s'"),
                                   argv[1]);
        if (role || scope || org || name || reason || level || out || expires ||
            server || pin || after_seq != -1 || from_seq != 1 ||
            (join && !strcmp(sub, "forks")))
            return cli_usage_error("admin",
                                   _("requests takes only --join; forks "
                                     "takes nothing"));
        return !strcmp(sub, "forks") ? admin_forks(ctx)
                                     : admin_requests(ctx, join);
    }
    if (!strcmp(sub, "server-reset")) {
        if (nargs > 1)
            return cli_usage_error("admin", _("unexpected argument '%s'"),
                                   argv[1]);
        if (role || scope || org || name || reason || level ||
            after_seq != -1 || from_seq != 1)
            return cli_usage_error("admin", _("server-reset takes --out"));
        return admin_server_reset(ctx, out);
    }
    if (out)
        return cli_usage_error("admin", _("--out goes with server-reset"));
    if (!strcmp(sub, "join-code")) {
        if (nargs > 1)
            return cli_usage_error("admin", _("unexpected argument '%s'"),
                                   argv[1]);
        if (join || reason || level || after_seq != -1 || from_seq != 1)
            return cli_usage_error("admin",
                                   _("join-code takes --role, --scope, --org, "
                                     "--name, --expires, --server and "
                                     "--pin"));
        return admin_join_code(ctx, role, scope, org, name, expires, server,
                               pin);
    }
    if (expires || server || pin)
        return cli_usage_error("admin", _("--expires, --server and --pin go "
                                          "with join-code"));
    if (join && strcmp(sub, "enroll"))
        return cli_usage_error("admin", _("--join goes with enroll"));
    if (strcmp(sub, "enroll") && strcmp(sub, "revoke") && strcmp(sub, "unit"))
        return cli_usage_error("admin",
                               _("unknown sub-command '%s': use enroll, "
                                 "revoke or unit"),
                               sub);
    if (nargs == 1 && join && !strcmp(sub, "enroll")) {
        if (reason || level || after_seq != -1)
            return cli_usage_error("admin",
                                   _("enroll takes --role, --scope, --org, "
                                     "--name, --from-seq and --join"));
        return admin_enroll(ctx, NULL, role, scope, org, name, from_seq, join,
                            fingerprint);
    }
    if (nargs < 2)
        return cli_usage_error("admin",
                               strcmp(sub, "unit")
                                   ? _("'admin %s' needs the device's key")
                                   : _("'admin %s' needs the unit code"),
                               sub);
    if (nargs > 2)
        return cli_usage_error("admin", _("unexpected argument '%s'"), argv[2]);
    if (!strcmp(sub, "enroll")) {
        if (reason || level || after_seq != -1)
            return cli_usage_error("admin",
                                   _("enroll takes --role, --scope, --org, "
                                     "--name, --from-seq and --join"));
        return admin_enroll(ctx, argv[1], role, scope, org, name, from_seq,
                            join, fingerprint);
    }
    if (!strcmp(sub, "revoke")) {
        if (role || scope || org || name || level || from_seq != 1)
            return cli_usage_error("admin", _("revoke takes --after-seq and "
                                              "--reason"));
        return admin_revoke(ctx, argv[1], after_seq, after_seq != -1, reason);
    }
    if (role || scope || org || reason || after_seq != -1 || from_seq != 1)
        return cli_usage_error("admin", _("unit takes --name and --level"));
    return admin_unit(ctx, argv[1], name, level);
}
