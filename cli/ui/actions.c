/* SPDX-License-Identifier: MIT */
/*
 * actions.c - the forms of `ntm ui` that write: review one record or a
 * selection, resolve a conflict (take a candidate or type a value),
 * enroll and revoke devices, record, sync, and unlock the key. Each
 * makes the library calls the matching command makes (ntm review,
 * resolve, admin enroll/revoke, record, sync), with the same checks
 * before them, signs with this device's key, and says what came of it
 * on the next page (post, redirect, get).
 */
#include "ui.h"

#include <stdio.h>
#include <string.h>

/* Whether this device may review (cmd_review's rule, said in words). */
static int
may_review(struct ui *ui)
{
    struct ntm_enrollment e;
    const char *role, *scope;
    if (ui_whoami(ui, &e, &role, &scope) != 0) {
        ui_flash(ui, 1, "%s",
                 e.revoked ? _("This device is revoked: it cannot review.")
                           : _("This device is not enrolled as a coordinator "
                               "or admin: reviews need one."));
        return 0;
    }
    if (strcmp(role, "coordinator") && strcmp(role, "admin")) {
        ui_flash(ui, 1,
                 _("This device is enrolled as a %s: only coordinators "
                   "and admins may review records."),
                 cli_label(NTM_LABEL_ROLE, role));
        return 0;
    }
    return 1;
}

static void
act_review(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    const char *state = ui_arg_nz(r, "state");
    const char *comment = ui_arg_nz(r, "comment");
    ui_redirect(out, "/review");
    if (!state || (strcmp(state, "approved") && strcmp(state, "rejected") &&
                   strcmp(state, "has_issues"))) {
        ui_flash(ui, 1, "%s", _("Choose approve, reject or flag issues."));
        return;
    }
    if (!may_review(ui))
        return;
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        return;
    int done = 0, failed = 0;
    char last[NTM_HEX_ID_LEN + 1] = "";
    struct ntm_error err = {0};
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].name, "id"))
            continue;
        struct ntm_write_result res;
        memset(&res, 0, sizeof(res));
        if (ntm_record_review(ui->ctx->store, key, r->params[i].value, state,
                              comment, &res, &err) == NTM_OK) {
            done++;
            snprintf(last, sizeof(last), "%s", res.id);
        } else {
            failed++;
        }
    }
    if (!done && !failed) {
        ui_flash(ui, 1, "%s", _("Select at least one record."));
    } else if (failed) {
        char text[2 * NTM_ERROR_SIZE];
        ui_flash(ui, 1, _("%d reviewed (%s), %d refused: %s"), done,
                 cli_label(NTM_LABEL_STATE, state), failed,
                 cli_error_text(&err, text, sizeof(text)));
    } else {
        ui_flash(ui, 0, _("%d reviewed: %s. Signed entry %.16s..."), done,
                 cli_label(NTM_LABEL_STATE, state), last);
    }
}

static void
act_resolve(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    const char *id = ui_arg_nz(r, "id"), *take = ui_arg_nz(r, "take");
    const char *field = ui_arg_nz(r, "field"), *value = ui_arg(r, "value");
    struct ntm_error err = {0};
    json_t *set = NULL;
    ui_redirect(out, "/conflicts");
    if (!id || (!take && !field)) {
        ui_flash(ui, 1, "%s", _("Take one value or type a new one."));
        return;
    }
    if (take && (strlen(take) < 6 || strlen(take) > NTM_HEX_ID_LEN ||
                 !ntm_is_lower_hex(take, strlen(take)))) {
        ui_flash(ui, 1, "%s", _("This value names no entry: reload the page."));
        return;
    }
    if (!take) {
        /* the same parsing as ntm resolve --set FIELD=VALUE */
        struct ntm_buf item = NTM_BUF_INIT;
        ntm_buf_addf(&item, "%s=%s", field, value ? value : "");
        const char *items[] = {ntm_buf_str(&item)};
        struct cli_list sets = {items, 1, 1};
        set = cli_parse_set("resolve", &sets);
        ntm_buf_release(&item);
        if (!set) {
            ui_flash(ui, 1, _("The value '%s' does not fit the field %s."),
                     value ? value : "", cli_label(NTM_LABEL_FIELD, field));
            return;
        }
        const char *task = json_string_value(json_object_get(set, "task"));
        if (task && ntm_plan_check_task(ui->ctx->plan, task, NULL, NULL,
                                        &err) != NTM_OK) {
            ui_flash_err(ui, _("cannot resolve the record"), &err);
            json_decref(set);
            return;
        }
    }
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key) {
        json_decref(set);
        return;
    }
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_resolve(ui->ctx->store, key, id, take, set, &res, &err) !=
        NTM_OK)
        ui_flash_err(ui, _("cannot resolve the record"), &err);
    else
        ui_flash(ui, 0, _("Resolved %.12s: signed entry %s"), id, res.id);
    json_decref(set);
}

