/* SPDX-License-Identifier: MIT */
/*
 * pages.c - the pages of `ntm ui` that read: the overview (the report
 * library's progress and completeness for this device's scope, the
 * review queue, conflicts, entries not pushed, the last sync), the
 * records (the store's search and filters, paged), a record with its
 * history and reviews, the review queue, the conflicts side by side, the
 * devices, sync, the entry form and the key's unlock form. Each one is a
 * view of the calls the CLI's list, show, conflicts, report, status and
 * whoami make; the forms post to actions.c.
 */
#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *
str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int
ui_whoami(struct ui *ui, struct ntm_enrollment *e, const char **role,
          const char **scope)
{
    struct ntm_error err = {0};
    memset(e, 0, sizeof(*e));
    *role = "";
    *scope = "";
    if (!ui->ctx->author[0] ||
        ntm_store_enrollment(ui->ctx->store, ui->ctx->author, 0, e, &err) !=
            NTM_OK)
        return -1;
    int enrolled = (e->enrolled || e->is_root) && !e->revoked;
    *role = e->is_root ? "admin" : e->role;
    *scope = e->is_root && !e->scope[0] ? "72" : e->scope;
    return enrolled ? 0 : -1;
}

const struct ntm_key *
ui_key(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    (void)r;
    struct cli_ctx *ctx = ui->ctx;
    if (ctx->key)
        return ctx->key;
    if (!ui->sealed) {
        struct ntm_error err = {0};
        char *path = cli_home_path(ctx, "key");
        if (path && ntm_key_load(&ctx->key, path, NULL, &err) == NTM_OK) {
            ntm_key_author(ctx->key, ctx->author);
            ntm_free(path);
            return ctx->key;
        }
        ntm_free(path);
        ui_flash_err(ui, _("cannot load the key"), &err);
        ui_redirect(out, "/");
        return NULL;
    }
    ui_flash(ui, 1, "%s",
             _("Unlock the key first: type its passphrase, then send the "
               "form again."));
    struct ntm_buf loc = NTM_BUF_INIT;
    ntm_buf_adds(&loc, "/unlock?next=");
    /* back to the page of the form (the action's redirect) */
    ui_url(&loc, out->location[0] ? out->location : "/");
    ui_redirect(out, ntm_buf_str(&loc));
    ntm_buf_release(&loc);
    return NULL;
}

/* The devices' names by author id (borrowed from ui's cache). */
static json_t *
device_names(struct ui *ui)
{
    json_t *devs = NULL, *names = json_object(), *d;
    struct ntm_error err = {0};
    size_t i;
    if (ntm_store_devices(ui->ctx->store, &devs, &err) == NTM_OK)
        json_array_foreach (devs, i, d)
            json_object_set_new(names, str(d, "key"),
                                json_string(str(d, "name")));
    json_decref(devs);
    return names;
}

void
ui_author(struct ui *ui, struct ntm_buf *b, const char *author)
{
    json_t *names = device_names(ui);
    const char *name = json_string_value(json_object_get(names, author));
    if (name && *name) {
        ui_esc(b, name);
        ntm_buf_adds(b, " ");
    }
    ntm_buf_adds(b, "<code>");
    ntm_buf_addf(b, "%.12s", author ? author : "");
    ntm_buf_adds(b, "</code>");
    json_decref(names);
}

static void
unit_cell(struct ui *ui, struct ntm_buf *b, const char *unit)
{
    const char *n = ntm_plan_unit_name(ui->ctx->plan, unit);
    if (n) {
        ui_esc(b, n);
        ntm_buf_adds(b, " ");
    }
    ntm_buf_adds(b, "<code>");
    ui_esc(b, unit);
    ntm_buf_adds(b, "</code>");
}

/* The label of a task from the plan's description, or the id. */
static const char *
task_label(json_t *plan, const char *task)
{
    size_t i, k;
    json_t *o, *t;
    const char *lang = cli_lang_vi() ? "vi" : "en";
    json_array_foreach (json_object_get(plan, "organizations"), i, o) {
        json_array_foreach (json_object_get(o, "tasks"), k, t)
            if (!strcmp(str(t, "id"), task))
                return str(t, lang);
        json_array_foreach (json_object_get(o, "targets"), k, t)
            if (!strcmp(str(t, "id"), task))
                return str(t, lang);
    }
    return task;
}

static json_t *
plan_json(struct ui *ui)
{
    json_t *p = NULL;
    struct ntm_error err = {0};
    ntm_plan_describe(ui->ctx->plan, NULL, &p, &err);
    return p;
}

/* A record's "when": its date or period, in the human form. */
static void
when_cell(struct ntm_buf *b, json_t *fields)
{
    char out[32];
    const char *d = json_string_value(json_object_get(fields, "date"));
    const char *p = json_string_value(json_object_get(fields, "period"));
    if (d) {
        cli_human_date(d, out, sizeof(out));
        ui_esc(b, out);
    } else if (p) {
        cli_human_date(p, out, sizeof(out));
        ui_esc(b, out);
    }
}

/* The review queue: records this reviewer has not reviewed at its level,
 * without a conflict (a review needs one head), in its scope. */
static json_t *
review_queue(struct ui *ui)
{
    struct ntm_enrollment e;
    const char *role, *scope;
    json_t *all = NULL, *out = json_array(), *rec;
    struct ntm_error err = {0};
    size_t i;
    if (ui_whoami(ui, &e, &role, &scope) != 0 ||
        (strcmp(role, "coordinator") && strcmp(role, "admin")))
        return out;
    struct ntm_record_filter f;
    memset(&f, 0, sizeof(f));
    f.unit = scope;
    if (ntm_store_records(ui->ctx->store, &f, &all, &err) != NTM_OK)
        return out;
    json_array_foreach (all, i, rec) {
        if (json_is_true(json_object_get(rec, "conflict")))
            continue;
        int mine = 0;
        size_t k;
        json_t *rv;
        json_array_foreach (json_object_get(rec, "reviews"), k, rv)
            mine |= !strcmp(str(rv, "author"), ui->ctx->author);
        if (!mine)
            json_array_append(out, rec);
    }
    json_decref(all);
    return out;
}

