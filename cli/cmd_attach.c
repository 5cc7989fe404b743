/* SPDX-License-Identifier: MIT */
/*
 * cmd_attach.c - ntm attach <id> <file>...: photos and documents as a
 * record's evidence (docs/contract.md, attachments). Each file is checked
 * first (a JPEG or PNG photo or a PDF by its bytes, within the home's
 * limits per file and per record), all of them before anything is
 * signed; then stored in the home by its hash and bound to the record by
 * one signed record.attach each. Also the helpers `ntm record --attach`
 * uses, and the limits read from config.json.
 */
#include "cli.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_FILE   (8LL * 1024 * 1024)
#define DEFAULT_MAX_RECORD (32LL * 1024 * 1024)

static const struct cli_help help = {
    N_("ntm attach - attach photos or documents to a record"),
    "ntm attach <id> <file>... [--caption <text>] [--keep-metadata]",
    N_("Stores each file in the home (attachments/, named by its BLAKE2b-256\n"
       "hash) and signs one record.attach entry per file, which binds the\n"
       "record to the file's hash, size and type: nobody can swap the file\n"
       "afterwards. Push carries the entries and then the bytes; a bundle\n"
       "carries both.\n"
       "\n"
       "JPEG and PNG photos and PDF documents can be attached; the type is\n"
       "read from the file's bytes. A file may have at most attach_max_file\n"
       "bytes (8 MiB unless the home's config.json says otherwise), all the\n"
       "attachments of one record attach_max_record (32 MiB). Every file is\n"
       "checked before anything is signed. Who may attach is who may edit\n"
       "the record (its unit in the device's scope, its organization).\n"
       "\n"
       "A JPEG photo is made fit for weak links first: scaled so that its\n"
       "longer side has at most attach_photo_max_side pixels (1600), encoded\n"
       "at attach_photo_quality (80), and its camera data and GPS location\n"
       "removed; --keep-metadata attaches it exactly as it is."),
    NULL,
    "ntm attach 5d1c0e duong-sau.jpg --caption \"Đường sau khi bê tông\"\n"
    "ntm attach 5d1c0e bien-ban.pdf anh1.jpg anh2.jpg"};

