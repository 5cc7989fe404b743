/* SPDX-License-Identifier: MIT */
/*
 * cmd_ui.c - `ntm ui`: a web interface on 127.0.0.1 over this device's
 * own replica, for coordinators and admins who would rather not type ids
 * into a terminal, and that works with no network at all.
 *
 * This file speaks HTTP (libmicrohttpd, one internal thread, so the store
 * sees one thread) and holds the rules of a local web application that
 * signs with a key: it listens on the loopback address only; it refuses
 * every request whose Host is not 127.0.0.1:PORT or localhost:PORT (DNS
 * rebinding); the one-time token printed at start is exchanged for an
 * HttpOnly, SameSite=Strict session cookie and the browser sent on to a
 * URL without it; every POST carries the session's CSRF token (and a
 * foreign Origin is refused); every answer has a strict
 * Content-Security-Policy (no script at all) and is never cached. The key
 * is loaded in the page (the passphrase asked once), lives in the
 * library's guarded memory, and is forgotten after 15 minutes without a
 * request and at exit. The pages themselves are cli/ui/.
 */
#include "cli.h"
#include "ui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

static const struct cli_help help = {
    N_("ntm ui - a web interface on this computer, over this device's "
       "replica"),
    "ntm ui [--port <port>] [--no-browser]",
    N_("Serves pages for coordinators and admins on 127.0.0.1 only: the\n"
       "overview of progress, the records and their history, the review\n"
       "queue, conflicts side by side, a form to record, the devices and\n"
       "sync. They work offline, on this device's own replica, and sign\n"
       "with this device's key, as the commands do. The address printed\n"
       "holds a one-time token: open it in a browser on this computer (it\n"
       "is opened for you when there is one). The passphrase of the key is\n"
       "asked once in the page and forgotten after 15 minutes without use\n"
       "and when ntm ui stops (Ctrl-C)."),
    NULL, "ntm ui\nntm ui --port 8765 --no-browser"};

#define UI_MAX_BODY (64 * 1024)
#define UI_COOKIE   "ntm_ui"

/* The server's state: the pages' state (struct ui) and the session. */
struct ui_server {
    struct ui ui;
    pthread_mutex_t lock;
    char token[UI_TOKEN_HEX + 1]; /* one-time, printed at start */
    int token_used;
    char sid[UI_TOKEN_HEX + 1]; /* the session's cookie; "" none yet */
    char host_ip[32], host_name[32];
    char origin_ip[48], origin_name[48];
};

/* One request being read. */
struct ui_conn {
    struct ntm_buf body;
    int too_big;
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
random_hex(char out[UI_TOKEN_HEX + 1])
{
    unsigned char b[UI_TOKEN_HEX / 2];
    ntm_random(b, sizeof(b));
    ntm_hex_encode(out, b, sizeof(b));
    ntm_memzero(b, sizeof(b));
}

static int
same_secret(const char *a, const char *b)
{
    return a && b && strlen(a) == UI_TOKEN_HEX && strlen(b) == UI_TOKEN_HEX &&
           ntm_memcmp_ct(a, b, UI_TOKEN_HEX) == 0;
}

const char *
ui_arg(const struct ui_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].name, name))
            return r->params[i].value;
    return NULL;
}

const char *
ui_arg_nz(const struct ui_req *r, const char *name)
{
    const char *v = ui_arg(r, name);
    return v && *v ? v : NULL;
}

static enum MHD_Result
add_param(void *cls, enum MHD_ValueKind kind, const char *key,
          const char *value)
{
    (void)kind;
    struct ui_req *r = cls;
    struct ui_param *p =
        ntm_realloc(r->params, (r->nparams + 1) * sizeof(*r->params));
    if (!p)
        return MHD_NO;
    r->params = p;
    p[r->nparams].name = ntm_strdup(key ? key : "");
    p[r->nparams].value = ntm_strdup(value ? value : "");
    if (!p[r->nparams].name || !p[r->nparams].value) {
        ntm_free(p[r->nparams].name);
        ntm_free(p[r->nparams].value);
        return MHD_NO;
    }
    r->nparams++;
    return MHD_YES;
}

/* application/x-www-form-urlencoded body into r's parameters. */
static int
parse_form(struct ui_req *r, char *body)
{
    char *save = NULL;
    for (char *pair = strtok_r(body, "&", &save); pair;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *val = eq ? eq + 1 : pair + strlen(pair);
        if (eq)
            *eq = '\0';
        for (char *c = pair; *c; c++)
            if (*c == '+')
                *c = ' ';
        for (char *c = val; *c; c++)
            if (*c == '+')
                *c = ' ';
        MHD_http_unescape(pair);
        MHD_http_unescape(val);
        if (add_param(r, MHD_POSTDATA_KIND, pair, val) != MHD_YES)
            return -1;
    }
    return 0;
}