static void
card(struct ntm_buf *b, const char *id, const char *href, long long n,
     const char *what)
{
    ntm_buf_addf(b, "<a class=\"card\" id=\"%s\" href=\"%s\"><b>%lld</b>", id,
                 href, n);
    ui_esc(b, what);
    ntm_buf_adds(b, "</a>");
}

static void
page_overview(struct ui *ui, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct cli_ctx *ctx = ui->ctx;
    struct ntm_enrollment e;
    const char *role, *scope;
    struct ntm_error err = {0};
    int enrolled = ui_whoami(ui, &e, &role, &scope) == 0;
    ui_begin(ui, b, _("Overview"), "/");

    ntm_buf_adds(b, "<p id=\"whoami\">");
    if (enrolled) {
        ui_text(b, _("This device: %s of "), cli_label(NTM_LABEL_ROLE, role));
        unit_cell(ui, b, scope);
        if (e.name[0])
            ui_text(b, " (%s)", e.name);
    } else {
        ui_esc(b, _("This device is not enrolled yet: what it records waits "
                    "here until an admin enrolls its key."));
    }
    ntm_buf_adds(b, "</p>");

    json_t *queue = review_queue(ui), *conf = NULL;
    ntm_store_conflicts(ctx->store, &conf, &err);
    struct ntm_sync_status ss;
    memset(&ss, 0, sizeof(ss));
    ntm_sync_status(ctx->store, &ss, &err);
    ntm_buf_adds(b, "<div class=\"cards\">");
    card(b, "queue", "/review", (long long)json_array_size(queue),
         _("records waiting for your review"));
    card(b, "nconflicts", "/conflicts", (long long)json_array_size(conf),
         _("records with a conflict"));
    card(b, "unpushed", "/sync", (long long)ss.unpushed,
         _("entries not sent to the server yet"));
    ntm_buf_adds(b, "</div><p id=\"lastsync\">");
    int64_t last =
        ss.last_pull_ms > ss.last_push_ms ? ss.last_pull_ms : ss.last_push_ms;
    if (last) {
        ui_esc(b, _("Last sync: "));
        ui_time(b, last);
    } else {
        ui_esc(b, ss.server ? _("Never synced with the server yet.")
                            : _("No server set: this home works offline."));
    }
    ntm_buf_adds(b, "</p>");
    ntm_sync_status_release(&ss);
    json_decref(queue);
    json_decref(conf);

    /* progress: the report library, for this device's scope */
    struct ntm_report_opts ro;
    memset(&ro, 0, sizeof(ro));
    ro.unit = enrolled && strcmp(scope, "72") ? scope : NULL;
    struct ntm_report *rep = NULL;
    ntm_buf_adds(b, "<h2>");
    ui_esc(b, _("Progress against the plan"));
    ntm_buf_adds(b, "</h2>");
    if (ntm_report_run(ctx->plan, ctx->store, &ro, &rep, &err) != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        ntm_buf_adds(b, "<p class=\"bad\">");
        ui_esc(b, cli_error_text(&err, text, sizeof(text)));
        ntm_buf_adds(b, "</p>");
        ui_end(b);
        return;
    }
    json_t *rj = ntm_report_json(rep, cli_lang_vi() ? "vi" : "en");
    const char *top = ro.unit ? ro.unit : "72";
    ntm_buf_adds(b, "<div class=\"scroll\"><table id=\"progress\"><thead><tr>");
    const char *heads[] = {N_("Target"),       N_("Period"),   N_("Achieved"),
                           N_("Target value"), N_("Progress"), N_("Status")};
    for (size_t i = 0; i < 6; i++) {
        ntm_buf_adds(b, "<th>");
        ui_esc(b, cli_tr(heads[i]));
        ntm_buf_adds(b, "</th>");
    }
    ntm_buf_adds(b, "</tr></thead><tbody>");
    size_t i, nrows = 0;
    json_t *row;
    json_array_foreach (json_object_get(rj, "rows"), i, row) {
        if (strcmp(str(row, "unit"), top))
            continue;
        nrows++;
        double target = json_number_value(json_object_get(row, "target"));
        double got = json_number_value(json_object_get(row, "achieved"));
        char t[64], a[64];
        snprintf(t, sizeof(t), "%g", target);
        snprintf(a, sizeof(a), "%g", got);
        ntm_human_figures(cli_lang_vi() ? "vi" : "en", t, sizeof(t));
        ntm_human_figures(cli_lang_vi() ? "vi" : "en", a, sizeof(a));
        const char *uom =
            ntm_plan_uom_label(ctx->plan, str(row, "unit_of_measure"),
                               cli_lang_vi() ? "vi" : "en");
        ntm_buf_adds(b, "<tr><td>");
        ui_esc(b, str(row, "label"));
        ntm_buf_adds(b, "</td><td>");
        json_t *per = json_object_get(row, "period");
        if (json_is_integer(per))
            ntm_buf_addf(b, "%lld", (long long)json_integer_value(per));
        else
            ui_esc(b, json_string_value(per));
        ntm_buf_adds(b, "</td><td class=\"n\">");
        ui_text(b, "%s %s", a, uom);
        ntm_buf_adds(b, "</td><td class=\"n\">");
        ui_text(b, "%s %s", t, uom);
        double pct = target > 0 ? 100.0 * got / target : 0;
        ntm_buf_addf(b,
                     "</td><td><meter min=\"0\" max=\"100\" value=\"%.0f\">"
                     "%.0f%%</meter> %.0f%%</td><td>",
                     pct > 100 ? 100 : pct, pct, pct);
        ui_esc(b, str(row, "status_label")[0] ? str(row, "status_label")
                                              : str(row, "status"));
        ntm_buf_adds(b, "</td></tr>");
    }
    ntm_buf_adds(b, "</tbody></table></div>");
    if (!nrows) {
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("The plan has no target for this scope."));
        ntm_buf_adds(b, "</p>");
    }

    /* completeness: the units below that have not reported */
    ntm_buf_adds(b, "<h2>");
    ui_esc(b, _("Completeness"));
    ntm_buf_adds(b, "</h2><ul id=\"completeness\">");
    size_t nc = 0;
    json_array_foreach (json_object_get(rj, "completeness"), i, row) {
        if (strcmp(str(row, "unit"), top))
            continue;
        nc++;
        ntm_buf_adds(b, "<li>");
        ui_text(b, _("%s, %lld: %lld of %lld units complete"),
                str(row, "label"),
                (long long)json_integer_value(json_object_get(row, "period")),
                (long long)json_integer_value(
                    json_object_get(row, "units_complete")),
                (long long)json_integer_value(json_object_get(row, "units")));
        json_t *miss = json_object_get(row, "units_missing");
        if (json_array_size(miss)) {
            size_t k;
            json_t *u;
            ui_esc(b, _("; not reported: "));
            json_array_foreach (miss, k, u) {
                if (k)
                    ntm_buf_adds(b, ", ");
                if (k == 10) {
                    ui_text(b, _("and %zu more"), json_array_size(miss) - 10);
                    break;
                }
                unit_cell(ui, b, json_string_value(u));
            }
        }
        ntm_buf_adds(b, "</li>");
    }
    ntm_buf_adds(b, "</ul>");
    if (!nc) {
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("No duty with a calendar for this scope."));
        ntm_buf_adds(b, "</p>");
    }
    json_decref(rj);
    ntm_report_free(rep);
    ui_end(b);
}

