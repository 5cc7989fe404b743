/* SPDX-License-Identifier: MIT */
/*
 * rekey.c - ntm init --rekey: a new key pair for an existing home, for a
 * device whose passphrase is lost or whose home was copied to a second
 * phone (two devices cannot sign as one key). Also the place of a home
 * (cli_home_place), by which a sync tells a copied home from a restored
 * one.
 *
 * The store and everything in it stay. The new key is written beside the
 * old one (key.new); the store then sets the old author's entries the
 * server never acknowledged aside and writes them again under the new key
 * (ntm_store_rekey: fresh record ids, each naming the entry it replaces)
 * in one transaction that also records the change (meta rekey.*); then
 * the old key file is renamed aside (key.old-<ms>, never deleted) and
 * key.new becomes key. Run again after a crash, it finishes the renames.
 * The new key waits for an admin's enrollment like a new device: entries
 * are recorded meanwhile and sent once it is enrolled.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The machine's identity: systemd's machine-id, else the host name. */
static void
machine_id(char *out, size_t size)
{
    static const char *const files[] = {"/etc/machine-id",
                                        "/var/lib/dbus/machine-id"};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !out[0]; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        if (!fgets(out, (int)size, f))
            out[0] = '\0';
        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
    }
    if (!out[0] && gethostname(out, size) != 0)
        out[0] = '\0';
    out[size - 1] = '\0';
}

void
cli_home_place(const struct cli_ctx *ctx, char out[NTM_HEX_ID_LEN + 1])
{
    char mid[256], *real = realpath(ctx->home, NULL);
    struct ntm_buf b = NTM_BUF_INIT;
    machine_id(mid, sizeof mid);
    ntm_buf_addf(&b, "ntm-place-v1\n%s\n%s", mid, real ? real : ctx->home);
    ntm_hash_hex(out, ntm_buf_str(&b), b.len);
    ntm_buf_release(&b);
    free(real); /* realpath's allocator */
}

/* The new passphrase: NTM_NEW_PASSPHRASE, then NTM_PASSPHRASE, or asked
 * twice; 0 when buf holds it, else the error said. */
static int
new_passphrase(char *buf, size_t size)
{
    const char *env = getenv("NTM_NEW_PASSPHRASE");
    if (!env)
        env = getenv("NTM_PASSPHRASE");
    if (env) {
        if (!*env) {
            cli_error(_("NTM_PASSPHRASE is empty: set a passphrase or use "
                        "--no-passphrase"));
            return -1;
        }
        snprintf(buf, size, "%s", env);
        return 0;
    }
    return cli_ask_new_passphrase(
        _("passphrase for the new key: "),
        _("cannot ask for a passphrase: there is no terminal; set "
          "NTM_PASSPHRASE or use --no-passphrase"),
        _("the two passphrases differ: run 'ntm init --rekey' again"), buf,
        size);
}

/* The author id of the key file at path ("" when it cannot be read). */
static void
file_author(const char *path, char out[NTM_HEX_ID_LEN + 1])
{
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    out[0] = '\0';
    if (ntm_key_file_public(path, pk, NULL) == NTM_OK)
        ntm_hex_encode(out, pk, NTM_PUBLICKEY_BYTES);
}

static char *
meta_text(struct ntm_store *st, const char *key)
{
    char *v = NULL;
    if (ntm_store_meta_get(st, key, &v, NULL) != NTM_OK)
        return NULL;
    return v;
}

static void
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* key -> key.old-<ms> (when key is there), key.new -> key. 0 on success,
 * else the error said. old_path receives the name the old key got. */
static int
swap_keys(struct cli_ctx *ctx, const char *key_path, const char *new_path,
          struct ntm_buf *old_path)
{
    ntm_buf_addf(old_path, "%s.old-%lld", key_path, (long long)ntm_now_ms());
    if (access(key_path, F_OK) == 0 &&
        rename(key_path, ntm_buf_str(old_path)) != 0) {
        cli_error(_("cannot move the old key '%s' aside: %s"), key_path,
                  strerror(errno));
        return -1;
    }
    if (rename(new_path, key_path) != 0) {
        cli_error(_("cannot put the new key '%s' in place: %s; run 'ntm "
                    "init --rekey' again to finish"),
                  new_path, strerror(errno));
        return -1;
    }
    sync_dir(ctx->home);
    return 0;
}