static void
req_release(struct ui_req *r)
{
    for (size_t i = 0; i < r->nparams; i++) {
        /* a passphrase travels in a parameter: wipe them all */
        ntm_memzero(r->params[i].value, strlen(r->params[i].value));
        ntm_free(r->params[i].name);
        ntm_free(r->params[i].value);
    }
    ntm_free(r->params);
}

static enum MHD_Result
send_answer(struct MHD_Connection *conn, int status, const char *ctype,
            const char *body, size_t len, const char *location,
            const char *cookie)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; script-src 'none'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (location)
        MHD_add_response_header(resp, "Location", location);
    if (cookie)
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A refusal: a short page in the language of the messages. */
static enum MHD_Result
refuse(struct MHD_Connection *conn, int status, const char *why)
{
    struct ntm_buf b = NTM_BUF_INIT;
    ntm_buf_addf(&b,
                 "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta "
                 "charset=\"utf-8\"><meta name=\"viewport\" "
                 "content=\"width=device-width, initial-scale=1\">"
                 "<link rel=\"stylesheet\" href=\"/s.css\"><title>ntm</title>"
                 "</head><body><main><p class=\"bad\" id=\"refused\">",
                 cli_lang_vi() ? "vi" : "en");
    ui_esc(&b, why);
    ntm_buf_adds(&b, "</p></main></body></html>\n");
    enum MHD_Result r = send_answer(conn, status, "text/html; charset=utf-8",
                                    ntm_buf_str(&b), b.len, NULL, NULL);
    ntm_buf_release(&b);
    return r;
}

/* The session cookie of the request is the session's. */
static int
has_session(struct ui_server *s, struct MHD_Connection *conn)
{
    const char *c =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, UI_COOKIE);
    return s->sid[0] && same_secret(c, s->sid);
}

static enum MHD_Result
login(struct ui_server *s, struct MHD_Connection *conn)
{
    const char *t =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (s->token_used || !same_secret(t, s->token))
        return refuse(conn, 403,
                      _("This address was used already or its token is "
                        "wrong. Open the address 'ntm ui' printed in the "
                        "terminal, or stop ntm ui (Ctrl-C) and start it "
                        "again for a new one."));
    s->token_used = 1;
    ntm_memzero(s->token, sizeof(s->token));
    random_hex(s->sid);
    random_hex(s->ui.csrf);
    s->ui.last_ms = ntm_now_ms();
    char cookie[160];
    snprintf(cookie, sizeof(cookie),
             UI_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", s->sid);
    enum MHD_Result r =
        send_answer(conn, 303, "text/plain", "", 0, "/", cookie);
    ntm_memzero(cookie, sizeof(cookie));
    return r;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct ui_server *s = cls;
    int post = !strcmp(method, "POST");
    if (!*con_cls) {
        struct ui_conn *c = ntm_calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        ntm_buf_init(&c->body);
        *con_cls = c;
        return MHD_YES;
    }
    struct ui_conn *c = *con_cls;
    if (post && *upload_data_size) {
        if (c->body.len + *upload_data_size > UI_MAX_BODY)
            c->too_big = 1;
        else
            ntm_buf_add(&c->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* DNS rebinding: only our own name for us. (Referrer-Policy
     * same-origin, not no-referrer: with no-referrer the browser sends
     * "Origin: null" on our own forms, and the Origin check below needs
     * the real one.) */
    const char *host =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (!host || (strcmp(host, s->host_ip) && strcmp(host, s->host_name)))
        return refuse(conn, 421,
                      _("Refused: this page is served for 127.0.0.1 only."));
    if (!strcmp(url, "/s.css"))
        return send_answer(conn, 200, "text/css; charset=utf-8", ui_css,
                           strlen(ui_css), NULL, NULL);
    if (!post && strcmp(method, "GET") && strcmp(method, "HEAD"))
        return refuse(conn, 405, _("Refused: this method is not used here."));

    pthread_mutex_lock(&s->lock);
    enum MHD_Result ret;
    if (!post && !strcmp(url, "/login")) {
        ret = login(s, conn);
        goto out;
    }
    if (!has_session(s, conn)) {
        ret = refuse(conn, 403,
                     _("Refused: no session. Open the address with the token "
                       "that 'ntm ui' printed in the terminal."));
        goto out;
    }
    s->ui.last_ms = ntm_now_ms();

    struct ui_req r;
    memset(&r, 0, sizeof(r));
    r.path = url;
    r.post = post;
    if (post) {
        const char *origin =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
        if (origin && strcmp(origin, s->origin_ip) &&
            strcmp(origin, s->origin_name)) {
            ret = refuse(conn, 403, _("Refused: a form from another site."));
            goto out;
        }
        if (c->too_big) {
            ret = refuse(conn, 413, _("Refused: the form is too large."));
            goto out;
        }
        ntm_buf_addch(&c->body, '\0');
        if (parse_form(&r, c->body.buf) != 0) {
            req_release(&r);
            ret = MHD_NO;
            goto out;
        }
        if (!same_secret(ui_arg(&r, "csrf"), s->ui.csrf)) {
            req_release(&r);
            ret = refuse(conn, 403,
                         _("Refused: the form has no valid security token. "
                           "Reload the page and send it again."));
            goto out;
        }
    } else {
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_param, &r);
    }
    struct ui_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    ntm_buf_init(&resp.body);
    if (!post || !ui_action(&s->ui, &r, &resp)) {
        if (post) {
            resp.status = 404;
            ui_begin(&s->ui, &resp.body, _("Not found"), NULL);
            ui_end(&resp.body);
        } else {
            ui_route(&s->ui, &r, &resp);
        }
    }
    req_release(&r);
    if (resp.location[0])
        ret = send_answer(conn, 303, "text/plain", "", 0, resp.location, NULL);
    else
        ret = send_answer(conn, resp.status, "text/html; charset=utf-8",
                          resp.body.buf ? resp.body.buf : "", resp.body.len,
                          NULL, NULL);
    ntm_buf_release(&resp.body);
out:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct ui_conn *c = *con_cls;
    if (!c)
        return;
    if (c->body.buf)
        ntm_memzero(c->body.buf, c->body.len);
    ntm_buf_release(&c->body);
    ntm_free(c);
    *con_cls = NULL;
}

/* xdg-open url when there is a display to open it on. */
static void
open_browser(const struct cli_ctx *ctx, const char *url)
{
    const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    if (!(d && *d) && !(w && *w))
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) != 0)
        cli_note(ctx, _("open the address above in a browser"));
    posix_spawn_file_actions_destroy(&fa);
}