static int
is_admin(struct ui *ui)
{
    struct ntm_enrollment e;
    const char *role, *scope;
    if (ui_whoami(ui, &e, &role, &scope) != 0 || strcmp(role, "admin")) {
        ui_flash(ui, 1, "%s", _("Only admins enroll and revoke devices."));
        return 0;
    }
    return 1;
}

static void
act_enroll(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_error err = {0};
    const char *key = ui_arg_nz(r, "key"), *role = ui_arg_nz(r, "role");
    const char *scope = ui_arg_nz(r, "scope"), *org = ui_arg_nz(r, "org");
    const char *name = ui_arg_nz(r, "name");
    char hex[NTM_HEX_ID_LEN + 1];
    ui_redirect(out, "/devices");
    if (!is_admin(ui))
        return;
    /* check_key of ntm admin enroll: 64 hex digits, any case */
    size_t n = key ? strspn(key, " \t") : 0;
    if (!key || strlen(key + n) < NTM_HEX_ID_LEN) {
        ui_flash(ui, 1, "%s",
                 _("Give the device's key: the 64 hex digits that 'ntm "
                   "whoami' prints on that device."));
        return;
    }
    for (size_t i = 0; i < NTM_HEX_ID_LEN; i++) {
        char c = key[n + i];
        hex[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    hex[NTM_HEX_ID_LEN] = '\0';
    if (!ntm_is_lower_hex(hex, NTM_HEX_ID_LEN) ||
        strspn(key + n + NTM_HEX_ID_LEN, " \t\r\n") !=
            strlen(key + n + NTM_HEX_ID_LEN)) {
        ui_flash(ui, 1, "%s",
                 _("Give the device's key: the 64 hex digits that 'ntm "
                   "whoami' prints on that device."));
        return;
    }
    const char *rid = role ? ntm_label_parse(NTM_LABEL_ROLE, role) : NULL;
    if (!rid) {
        ui_flash(ui, 1, "%s", _("Choose the device's role."));
        return;
    }
    if (!scope || ntm_plan_check_unit(ui->ctx->plan, ui->ctx->store, scope,
                                      NULL, &err) != NTM_OK) {
        if (!scope)
            ui_flash(ui, 1, "%s",
                     _("Give the scope: the unit code of the "
                       "device's area."));
        else
            ui_flash_err(ui, _("Scope"), &err);
        return;
    }
    if (org && ntm_plan_check_org(ui->ctx->plan, org, &err) != NTM_OK) {
        ui_flash_err(ui, _("Organization"), &err);
        return;
    }
    const struct ntm_key *k = ui_key(ui, r, out);
    if (!k)
        return;
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_device_enroll(ui->ctx->store, k, hex, rid, scope, name ? name : "",
                          org, 1, &res, &err) != NTM_OK)
        ui_flash_err(ui, _("cannot enroll the device"), &err);
    else
        ui_flash(ui, 0, _("Enrolled %.12s... as %s of %s: signed entry %s"),
                 hex, cli_label(NTM_LABEL_ROLE, rid), scope, res.id);
}

static void
act_revoke(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_error err = {0};
    const char *key = ui_arg_nz(r, "key"), *reason = ui_arg_nz(r, "reason");
    int64_t after = 0;
    ui_redirect(out, "/devices");
    if (!is_admin(ui))
        return;
    if (!key || strlen(key) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(key, NTM_HEX_ID_LEN) || !ui_arg_nz(r, "after") ||
        ntm_parse_int64(ui_arg(r, "after"), 0, INT64_MAX, &after) != NTM_OK) {
        ui_flash(ui, 1, "%s", _("This form is damaged: reload the page."));
        return;
    }
    if (!reason) {
        struct ntm_buf loc = NTM_BUF_INIT;
        ntm_buf_addf(&loc, "/revoke?key=%s", key);
        ui_redirect(out, ntm_buf_str(&loc));
        ntm_buf_release(&loc);
        ui_flash(ui, 1, "%s", _("Say why the device is revoked."));
        return;
    }
    const struct ntm_key *k = ui_key(ui, r, out);
    if (!k)
        return;
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_device_revoke(ui->ctx->store, k, key, after, reason, &res, &err) !=
        NTM_OK)
        ui_flash_err(ui, _("cannot revoke the device"), &err);
    else
        ui_flash(ui, 0, _("Revoked %.12s... after entry %lld: signed entry %s"),
                 key, (long long)after, res.id);
}