/* <option>s of the labels of set, value selected. */
static void
label_options(struct ntm_buf *b, enum ntm_label_set set, const char *const *ids,
              const char *selected)
{
    ntm_buf_adds(b, "<option value=\"\"></option>");
    for (; *ids; ids++) {
        ntm_buf_adds(b, "<option value=\"");
        ui_esc(b, *ids);
        ntm_buf_addf(b, "\"%s>",
                     selected && !strcmp(selected, *ids) ? " selected" : "");
        ui_esc(b, cli_label(set, *ids));
        ntm_buf_adds(b, "</option>");
    }
}

static void
text_input(struct ntm_buf *b, const char *name, const char *label,
           const char *value, const char *type)
{
    ntm_buf_addf(b, "<div><label for=\"%s\">", name);
    ui_esc(b, label);
    ntm_buf_addf(b, "</label><input type=\"%s\" id=\"%s\" name=\"%s\" value=\"",
                 type, name, name);
    ui_esc(b, value);
    ntm_buf_adds(b, "\"></div>");
}

/* The rows of a record table; with select, a checkbox per record. */
static void
record_rows(struct ui *ui, struct ntm_buf *b, json_t *recs, size_t from,
            size_t to, int select, json_t *plan)
{
    ntm_buf_adds(b, "<div class=\"scroll\"><table class=\"records\"><thead>"
                    "<tr>");
    const char *heads[] = {"",         N_("Record"), N_("Date or period"),
                           N_("Unit"), N_("Task"),   N_("Review")};
    for (size_t i = select ? 0 : 1; i < 6; i++) {
        ntm_buf_adds(b, "<th>");
        ui_esc(b, cli_tr(heads[i]));
        ntm_buf_adds(b, "</th>");
    }
    ntm_buf_adds(b, "</tr></thead><tbody>");
    for (size_t i = from; i < to && i < json_array_size(recs); i++) {
        json_t *rec = json_array_get(recs, i);
        json_t *fields = json_object_get(rec, "fields");
        const char *id = str(rec, "id");
        ntm_buf_adds(b, "<tr>");
        if (select)
            ntm_buf_addf(b,
                         "<td><input type=\"checkbox\" name=\"id\" "
                         "value=\"%s\" id=\"sel-%s\" aria-label=\"%.12s\">"
                         "</td>",
                         id, id, id);
        ntm_buf_addf(b, "<td><a href=\"/record?id=%s\">", id);
        const char *title = str(fields, "title");
        if (*title)
            ui_esc(b, title);
        else
            ntm_buf_addf(b, "%.12s", id);
        ntm_buf_adds(b, "</a>");
        if (json_is_true(json_object_get(rec, "conflict"))) {
            ntm_buf_adds(b, " <strong>");
            ui_esc(b, cli_label(NTM_LABEL_MARK, "conflict"));
            ntm_buf_adds(b, "</strong>");
        }
        ntm_buf_adds(b, "</td><td>");
        when_cell(b, fields);
        ntm_buf_adds(b, "</td><td>");
        unit_cell(ui, b, str(rec, "unit"));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, task_label(plan, str(fields, "task")));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, cli_label(NTM_LABEL_STATE, str(rec, "review")));
        ntm_buf_adds(b, "</td></tr>");
    }
    ntm_buf_adds(b, "</tbody></table></div>");
}

static int
in_period(json_t *rec, const char *period)
{
    json_t *f = json_object_get(rec, "fields");
    const char *d = json_string_value(json_object_get(f, "date"));
    const char *p = json_string_value(json_object_get(f, "period"));
    size_t n = strlen(period);
    return (d && !strncmp(d, period, n)) || (p && !strncmp(p, period, n)) ||
           (p && !strncmp(period, p, strlen(p)));
}

