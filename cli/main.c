/* SPDX-License-Identifier: MIT */
/*
 * main.c - the ntm tool's entry point and dispatcher (curl tool_main.c,
 * git builtin table). main() stays tiny: it makes sure fds 0-2 are open,
 * ignores SIGPIPE, initialises libntm, reads the global options, and runs
 * one command from the static table. The dispatcher, not the commands,
 * opens the store, loads the key and the plan, as the table's NEED_ flags
 * say, and releases them afterwards.
 *
 * Uses only the public libntm headers (ntm.h) and libc.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    unsigned flags;
    const char *summary;
};

static const struct cli_cmd commands[] = {
    {"init", cmd_init, NEED_NO_HOME,
     N_("make the home, the key and the store")},
    {"whoami", cmd_whoami, NEED_STORE | NEED_PLAN,
     N_("this device's author id, role, scope and enrollment")},
    {"key", cmd_key, NEED_STORE | NEED_KEY,
     N_("export the public key, change its passphrase")},
    {"admin", cmd_admin, NEED_STORE | NEED_KEY | NEED_PLAN,
     N_("enroll or revoke devices, create units")},
    {"record", cmd_record, NEED_STORE | NEED_KEY | NEED_PLAN,
     N_("record an activity or a measure")},
    {"edit", cmd_edit, NEED_STORE | NEED_KEY | NEED_PLAN,
     N_("change a record")},
    {"delete", cmd_delete, NEED_STORE | NEED_KEY, N_("delete a record")},
    {"list", cmd_list, NEED_STORE | NEED_PLAN, N_("list and search records")},
    {"show", cmd_show, NEED_STORE | NEED_PLAN,
     N_("show a record and its history")},
    {"conflicts", cmd_conflicts, NEED_STORE, N_("list conflicting fields")},
    {"resolve", cmd_resolve, NEED_STORE | NEED_KEY | NEED_PLAN,
     N_("resolve a record's conflicts")},
    {"review", cmd_review, NEED_STORE | NEED_KEY,
     N_("approve, reject or flag a record")},
    {"verify", cmd_verify, NEED_STORE,
     N_("re-verify every entry, chain and authorization")},
    {"bundle", cmd_bundle, NEED_STORE,
     N_("export or import a bundle file (offline exchange)")},
    {"push", cmd_push, NEED_STORE | NEED_KEY,
     N_("send new entries to the server")},
    {"pull", cmd_pull, NEED_STORE | NEED_KEY, N_("fetch new entries")},
    {"sync", cmd_sync, NEED_STORE | NEED_KEY, N_("push, then pull")},
    {"status", cmd_status, NEED_STORE, N_("unpushed entries, last sync")},
    /* serve opens its own connections (one per server thread). */
    {"serve", cmd_serve, NEED_NO_HOME, N_("run the central endpoint")},
    {"report", cmd_report, NEED_STORE | NEED_PLAN,
     N_("progress against the plan")},
    {"plan", cmd_plan, NEED_PLAN | NEED_NO_HOME,
     N_("the plan's organizations, tasks and targets")},
    {"units", cmd_units, NEED_STORE | NEED_PLAN | NEED_NO_HOME,
     N_("the unit tree")},
    /* ui loads the key in the page, when a form signs. */
    {"ui", cmd_ui, NEED_STORE | NEED_PLAN,
     N_("a web interface on this computer (review, conflicts, devices)")},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char usage_text[] =
    N_("usage: ntm [--home <dir>] [--json] [--quiet] [--lang (vi | en)]\n"
       "           <command> [<args>]\n"
       "       ntm (--version | --help)\n");

static void
print_usage(FILE *out)
{
    fputs(_(usage_text), out);
    fputs(_("\ncommands:\n"), out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "    %-10s %s\n", commands[i].name,
                _(commands[i].summary));
    fputs(_("\nglobal options:\n"
            "    --home <dir>   the home (env NTM_HOME; default "
            "$XDG_DATA_HOME/ntm)\n"
            "    --json         machine-readable output on stdout\n"
            "    --quiet        no notes or warnings on stderr\n"
            "    --lang <l>     vi or en (else LANG, else the home's language, "
            "else vi)\n"
            "\nexit status: 0 ok, 1 failure, 2 usage, 3 verification failed,\n"
            "4 server unreachable, 5 entries rejected.\n"
            "Run 'ntm <command> --help' for a command's manual.\n"),
          out);
}