/* Why a sync failed, in plain words when the network is the cause. */
static void
sync_failed(struct ui *ui, const char *what, const struct ntm_error *err)
{
    if (err->code == NTM_ENET || err->code == NTM_ETIMEOUT ||
        err->code == NTM_EUNAVAIL)
        ui_flash(ui, 1, "%s",
                 _("The server cannot be reached now (no network, or it is "
                   "down). Nothing is lost: the entries wait here, and the "
                   "pages keep working on this device. Try again later."));
    else
        ui_flash_err(ui, what, err);
}

static void
act_sync(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_error err = {0};
    struct ntm_client_opts co;
    char place[NTM_HEX_ID_LEN + 1];
    ui_redirect(out, "/sync");
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        return;
    memset(&co, 0, sizeof(co));
    co.lang = ui->ctx->lang;
    cli_home_place(ui->ctx, place);
    co.place = place;
    struct ntm_push_result pr;
    memset(&pr, 0, sizeof(pr));
    if (ntm_client_push(ui->ctx->store, key, &co, &pr, &err) != NTM_OK) {
        sync_failed(ui, _("cannot send the entries"), &err);
        ntm_push_result_release(&pr);
        return;
    }
    struct ntm_pull_result lr;
    memset(&lr, 0, sizeof(lr));
    enum ntm_err rc = ntm_client_pull(ui->ctx->store, key, &co, &lr, &err);
    if (rc != NTM_OK)
        sync_failed(ui, _("cannot fetch the entries"), &err);
    else if (json_array_size(pr.rejected))
        ui_flash(ui, 1,
                 _("Sent %lld entries; the server refused %zu (they are kept "
                   "here: run 'ntm push' in a terminal to see why). Fetched "
                   "%lld new entries."),
                 (long long)pr.accepted, json_array_size(pr.rejected),
                 (long long)lr.applied);
    else
        ui_flash(ui, 0, _("Sent %lld entries, fetched %lld new entries."),
                 (long long)pr.accepted, (long long)lr.applied);
    ntm_push_result_release(&pr);
}

static int
set_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static int
set_int(struct ui *ui, json_t *o, const char *k, const char *v)
{
    int64_t n;
    if (!v)
        return 0;
    if (ntm_parse_int64(v, 0, INT64_MAX, &n) != NTM_OK) {
        ui_flash(ui, 1, _("%s must be a whole number, 0 or more."),
                 cli_label(NTM_LABEL_FIELD, k));
        return -1;
    }
    return json_object_set_new(o, k, json_integer(n));
}