/* config.json names the new author (the rest kept). */
static int
update_config(struct cli_ctx *ctx, const char *author)
{
    char *path = cli_home_path(ctx, "config.json");
    struct ntm_error err = {0};
    int rc = -1;
    json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_object();
    }
    char *text = NULL;
    if (cfg && !json_object_set_new(cfg, "author", json_string(author)))
        text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!path || !text)
        cli_error(_("cannot write config.json: out of memory"));
    else if (ntm_file_write_atomic(path, text, strlen(text), 0600, &err) !=
             NTM_OK)
        cli_fail(&err, _("cannot write config.json"));
    else
        rc = 0;
    free(text); /* jansson's allocator */
    json_decref(cfg);
    ntm_free(path);
    return rc;
}

int
cli_init_rekey(struct cli_ctx *ctx, int no_pass, const char *join)
{
    struct ntm_error err = {0};
    struct ntm_store *st = NULL;
    struct ntm_key *nk = NULL;
    struct cli_join jc;
    struct ntm_rekey_result rr;
    struct ntm_buf old_path = NTM_BUF_INIT;
    char old[NTM_HEX_ID_LEN + 1] = "", to[NTM_HEX_ID_LEN + 1] = "";
    char pinned[NTM_HEX_ID_LEN + 1] = "", place[NTM_HEX_ID_LEN + 1];
    char pass[1024];
    char *key_path = cli_home_path(ctx, "key");
    char *new_path = cli_home_path(ctx, "key.new");
    char *db_path = cli_home_path(ctx, "ntm.db");
    char *was_from = NULL, *was_to = NULL, *needed = NULL;
    int code = EXIT_FAIL, resumed = 0, copied = 0;
    memset(&jc, 0, sizeof jc);
    memset(&rr, 0, sizeof rr);
    memset(pass, 0, sizeof pass);

    if (!key_path || !new_path || !db_path) {
        cli_error(_("cannot make a new key: out of memory"));
        goto out;
    }
    if (access(db_path, F_OK) != 0) {
        cli_error(_("'%s' is not an ntm home: --rekey gives a new key to an "
                    "existing home; run 'ntm init' to make one"),
                  ctx->home);
        goto out;
    }
    if (ntm_store_open(&st, db_path, 0, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot open the store of this home"));
        goto out;
    }
    if (join) {
        enum cli_join_status js = cli_join_read(join, ntm_now_ms(), &jc);
        if (js == CLI_JOIN_BAD) {
            cli_error(_("this join code is damaged or was altered (its "
                        "signature does not match): copy it again whole, or "
                        "ask the admin for a new one"));
            goto out;
        }
        if (js == CLI_JOIN_EXPIRED) {
            char when[32];
            cli_format_time(jc.expires, when);
            cli_error(_("this join code expired on %s: ask the admin for a "
                        "new one (ntm admin join-code)"),
                      when);
            goto out;
        }
        if (ntm_store_root(st, pinned) == NTM_OK && strcmp(pinned, jc.root)) {
            cli_error(_("this join code is for another root key (%.16s...) "
                        "than the one this home pins (%.16s...): ask an admin "
                        "of this province for a code"),
                      jc.root, pinned);
            goto out;
        }
    }
    was_from = meta_text(st, NTM_META_REKEY_FROM);
    was_to = meta_text(st, NTM_META_REKEY_TO);
    file_author(key_path, old);
    char pending_new[NTM_HEX_ID_LEN + 1];
    file_author(new_path, pending_new);
    /* A run cut short after the store took the new key: finish it. */
    if (pending_new[0] && was_to && !strcmp(pending_new, was_to) && was_from &&
        (!old[0] || !strcmp(old, was_from))) {
        snprintf(old, sizeof old, "%s", was_from);
        snprintf(to, sizeof to, "%s", was_to);
        resumed = 1;
        cli_note(ctx, _("finishing the new key made by an earlier 'ntm init "
                        "--rekey' that was cut short"));
    } else {
        if (!old[0]) {
            cli_error(_("cannot read this home's key '%s': --rekey replaces "
                        "an existing key"),
                      key_path);
            goto out;
        }
        if ((pinned[0] || ntm_store_root(st, pinned) == NTM_OK) &&
            !strcmp(pinned, old)) {
            cli_error(_("this home holds the root key, which every device "
                        "pins: it cannot be replaced by --rekey"));
            goto out;
        }
        if (pending_new[0] || access(new_path, F_OK) == 0) {
            /* Written by a run cut short before the store took it: never
             * used to sign anything that was kept. */
            if (unlink(new_path) != 0) {
                cli_error(_("cannot remove the unused '%s': %s"), new_path,
                          strerror(errno));
                goto out;
            }
        }
        const char *passphrase = NULL;
        if (no_pass)
            cli_warn(ctx,
                     _("the key is stored without a passphrase: anyone who "
                       "copies '%s' can sign as this device"),
                     key_path);
        else if (new_passphrase(pass, sizeof pass) != 0)
            goto out;
        else
            passphrase = pass;
        if (ntm_key_generate(&nk, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot make a key"));
            goto out;
        }
        if (!no_pass)
            cli_note(ctx, _("sealing the key with the passphrase..."));
        if (ntm_key_save(nk, new_path, passphrase, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot save the key"));
            goto out;
        }
        ntm_key_author(nk, to);
        needed = meta_text(st, NTM_META_REKEY_NEEDED);
        copied = needed && !strcmp(needed, old);
        cli_home_place(ctx, place);
        enum ntm_err rc = ntm_store_begin(st, &err);
        if (rc == NTM_OK &&
            (rc = ntm_store_rekey(st, nk, old, &rr, &err)) == NTM_OK &&
            (rc = ntm_store_meta_set(st, NTM_META_HOME_PLACE, place, &err)) ==
                NTM_OK)
            rc = ntm_store_commit(st, &err);
        else if (rc != NTM_OK)
            ntm_store_rollback(st);
        if (rc != NTM_OK) {
            unlink(new_path);
            code = cli_fail(&err, _("cannot give the store the new key"));
            goto out;
        }
    }
    if (swap_keys(ctx, key_path, new_path, &old_path) != 0 ||
        update_config(ctx, to) != 0)
        goto out;

    /* What the admin needs: the old key's enrollment, as this store
     * knows it. */
    struct ntm_enrollment e;
    memset(&e, 0, sizeof e);
    ntm_store_enrollment(st, old, 0, &e, NULL);
    char fp[40];
    cli_short_fingerprint(to, fp);
    if (ctx->json) {
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I}", "home",
            ctx->home, "author", to, "old_author", old, "fingerprint", fp,
            "old_key_file", resumed ? "" : ntm_buf_str(&old_path), "resumed",
            resumed, "copied", copied, "kept", (json_int_t)rr.kept, "stranded",
            (json_int_t)rr.stranded, "reissued", (json_int_t)rr.reissued,
            "failed", (json_int_t)rr.failed);
        if (o && e.enrolled && !e.is_root)
            json_object_set_new(o, "old_enrollment",
                                json_pack("{s:s, s:s, s:s, s:s}", "role",
                                          e.role, "scope", e.scope, "org",
                                          e.org, "name", e.name));
        code = cli_print_json(o);
        goto out;
    }
    printf(_("this device has a new key; the store and everything in it are "
             "kept\n"));
    printf(_("new author id: %s\n"), to);
    printf(_("fingerprint:   %s\n"), fp);
    printf(_("old author id: %s\n"), old);
    if (!resumed) {
        printf(_("the old key file is kept as '%s'\n"), ntm_buf_str(&old_path));
        printf(_("entries of the old key the server holds: %lld (they stay "
                 "as they are)\n"),
               (long long)rr.kept);
        printf(_("entries of the old key it never received, written again "
                 "under the new key: %lld\n"),
               (long long)rr.reissued);
        if (rr.failed > 0)
            printf(_("entries that could not be written again (kept, see "
                     "'ntm verify'): %lld\n"),
                   (long long)rr.failed);
    }
    if (join)
        printf(_("next: send the new author id to the admin who made the "
                 "code, who confirms it with\n"
                 "  ntm admin enroll %s --join CODE\n"
                 "that command shows a fingerprint: it must be %s\n"),
               to, fp);
    else if (e.enrolled && !e.is_root) {
        struct ntm_buf cmd = NTM_BUF_INIT;
        ntm_buf_addf(&cmd, "ntm admin enroll %s --role %s --scope %s", to,
                     e.role, e.scope);
        if (e.org[0])
            ntm_buf_addf(&cmd, " --org %s", e.org);
        if (e.name[0])
            ntm_buf_addf(&cmd, " --name \"%s\"", e.name);
        printf(_("next: ask an admin to enroll the new author id as the old "
                 "one was:\n  %s\n"),
               ntm_buf_str(&cmd));
        ntm_buf_release(&cmd);
    } else
        printf(_("next: ask an admin to enroll the new author id ('ntm admin "
                 "enroll %s --role recorder --scope UNIT')\n"),
               to);
    printf(_("until then this device records as usual; 'ntm sync' sends "
             "everything once the new key is enrolled ('ntm status' shows "
             "what waits)\n"));
    if (copied)
        printf(_("the other phone that holds a copy of this home keeps the "
                 "old key: do not revoke it\n"));
    else if (e.enrolled && !e.is_root)
        printf(_("if the old key may be found and used by someone else, the "
                 "admin can revoke it, keeping what the server holds:\n"
                 "  ntm admin revoke %s --after-seq %lld --reason \"new key "
                 "%.16s\"\n"),
               old, (long long)rr.kept, to);
    code = EXIT_OK;
out:
    cli_join_release(&jc);
    ntm_store_close(st);
    ntm_key_free(nk);
    ntm_memzero(pass, sizeof pass);
    ntm_buf_release(&old_path);
    ntm_free(was_from);
    ntm_free(was_to);
    ntm_free(needed);
    ntm_free(key_path);
    ntm_free(new_path);
    ntm_free(db_path);
    return code;
}

/* What the home's key change is, as cli_rekey_json says. */
struct rekey_state {
    int needed, rekeyed, enrolled;
    char from[NTM_HEX_ID_LEN + 1], to[NTM_HEX_ID_LEN + 1];
    int64_t at_ms, waiting;
};

static int
rekey_state(struct cli_ctx *ctx, struct rekey_state *r)
{
    memset(r, 0, sizeof *r);
    if (!ctx->store || !ctx->author[0])
        return 0;
    char *needed = meta_text(ctx->store, NTM_META_REKEY_NEEDED);
    char *from = meta_text(ctx->store, NTM_META_REKEY_FROM);
    char *to = meta_text(ctx->store, NTM_META_REKEY_TO);
    r->needed = needed && !strcmp(needed, ctx->author);
    r->rekeyed = from && to && !strcmp(to, ctx->author);
    if (r->rekeyed) {
        snprintf(r->from, sizeof r->from, "%s", from);
        snprintf(r->to, sizeof r->to, "%s", to);
        ntm_store_meta_get_int(ctx->store, NTM_META_REKEY_MS, 0, &r->at_ms,
                               NULL);
    }
    ntm_free(needed);
    ntm_free(from);
    ntm_free(to);
    if (!r->needed && !r->rekeyed)
        return 0;
    struct ntm_enrollment e;
    memset(&e, 0, sizeof e);
    ntm_store_enrollment(ctx->store, ctx->author, 0, &e, NULL);
    r->enrolled = e.enrolled && !e.revoked;
    int64_t head = 0, peer = 0, pending = 0, total = 0;
    ntm_store_head(ctx->store, ctx->author, &head, NULL);
    ntm_store_peer_head_get(ctx->store, ctx->author, &peer, NULL);
    ntm_store_stranded(ctx->store, ctx->author, &pending, &total, NULL);
    r->waiting = (head > peer ? head - peer : 0) + pending;
    return 1;
}

json_t *
cli_rekey_json(struct cli_ctx *ctx)
{
    struct rekey_state r;
    if (!rekey_state(ctx, &r))
        return NULL;
    json_t *o = json_pack("{s:b, s:b, s:I}", "needed", r.needed, "enrolled",
                          r.enrolled, "waiting", (json_int_t)r.waiting);
    if (o) {
        json_object_set_new(o, "from",
                            r.rekeyed ? json_string(r.from) : json_null());
        json_object_set_new(o, "to",
                            r.rekeyed ? json_string(r.to) : json_null());
        json_object_set_new(o, "at_ms",
                            r.rekeyed ? json_integer(r.at_ms) : json_null());
    }
    return o;
}

void
cli_rekey_say(struct cli_ctx *ctx)
{
    struct rekey_state r;
    if (!rekey_state(ctx, &r))
        return;
    if (r.needed) {
        printf(_("new key:     NEEDED - this home was copied from or to "
                 "another phone, and both sign as one key; %lld entries of "
                 "this device are kept here and not sent: run 'ntm init "
                 "--rekey'\n"),
               (long long)r.waiting);
        return;
    }
    char when[32];
    cli_format_time(r.at_ms, when);
    if (!r.enrolled)
        printf(_("new key:     made %s, WAITS FOR AN ADMIN'S ENROLLMENT: "
                 "%lld entries wait to be sent; ask an admin to run 'ntm "
                 "admin enroll %s ...' (the old key was %.16s...)\n"),
               when, (long long)r.waiting, r.to, r.from);
    else
        printf(_("new key:     made %s, enrolled (the old key was "
                 "%.16s...)\n"),
               when, r.from);
}