static void
page_records(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_error err = {0};
    struct ntm_record_filter f;
    memset(&f, 0, sizeof(f));
    const char *q = ui_arg_nz(r, "q"), *period = ui_arg_nz(r, "period");
    f.unit = ui_arg_nz(r, "unit");
    f.org = ui_arg_nz(r, "org");
    f.task = ui_arg_nz(r, "task");
    f.state = ui_arg_nz(r, "state");
    f.conflicts_only = ui_arg_nz(r, "conflicts") != NULL;
    int64_t page = 1;
    if (ui_arg_nz(r, "page") &&
        ntm_parse_int64(ui_arg(r, "page"), 1, 1000000, &page) != NTM_OK)
        page = 1;
    ui_begin(ui, b, _("Records"), "/records");

    /* the search reaches the units whose names match, as ntm list's */
    json_t *units = NULL;
    struct ntm_unit_name *codes = NULL;
    if (q) {
        f.text = q;
        cli_unit_names(ui->ctx, &units, &codes);
        f.text_names = codes;
    }
    ntm_buf_adds(b, "<form method=\"get\" action=\"/records\" role=\"search\">"
                    "<div class=\"filters\">");
    text_input(b, "q", _("Search (name, title, note, unit)"), q, "search");
    text_input(b, "unit", _("Unit code (and below)"), f.unit, "text");
    text_input(b, "org", _("Organization"), f.org, "text");
    text_input(b, "task", _("Task"), f.task, "text");
    text_input(b, "period", _("Period (2019 or 2019-05)"), period, "text");
    ntm_buf_adds(b, "<div><label for=\"state\">");
    ui_esc(b, _("Review state"));
    ntm_buf_adds(b, "</label><select id=\"state\" name=\"state\">");
    static const char *const states[] = {"submitted", "approved", "rejected",
                                         "has_issues", NULL};
    label_options(b, NTM_LABEL_STATE, states, f.state);
    ntm_buf_adds(b, "</select></div></div><button class=\"main\" "
                    "type=\"submit\" id=\"search\">");
    ui_esc(b, _("Search"));
    ntm_buf_adds(b, "</button></form>");

    json_t *all = NULL;
    if (f.state && !ntm_label_parse(NTM_LABEL_STATE, f.state))
        f.state = NULL;
    if (ntm_store_records(ui->ctx->store, &f, &all, &err) != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        ntm_buf_adds(b, "<p class=\"bad\">");
        ui_esc(b, cli_error_text(&err, text, sizeof(text)));
        ntm_buf_adds(b, "</p>");
    } else {
        json_t *shown = json_array(), *rec;
        size_t i;
        char per[8];
        /* 05/2019 in Vietnamese, as ntm record reads it */
        if (period && ntm_human_parse_period(cli_lang_vi() ? "vi" : "en",
                                             period, per) == NTM_HUMAN_OK)
            period = per;
        json_array_foreach (all, i, rec)
            if (!period || in_period(rec, period))
                json_array_append(shown, rec);
        size_t n = json_array_size(shown);
        size_t pages = n ? (n + UI_PAGE_SIZE - 1) / UI_PAGE_SIZE : 1;
        if ((size_t)page > pages)
            page = (int64_t)pages;
        ntm_buf_adds(b, "<p id=\"count\">");
        ui_text(b, _("%zu records"), n);
        ntm_buf_adds(b, "</p>");
        json_t *plan = plan_json(ui);
        size_t from = (size_t)(page - 1) * UI_PAGE_SIZE;
        record_rows(ui, b, shown, from, from + UI_PAGE_SIZE, 0, plan);
        json_decref(plan);
        if (pages > 1) {
            ntm_buf_adds(b, "<nav aria-label=\"pages\"><p>");
            for (int k = 0; k < 2; k++) {
                int64_t to = k ? page + 1 : page - 1;
                if (to < 1 || to > (int64_t)pages)
                    continue;
                ntm_buf_adds(b, "<a href=\"/records?");
                const char *keys[] = {"q",    "unit",   "org",
                                      "task", "period", "state"};
                for (size_t j = 0; j < 6; j++) {
                    const char *v = ui_arg_nz(r, keys[j]);
                    if (!v)
                        continue;
                    ntm_buf_addf(b, "%s=", keys[j]);
                    ui_url(b, v);
                    ntm_buf_adds(b, "&amp;");
                }
                ntm_buf_addf(b, "page=%lld\" id=\"%s\">", (long long)to,
                             k ? "next" : "prev");
                ui_esc(b, k ? _("Next page") : _("Previous page"));
                ntm_buf_adds(b, "</a> ");
            }
            ui_text(b, _("page %lld of %zu"), (long long)page, pages);
            ntm_buf_adds(b, "</p></nav>");
        }
        json_decref(shown);
    }
    json_decref(all);
    json_decref(units);
    ntm_free(codes);
    ui_end(b);
}