/* The checks of ntm record, in its order, then the signed create. */
static void
act_new(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct cli_ctx *ctx = ui->ctx;
    struct ntm_error err = {0};
    const char *task = ui_arg_nz(r, "task"), *kind = ui_arg_nz(r, "kind");
    const char *unit = ui_arg_nz(r, "unit"), *org = ui_arg_nz(r, "org");
    char date_in[16], qty_in[64], period_in[16], first_day[11];
    const char *check_date = NULL;
    ui_redirect(out, "/new");
    if (!task || !unit || !kind ||
        (strcmp(kind, "activity") && strcmp(kind, "measure"))) {
        ui_flash(ui, 1, "%s",
                 _("Choose the task and the kind, and give the "
                   "unit."));
        return;
    }
    json_t *fields = json_object();
    if (!fields || set_str(fields, "task", task))
        goto out;
    if (!strcmp(kind, "activity")) {
        const char *date = ui_arg_nz(r, "date"), *qty = ui_arg_nz(r, "qty");
        const char *uom = ui_arg_nz(r, "uom");
        if (!date ||
            !(date = cli_input("record", "date", date, date_in,
                               sizeof(date_in))) ||
            !ntm_field_date_valid(date)) {
            ui_flash(ui, 1, "%s",
                     _("Give a real calendar date, e.g. "
                       "17/05/2019 or 2019-05-17."));
            goto out;
        }
        if (qty &&
            (!(qty = cli_input("record", "qty", qty, qty_in, sizeof(qty_in))) ||
             !ntm_field_qty_valid(qty))) {
            ui_flash(ui, 1, "%s",
                     _("The quantity must be a number with up "
                       "to 3 decimals, e.g. 1.25."));
            goto out;
        }
        if (uom && ntm_plan_uom_parse(ctx->plan, uom))
            uom = ntm_plan_uom_parse(ctx->plan, uom);
        if (!qty != !uom) {
            ui_flash(ui, 1, "%s",
                     _("A quantity needs its unit of measure, "
                       "and a unit of measure its quantity."));
            goto out;
        }
        check_date = date;
        if (set_str(fields, "date", date) || set_str(fields, "qty", qty) ||
            set_str(fields, "uom", uom) ||
            set_str(fields, "title", ui_arg_nz(r, "title")) ||
            set_str(fields, "note", ui_arg_nz(r, "note")) ||
            set_int(ui, fields, "people", ui_arg_nz(r, "people")) ||
            set_int(ui, fields, "amount_vnd", ui_arg_nz(r, "amount_vnd")))
            goto out;
    } else {
        const char *period = ui_arg_nz(r, "period");
        if (!period ||
            !(period = cli_input("record", "period", period, period_in,
                                 sizeof(period_in))) ||
            !ntm_field_period_valid(period)) {
            ui_flash(ui, 1, "%s",
                     _("Give the period as a year (2019) or a "
                       "month (05/2019 or 2019-05)."));
            goto out;
        }
        if (!ui_arg_nz(r, "num") || !ui_arg_nz(r, "den")) {
            ui_flash(ui, 1, "%s",
                     _("A measure needs its numerator and "
                       "denominator."));
            goto out;
        }
        snprintf(first_day, sizeof(first_day), "%.4s-%.2s-01", period,
                 strlen(period) == 7 ? period + 5 : "01");
        check_date = first_day;
        if (set_str(fields, "period", period) ||
            set_int(ui, fields, "num", ui_arg(r, "num")) ||
            set_int(ui, fields, "den", ui_arg(r, "den")))
            goto out;
    }
    const char *task_org = NULL;
    if ((org && ntm_plan_check_org(ctx->plan, org, &err) != NTM_OK) ||
        ntm_plan_check_task(ctx->plan, task, NULL, &task_org, &err) != NTM_OK ||
        ntm_plan_check_unit(ctx->plan, ctx->store, unit, check_date, &err) !=
            NTM_OK ||
        ntm_plan_check_record(ctx->plan, kind, fields, NULL, &err) != NTM_OK) {
        ui_flash_err(ui, _("cannot record"), &err);
        goto out;
    }
    if (!org)
        org = task_org;
    if (!org || !*org) {
        ui_flash(ui, 1, "%s", _("This task has no organization: give one."));
        goto out;
    }
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        goto out;
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_create(ctx->store, key, kind, unit, org, fields, id, &res,
                          &err) != NTM_OK) {
        ui_flash_err(ui, _("cannot record"), &err);
        goto out;
    }
    ui_flash(ui, 0,
             res.unenrolled
                 ? _("Recorded (kept here until an admin enrolls this "
                     "device): signed entry %s")
                 : _("Recorded: signed entry %s"),
             res.id);
    struct ntm_buf loc = NTM_BUF_INIT;
    ntm_buf_addf(&loc, "/record?id=%s", id);
    ui_redirect(out, ntm_buf_str(&loc));
    ntm_buf_release(&loc);
out:
    json_decref(fields);
}

static void
act_unlock(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_error err = {0};
    const char *next = ui_arg_nz(r, "next");
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        next = "/";
    if (ui->ctx->key) {
        ui_redirect(out, next);
        return;
    }
    char *path = cli_home_path(ui->ctx, "key");
    enum ntm_err rc =
        path ? ntm_key_load(&ui->ctx->key, path, ui_arg(r, "passphrase"), &err)
             : NTM_ENOMEM;
    ntm_free(path);
    if (rc == NTM_OK) {
        ntm_key_author(ui->ctx->key, ui->ctx->author);
        ui_flash(ui, 0, "%s", _("Key unlocked."));
        ui_redirect(out, next);
        return;
    }
    ui->ctx->key = NULL;
    if (err.code == NTM_EPASSPHRASE)
        ui_flash(ui, 1, "%s",
                 _("Wrong passphrase (or the key file is "
                   "damaged). Try again."));
    else
        ui_flash_err(ui, _("cannot load the key"), &err);
    struct ntm_buf loc = NTM_BUF_INIT;
    ntm_buf_adds(&loc, "/unlock?next=");
    ui_url(&loc, next);
    ui_redirect(out, ntm_buf_str(&loc));
    ntm_buf_release(&loc);
}

int
ui_action(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    const struct {
        const char *path;
        void (*fn)(struct ui *, const struct ui_req *, struct ui_resp *);
    } acts[] = {
        {"/review", act_review}, {"/resolve", act_resolve},
        {"/enroll", act_enroll}, {"/revoke", act_revoke},
        {"/sync", act_sync},     {"/new", act_new},
        {"/unlock", act_unlock},
    };
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        if (!strcmp(r->path, acts[i].path)) {
            acts[i].fn(ui, r, out);
            return 1;
        }
    return 0;
}
