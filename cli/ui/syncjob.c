/* SPDX-License-Identifier: MIT */
/*
 * syncjob.c - the sync of `ntm ui` on a worker thread, so that the pages
 * keep answering while entries go out and come in: push, then pull, as
 * ntm sync does, through the library's client with its own connection
 * to the home's store (SQLite in WAL mode takes the pages' writes and the
 * pull's one after the other). The library's progress callback counts
 * the entries sent and received into struct ui_sync, under its own
 * mutex; the sync page reads them and refreshes itself while the worker
 * runs (a meta refresh: the pages carry no script). The key is the one
 * the page unlocked; it is not forgotten while a sync uses it.
 */
#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
on_progress(void *ud, const char *what, int64_t done, int64_t total)
{
    struct ui_sync *js = ud;
    pthread_mutex_lock(&js->mu);
    if (what && strstr(what, "sent")) {
        js->sent = done;
        js->sent_total = total;
    } else {
        js->received = done;
        js->received_total = total;
    }
    pthread_mutex_unlock(&js->mu);
}

/* The outcome, said once the worker is done. */
static void finish(struct ui_sync *js, int state, int offline, const char *fmt,
                   ...) NTM_PRINTF(4, 5);

static void
finish(struct ui_sync *js, int state, int offline, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&js->mu);
    va_start(ap, fmt);
    vsnprintf(js->msg, sizeof(js->msg), fmt, ap);
    va_end(ap);
    js->state = state;
    js->offline = offline;
    js->ended_ms = ntm_now_ms();
    js->running = 0;
    pthread_mutex_unlock(&js->mu);
}

int
ui_offline(const struct ntm_error *err)
{
    return err->code == NTM_ENET || err->code == NTM_ETIMEOUT ||
           err->code == NTM_EUNAVAIL;
}

const char *
ui_net_text(const struct ntm_error *err, const char *what, char *out,
            size_t size, int *offline)
{
    char text[2 * NTM_ERROR_SIZE];
    *offline = ui_offline(err);
    if (*offline)
        snprintf(out, size, "%s",
                 _("The server cannot be reached now (no network, or it is "
                   "down). Nothing is lost: the entries wait here, and the "
                   "pages keep working on this device. Try again later."));
    else
        snprintf(out, size, "%s: %s", what,
                 cli_error_text(err, text, sizeof(text)));
    return out;
}

static void
failed(struct ui_sync *js, const char *what, const struct ntm_error *err)
{
    char text[1024];
    int offline;
    ui_net_text(err, what, text, sizeof(text), &offline);
    finish(js, UI_SYNC_FAILED, offline, "%s", text);
}

static void *
worker(void *arg)
{
    struct ui *ui = arg;
    struct ui_sync *js = &ui->sync;
    struct ntm_store *st = NULL;
    struct ntm_error err = {0};
    struct ntm_client_opts co;
    struct ntm_push_result pr;
    struct ntm_pull_result lr;
    char place[NTM_HEX_ID_LEN + 1];
    memset(&co, 0, sizeof(co));
    memset(&pr, 0, sizeof(pr));
    memset(&lr, 0, sizeof(lr));
    co.lang = ui->ctx->lang;
    co.progress = on_progress;
    co.progress_ud = js;
    cli_home_place(ui->ctx, place);
    co.place = place;
    char *db = cli_home_path(ui->ctx, "ntm.db");
    if (!db || ntm_store_open(&st, db, 0, &err) != NTM_OK) {
        ntm_free(db);
        failed(js, _("cannot open the store"), &err);
        return NULL;
    }
    ntm_free(db);
    if (ntm_client_push(st, js->key, &co, &pr, &err) != NTM_OK) {
        failed(js, _("cannot send the entries"), &err);
        goto out;
    }
    pthread_mutex_lock(&js->mu);
    js->state = UI_SYNC_PULLING;
    js->accepted = pr.accepted;
    js->refused = (int64_t)json_array_size(pr.rejected);
    pthread_mutex_unlock(&js->mu);
    if (ntm_client_pull(st, js->key, &co, &lr, &err) != NTM_OK) {
        failed(js, _("cannot fetch the entries"), &err);
        goto out;
    }
    pthread_mutex_lock(&js->mu);
    js->applied = lr.applied;
    pthread_mutex_unlock(&js->mu);
    if (json_array_size(pr.rejected))
        finish(js, UI_SYNC_FAILED, 0,
               _("Sent %lld entries; the server refused %zu (they are kept "
                 "here: run 'ntm push' in a terminal to see why). Fetched "
                 "%lld new entries."),
               (long long)pr.accepted, json_array_size(pr.rejected),
               (long long)lr.applied);
    else
        finish(js, UI_SYNC_DONE, 0,
               _("Sent %lld entries, fetched %lld new entries."),
               (long long)pr.accepted, (long long)lr.applied);
out:
    ntm_push_result_release(&pr);
    ntm_store_close(st);
    return NULL;
}

int
ui_sync_start(struct ui *ui, const struct ntm_key *key)
{
    struct ui_sync *js = &ui->sync;
    pthread_mutex_lock(&js->mu);
    if (js->running) {
        pthread_mutex_unlock(&js->mu);
        return 1;
    }
    pthread_mutex_unlock(&js->mu);
    ui_sync_wait(ui); /* the last one's thread */
    pthread_mutex_lock(&js->mu);
    js->key = key;
    js->state = UI_SYNC_PUSHING;
    js->sent = js->sent_total = js->received = js->received_total = 0;
    js->accepted = js->refused = js->applied = 0;
    js->offline = 0;
    js->msg[0] = '\0';
    js->started_ms = ntm_now_ms();
    js->ended_ms = 0;
    js->running = 1;
    int rc = pthread_create(&js->thread, NULL, worker, ui);
    if (rc == 0)
        js->joinable = 1;
    else {
        js->running = 0;
        js->state = UI_SYNC_FAILED;
        snprintf(js->msg, sizeof(js->msg), "%s", strerror(rc));
    }
    pthread_mutex_unlock(&js->mu);
    return rc == 0 ? 0 : -1;
}

int
ui_sync_running(struct ui *ui)
{
    pthread_mutex_lock(&ui->sync.mu);
    int r = ui->sync.running;
    pthread_mutex_unlock(&ui->sync.mu);
    return r;
}

void
ui_sync_wait(struct ui *ui)
{
    struct ui_sync *js = &ui->sync;
    pthread_mutex_lock(&js->mu);
    int joinable = js->joinable;
    js->joinable = 0;
    pthread_mutex_unlock(&js->mu);
    if (joinable)
        pthread_join(js->thread, NULL);
}