static void
value_text(struct ntm_buf *b, json_t *v)
{
    if (json_is_string(v)) {
        ui_esc(b, json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    ui_esc(b, s);
    free(s);
}

static void
page_record(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_error err = {0};
    json_t *rec = NULL;
    const char *id = ui_arg_nz(r, "id");
    if (!id || ntm_store_record(ui->ctx->store, id, &rec, &err) != NTM_OK) {
        out->status = 404;
        ui_begin(ui, b, _("Record not found"), "/records");
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("No record has this id on this device: pull first if "
                    "another device wrote it."));
        ntm_buf_adds(b, "</p>");
        ui_end(b);
        return;
    }
    json_t *fields = json_object_get(rec, "fields");
    const char *title = str(fields, "title");
    ui_begin(ui, b, *title ? title : _("Record"), "/records");
    ntm_buf_adds(b, "<p>");
    ui_esc(b, _("Record"));
    ntm_buf_addf(b, " <code id=\"recid\">%s</code> &middot; ", str(rec, "id"));
    ui_esc(b, cli_label(NTM_LABEL_KIND, str(rec, "kind")));
    ntm_buf_adds(b, " &middot; ");
    unit_cell(ui, b, str(rec, "unit"));
    ntm_buf_adds(b, " &middot; <span id=\"review\">");
    ui_esc(b, cli_label(NTM_LABEL_STATE, str(rec, "review")));
    ntm_buf_adds(b, "</span>");
    if (json_is_true(json_object_get(rec, "deleted"))) {
        ntm_buf_adds(b, " &middot; ");
        ui_esc(b, cli_label(NTM_LABEL_MARK, "deleted"));
    }
    ntm_buf_adds(b, "</p>");
    if (json_is_true(json_object_get(rec, "conflict"))) {
        ntm_buf_adds(b, "<p class=\"bad\"><a href=\"/conflicts\">");
        ui_esc(b, _("This record has a conflict: resolve it"));
        ntm_buf_adds(b, "</a></p>");
    }
    ntm_buf_adds(b, "<h2>");
    ui_esc(b, _("Fields"));
    ntm_buf_adds(b, "</h2><table id=\"fields\">");
    const char *k;
    json_t *v;
    json_object_foreach (fields, k, v) {
        ntm_buf_adds(b, "<tr><th>");
        ui_esc(b, cli_label(NTM_LABEL_FIELD, k));
        ntm_buf_adds(b, "</th><td>");
        value_text(b, v);
        ntm_buf_adds(b, "</td></tr>");
    }
    ntm_buf_adds(b, "</table><h2>");
    ui_esc(b, _("Reviews"));
    ntm_buf_adds(b, "</h2><ul id=\"reviews\">");
    size_t i;
    json_t *x;
    json_array_foreach (json_object_get(rec, "reviews"), i, x) {
        ntm_buf_adds(b, "<li>");
        ui_esc(b, cli_label(NTM_LABEL_STATE, str(x, "state")));
        ntm_buf_adds(b, " &middot; ");
        ui_author(ui, b, str(x, "author"));
        ntm_buf_adds(b, " (");
        ui_esc(b, cli_label(NTM_LABEL_LEVEL, str(x, "level")));
        ntm_buf_adds(b, ") &middot; ");
        ui_time(b, json_integer_value(json_object_get(x, "ts")));
        if (*str(x, "comment")) {
            ntm_buf_adds(b, " &middot; ");
            ui_esc(b, str(x, "comment"));
        }
        ntm_buf_adds(b, "</li>");
    }
    ntm_buf_adds(b, "</ul><h2>");
    ui_esc(b, _("History"));
    ntm_buf_adds(b, "</h2><div class=\"scroll\"><table id=\"history\"><thead>"
                    "<tr>");
    const char *heads[] = {N_("Time"), N_("Author"), N_("Operation"),
                           N_("Signature and effect"), N_("Entry")};
    for (size_t h = 0; h < 5; h++) {
        ntm_buf_adds(b, "<th>");
        ui_esc(b, cli_tr(heads[h]));
        ntm_buf_adds(b, "</th>");
    }
    ntm_buf_adds(b, "</tr></thead><tbody>");
    json_array_foreach (json_object_get(rec, "history"), i, x) {
        const char *status = str(x, "status");
        if (!*status)
            status =
                json_is_true(json_object_get(x, "valid")) ? "valid" : "invalid";
        ntm_buf_adds(b, "<tr><td>");
        ui_time(b, json_integer_value(json_object_get(x, "ts")));
        ntm_buf_adds(b, "</td><td>");
        ui_author(ui, b, str(x, "author"));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, cli_label(NTM_LABEL_OP, str(x, "op")));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, cli_label(NTM_LABEL_STATUS, status));
        ntm_buf_addf(b, "</td><td><code>%.16s</code></td></tr>",
                     str(x, "entry"));
    }
    ntm_buf_adds(b, "</tbody></table></div>");
    json_decref(rec);
    ui_end(b);
}

static void
review_buttons(struct ntm_buf *b)
{
    const char *states[] = {"approved", "rejected", "has_issues"};
    const char *labels[] = {N_("Approve"), N_("Reject"), N_("Flag issues")};
    for (int i = 0; i < 3; i++) {
        ntm_buf_addf(b,
                     "<button type=\"submit\" name=\"state\" value=\"%s\" "
                     "id=\"do-%s\"%s>",
                     states[i], states[i], i == 0 ? " class=\"main\"" : "");
        ui_esc(b, cli_tr(labels[i]));
        ntm_buf_adds(b, "</button>");
    }
}

static void
page_review(struct ui *ui, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_enrollment e;
    const char *role, *scope;
    ui_begin(ui, b, _("Review queue"), "/review");
    if (ui_whoami(ui, &e, &role, &scope) != 0 ||
        (strcmp(role, "coordinator") && strcmp(role, "admin"))) {
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("Only coordinators and admins review records."));
        ntm_buf_adds(b, "</p>");
        ui_end(b);
        return;
    }
    json_t *queue = review_queue(ui), *units = NULL, *u;
    struct ntm_error err = {0};
    const char *level = "province";
    size_t i;
    /* the level of the scope, from the unit tree */
    if (ntm_plan_units(ui->ctx->plan, ui->ctx->store, NULL, scope, NULL, &units,
                       &err) == NTM_OK)
        json_array_foreach (units, i, u)
            if (!strcmp(str(u, "code"), scope) && *str(u, "level"))
                level = str(u, "level");
    ntm_buf_adds(b, "<p id=\"count\">");
    ui_text(b, _("%zu records wait for your review (%s level)."),
            json_array_size(queue), cli_label(NTM_LABEL_LEVEL, level));
    json_decref(units);
    ntm_buf_adds(b, "</p>");
    if (json_array_size(queue)) {
        json_t *plan = plan_json(ui);
        ntm_buf_adds(b, "<form method=\"post\" action=\"/review\">");
        ui_csrf_field(ui, b);
        record_rows(ui, b, queue, 0, 200, 1, plan);
        ntm_buf_adds(b, "<label for=\"comment\">");
        ui_esc(b, _("Comment (optional)"));
        ntm_buf_adds(b, "</label><textarea id=\"comment\" name=\"comment\" "
                        "rows=\"2\"></textarea>");
        review_buttons(b);
        ntm_buf_adds(b, "</form>");
        json_decref(plan);
    }
    json_decref(queue);
    ui_end(b);
}

