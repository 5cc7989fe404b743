/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - ntm init: make a home (0700) holding a new key, an empty
 * store and config.json, and pin the root key (this device with --root, a
 * given key with --root-key, or the server's with --server), or take
 * server, pin, root key and name from an admin's join code (--join).
 *
 * An existing home is never overwritten without --force; with --force its
 * files are moved aside (name.bak-<ms>), never deleted. When init fails
 * half-way, the files it created are removed so that it can be rerun.
 * A home whose key is there but whose store is missing or unusable (empty,
 * cut short, not ntm's) gets a new store and keeps its key and
 * config.json: the damaged store files are moved aside, and this device's
 * entries come back from the server at the next sync.
 * On an existing home, --server (with --cacert or --pin) only changes the
 * server settings, after checking that the server's root key is the one
 * the home pins: an admin can be made before the server exists and be
 * pointed at it later.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct cli_help help = {
    N_("ntm init - make this device's home: key, store and root key"),
    "ntm init [--server <url>] [--cacert <file> | --pin sha256//<b64>]\n"
    "         [--name <name>] [--root-key <hex> | --root] [--no-passphrase]\n"
    "         [--lang (vi | en)] [--tz <zone>] [--force]\n"
    "ntm init --join <code> [--name <name>] [--no-passphrase] [--lang (vi | "
    "en)]\n"
    "         [--force]\n"
    "ntm init --rekey [--join <code>] [--no-passphrase]\n"
    "ntm init [--lang (vi | en)] [--tz <zone>]",
    N_("Creates the home folder (--home, NTM_HOME, or $XDG_DATA_HOME/ntm) "
       "with\n"
       "mode 0700, a new Ed25519 key sealed with a passphrase "
       "(NTM_PASSPHRASE,\n"
       "or asked twice on the terminal), the store ntm.db and config.json.\n"
       "\n"
       "The root key (the provincial admin's key) is pinned here: --root "
       "makes\n"
       "this device the root admin, --root-key pins a given key, and --server\n"
       "fetches it from the server's /v1/info (when the server cannot be\n"
       "reached, it is pinned at the first sync). The author id printed at\n"
       "the end is what an admin needs to enroll this device.\n"
       "\n"
       "--join takes the server, its pin, the root key and the device's name\n"
       "from a join code an admin made (ntm admin join-code): nothing to type\n"
       "but the code. Its signature and expiry are checked; its root key is\n"
       "trusted as given, as with --root-key. The device then asks the\n"
       "server to enroll it (when the server cannot be reached, the next\n"
       "'ntm sync', push or pull asks) and shows its fingerprint, which the\n"
       "admin confirms with 'ntm admin enroll --join CODE'.\n"
       "\n"
       "On a home that already exists, 'ntm init --server URL [--cacert F |\n"
       "--pin P]' changes only the server settings: the server's /v1/info\n"
       "must report the root key this home pins, else nothing changes. The\n"
       "key, the entries and the sync position stay as they are.\n"
       "\n"
       "On a home whose key is there but whose store ntm.db is missing or\n"
       "cannot be used (empty, cut short, not ntm's), 'ntm init' starts a new\n"
       "store and keeps the key and config.json: the damaged files are moved\n"
       "aside (ntm.db.bak-<ms>), the root key is pinned again from --server,\n"
       "--root-key or --root, and the next 'ntm sync' brings this device's\n"
       "entries back from the server. No other command ever makes a store.\n"
       "\n"
       "The home's language is Vietnamese unless --lang en is given (on a\n"
       "terminal, init asks). It is stored in config.json and used by every\n"
       "command; --lang, or LANG, LC_ALL and LC_MESSAGES naming vi or en,\n"
       "still choose for one run. On a home that exists, 'ntm init --lang\n"
       "(vi | en)' alone changes only its language. Homes made by older\n"
       "versions stored \"en\", then the default: they keep it until changed.\n"
       "\n"
       "Times are shown in the home's time zone, Asia/Ho_Chi_Minh unless\n"
       "--tz names another (TZ, when set, chooses for one run); --json and\n"
       "CSV keep UTC. 'ntm init --tz ZONE' alone on a home changes it."),
    NULL,
    "ntm --home /srv/ntm-admin init --root --name \"MTTQ tỉnh Tây Ninh\"\n"
    "NTM_PASSPHRASE=... ntm init --server https://ntm.example.vn:8443 \\\n"
    "    --pin sha256//3q2+7w== --name \"Ấp Thạnh Hòa\"\n"
    "ntm --home /srv/ntm-admin init --server https://ntm.example.vn:8443 \\\n"
    "    --cacert ca.pem\n"
    "ntm init --rekey"};

/* Files of a home besides the store's (ntm_store_files names those). */
static const char *const home_files[] = {"key", "config.json"};

static int
path_exists(const char *home, const char *name)
{
    struct ntm_buf b = NTM_BUF_INIT;
    ntm_buf_addf(&b, "%s/%s", home, name);
    int ok = access(ntm_buf_str(&b), F_OK) == 0;
    ntm_buf_release(&b);
    return ok;
}

static int
file_found(void *ud, const char *path)
{
    (void)ud;
    (void)path;
    return 1;
}

/* Whether the home holds any file of a home. */
static int
home_exists(struct cli_ctx *ctx)
{
    int exists = 0;
    char *db_path = cli_home_path(ctx, "ntm.db");
    if (db_path)
        exists = ntm_store_files(db_path, file_found, NULL);
    ntm_free(db_path);
    for (size_t i = 0; i < sizeof(home_files) / sizeof(home_files[0]); i++)
        exists |= path_exists(ctx->home, home_files[i]);
    return exists;
}

struct aside {
    struct cli_ctx *ctx;
    int64_t now;
};

/* Rename path to path.bak-<ms>; nonzero on failure (said). */
static int
move_one(void *ud, const char *path)
{
    struct aside *a = ud;
    struct ntm_buf to = NTM_BUF_INIT;
    ntm_buf_addf(&to, "%s.bak-%lld", path, (long long)a->now);
    int rc = rename(path, ntm_buf_str(&to));
    if (rc != 0)
        cli_error(_("cannot move '%s' aside: %s"), path, strerror(errno));
    else
        cli_note(a->ctx, _("moved the old '%s' to '%s'"), path,
                 ntm_buf_str(&to));
    ntm_buf_release(&to);
    return rc != 0;
}

static int
move_aside(struct cli_ctx *ctx)
{
    struct aside a = {ctx, ntm_now_ms()};
    char *db_path = cli_home_path(ctx, "ntm.db");
    int rc = !db_path || ntm_store_files(db_path, move_one, &a);
    ntm_free(db_path);
    for (size_t i = 0;
         rc == 0 && i < sizeof(home_files) / sizeof(home_files[0]); i++) {
        if (!path_exists(ctx->home, home_files[i]))
            continue;
        struct ntm_buf from = NTM_BUF_INIT;
        ntm_buf_addf(&from, "%s/%s", ctx->home, home_files[i]);
        rc = move_one(&a, ntm_buf_str(&from));
        ntm_buf_release(&from);
    }
    return rc ? -1 : 0;
}

static int
remove_one(void *ud, const char *path)
{
    (void)ud;
    unlink(path);
    return 0;
}

/*
 * Whether the home has its key but a store that is missing or cannot be
 * used (empty, cut short, not ntm's): then init starts a new store and
 * keeps the key. Said on stderr.
 */
static int
store_unusable(struct cli_ctx *ctx)
{
    char *db_path = cli_home_path(ctx, "ntm.db");
    int out = 0;
    if (db_path && path_exists(ctx->home, "key")) {
        struct ntm_store *st = NULL;
        struct ntm_error err = {0};
        enum ntm_err rc = ntm_store_open(&st, db_path, 0, &err);
        ntm_store_close(st);
        if (rc == NTM_ENOENT || rc == NTM_ECORRUPT) {
            char text[2 * NTM_ERROR_SIZE];
            cli_note(ctx,
                     _("this home's store cannot be used (%s): starting a "
                       "new one, keeping the key"),
                     rc == NTM_ENOENT
                         ? _("ntm.db is missing")
                         : cli_error_text(&err, text, sizeof(text)));
            out = 1;
        }
    }
    ntm_free(db_path);
    return out;
}

static int
valid_url(const char *url)
{
    if (!strncmp(url, "https://", 8))
        return url[8] != '\0';
    /* Plain HTTP is for a server on this machine only (SPEC.md 6). */
    return !strncmp(url, "http://127.", 11) ||
           !strncmp(url, "http://localhost", 16) ||
           !strncmp(url, "http://[::1]", 12);
}

/* Ask for the passphrase twice; 0 when buf holds it. */
static int
ask_new_passphrase(char *buf, size_t size)
{
    return cli_ask_new_passphrase(
        _("passphrase for the new key: "),
        _("cannot ask for a passphrase: there is no terminal; set "
          "NTM_PASSPHRASE or use --no-passphrase"),
        _("the two passphrases differ: run 'ntm init' again"), buf, size);
}

/* ntm init --server on an existing home: point it at a server. */
static int
update_server(struct cli_ctx *ctx, const char *server, const char *cacert,
              const char *pin)
{
    struct ntm_error err = {0};
    struct ntm_store *st = NULL;
    char root_hex[NTM_HEX_ID_LEN + 1] = "";
    char fingerprint[40] = "";
    int code = EXIT_FAIL, reached = 1;
    char *db_path = cli_home_path(ctx, "ntm.db");
    if (!db_path) {
        cli_error(_("cannot open the store: out of memory"));
        return EXIT_FAIL;
    }
    if (ntm_store_open(&st, db_path, 0, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot open the store of this home"));
        goto out;
    }
    struct ntm_client_opts co;
    memset(&co, 0, sizeof(co));
    co.url = server;
    co.cacert = cacert;
    co.pin = pin;
    co.max_attempts = 1;
    enum ntm_err rc = ntm_client_setup(st, &co, root_hex, fingerprint, &err);
    if (rc == NTM_ENET || rc == NTM_ETIMEOUT || rc == NTM_EUNAVAIL) {
        char text[2 * NTM_ERROR_SIZE];
        cli_warn(ctx,
                 _("cannot reach the server '%s' (%s): its root key will be "
                   "checked at the first sync"),
                 server, cli_error_text(&err, text, sizeof(text)));
        ntm_error_clear(&err);
        if (ntm_sync_configure(st, server, cacert, pin, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot save the server settings"));
            goto out;
        }
        reached = 0;
        if (ntm_store_root(st, root_hex) == NTM_OK)
            cli_short_fingerprint(root_hex, fingerprint);
    } else if (rc != NTM_OK) {
        code = cli_fail(&err, _("cannot change the server settings"));
        goto out;
    }
    if (ctx->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:b, s:b}", "home", ctx->home, "server",
                      server, "updated", 1, "reached", reached);
        if (o)
            json_object_set_new(o, "root_key",
                                root_hex[0] ? json_string(root_hex)
                                            : json_null());
        if (o && root_hex[0])
            json_object_set_new(o, "root_fingerprint",
                                json_string(fingerprint));
        code = cli_print_json(o);
    } else {
        printf(_("server settings of '%s' updated: %s\n"), ctx->home, server);
        if (root_hex[0])
            printf(_("root key:  %s\n           fingerprint %s\n"), root_hex,
                   fingerprint);
        code = EXIT_OK;
    }
out:
    ntm_store_close(st);
    ntm_free(db_path);
    return code;
}

/*
 * The language of a new home: --lang when given, else asked on a terminal,
 * else Vietnamese. An answer given switches this run's messages too.
 */
static const char *
new_home_lang(struct cli_ctx *ctx)
{
    if (ctx->lang_given)
        return ctx->lang;
    if (ctx->json)
        return "vi";
    for (int tries = 0; tries < 3; tries++) {
        char answer[32];
        /* Both languages: the home has none yet. */
        if (cli_ask("Ngôn ngữ / language: vi (Tiếng Việt) hoặc/or en "
                    "(English) [vi]: ",
                    answer, sizeof(answer)) != 0)
            return "vi";
        const char *l = !*answer || !strcmp(answer, "vi") ? "vi"
                        : !strcmp(answer, "en")           ? "en"
                                                          : NULL;
        if (l) {
            if (strcmp(l, ctx->lang)) {
                ctx->lang = l;
                cli_i18n_init(l);
            }
            return l;
        }
    }
    return "vi";
}

/* ntm init --lang L and/or --tz Z on an existing home: change only its
 * language and time zone (tz NULL: unchanged). */
static int
update_lang(struct cli_ctx *ctx, const char *tz)
{
    struct ntm_error err = {0};
    char *path = cli_home_path(ctx, "config.json");
    json_error_t jerr;
    json_t *cfg = path ? json_load_file(path, 0, &jerr) : NULL;
    char *text = NULL;
    int code = EXIT_FAIL;
    if (!cfg || !json_is_object(cfg)) {
        cli_error(_("cannot read '%s': the home's config.json is missing or "
                    "damaged"),
                  path ? path : "config.json");
        goto out;
    }
    if ((ctx->lang_given &&
         json_object_set_new(cfg, "lang", json_string(ctx->lang)) != 0) ||
        (tz && json_object_set_new(cfg, "tz", json_string(tz)) != 0) ||
        !(text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS))) {
        cli_error(_("cannot write config.json: out of memory"));
        goto out;
    }
    if (ntm_file_write_atomic(path, text, strlen(text), 0600, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot write config.json"));
        goto out;
    }
    const char *home_tz = json_string_value(json_object_get(cfg, "tz"));
    if (ctx->json) {
        code = cli_print_json(
            json_pack("{s:s, s:s, s:s, s:b}", "home", ctx->home, "lang",
                      json_string_value(json_object_get(cfg, "lang"))
                          ? json_string_value(json_object_get(cfg, "lang"))
                          : ctx->lang,
                      "tz", home_tz ? home_tz : CLI_DEFAULT_TZ, "updated", 1));
    } else {
        /* TRANSLATORS: printed in the language just chosen: in the
         * Vietnamese catalogue it says "now Vietnamese". */
        if (ctx->lang_given)
            printf(_("the language of '%s' is now English\n"), ctx->home);
        if (tz)
            printf(_("the times of '%s' are now shown in the time zone %s\n"),
                   ctx->home, tz);
        code = EXIT_OK;
    }
out:
    json_decref(cfg);
    free(text); /* jansson's allocator */
    ntm_free(path);
    return code;
}

/* The time zone a new home stores (--tz, else Asia/Ho_Chi_Minh). */
static const char *home_tz = CLI_DEFAULT_TZ;

static int init_home(struct cli_ctx *ctx, const char *server,
                     const char *cacert, const char *pin, const char *name,
                     const char *root_key, int root, int no_pass, int force,
                     const struct cli_join *jc);

int
cmd_init(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *server = NULL, *cacert = NULL, *pin = NULL, *name = NULL;
    const char *root_key = NULL, *join = NULL, *tz = NULL;
    int root = 0, no_pass = 0, force = 0, rekey = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "server", &server, "<url>",
         N_("the central endpoint (https://...); its root key is pinned")},
        {CLI_OPT_STRING, "cacert", &cacert, "<file>",
         N_("trust only the CA certificates in this PEM file")},
        {CLI_OPT_STRING, "pin", &pin, "sha256//<b64>",
         N_("trust the server whose public key has this hash")},
        {CLI_OPT_STRING, "name", &name, "<name>",
         N_("a name for this device, e.g. the unit it serves")},
        {CLI_OPT_STRING, "root-key", &root_key, "<hex>",
         N_("pin this root key (64 hex digits)")},
        {CLI_OPT_STRING, "join", &join, "<code>",
         N_("join with the code an admin made (ntm admin join-code)")},
        {CLI_OPT_STRING, "tz", &tz, "<zone>",
         N_("the time zone of the times shown (default Asia/Ho_Chi_Minh)")},
        {CLI_OPT_FLAG, "root", &root, NULL,
         N_("this device is the root admin of the province")},
        {CLI_OPT_FLAG, "no-passphrase", &no_pass, NULL,
         N_("store the key without a passphrase (not recommended)")},
        {CLI_OPT_FLAG, "force", &force, NULL,
         N_("replace an existing home (its files are moved aside)")},
        {CLI_OPT_FLAG, "rekey", &rekey, NULL,
         N_("give this home a new key (passphrase lost, or home copied)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("init", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("init", _("unexpected argument '%s'"), argv[0]);
    if (rekey) {
        if (server || cacert || pin || root || root_key || name || force)
            return cli_usage_error(
                "init", _("--rekey keeps the home's server, root key and "
                          "name: give only --join or --no-passphrase with it"));
        return cli_init_rekey(ctx, no_pass, join);
    }
    if (join && (server || cacert || pin || root || root_key))
        return cli_usage_error("init",
                               _("--join takes the server, its pin and the "
                                 "root key from the code: give none of "
                                 "--server, --cacert, --pin, --root and "
                                 "--root-key with it"));
    char *cfg_path = cli_home_path(ctx, "config.json");
    int have_cfg = cfg_path && access(cfg_path, F_OK) == 0;
    ntm_free(cfg_path);
    if (tz && !cli_tz_valid(tz))
        return cli_usage_error("init",
                               _("unknown time zone '%s': give a name of the "
                                 "zone database, e.g. Asia/Ho_Chi_Minh"),
                               tz);
    if ((ctx->lang_given || tz) && have_cfg && !force && !join && !server &&
        !cacert && !pin && !name && !root_key && !root && !no_pass)
        return update_lang(ctx, tz);
    home_tz = tz ? tz : CLI_DEFAULT_TZ;
    struct cli_join jc;
    memset(&jc, 0, sizeof(jc));
    if (join) {
        enum cli_join_status js = cli_join_read(join, ntm_now_ms(), &jc);
        if (js == CLI_JOIN_BAD) {
            cli_error(_("this join code is damaged or was altered (its "
                        "signature does not match): copy it again whole, or "
                        "ask the admin for a new one"));
            return EXIT_FAIL;
        }
        if (js == CLI_JOIN_EXPIRED) {
            char when[32];
            cli_format_time(jc.expires, when);
            cli_error(_("this join code expired on %s: ask the admin for a "
                        "new one (ntm admin join-code)"),
                      when);
            cli_join_release(&jc);
            return EXIT_FAIL;
        }
        server = jc.server;
        pin = jc.pin;
        root_key = jc.root;
        if (!name && jc.name && *jc.name)
            name = jc.name;
    }
    code = init_home(ctx, server, cacert, pin, name, root_key, root, no_pass,
                     force, join ? &jc : NULL);
    cli_join_release(&jc);
    return code;
}

static int
init_home(struct cli_ctx *ctx, const char *server, const char *cacert,
          const char *pin, const char *name, const char *root_key, int root,
          int no_pass, int force, const struct cli_join *jc)
{
    int code;
    if (root && root_key)
        return cli_usage_error("init", _("--root and --root-key cannot be used "
                                         "together"));
    if (cacert && pin)
        return cli_usage_error("init", _("--cacert and --pin cannot be used "
                                         "together"));
    if ((cacert || pin) && !server)
        return cli_usage_error("init", _("--cacert and --pin need --server"));
    if (server && !valid_url(server))
        return cli_usage_error(
            "init",
            _("invalid server URL '%s': use https://HOST:PORT "
              "(plain http only on this machine)"),
            server);
    if (pin && strncmp(pin, "sha256//", 8) != 0)
        return cli_usage_error("init",
                               _("invalid pin '%s': write "
                                 "sha256//<base64 of the key hash>"),
                               pin);
    if (root_key && (strlen(root_key) != NTM_HEX_ID_LEN ||
                     !ntm_is_lower_hex(root_key, NTM_HEX_ID_LEN)))
        return cli_usage_error("init",
                               _("invalid root key '%s': give the 64 "
                                 "lower-case hex digits of the root "
                                 "admin's author id"),
                               root_key);
    if (name && !*name)
        return cli_usage_error("init", _("the device name is empty"));

    struct ntm_error err = {0};
    struct ntm_key *key = NULL;
    struct ntm_store *st = NULL;
    char *key_path = NULL, *db_path = NULL, *cfg_path = NULL;
    char *cacert_abs = NULL;
    char pass[1024];
    const char *passphrase = NULL;
    int created_key = 0, created_db = 0;
    char author[NTM_HEX_ID_LEN + 1];
    char root_hex[NTM_HEX_ID_LEN + 1] = "";
    char fingerprint[40] = "";
    json_t *cfg = NULL;
    char *cfg_text = NULL;
    code = EXIT_FAIL;
    memset(pass, 0, sizeof(pass));

    int exists = home_exists(ctx);
    if (jc && exists && !force) {
        cli_error(_("'%s' already holds an ntm home: a join code sets up a "
                    "new one; give another --home, or add --force to replace "
                    "it (its files are moved aside)"),
                  ctx->home);
        return EXIT_FAIL;
    }
    int keep_key = exists && !force && store_unusable(ctx);
    if (keep_key && (no_pass || name))
        return cli_usage_error(
            "init",
            _("the home '%s' keeps its key and config.json when its store "
              "is started again: --no-passphrase and --name do not apply"),
            ctx->home);
    if (exists && !force && server && !keep_key) {
        if (root || root_key || no_pass || name)
            return cli_usage_error(
                "init",
                _("'%s' already holds an ntm home: on it, init "
                  "changes only --server, --cacert and --pin (add "
                  "--force to replace the home)"),
                ctx->home);
        if (cacert) {
            cacert_abs = realpath(cacert, NULL);
            if (!cacert_abs) {
                cli_error(_("cannot read the CA file '%s': %s"), cacert,
                          strerror(errno));
                return EXIT_FAIL;
            }
        }
        code = update_server(ctx, server, cacert_abs, pin);
        free(cacert_abs); /* realpath's allocator */
        return code;
    }
    if (exists && !force && !keep_key) {
        cli_error(_("'%s' already holds an ntm home: use it as it is, give "
                    "another --home, or add --force to replace it (its files "
                    "are moved aside)"),
                  ctx->home);
        return EXIT_FAIL;
    }
    if (cacert) {
        cacert_abs = realpath(cacert, NULL);
        if (!cacert_abs) {
            cli_error(_("cannot read the CA file '%s': %s"), cacert,
                      strerror(errno));
            return EXIT_FAIL;
        }
    }
    const char *home_lang = keep_key ? ctx->lang : new_home_lang(ctx);
    if (ntm_mkdir_p(ctx->home, 0700, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot create the home"));
        goto out;
    }
    if (chmod(ctx->home, 0700) != 0) {
        cli_error(_("cannot make the home '%s' private: %s"), ctx->home,
                  strerror(errno));
        goto out;
    }
    if (exists && !keep_key && move_aside(ctx) != 0)
        goto out;

    key_path = cli_home_path(ctx, "key");
    db_path = cli_home_path(ctx, "ntm.db");
    cfg_path = cli_home_path(ctx, "config.json");
    if (!key_path || !db_path || !cfg_path) {
        cli_error(_("cannot create the home: out of memory"));
        goto out;
    }

    if (keep_key) {
        /* Only the store is started again: its damaged files are moved
         * aside; the key and config.json stay. */
        struct aside a = {ctx, ntm_now_ms()};
        unsigned char pk[NTM_PUBLICKEY_BYTES];
        if (ntm_key_file_public(key_path, pk, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot read this home's key"));
            goto out;
        }
        ntm_hex_encode(author, pk, NTM_PUBLICKEY_BYTES);
        if (ntm_store_files(db_path, move_one, &a) != 0)
            goto out;
    } else if (no_pass) {
        cli_warn(ctx,
                 _("the key is stored without a passphrase: anyone who "
                   "copies '%s' can sign as this device"),
                 key_path);
    } else if (getenv("NTM_PASSPHRASE")) {
        passphrase = getenv("NTM_PASSPHRASE");
        if (!*passphrase) {
            cli_error(_("NTM_PASSPHRASE is empty: set a passphrase or use "
                        "--no-passphrase"));
            goto out;
        }
    } else {
        if (ask_new_passphrase(pass, sizeof(pass)) != 0)
            goto out;
        passphrase = pass;
    }

    if (!keep_key) {
        if (ntm_key_generate(&key, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot make a key"));
            goto out;
        }
        if (!no_pass)
            cli_note(ctx, _("sealing the key with the passphrase..."));
        if (ntm_key_save(key, key_path, passphrase, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot save the key"));
            goto out;
        }
        created_key = 1;
        ntm_key_author(key, author);
    }

    if (ntm_store_open(&st, db_path, NTM_STORE_CREATE, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot create the store"));
        goto out;
    }
    created_db = 1;
    /* Where the home was made: a sync tells a copy of it by this. */
    char place[NTM_HEX_ID_LEN + 1];
    cli_home_place(ctx, place);
    if (ntm_store_meta_set(st, NTM_META_HOME_PLACE, place, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot create the store"));
        goto out;
    }

    if (root || root_key) {
        memcpy(root_hex, root ? author : root_key, NTM_HEX_ID_LEN + 1);
        if (ntm_store_set_root(st, root_hex, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot pin the root key"));
            goto out;
        }
        cli_short_fingerprint(root_hex, fingerprint);
    }
    if (server) {
        struct ntm_client_opts co;
        memset(&co, 0, sizeof(co));
        co.url = server;
        co.cacert = cacert_abs;
        co.pin = pin;
        co.max_attempts = 1;
        enum ntm_err rc =
            ntm_client_setup(st, &co, root_hex, fingerprint, &err);
        if (rc == NTM_ENET || rc == NTM_ETIMEOUT || rc == NTM_EUNAVAIL) {
            char text[2 * NTM_ERROR_SIZE];
            cli_warn(ctx,
                     _("cannot reach the server '%s' (%s): its root key "
                       "will be pinned at the first sync"),
                     server, cli_error_text(&err, text, sizeof(text)));
            ntm_error_clear(&err);
            if (ntm_sync_configure(st, server, cacert_abs, pin, &err) !=
                NTM_OK) {
                code = cli_fail(&err, _("cannot save the server settings"));
                goto out;
            }
            if (!root && !root_key)
                root_hex[0] = fingerprint[0] = '\0';
        } else if (rc != NTM_OK) {
            code = cli_fail(&err, _("cannot set up the server"));
            goto out;
        }
    }

    cfg = json_pack("{s:s, s:s, s:I, s:s, s:s}", "name", name ? name : "",
                    "author", author, "created", (json_int_t)ntm_now_ms(),
                    "lang", home_lang, "tz", home_tz);
    cfg_text = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (!cfg_text) {
        cli_error(_("cannot write config.json: out of memory"));
        goto out;
    }
    if ((!keep_key || access(cfg_path, F_OK) != 0) &&
        ntm_file_write_atomic(cfg_path, cfg_text, strlen(cfg_text), 0600,
                              &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot write config.json"));
        goto out;
    }

    /* --join: ask the server to enroll this device (or keep the request
     * for the next push or pull). */
    int asked = jc ? cli_join_ask(ctx, st, key, jc, name) : 0;

    if (ctx->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:b, s:b}", "home", ctx->home, "author",
                      author, "sealed", !no_pass, "kept_key", keep_key);
        if (o && root_hex[0]) {
            json_object_set_new(o, "root_key", json_string(root_hex));
            json_object_set_new(o, "root_fingerprint",
                                json_string(fingerprint));
        } else if (o) {
            json_object_set_new(o, "root_key", json_null());
        }
        if (server && o)
            json_object_set_new(o, "server", json_string(server));
        if (jc && o) {
            char fp[40];
            cli_short_fingerprint(author, fp);
            json_object_set_new(o, "fingerprint", json_string(fp));
            json_object_set_new(o, "joined", json_true());
            json_object_set_new(o, "join_request",
                                json_string(asked == 0   ? "sent"
                                            : asked == 1 ? "waiting"
                                                         : "refused"));
        }
        code = cli_print_json(o);
    } else {
        if (keep_key)
            printf(_("started a new store in '%s' with this device's key "
                     "(the damaged store was moved aside)\n"),
                   ctx->home);
        else
            printf(_("initialised ntm home '%s'\n"), ctx->home);
        printf(_("author id: %s\n"), author);
        if (root_hex[0])
            printf(_("root key:  %s%s\n           fingerprint %s\n"), root_hex,
                   !strcmp(root_hex, author) ? _(" (this device)") : "",
                   fingerprint);
        else
            printf(_("root key:  not pinned yet (give --root-key, or --server "
                     "to fetch it)\n"));
        if (keep_key)
            printf(_("next: run 'ntm sync': this device's entries the server "
                     "holds come back, and what it never received is sent "
                     "again\n"));
        else if (jc) {
            char fp[40];
            cli_short_fingerprint(author, fp);
            printf(_("the root key and the server's pin came from the join "
                     "code and are trusted as given, as with --root-key\n"));
            printf(_("this device's fingerprint: %s\n"), fp);
            if (asked >= 0)
                printf(_("next: tell the admin who made the code this "
                         "fingerprint (by phone or in person); the admin "
                         "runs\n"
                         "  ntm admin enroll --join CODE\n"
                         "and types it; then run 'ntm sync' here\n"));
            else
                printf(_("next: send the author id above to the admin who "
                         "made the code, who confirms it with\n"
                         "  ntm admin enroll %s --join CODE\n"
                         "that command shows a fingerprint: it must be %s\n"),
                       author, fp);
        } else if (!root)
            printf(_("next: ask an admin to enroll this author id "
                     "('ntm admin enroll %s --role recorder --scope UNIT')\n"),
                   author);
        code = EXIT_OK;
    }

out:
    if (code != EXIT_OK) {
        ntm_store_close(st);
        st = NULL;
        if (created_db)
            ntm_store_files(db_path, remove_one, NULL);
        if (created_key)
            unlink(key_path);
    }
    ntm_store_close(st);
    ntm_key_free(key);
    ntm_memzero(pass, sizeof(pass));
    json_decref(cfg);
    free(cfg_text);   /* jansson's allocator */
    free(cacert_abs); /* realpath's allocator */
    ntm_free(key_path);
    ntm_free(db_path);
    ntm_free(cfg_path);
    return code;
}
