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

/* A refusal of cli/checks.c on the next page. */
static void
flash_check(struct ui *ui, const struct cli_check *c)
{
    ui_flash(ui, 1, "%s", c->msg);
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
    struct cli_check c;
    if (cli_check_may_review(ui->ctx, &c) != 0) {
        flash_check(ui, &c);
        return;
    }
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
    /* the checks of ntm admin enroll (cli/checks.c) */
    struct cli_check c;
    if (cli_check_device_key(key, hex, &c) != 0 ||
        cli_check_grant(ui->ctx, &role, scope, org, &c) != 0) {
        flash_check(ui, &c);
        return;
    }
    const struct ntm_key *k = ui_key(ui, r, out);
    if (!k)
        return;
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_device_enroll(ui->ctx->store, k, hex, role, scope, name ? name : "",
                          org, 1, &res, &err) != NTM_OK)
        ui_flash_err(ui, _("cannot enroll the device"), &err);
    else
        ui_flash(ui, 0, _("Enrolled %.12s... as %s of %s: signed entry %s"),
                 hex, cli_label(NTM_LABEL_ROLE, role), scope, res.id);
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

/* Why a call to the server failed, in plain words when the network is
 * the cause. */
static void
sync_failed(struct ui *ui, const char *what, const struct ntm_error *err)
{
    char text[1024];
    int offline;
    ui_flash(ui, 1, "%s", ui_net_text(err, what, text, sizeof(text), &offline));
}

enum ntm_err
ui_join_requests(struct ui *ui, const struct ntm_key *key, const char *nonce,
                 json_t **reqs, struct ntm_error *err)
{
    struct ntm_client_opts co;
    memset(&co, 0, sizeof(co));
    co.lang = ui->ctx->lang;
    co.max_attempts = 1; /* a page waits for it: no backoff, short */
    co.connect_timeout_s = 5;
    co.low_speed_time_s = 5;
    return ntm_client_join_requests(ui->ctx->store, key, &co, nonce, reqs, err);
}

/* Enroll the device that asked with a join code (ntm admin enroll --join
 * without the author id): the grant is the code's, as the server holds
 * the request; the admin types the fingerprint the device shows. */
static void
act_enroll_join(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct ntm_error err = {0};
    struct cli_check c;
    const char *nonce = ui_arg_nz(r, "nonce"), *author = ui_arg_nz(r, "author");
    json_t *reqs = NULL, *x, *req = NULL;
    size_t i;
    ui_redirect(out, "/devices");
    if (!is_admin(ui))
        return;
    if (!nonce || strlen(nonce) != 16 || !ntm_is_lower_hex(nonce, 16) ||
        !author || strlen(author) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(author, NTM_HEX_ID_LEN)) {
        ui_flash(ui, 1, "%s", _("This form is damaged: reload the page."));
        return;
    }
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        return;
    /* what the server holds now, not what the page showed */
    if (ui_join_requests(ui, key, nonce, &reqs, &err) != NTM_OK) {
        sync_failed(ui, _("cannot fetch the requests to be enrolled"), &err);
        return;
    }
    json_array_foreach (reqs, i, x) {
        const char *a = json_string_value(json_object_get(x, "author"));
        if (a && !strcmp(a, author))
            req = x;
    }
    const char *role = json_string_value(json_object_get(req, "role"));
    const char *scope = json_string_value(json_object_get(req, "scope"));
    const char *org = json_string_value(json_object_get(req, "org"));
    const char *name = json_string_value(json_object_get(req, "name"));
    if (org && !*org)
        org = NULL;
    if (!req)
        ui_flash(ui, 1, "%s",
                 _("This device no longer asks to be enrolled (its code "
                   "expired, or it is enrolled already): reload the page."));
    else if (json_array_size(reqs) > 1)
        ui_flash(ui, 1,
                 _("%zu devices asked to be enrolled with this code: someone "
                   "else may have used it. Nothing was enrolled: make a new "
                   "code for this device."),
                 json_array_size(reqs));
    else if (cli_check_join_signer(
                 ui->ctx, json_string_value(json_object_get(req, "signer")),
                 &c) != 0 ||
             cli_check_join_unused(ui->ctx, nonce, author, &c) != 0 ||
             cli_check_grant(ui->ctx, &role, scope, org, &c) != 0 ||
             cli_check_fingerprint(author, ui_arg_nz(r, "fingerprint"), &c) !=
                 0)
        flash_check(ui, &c);
    else {
        struct ntm_write_result res;
        memset(&res, 0, sizeof(res));
        if (ntm_device_enroll(ui->ctx->store, key, author, role, scope,
                              name ? name : "", org, 1, &res, &err) != NTM_OK) {
            ui_flash_err(ui, _("cannot enroll the device"), &err);
        } else {
            cli_join_mark_used(ui->ctx, nonce, author);
            ui_flash(ui, 0, _("Enrolled %.12s... as %s of %s: signed entry %s"),
                     author, cli_label(NTM_LABEL_ROLE, role), scope, res.id);
        }
    }
    json_decref(reqs);
}