/* Make sure fds 0-2 are open so that no file we open lands on them. */
static int
check_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd != fd)
            return -1;
    }
    return 0;
}

static int
unknown_command(const char *name)
{
    cli_error(_("'%s' is not an ntm command"), name);
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        size_t d = (size_t)ntm_text_distance(name, commands[i].name, 3);
        if (!strncmp(name, commands[i].name, strlen(name)) && *name)
            d = 1;
        if (d < best_d) {
            best_d = d;
            best = commands[i].name;
        }
    }
    if (best)
        fprintf(stderr, _("hint: did you mean 'ntm %s'?\n"), best);
    fputs(_("hint: run 'ntm --help' for the list of commands\n"), stderr);
    return EXIT_USAGE;
}

/*
 * The language the environment names: LC_ALL, LC_MESSAGES, LANG (the first
 * one set decides, as in POSIX), else LANGUAGE (GNU gettext's list: its
 * first item). "vi..." is Vietnamese, "en..." English; any other value (C,
 * POSIX, C.UTF-8, a language ntm has no catalogue for) names none, and
 * NULL is returned: then the home's language is used, and Vietnamese when
 * it has none. Read once, before cli_i18n_init sets LANGUAGE itself.
 */
static const char *
lang_from_env(void)
{
    static int done;
    static const char *found;
    if (done)
        return found;
    done = 1;
    const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    const char *v = NULL;
    for (size_t i = 0; i < 3 && !(v && *v); i++)
        v = getenv(vars[i]);
    for (int pass = 0; pass < 2; pass++, v = getenv("LANGUAGE")) {
        if (v && !strncmp(v, "vi", 2))
            return found = "vi";
        if (v && !strncmp(v, "en", 2))
            return found = "en";
    }
    return found;
}

/* The language stored in HOME/config.json ("vi" or "en"), or NULL. */
static const char *
lang_from_home(const struct cli_ctx *ctx)
{
    char *path = cli_home_path(ctx, "config.json");
    if (!path)
        return NULL;
    json_t *cfg = json_load_file(path, 0, NULL);
    const char *l = json_string_value(json_object_get(cfg, "lang"));
    const char *out = NULL;
    if (l && !strcmp(l, "vi"))
        out = "vi";
    else if (l && !strcmp(l, "en"))
        out = "en";
    json_decref(cfg);
    ntm_free(path);
    return out;
}

/*
 * Take a global option at argv[*i] into ctx; returns 1 when it was one, 0
 * when not, -1 on a usage error (printed).
 */
static int
take_global(int argc, char **argv, int *i, struct cli_ctx *ctx)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) {
        ctx->json = 1;
        return 1;
    }
    if (!strcmp(a, "--quiet")) {
        ctx->quiet = 1;
        return 1;
    }
    const char *names[] = {"--home", "--lang"};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(names[k]);
        const char *value;
        if (!strncmp(a, names[k], n) && a[n] == '=') {
            value = a + n + 1;
        } else if (!strcmp(a, names[k])) {
            if (*i + 1 >= argc) {
                cli_usage_error(NULL, _("option '%s' needs a value"), a);
                return -1;
            }
            value = argv[++*i];
        } else {
            continue;
        }
        if (k == 0) {
            if (!*value) {
                cli_usage_error(NULL, _("option '--home' needs a folder"));
                return -1;
            }
            ctx->home = value;
        } else if (!strcmp(value, "vi") || !strcmp(value, "en")) {
            ctx->lang = value;
            ctx->lang_given = 1;
            cli_i18n_init(value);
        } else {
            cli_usage_error(NULL, _("unknown language '%s': use vi or en"),
                            value);
            return -1;
        }
        return 1;
    }
    return 0;
}