/* A limit from the home's config.json (key: bytes), else dflt. */
static int64_t
config_limit(struct cli_ctx *ctx, const char *key, int64_t dflt)
{
    char *path = cli_home_path(ctx, "config.json");
    json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
    ntm_free(path);
    json_t *v = json_object_get(cfg, key);
    int64_t n = json_is_integer(v) && json_integer_value(v) > 0
                    ? (int64_t)json_integer_value(v)
                    : dflt;
    json_decref(cfg);
    if (n > NTM_ATTACH_MAX_BYTES)
        n = NTM_ATTACH_MAX_BYTES;
    return n;
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* Read the whole file at path (at most NTM_ATTACH_MAX_BYTES) into *data
 * (new). 0, or -1 said. */
static int
read_whole(const char *path, unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size > NTM_ATTACH_MAX_BYTES ||
        !(*data = ntm_malloc((size_t)sb.st_size + 1))) {
        if (fd >= 0)
            close(fd);
        cli_error(_("cannot read '%s': give the path of a photo or a "
                    "document"),
                  path);
        return -1;
    }
    while (*len < (size_t)sb.st_size) {
        ssize_t r = read(fd, *data + *len, (size_t)sb.st_size - *len);
        if (r <= 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    return 0;
}

void
cli_attach_free(struct cli_attach_file *f, int n)
{
    for (int i = 0; f && i < n; i++)
        ntm_free(f[i].data);
    ntm_free(f);
}

int
cli_attach_check(struct cli_ctx *ctx, const char *cmd, const char *record_id,
                 const struct cli_list *files, int keep_metadata,
                 struct cli_attach_file **out)
{
    *out = NULL;
    int64_t max_side =
        config_limit(ctx, "attach_photo_max_side", NTM_PHOTO_MAX_SIDE);
    int64_t quality =
        config_limit(ctx, "attach_photo_quality", NTM_PHOTO_QUALITY);
    int64_t max_file = config_limit(ctx, "attach_max_file", DEFAULT_MAX_FILE);
    int64_t max_rec =
        config_limit(ctx, "attach_max_record", DEFAULT_MAX_RECORD);
    int64_t total = 0;
    if (record_id) {
        json_t *have = NULL;
        struct ntm_error err = {0};
        if (ntm_store_attachments(ctx->store, record_id, &have, &err) != NTM_OK)
            return cli_fail(&err, _("cannot read the record's attachments"));
        size_t i;
        json_t *a;
        json_array_foreach (have, i, a)
            total += json_integer_value(json_object_get(a, "size"));
        json_decref(have);
    }
    struct cli_attach_file *f =
        ntm_calloc((size_t)files->count + 1, sizeof(*f));
    if (!f) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    for (int i = 0; i < files->count; i++) {
        const char *path = files->items[i];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        unsigned char head[16];
        ssize_t n = -1;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
            n = read(fd, head, sizeof(head));
        if (fd >= 0)
            close(fd);
        if (n < 0) {
            cli_error(_("cannot read '%s': give the path of a photo or a "
                        "document"),
                      path);
            cli_attach_free(f, files->count);
            return EXIT_FAIL;
        }
        const char *type = ntm_attach_sniff(head, (size_t)n);
        if (!type) {
            cli_error(_("'%s' is not a JPEG or PNG photo or a PDF document: "
                        "only these can be attached (save it as one of them "
                        "first)"),
                      path);
            cli_attach_free(f, files->count);
            return EXIT_FAIL;
        }
        f[i].path = path;
        f[i].type = type;
        f[i].size = (int64_t)sb.st_size;
        /* A JPEG photo is made fit for weak links: scaled, its EXIF and
         * location dropped (store/photo.c), unless --keep-metadata. */
        if (!strcmp(type, "image/jpeg") && !keep_metadata) {
            unsigned char *raw = NULL;
            size_t rlen = 0;
            struct ntm_error err = {0};
            if (read_whole(path, &raw, &rlen) != 0) {
                cli_attach_free(f, files->count);
                return EXIT_FAIL;
            }
            enum ntm_err rc =
                ntm_photo_prepare(raw, rlen, (int)max_side, (int)quality,
                                  &f[i].data, &f[i].len, &f[i].photo, &err);
            ntm_free(raw);
            if (rc != NTM_OK) {
                char what[600];
                snprintf(what, sizeof(what), _("cannot prepare '%s'"), path);
                cli_attach_free(f, files->count);
                return cli_fail(&err, what);
            }
            f[i].size = (int64_t)f[i].len;
        }
        if (f[i].size > max_file) {
            cli_error(_("'%s' has %lld bytes, more than the %lld a file may "
                        "have: make it smaller (a photo at a lower "
                        "resolution), or raise attach_max_file in "
                        "'%s/config.json'"),
                      path, (long long)f[i].size, (long long)max_file,
                      ctx->home);
            cli_attach_free(f, files->count);
            return EXIT_FAIL;
        }
        total += f[i].size;
        if (total > max_rec) {
            cli_error(_("the attachments of this record would have %lld "
                        "bytes, more than the %lld a record may have: attach "
                        "fewer or smaller files, or raise attach_max_record "
                        "in '%s/config.json'"),
                      (long long)total, (long long)max_rec, ctx->home);
            cli_attach_free(f, files->count);
            return EXIT_FAIL;
        }
    }
    (void)cmd;
    *out = f;
    return EXIT_OK;
}

int
cli_attach_write(struct cli_ctx *ctx, const char *record_id,
                 const struct cli_attach_file *f, int n, const char *caption,
                 json_t *done)
{
    char *dir = cli_home_path(ctx, "attachments");
    int64_t max_file = config_limit(ctx, "attach_max_file", DEFAULT_MAX_FILE);
    int code = EXIT_OK;
    if (!dir) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    for (int i = 0; i < n && code == EXIT_OK; i++) {
        struct ntm_error err = {0};
        char hash[NTM_HEX_ID_LEN + 1];
        int64_t size = f[i].size;
        if ((f[i].data ? ntm_blob_put_mem(dir, f[i].data, f[i].len, hash, &err)
                       : ntm_blob_put_file(dir, f[i].path, max_file, hash,
                                           &size, &err)) != NTM_OK) {
            code = cli_fail(&err, _("cannot store the file"));
            break;
        }
        struct ntm_write_result res;
        memset(&res, 0, sizeof(res));
        if (ntm_record_attach(ctx->store, ctx->key, record_id, hash, size,
                              f[i].type, base_name(f[i].path), caption, &res,
                              &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot attach the file"));
            break;
        }
        json_t *photo =
            f[i].data ? json_pack("{s:i, s:i, s:i, s:i, s:b}", "width",
                                  f[i].photo.width, "height", f[i].photo.height,
                                  "out_width", f[i].photo.out_width,
                                  "out_height", f[i].photo.out_height,
                                  "reencoded", f[i].photo.reencoded)
                      : json_null();
        if (done)
            json_array_append_new(
                done,
                json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "hash", hash,
                          "entry", res.id, "name", base_name(f[i].path), "size",
                          (json_int_t)size, "type", f[i].type, "photo", photo));
        else
            json_decref(photo);
        if (!ctx->json)
            printf(_("attached %s  %s\n"), hash, base_name(f[i].path));
        if (!ctx->json && f[i].data)
            cli_note(ctx,
                     _("photo %dx%d made %dx%d for weak links, its camera "
                       "data and location removed (--keep-metadata keeps the "
                       "file as it is)"),
                     f[i].photo.width, f[i].photo.height, f[i].photo.out_width,
                     f[i].photo.out_height);
    }
    ntm_free(dir);
    return code;
}

int
cmd_attach(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *caption = NULL;
    int keep = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "caption", &caption, "<text>",
         N_("what the files show (signed with each)")},
        {CLI_OPT_FLAG, "keep-metadata", &keep, NULL,
         N_("attach JPEG photos as they are: full size, with their camera "
            "data and location")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("attach", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs == 0)
        return cli_usage_error("attach", _("missing the record id"));
    if (nargs == 1)
        return cli_usage_error("attach", _("missing the files to attach"));
    if (caption && strlen(caption) > NTM_ATTACH_MAX_CAPTION)
        return cli_usage_error("attach",
                               _("the caption is longer than %d bytes"),
                               NTM_ATTACH_MAX_CAPTION);
    char id[NTM_RECORD_ID_LEN + 1];
    if ((code = cli_find_record(ctx, "attach", argv[0], id, NULL)) != EXIT_OK)
        return code;
    struct cli_list files = {(const char **)argv + 1, nargs - 1, 0};
    struct cli_attach_file *f = NULL;
    if ((code = cli_attach_check(ctx, "attach", id, &files, keep, &f)) !=
        EXIT_OK)
        return code;
    json_t *done = json_array();
    code = cli_attach_write(ctx, id, f, files.count, caption, done);
    cli_attach_free(f, files.count);
    if (code == EXIT_OK && ctx->json)
        return cli_print_json(
            json_pack("{s:s, s:o}", "id", id, "attachments", done));
    json_decref(done);
    return code;
}

static json_t *
report_json(const struct ntm_attach_report *r)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "files",
        (json_int_t)r->files, "done", (json_int_t)r->done, "resumed",
        (json_int_t)r->resumed, "refused", (json_int_t)r->refused, "failed",
        (json_int_t)r->failed, "bytes", (json_int_t)r->bytes, "requests",
        (json_int_t)r->requests, "rechecked", (json_int_t)r->rechecked,
        "held_back", (json_int_t)r->held_back);
}