static void
page_conflicts(struct ui *ui, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_error err = {0};
    json_t *all = NULL, *rec;
    size_t i;
    ui_begin(ui, b, _("Conflicts"), "/conflicts");
    if (ntm_store_conflicts(ui->ctx->store, &all, &err) != NTM_OK) {
        ui_end(b);
        return;
    }
    if (!json_array_size(all)) {
        ntm_buf_adds(b, "<p id=\"none\">");
        ui_esc(b, _("No conflict: every record has one value per field."));
        ntm_buf_adds(b, "</p>");
    }
    json_array_foreach (all, i, rec) {
        const char *id = str(rec, "id");
        json_t *full = NULL;
        ntm_store_record(ui->ctx->store, id, &full, &err);
        const char *title = str(json_object_get(full, "fields"), "title");
        ntm_buf_addf(b, "<section class=\"conflict\" id=\"c-%s\"><h2>", id);
        ntm_buf_addf(b, "<a href=\"/record?id=%s\">", id);
        if (*title)
            ui_esc(b, title);
        else
            ntm_buf_addf(b, "%.12s", id);
        ntm_buf_adds(b, "</a></h2>");
        const char *field;
        json_t *cands;
        json_object_foreach (json_object_get(rec, "fields"), field, cands) {
            ntm_buf_adds(b, "<h3>");
            ui_esc(b, cli_label(NTM_LABEL_FIELD, field));
            ntm_buf_adds(b, "</h3><div class=\"sides\">");
            size_t k;
            json_t *c;
            json_array_foreach (cands, k, c) {
                ntm_buf_adds(b, "<form class=\"card\" method=\"post\" "
                                "action=\"/resolve\">");
                ui_csrf_field(ui, b);
                ntm_buf_addf(b,
                             "<input type=\"hidden\" name=\"id\" value=\"%s\">"
                             "<input type=\"hidden\" name=\"take\" "
                             "value=\"%s\"><b class=\"value\">",
                             id, str(c, "entry"));
                value_text(b, json_object_get(c, "value"));
                ntm_buf_adds(b, "</b>");
                ui_author(ui, b, str(c, "author"));
                ntm_buf_adds(b, "<br>");
                ui_time(b, json_integer_value(json_object_get(c, "ts")));
                ntm_buf_addf(b,
                             "<br><button type=\"submit\" id=\"take-%.12s\">",
                             str(c, "entry"));
                ui_esc(b, _("Take this value"));
                ntm_buf_adds(b, "</button></form>");
            }
            ntm_buf_adds(b, "<form class=\"card\" method=\"post\" "
                            "action=\"/resolve\">");
            ui_csrf_field(ui, b);
            ntm_buf_addf(b,
                         "<input type=\"hidden\" name=\"id\" value=\"%s\">"
                         "<input type=\"hidden\" name=\"field\" value=\"",
                         id);
            ui_esc(b, field);
            ntm_buf_addf(b, "\"><label for=\"v-%s-", id);
            ui_esc(b, field);
            ntm_buf_adds(b, "\">");
            ui_esc(b, _("Or type a new value"));
            ntm_buf_addf(b,
                         "</label><input type=\"text\" name=\"value\" "
                         "id=\"v-%s-",
                         id);
            ui_esc(b, field);
            ntm_buf_adds(b, "\"><button type=\"submit\">");
            ui_esc(b, _("Resolve with this value"));
            ntm_buf_adds(b, "</button></form></div>");
        }
        ntm_buf_adds(b, "</section>");
        json_decref(full);
    }
    json_decref(all);
    ui_end(b);
}

