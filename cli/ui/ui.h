/* SPDX-License-Identifier: MIT */
/*
 * ui.h - what the parts of `ntm ui` share: the state of the one running
 * interface (the home's store, plan and key, the session and its CSRF
 * token), a request as the pages see it (path, method, decoded
 * parameters) and the answer they build (status, HTML body or a redirect).
 *
 * cmd_ui.c speaks HTTP (libmicrohttpd) and enforces the security rules
 * (Host, session cookie, CSRF token); html.c writes escaped HTML and the
 * page frame; pages.c the pages that read; actions.c the forms that
 * write, each through the same library calls the CLI commands make. No
 * part of this layer holds a rule of its own.
 */
#ifndef NTM_CLI_UI_H
#define NTM_CLI_UI_H

#include <stdint.h>

#include "cli.h"

#define UI_TOKEN_HEX 64 /* hex digits of tokens, session ids, CSRF tokens */
#define UI_PAGE_SIZE 25 /* records per page */

struct ui {
    struct cli_ctx *ctx; /* store, plan, key (loaded in the page) */
    int port;
    char csrf[UI_TOKEN_HEX + 1];
    char flash[1024]; /* a message for the next page, shown once */
    int flash_bad;    /* 1: the message says what went wrong */
    int sealed;       /* the key file is sealed with a passphrase */
    int64_t idle_ms;  /* the key is forgotten after this long unused */
    int64_t last_ms;  /* the last request of the session */
};

struct ui_param {
    char *name;
    char *value;
};

struct ui_req {
    const char *path;
    int post;
    struct ui_param *params; /* the query (GET) or the form (POST) */
    size_t nparams;
};

struct ui_resp {
    int status;
    struct ntm_buf body; /* text/html; charset=utf-8 */
    char location[512];  /* a 303 redirect there when set */
};

/* The first value of parameter name, or NULL. */
const char *ui_arg(const struct ui_req *r, const char *name);
/* The first value of name when it is not empty (after trimming nothing),
 * else NULL. */
const char *ui_arg_nz(const struct ui_req *r, const char *name);

/* Answer r into out (pages.c). */
void ui_route(struct ui *ui, const struct ui_req *r, struct ui_resp *out);
/* The POST forms (actions.c): 1 when path is one of them (answered). */
int ui_action(struct ui *ui, const struct ui_req *r, struct ui_resp *out);

/* ---- html.c ---- */
/* Append s with & < > " ' escaped. NULL appends nothing. */
void ui_esc(struct ntm_buf *b, const char *s);
/* Append the printf-formatted text, escaped. */
void ui_text(struct ntm_buf *b, const char *fmt, ...) NTM_PRINTF(2, 3);
/* Append s percent-encoded for a URL query value. */
void ui_url(struct ntm_buf *b, const char *s);
/* The page frame: head, navigation (active: the path of the current
 * page), the flash message; ui_end closes it. */
void ui_begin(struct ui *ui, struct ntm_buf *b, const char *title,
              const char *active);
void ui_end(struct ntm_buf *b);
/* The hidden CSRF field every form carries. */
void ui_csrf_field(struct ui *ui, struct ntm_buf *b);
/* The style sheet (/s.css). */
extern const char ui_css[];
/* A message for the next page. */
void ui_flash(struct ui *ui, int bad, const char *fmt, ...) NTM_PRINTF(3, 4);
/* An error of the library in the user's language, as the CLI says it. */
void ui_flash_err(struct ui *ui, const char *what, const struct ntm_error *err);
/* Redirect to location (a local path). */
void ui_redirect(struct ui_resp *out, const char *location);
/* Time ms as the CLI prints it (local time, the home's zone). */
void ui_time(struct ntm_buf *b, int64_t ms);

/* ---- shared by pages.c and actions.c ---- */
/* This device's enrollment as whoami reads it: role ("" when none),
 * scope; 0 when enrolled and not revoked. */
int ui_whoami(struct ui *ui, struct ntm_enrollment *e, const char **role,
              const char **scope);
/* The key, loaded now when the file is not sealed. NULL when it waits for
 * the passphrase (then out redirects to the unlock page). */
const struct ntm_key *ui_key(struct ui *ui, const struct ui_req *r,
                             struct ui_resp *out);
/* Who wrote: the device's name and the first 12 hex digits. */
void ui_author(struct ui *ui, struct ntm_buf *b, const char *author);

#endif /* NTM_CLI_UI_H */