/* Whether the home fetches every attachment at each pull. */
static int
fetch_eager(struct cli_ctx *ctx)
{
    char *path = cli_home_path(ctx, "config.json");
    json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
    ntm_free(path);
    const char *v = json_string_value(json_object_get(cfg, "attach_fetch"));
    int eager = v && !strcmp(v, "eager");
    json_decref(cfg);
    return eager;
}

int
cli_attach_sync(struct cli_ctx *ctx, struct ntm_client_opts *co, int push,
                json_t *out)
{
    struct ntm_attach_report rep;
    struct ntm_error err = {0};
    memset(&rep, 0, sizeof rep);
    if (!push && !fetch_eager(ctx))
        return EXIT_OK;
    char *dir = cli_home_path(ctx, "attachments");
    if (!dir) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    enum ntm_err rc =
        push
            ? ntm_attach_push(ctx->store, ctx->key, co, dir, &rep, &err)
            : ntm_attach_fetch(ctx->store, ctx->key, co, dir, NULL, &rep, &err);
    ntm_free(dir);
    if (out)
        json_object_set_new(out, "attachments", report_json(&rep));
    if (rc != NTM_OK)
        return cli_fail(&err, push ? _("the attachments were not all sent "
                                       "(run push again: it goes on where "
                                       "it stopped)")
                                   : _("the attachments were not all "
                                       "fetched (run pull again: it goes on "
                                       "where it stopped)"));
    if (rep.files && !out)
        cli_note(ctx,
                 push ? _("attachments: %lld sent whole (%lld bytes, %lld "
                          "requests), %lld refused by the server")
                      : _("attachments: %lld fetched whole (%lld bytes, %lld "
                          "requests), %lld not on the server"),
                 (long long)rep.done, (long long)rep.bytes,
                 (long long)rep.requests, (long long)rep.refused);
    if (rep.failed)
        cli_warn(ctx,
                 _("%lld attachments of this home are damaged and were not "
                   "sent: run 'ntm verify'"),
                 (long long)rep.failed);
    return EXIT_OK;
}

int
cli_attach_fetch(struct cli_ctx *ctx, const char *hash)
{
    int code = cli_need_key(ctx);
    if (code != EXIT_OK)
        return code;
    struct ntm_client_opts co;
    memset(&co, 0, sizeof co);
    co.lang = ctx->lang;
    struct ntm_attach_report rep;
    struct ntm_error err = {0};
    char *dir = cli_home_path(ctx, "attachments");
    if (!dir) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    enum ntm_err rc =
        ntm_attach_fetch(ctx->store, ctx->key, &co, dir, hash, &rep, &err);
    ntm_free(dir);
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot fetch the attachment from the server"));
    if (rep.done == 0) {
        cli_error(_("attachment %.16s... is not in this home: ask for a "
                    "bundle that carries it"),
                  hash);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