static void
page_devices(struct ui *ui, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_error err = {0};
    struct ntm_enrollment e;
    const char *role, *scope;
    json_t *devs = NULL, *d;
    size_t i;
    ui_begin(ui, b, _("Devices"), "/devices");
    int admin = ui_whoami(ui, &e, &role, &scope) == 0 && !strcmp(role, "admin");
    ntm_store_devices(ui->ctx->store, &devs, &err);
    ntm_buf_adds(b, "<div class=\"scroll\"><table id=\"devices\"><thead><tr>");
    const char *heads[] = {
        N_("Name"),         N_("Role"),  N_("Scope"), N_("Organization"),
        N_("Entries held"), N_("State"), N_("Key"),   ""};
    for (size_t h = 0; h < 8; h++) {
        ntm_buf_adds(b, "<th>");
        ui_esc(b, cli_tr(heads[h]));
        ntm_buf_adds(b, "</th>");
    }
    ntm_buf_adds(b, "</tr></thead><tbody>");
    json_array_foreach (devs, i, d) {
        json_t *rv = json_object_get(d, "revoked_after");
        ntm_buf_adds(b, "<tr><td>");
        ui_esc(b, str(d, "name"));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, cli_label(NTM_LABEL_ROLE, str(d, "role")));
        ntm_buf_adds(b, "</td><td>");
        unit_cell(ui, b, str(d, "scope"));
        ntm_buf_adds(b, "</td><td>");
        ui_esc(b, str(d, "org"));
        ntm_buf_addf(
            b, "</td><td class=\"n\">%lld</td><td>",
            (long long)json_integer_value(json_object_get(d, "head_seq")));
        if (json_is_integer(rv) && json_integer_value(rv) >= 0)
            ui_text(b, _("revoked after entry %lld"),
                    (long long)json_integer_value(rv));
        else
            ui_esc(b, _("enrolled"));
        ntm_buf_addf(b, "</td><td><code>%s</code></td><td>", str(d, "key"));
        if (admin && !(json_is_integer(rv) && json_integer_value(rv) >= 0)) {
            ntm_buf_addf(b, "<a href=\"/revoke?key=%s\">", str(d, "key"));
            ui_esc(b, _("Revoke..."));
            ntm_buf_adds(b, "</a>");
        }
        ntm_buf_adds(b, "</td></tr>");
    }
    ntm_buf_adds(b, "</tbody></table></div>");
    json_decref(devs);
    if (!admin) {
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("Only admins enroll and revoke devices."));
        ntm_buf_adds(b, "</p>");
        ui_end(b);
        return;
    }
    ntm_buf_adds(b, "<h2>");
    ui_esc(b, _("Enroll a device"));
    ntm_buf_adds(b, "</h2><form method=\"post\" action=\"/enroll\">");
    ui_csrf_field(ui, b);
    text_input(b, "key",
               _("The device's key (64 hex digits 'ntm whoami' shows "
                 "there)"),
               NULL, "text");
    ntm_buf_adds(b, "<div><label for=\"role\">");
    ui_esc(b, _("Role"));
    ntm_buf_adds(b, "</label><select id=\"role\" name=\"role\">");
    static const char *const roles[] = {"recorder", "coordinator", "admin",
                                        NULL};
    label_options(b, NTM_LABEL_ROLE, roles, "recorder");
    ntm_buf_adds(b, "</select></div>");
    text_input(b, "scope", _("Scope (unit code)"), NULL, "text");
    text_input(b, "org", _("Organization (optional)"), NULL, "text");
    text_input(b, "name", _("Name (optional)"), NULL, "text");
    ntm_buf_adds(b, "<button class=\"main\" type=\"submit\" id=\"enroll\">");
    ui_esc(b, _("Enroll"));
    ntm_buf_adds(b, "</button></form>");
    ui_end(b);
}

static void
page_revoke(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    const char *key = ui_arg_nz(r, "key");
    ui_begin(ui, b, _("Revoke a device"), "/devices");
    if (!key || strlen(key) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(key, NTM_HEX_ID_LEN)) {
        ui_end(b);
        return;
    }
    struct ntm_enrollment e;
    struct ntm_error err = {0};
    int64_t head = 0;
    memset(&e, 0, sizeof(e));
    ntm_store_enrollment(ui->ctx->store, key, 0, &e, &err);
    ntm_store_head(ui->ctx->store, key, &head, NULL);
    ntm_buf_adds(b, "<p id=\"what\">");
    ui_text(b,
            _("Revoke \"%s\" (%s of %s, key %.12s...). Its %lld entries held "
              "here keep their effect; every entry it signs after entry "
              "%lld loses effect, here and on every device that syncs, and "
              "the server refuses its requests."),
            e.name, cli_label(NTM_LABEL_ROLE, e.role), e.scope, key,
            (long long)head, (long long)head);
    ntm_buf_adds(b, "</p><form method=\"post\" action=\"/revoke\">");
    ui_csrf_field(ui, b);
    ntm_buf_addf(b,
                 "<input type=\"hidden\" name=\"key\" value=\"%s\">"
                 "<input type=\"hidden\" name=\"after\" value=\"%lld\">",
                 key, (long long)head);
    text_input(b, "reason", _("Why (required, e.g. phone stolen)"), NULL,
               "text");
    ntm_buf_adds(b, "<button class=\"main\" type=\"submit\" id=\"revoke\">");
    ui_esc(b, _("Revoke this device"));
    ntm_buf_adds(b, "</button> <a href=\"/devices\">");
    ui_esc(b, _("Cancel"));
    ntm_buf_adds(b, "</a></form>");
    ui_end(b);
}

static void
page_sync(struct ui *ui, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_error err = {0};
    struct ntm_sync_status ss;
    memset(&ss, 0, sizeof(ss));
    ui_begin(ui, b, _("Sync"), "/sync");
    ntm_sync_status(ui->ctx->store, &ss, &err);
    ntm_buf_adds(b, "<ul id=\"status\"><li>");
    ui_esc(b, _("Server: "));
    ui_esc(b, ss.server ? ss.server : _("none set"));
    ntm_buf_adds(b, "</li><li>");
    ui_text(b, _("Entries not sent yet: %lld"), (long long)ss.unpushed);
    ntm_buf_adds(b, "</li><li>");
    ui_esc(b, _("Last push: "));
    if (ss.last_push_ms)
        ui_time(b, ss.last_push_ms);
    else
        ui_esc(b, _("never"));
    ntm_buf_adds(b, "</li><li>");
    ui_esc(b, _("Last pull: "));
    if (ss.last_pull_ms)
        ui_time(b, ss.last_pull_ms);
    else
        ui_esc(b, _("never"));
    ntm_buf_adds(b, "</li></ul>");
    if (ss.server) {
        ntm_buf_adds(b, "<form method=\"post\" action=\"/sync\">");
        ui_csrf_field(ui, b);
        ntm_buf_adds(b, "<button class=\"main\" type=\"submit\" id=\"sync\">");
        ui_esc(b, _("Send and fetch now"));
        ntm_buf_adds(b, "</button></form>");
    }
    ntm_sync_status_release(&ss);
    ui_end(b);
}

