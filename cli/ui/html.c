/* SPDX-License-Identifier: MIT */
/*
 * html.c - HTML output of `ntm ui`: every text that comes from the store,
 * the plan or the person is escaped here (ui_esc, ui_text); the page
 * frame (navigation in the language of the messages, the message of the
 * last action) and the one style sheet, written in C so that the pages
 * need no file and no network. No script: plain forms work with the
 * keyboard alone and on a small screen.
 */
#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void
ui_esc(struct ntm_buf *b, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        switch (*s) {
        case '&':
            ntm_buf_adds(b, "&amp;");
            break;
        case '<':
            ntm_buf_adds(b, "&lt;");
            break;
        case '>':
            ntm_buf_adds(b, "&gt;");
            break;
        case '"':
            ntm_buf_adds(b, "&quot;");
            break;
        case '\'':
            ntm_buf_adds(b, "&#39;");
            break;
        default:
            ntm_buf_addch(b, *s);
        }
    }
}

void
ui_text(struct ntm_buf *b, const char *fmt, ...)
{
    struct ntm_buf t = NTM_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ntm_buf_vaddf(&t, fmt, ap);
    va_end(ap);
    ui_esc(b, ntm_buf_str(&t));
    ntm_buf_release(&t);
}

void
ui_url(struct ntm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            ntm_buf_addch(b, (char)c);
        } else {
            ntm_buf_addch(b, '%');
            ntm_buf_addch(b, hex[c >> 4]);
            ntm_buf_addch(b, hex[c & 15]);
        }
    }
}

void
ui_flash(struct ui *ui, int bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->flash, sizeof(ui->flash), fmt, ap);
    va_end(ap);
    ui->flash_bad = bad;
}

void
ui_flash_err(struct ui *ui, const char *what, const struct ntm_error *err)
{
    char text[2 * NTM_ERROR_SIZE];
    cli_error_text(err, text, sizeof(text));
    ui_flash(ui, 1, "%s: %s", what, text);
}

void
ui_redirect(struct ui_resp *out, const char *location)
{
    snprintf(out->location, sizeof(out->location), "%s", location);
    out->status = 303;
}

void
ui_time(struct ntm_buf *b, int64_t ms)
{
    char when[32];
    cli_format_time(ms, when);
    ui_esc(b, when);
}

void
ui_csrf_field(struct ui *ui, struct ntm_buf *b)
{
    ntm_buf_addf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
                 ui->csrf);
}

void
ui_begin(struct ui *ui, struct ntm_buf *b, const char *title,
         const char *active)
{
    const struct {
        const char *path, *label;
    } nav[] = {
        {"/", N_("Overview")},      {"/records", N_("Records")},
        {"/review", N_("Review")},  {"/conflicts", N_("Conflicts")},
        {"/new", N_("New record")}, {"/devices", N_("Devices")},
        {"/sync", N_("Sync")},
    };
    ntm_buf_addf(b,
                 "<!DOCTYPE html>\n<html lang=\"%s\"><head>"
                 "<meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, "
                 "initial-scale=1\">"
                 "<link rel=\"stylesheet\" href=\"/s.css\"><title>",
                 cli_lang_vi() ? "vi" : "en");
    ui_esc(b, title);
    ntm_buf_adds(b, " - ntm</title></head><body><header><nav><ul>");
    for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++) {
        int on = active && !strcmp(active, nav[i].path);
        ntm_buf_addf(b, "<li><a href=\"%s\"%s>", nav[i].path,
                     on ? " aria-current=\"page\"" : "");
        ui_esc(b, cli_tr(nav[i].label));
        ntm_buf_adds(b, "</a></li>");
    }
    ntm_buf_adds(b, "</ul></nav>");
    if (ui->sealed) {
        ntm_buf_adds(b, "<p class=\"key\">");
        if (ui->ctx->key)
            ui_esc(b, _("key unlocked"));
        else {
            ntm_buf_adds(b, "<a href=\"/unlock\">");
            ui_esc(b, _("unlock the key"));
            ntm_buf_adds(b, "</a>");
        }
        ntm_buf_adds(b, "</p>");
    }
    ntm_buf_adds(b, "</header><main>");
    if (ui->flash[0]) {
        ntm_buf_addf(b, "<p class=\"%s\" role=\"status\" id=\"flash\">",
                     ui->flash_bad ? "bad" : "good");
        ui_esc(b, ui->flash);
        ntm_buf_adds(b, "</p>");
        ui->flash[0] = '\0';
    }
    ntm_buf_adds(b, "<h1>");
    ui_esc(b, title);
    ntm_buf_adds(b, "</h1>");
}

void
ui_end(struct ntm_buf *b)
{
    ntm_buf_adds(b, "</main></body></html>\n");
}

/* Narrow screens first: one column, tables scroll sideways, targets big
 * enough for a finger; focus always visible for the keyboard. */
const char ui_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.45 system-ui,sans-serif;color:#1b1b1b;"
    "background:#fafafa}"
    "header{background:#7a1f1f;color:#fff;padding:.25rem .5rem}"
    "header ul{list-style:none;margin:0;padding:0;display:flex;"
    "flex-wrap:wrap;gap:.25rem}"
    "header a{color:#fff;display:inline-block;padding:.4rem .5rem;"
    "text-decoration:none;border-radius:4px}"
    "header a[aria-current]{background:#fff;color:#7a1f1f}"
    "header .key{margin:.25rem .5rem;font-size:.9rem}"
    "main{padding:.5rem .75rem;max-width:70rem;margin:auto}"
    "h1{font-size:1.35rem}h2{font-size:1.1rem;margin-top:1.5rem}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:.95rem}"
    "th,td{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;"
    "vertical-align:top}"
    "th{background:#f0e6e6}"
    "td.n{text-align:right;white-space:nowrap}"
    "code{font-size:.85rem;word-break:break-all}"
    "a{color:#0b4ea2}"
    "a:focus,button:focus,input:focus,select:focus,textarea:focus,"
    "summary:focus{outline:3px solid #f2a900;outline-offset:1px}"
    "form.inline{display:inline}"
    "label{display:block;margin:.4rem 0 .1rem}"
    "input,select,textarea,button{font:inherit;max-width:100%}"
    "input[type=text],input[type=search],input[type=password],select,"
    "textarea{width:100%;padding:.35rem}"
    "button{padding:.45rem .9rem;margin:.3rem .3rem .3rem 0;"
    "border:1px solid #7a1f1f;background:#fff;border-radius:4px;"
    "cursor:pointer}"
    "button.main{background:#7a1f1f;color:#fff}"
    "fieldset{border:1px solid #ccc;margin:.5rem 0}"
    ".bad{background:#fde8e8;border-left:4px solid #b00;padding:.5rem}"
    ".good{background:#e6f4ea;border-left:4px solid #1e7e34;padding:.5rem}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(10rem,1fr));gap:.5rem}"
    ".card{background:#fff;border:1px solid #ddd;border-radius:6px;"
    "padding:.5rem}"
    ".card b{display:block;font-size:1.6rem}"
    ".sides{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(14rem,1fr));gap:.5rem}"
    "meter{width:6rem}"
    ".filters{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(9rem,1fr));gap:.25rem .5rem;align-items:end}"
    "@media (max-width:30rem){th,td{padding:.25rem}}";