int
cmd_ui(int argc, char **argv, struct cli_ctx *ctx)
{
    int64_t port = 0;
    int no_browser = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_INT, "port", &port, "<port>",
         N_("listen on this port of 127.0.0.1 (default: any free one)")},
        {CLI_OPT_FLAG, "no-browser", &no_browser, NULL,
         N_("print the address, do not open a browser")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("ui", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("ui", _("unexpected argument '%s'"), argv[0]);
    if (port < 0 || port > 65535)
        return cli_usage_error("ui", _("--port must be between 1 and 65535"));

    static struct ui_server s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    s.ui.ctx = ctx;
    s.ui.idle_ms = 15 * 60 * 1000;
    const char *idle = getenv("NTM_UI_IDLE_MS"); /* for the tests */
    if (idle && *idle)
        s.ui.idle_ms = atoll(idle);
    struct ntm_error err = {0};
    char *keypath = cli_home_path(ctx, "key");
    if (keypath &&
        ntm_key_file_is_sealed(keypath, &s.ui.sealed, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot read the key file"));
        ntm_free(keypath);
        return code;
    }
    ntm_free(keypath);
    random_hex(s.token);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handle, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, &s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_END);
    if (!d) {
        cli_error(_("cannot listen on 127.0.0.1:%lld: %s (try another "
                    "--port)"),
                  (long long)port, strerror(errno));
        return EXIT_FAIL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s.ui.port = info ? info->port : (int)port;
    snprintf(s.host_ip, sizeof(s.host_ip), "127.0.0.1:%d", s.ui.port);
    snprintf(s.host_name, sizeof(s.host_name), "localhost:%d", s.ui.port);
    snprintf(s.origin_ip, sizeof(s.origin_ip), "http://127.0.0.1:%d",
             s.ui.port);
    snprintf(s.origin_name, sizeof(s.origin_name), "http://localhost:%d",
             s.ui.port);

    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/login?token=%s", s.ui.port,
             s.token);
    printf(_("ntm ui: listening on 127.0.0.1:%d\n"
             "open this address (it holds a one-time token):\n%s\n"),
           s.ui.port, url);
    cli_note(ctx, _("stop with Ctrl-C; the key is forgotten then"));
    fflush(stdout);
    if (!no_browser)
        open_browser(ctx, url);
    ntm_memzero(url, sizeof(url));

    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    while (!stop_flag) {
        usleep(200 * 1000);
        pthread_mutex_lock(&s.lock);
        if (ctx->key && s.ui.idle_ms > 0 &&
            ntm_now_ms() - s.ui.last_ms > s.ui.idle_ms) {
            ntm_key_free(ctx->key);
            ctx->key = NULL;
        }
        pthread_mutex_unlock(&s.lock);
    }
    MHD_stop_daemon(d);
    ntm_key_free(ctx->key);
    ctx->key = NULL;
    ntm_memzero(&s, sizeof(s));
    cli_note(ctx, _("ntm ui stopped"));
    return EXIT_OK;
}