static void
page_new(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    struct ntm_enrollment e;
    const char *role, *scope;
    ui_whoami(ui, &e, &role, &scope);
    ui_begin(ui, b, _("New record"), "/new");
    json_t *plan = plan_json(ui);
    const char *task = ui_arg_nz(r, "task");
    ntm_buf_adds(b, "<form method=\"post\" action=\"/new\">");
    ui_csrf_field(ui, b);
    ntm_buf_adds(b, "<div><label for=\"task\">");
    ui_esc(b, _("Task"));
    ntm_buf_adds(b, "</label><select id=\"task\" name=\"task\" required>");
    size_t i, k;
    json_t *o, *t;
    const char *lang = cli_lang_vi() ? "vi" : "en";
    json_array_foreach (json_object_get(plan, "organizations"), i, o) {
        ntm_buf_adds(b, "<optgroup label=\"");
        ui_esc(b, str(o, lang));
        ntm_buf_adds(b, "\">");
        for (int pass = 0; pass < 2; pass++)
            json_array_foreach (json_object_get(o, pass ? "targets" : "tasks"),
                                k, t) {
                ntm_buf_adds(b, "<option value=\"");
                ui_esc(b, str(t, "id"));
                ntm_buf_addf(b, "\"%s>",
                             task && !strcmp(task, str(t, "id")) ? " selected"
                                                                 : "");
                ui_esc(b, str(t, lang));
                ntm_buf_adds(b, "</option>");
            }
        ntm_buf_adds(b, "</optgroup>");
    }
    ntm_buf_adds(b, "</select></div><div><label for=\"kind\">");
    ui_esc(b, _("Kind"));
    ntm_buf_adds(b, "</label><select id=\"kind\" name=\"kind\">");
    static const char *const kinds[] = {"activity", "measure", NULL};
    label_options(b, NTM_LABEL_KIND, kinds, "activity");
    ntm_buf_adds(b, "</select></div>");
    text_input(b, "unit", _("Unit code"),
               ui_arg(r, "unit") ? ui_arg(r, "unit") : scope, "text");
    ntm_buf_adds(b, "<fieldset><legend>");
    ui_esc(b, cli_label(NTM_LABEL_KIND, "activity"));
    ntm_buf_adds(b, "</legend>");
    const char *afields[] = {"date",       "qty",   "uom", "people",
                             "amount_vnd", "title", "note"};
    for (size_t f = 0; f < 7; f++)
        text_input(b, afields[f], cli_label(NTM_LABEL_FIELD, afields[f]), NULL,
                   "text");
    ntm_buf_adds(b, "</fieldset><fieldset><legend>");
    ui_esc(b, cli_label(NTM_LABEL_KIND, "measure"));
    ntm_buf_adds(b, "</legend>");
    const char *mfields[] = {"period", "num", "den"};
    for (size_t f = 0; f < 3; f++)
        text_input(b, mfields[f], cli_label(NTM_LABEL_FIELD, mfields[f]), NULL,
                   "text");
    ntm_buf_adds(b, "</fieldset><button class=\"main\" type=\"submit\" "
                    "id=\"save\">");
    ui_esc(b, _("Record"));
    ntm_buf_adds(b, "</button></form>");
    json_decref(plan);
    ui_end(b);
}

static void
page_unlock(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_buf *b = &out->body;
    ui_begin(ui, b, _("Unlock the key"), NULL);
    if (!ui->sealed || ui->ctx->key) {
        ntm_buf_adds(b, "<p>");
        ui_esc(b, _("The key is ready: nothing to unlock."));
        ntm_buf_adds(b, "</p>");
        ui_end(b);
        return;
    }
    ntm_buf_adds(b, "<form method=\"post\" action=\"/unlock\">");
    ui_csrf_field(ui, b);
    ntm_buf_adds(b, "<input type=\"hidden\" name=\"next\" value=\"");
    ui_esc(b, ui_arg_nz(r, "next") ? ui_arg(r, "next") : "/");
    ntm_buf_adds(b, "\"><label for=\"passphrase\">");
    ui_esc(b, _("Passphrase of this device's key"));
    ntm_buf_adds(b, "</label><input type=\"password\" id=\"passphrase\" "
                    "name=\"passphrase\" autocomplete=\"current-password\" "
                    "autofocus><p>");
    ui_esc(b, _("It is kept in locked memory by ntm ui and forgotten after 15 "
                "minutes without use, and when ntm ui stops."));
    ntm_buf_adds(b,
                 "</p><button class=\"main\" type=\"submit\" id=\"unlock\">");
    ui_esc(b, _("Unlock"));
    ntm_buf_adds(b, "</button></form>");
    ui_end(b);
}

void
ui_route(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    const char *p = r->path;
    if (!strcmp(p, "/"))
        page_overview(ui, out);
    else if (!strcmp(p, "/records"))
        page_records(ui, r, out);
    else if (!strcmp(p, "/record"))
        page_record(ui, r, out);
    else if (!strcmp(p, "/review"))
        page_review(ui, out);
    else if (!strcmp(p, "/conflicts"))
        page_conflicts(ui, out);
    else if (!strcmp(p, "/devices"))
        page_devices(ui, out);
    else if (!strcmp(p, "/revoke"))
        page_revoke(ui, r, out);
    else if (!strcmp(p, "/sync"))
        page_sync(ui, out);
    else if (!strcmp(p, "/new"))
        page_new(ui, r, out);
    else if (!strcmp(p, "/unlock"))
        page_unlock(ui, r, out);
    else {
        out->status = 404;
        ui_begin(ui, &out->body, _("Not found"), NULL);
        ui_end(&out->body);
    }
}