/* The default home; new (ntm_free). */
static char *
default_home(void)
{
    struct ntm_buf b = NTM_BUF_INIT;
    const char *env = getenv("NTM_HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    enum ntm_err rc;
    if (env && *env)
        rc = ntm_buf_adds(&b, env);
    else if (xdg && *xdg == '/')
        rc = ntm_buf_addf(&b, "%s/ntm", xdg);
    else if (home && *home)
        rc = ntm_buf_addf(&b, "%s/.local/share/ntm", home);
    else
        rc = NTM_ENOENT;
    if (rc != NTM_OK) {
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

int
cli_need_key(struct cli_ctx *ctx)
{
    if (ctx->key)
        return EXIT_OK;
    struct ntm_error err = {0};
    char *path = cli_home_path(ctx, "key");
    char pass[1024];
    const char *passphrase = NULL;
    int sealed = 0;
    int code = EXIT_OK;
    if (!path) {
        cli_error(_("cannot load the key: out of memory"));
        return EXIT_FAIL;
    }
    if (access(path, F_OK) != 0) {
        cli_error(_("no key in '%s': run 'ntm init' first (or give the right "
                    "--home)"),
                  ctx->home);
        code = EXIT_FAIL;
        goto out;
    }
    if (ntm_key_file_is_sealed(path, &sealed, &err) == NTM_EPERMS) {
        cli_error(_("refusing the key '%s': other users can read or change "
                    "it; run 'chmod 600 %s' and retry"),
                  path, path);
        code = EXIT_FAIL;
        goto out;
    }
    if (err.code != NTM_OK) {
        code = cli_fail(&err, _("cannot read the key file"));
        goto out;
    }
    if (sealed) {
        const char *env = getenv("NTM_PASSPHRASE");
        if (env) {
            passphrase = env;
        } else if (cli_read_passphrase(_("passphrase for the ntm key: "), pass,
                                       sizeof(pass)) == 0) {
            passphrase = pass;
        } else {
            cli_error(_("the key '%s' is sealed with a passphrase and there is "
                        "no terminal to ask it: set NTM_PASSPHRASE"),
                      path);
            code = EXIT_FAIL;
            goto out;
        }
    }
    if (ntm_key_load(&ctx->key, path, passphrase, &err) != NTM_OK) {
        if (err.code == NTM_EPASSPHRASE)
            cli_error(_("cannot unlock the key '%s': wrong passphrase, or the "
                        "key file is damaged"),
                      path);
        else
            code = cli_fail(&err, _("cannot load the key"));
        code = code ? code : EXIT_FAIL;
        goto out;
    }
    ntm_key_author(ctx->key, ctx->author);
out:
    ntm_memzero(pass, sizeof(pass));
    ntm_free(path);
    return code;
}

/* Read the author id from HOME/config.json, when written by init. */
static void
author_from_config(struct cli_ctx *ctx)
{
    char *path = cli_home_path(ctx, "config.json");
    if (!path)
        return;
    json_t *cfg = json_load_file(path, 0, NULL);
    const char *a = json_string_value(json_object_get(cfg, "author"));
    if (a && strlen(a) == NTM_HEX_ID_LEN && ntm_is_lower_hex(a, NTM_HEX_ID_LEN))
        memcpy(ctx->author, a, NTM_HEX_ID_LEN + 1);
    json_decref(cfg);
    ntm_free(path);
}

/*
 * Warn when the home is open to other users (any group or other bit), or
 * ntm.db or config.json may be changed by them. Inside a private home a
 * readable ntm.db (SQLite creates it 0644) is not reachable, so only
 * write bits count for the files.
 */
static void
warn_open_home(const struct cli_ctx *ctx, const char *db)
{
    struct stat st;
    if (stat(ctx->home, &st) == 0 && (st.st_mode & 0077))
        cli_warn(ctx,
                 _("the home '%s' is open to other users (mode %03o): run "
                   "'chmod 700 %s'"),
                 ctx->home, (unsigned)(st.st_mode & 0777), ctx->home);
    char *cfg = cli_home_path(ctx, "config.json");
    const char *files[] = {db, cfg};
    for (size_t i = 0; i < 2; i++)
        if (files[i] && stat(files[i], &st) == 0 && (st.st_mode & 0022))
            cli_warn(ctx,
                     _("'%s' can be changed by other users (mode %03o): run "
                       "'chmod 600 %s'"),
                     files[i], (unsigned)(st.st_mode & 0777), files[i]);
    ntm_free(cfg);
}

static int
wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

/*
 * The store of a home that has its key is missing or cannot be used (empty,
 * cut short, not SQLite, not ntm's): nothing is re-created. Say what
 * happened and the two ways out; err is NULL when the file is missing.
 * Returns the exit code (SPEC.md 8: 1, a failure).
 */
static int
store_unusable(const char *db, const struct ntm_error *err)
{
    if (err) {
        char text[2 * NTM_ERROR_SIZE];
        cli_error(_("cannot use the store: %s"),
                  cli_error_text(err, text, sizeof(text)));
    } else {
        cli_error(_("the store '%s' is missing: the home has its key but no "
                    "ntm.db"),
                  db);
    }
    fprintf(stderr, "%s%s\n", _("hint: "),
            _("nothing was changed or re-created. Put back ntm.db from a "
              "backup of this home, or run 'ntm init --server URL --pin P' "
              "(or --root-key HEX) to start a new store with this device's "
              "key: the damaged file is moved aside and this device's "
              "entries the server holds come back at the next 'ntm sync'"));
    return cli_exit_code(err ? err->code : NTM_ECORRUPT);
}

static int
prepare(const struct cli_cmd *c, struct cli_ctx *ctx)
{
    struct ntm_error err = {0};
    int code = EXIT_OK;
    char *db = cli_home_path(ctx, "ntm.db");
    if (!db) {
        cli_error(_("cannot prepare the command: out of memory"));
        return EXIT_FAIL;
    }
    int have_db = access(db, F_OK) == 0;
    char *key = cli_home_path(ctx, "key");
    int have_key = key && access(key, F_OK) == 0;
    ntm_free(key);
    if (!have_db && have_key && !(c->flags & NEED_NO_HOME)) {
        code = store_unusable(db, NULL);
        goto out;
    }
    if (!have_db && !(c->flags & NEED_NO_HOME)) {
        cli_error(_("'%s' is not an ntm home: run 'ntm init' first (or give "
                    "--home DIR)"),
                  ctx->home);
        code = EXIT_FAIL;
        goto out;
    }
    if ((c->flags & NEED_STORE) && have_db) {
        if (ntm_store_open(&ctx->store, db, 0, &err) != NTM_OK) {
            if (err.code == NTM_ECORRUPT) {
                code = store_unusable(db, &err);
                goto out;
            }
            struct ntm_buf what = NTM_BUF_INIT;
            ntm_buf_addf(&what, "cannot open the store '%s'", db);
            code = cli_fail(&err, ntm_buf_str(&what));
            ntm_buf_release(&what);
            goto out;
        }
    }
    if (have_db) {
        author_from_config(ctx);
        warn_open_home(ctx, db);
    }
    if (c->flags & NEED_KEY) {
        code = cli_need_key(ctx);
        /* Requests to the server are signed by the device key, so nothing
         * is sent without it; the entries, signed already, can still
         * travel in a bundle. */
        if (code != EXIT_OK && (c->fn == cmd_push || c->fn == cmd_sync))
            fprintf(stderr, "%s%s\n", _("hint: "),
                    _("without the key nothing can be sent to the server, "
                      "but the entries are signed already: run 'ntm bundle "
                      "export --unsigned --out FILE', carry FILE to an "
                      "enrolled device and run 'ntm bundle import FILE' and "
                      "'ntm push' there"));
        if (code != EXIT_OK && (c->fn == cmd_push || c->fn == cmd_sync))
            fprintf(stderr, "%s%s\n", _("hint: "),
                    _("if the passphrase is lost for good, 'ntm init "
                      "--rekey' gives this device a new key and sends these "
                      "entries under it once an admin enrolls it"));
        if (code != EXIT_OK)
            goto out;
    }
    if (c->flags & NEED_PLAN) {
        if (ntm_plan_load(&ctx->plan, NULL, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot load the plan"));
            goto out;
        }
    }
out:
    ntm_free(db);
    return code;
}

/*
 * The language of this run: --lang, else the language the environment
 * names (LC_ALL, LC_MESSAGES, LANG, then LANGUAGE), else the home's
 * (config.json, set by 'ntm init'), else Vietnamese. ctx->home may be NULL (no
 * home found).
 */
static void
choose_lang(struct cli_ctx *ctx)
{
    if (ctx->lang_given)
        return;
    const char *l = lang_from_env();
    if (!l && ctx->home)
        l = lang_from_home(ctx);
    if (!l)
        l = "vi";
    if (strcmp(l, ctx->lang)) {
        ctx->lang = l;
        cli_i18n_init(l);
    }
}

/*
 * The time zone of the times shown to people (never JSON or CSV, which
 * are UTC): TZ when set, else the home's "tz" (config.json), else
 * Asia/Ho_Chi_Minh. Vietnam keeps UTC+7 all year, so a machine without
 * the zone database still shows Vietnam's time.
 */
static void
choose_tz(const struct cli_ctx *ctx)
{
    const char *env = getenv("TZ");
    if (env && *env)
        return;
    char *path = ctx->home ? cli_home_path(ctx, "config.json") : NULL;
    json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
    const char *tz = json_string_value(json_object_get(cfg, "tz"));
    if (!tz || !cli_tz_valid(tz))
        tz = CLI_DEFAULT_TZ;
    setenv("TZ", cli_tz_spec(tz), 1);
    tzset();
    json_decref(cfg);
    ntm_free(path);
}

static int
run(int argc, char **argv)
{
    struct cli_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    /* Until the home is known (its language may be stored there), the
     * environment's language, else Vietnamese. */
    ctx.lang = lang_from_env();
    if (!ctx.lang)
        ctx.lang = "vi";
    cli_i18n_init(ctx.lang);
    char *home_buf = NULL;
    int i = 1;
    int code;
    int top_help = 0;
    cli_output_init(0);

    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        int t = take_global(argc, argv, &i, &ctx);
        if (t < 0)
            return EXIT_USAGE;
        if (t)
            continue;
        if (!strcmp(a, "--version")) {
            printf("ntm %s\n", NTM_VERSION);
            return EXIT_OK;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            top_help = 1;
            break;
        }
        return cli_usage_error(NULL, _("unknown option '%s'"), a);
    }
    cli_output_init(!ctx.json);
    if (top_help || i >= argc) {
        /* The usage in the home's language when there is a home. */
        if (!ctx.home)
            ctx.home = home_buf = default_home();
        choose_lang(&ctx);
        print_usage(top_help ? stdout : stderr);
        ntm_free(home_buf);
        return top_help ? EXIT_OK : EXIT_USAGE;
    }
    const char *name = argv[i];
    static char help_opt[] = "--help";
    char *help_argv[3];
    int help_cmd = 0;
    if (!strcmp(name, "help")) {
        if (i + 1 >= argc) {
            help_cmd = 1;
        } else {
            /* "ntm help CMD" is "ntm CMD --help". */
            help_argv[0] = argv[i + 1];
            help_argv[1] = help_opt;
            help_argv[2] = NULL;
            argv = help_argv;
            argc = 2;
            i = 0;
            name = argv[0];
        }
    }
    const struct cli_cmd *c = NULL;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (!strcmp(commands[k].name, name))
            c = &commands[k];

    /* Global options may also follow the command; take them out. */
    char **cargv = argv + i;
    int cargc = argc - i;
    int n = 1;
    for (int k = 1; c && k < cargc; k++) {
        if (!strcmp(cargv[k], "--")) {
            while (k < cargc)
                cargv[n++] = cargv[k++];
            break;
        }
        int t = take_global(cargc, cargv, &k, &ctx);
        if (t < 0)
            return EXIT_USAGE;
        if (!t)
            cargv[n++] = cargv[k];
    }
    if (c) {
        cargc = n;
        cargv[cargc] = NULL;
    }

    if (!ctx.home)
        ctx.home = home_buf = default_home();
    choose_lang(&ctx);
    choose_tz(&ctx);
    if (help_cmd) {
        print_usage(stdout);
        ntm_free(home_buf);
        return EXIT_OK;
    }
    if (!c) {
        ntm_free(home_buf);
        return unknown_command(name);
    }
    if (!ctx.home) {
        cli_error(_("cannot find a home folder: give --home DIR or set "
                    "NTM_HOME"));
        return EXIT_FAIL;
    }

    if (wants_help(cargc, cargv))
        code = c->fn(cargc, cargv, &ctx);
    else if ((code = prepare(c, &ctx)) == EXIT_OK)
        code = c->fn(cargc, cargv, &ctx);

    ntm_plan_free(ctx.plan);
    ntm_key_free(ctx.key);
    ntm_store_close(ctx.store);
    ntm_free(home_buf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(_("cannot write the output: %s"), strerror(errno));
        if (code == EXIT_OK)
            code = EXIT_FAIL;
    }
    return code;
}

int
main(int argc, char **argv)
{
    if (check_std_fds() != 0)
        return EXIT_FAIL;
    signal(SIGPIPE, SIG_IGN);
    if (ntm_global_init() != NTM_OK) {
        cli_error(_("cannot initialise the ntm library (libsodium or SQLite "
                    "failed to start)"));
        return EXIT_FAIL;
    }
    return run(argc, argv);
}