/* Push then pull on the worker thread (syncjob.c); the sync page shows
 * its progress. */
static void
act_sync(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    ui_redirect(out, "/sync");
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        return;
    int rc = ui_sync_start(ui, key);
    if (rc > 0)
        ui_flash(ui, 1, "%s",
                 _("A sync is running already: its progress is below."));
    else if (rc < 0)
        ui_flash(ui, 1, "%s", _("cannot start the sync"));
}

/* A whole number of the form into *v (CLI_UNSET when empty). */
static int
form_int(const struct ui_req *r, const char *k, int64_t *v, struct cli_check *c)
{
    const char *s = ui_arg_nz(r, k);
    *v = CLI_UNSET;
    if (!s || ntm_parse_int64(s, 0, INT64_MAX, v) == NTM_OK)
        return 0;
    c->field = k;
    c->code = EXIT_USAGE;
    snprintf(c->msg, sizeof(c->msg), _("%s must be a whole number, 0 or more."),
             cli_label(NTM_LABEL_FIELD, k));
    return -1;
}

/* The fields of the task's dictionary that ntm record has no option for
 * (labor_days, name, dissolved, ...): {field: text} (new). */
static json_t *
more_fields(struct ui *ui, const struct ui_req *r, const char *task,
            const char *kind)
{
    static const char *const known[] = {
        "task",   "date",       "qty",    "uom", "title", "note",
        "people", "amount_vnd", "period", "num", "den",   NULL};
    json_t *dict = task ? ntm_plan_task_dict(ui->ctx->plan, task) : NULL;
    json_t *rules =
        json_object_get(json_object_get(dict, "fields"), kind ? kind : "");
    json_t *more = json_object(), *rule;
    const char *name;
    json_object_foreach (rules, name, rule) {
        const char *const *k = known;
        while (*k && strcmp(*k, name))
            k++;
        if (!*k && ui_arg_nz(r, name))
            json_object_set_new(more, name, json_string(ui_arg(r, name)));
    }
    json_decref(dict);
    return more;
}

/* ntm record's checks (cli/checks.c), then the signed create; a refusal
 * shows the form again, the values kept, the message beside its field. */
static void
act_new(struct ui *ui, const struct ui_req *r, struct ui_resp *out)
{
    struct cli_ctx *ctx = ui->ctx;
    struct ntm_error err = {0};
    struct cli_record_in in = {.kind = ui_arg_nz(r, "kind"),
                               .task = ui_arg_nz(r, "task"),
                               .unit = ui_arg_nz(r, "unit"),
                               .org = ui_arg_nz(r, "org"),
                               .date = ui_arg_nz(r, "date"),
                               .qty = ui_arg_nz(r, "qty"),
                               .uom = ui_arg_nz(r, "uom"),
                               .title = ui_arg_nz(r, "title"),
                               .note = ui_arg_nz(r, "note"),
                               .period = ui_arg_nz(r, "period")};
    struct cli_record_out rec;
    struct cli_check c;
    memset(&rec, 0, sizeof(rec));
    memset(&c, 0, sizeof(c));
    /* the form's unit list always holds a choice: it counts with a
     * quantity only */
    if (!in.qty)
        in.uom = NULL;
    in.more = more_fields(ui, r, in.task, in.kind);
    if (form_int(r, "people", &in.people, &c) ||
        form_int(r, "amount_vnd", &in.amount_vnd, &c) ||
        form_int(r, "num", &in.num, &c) || form_int(r, "den", &in.den, &c) ||
        cli_check_record(ctx, &in, &rec, &c) != 0) {
        json_decref(in.more);
        out->status = 422;
        ui_page_new(ui, r, out, &c);
        return;
    }
    json_decref(in.more);
    ui_redirect(out, "/new");
    const struct ntm_key *key = ui_key(ui, r, out);
    if (!key)
        goto out;
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_create(ctx->store, key, in.kind, in.unit, rec.org,
                          rec.fields, id, &res, &err) != NTM_OK) {
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
    cli_record_out_release(&rec);
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
        {"/enroll", act_enroll}, {"/enroll-join", act_enroll_join},
        {"/revoke", act_revoke}, {"/sync", act_sync},
        {"/new", act_new},       {"/unlock", act_unlock},
    };
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        if (!strcmp(r->path, acts[i].path)) {
            acts[i].fn(ui, r, out);
            return 1;
        }
    return 0;
}
