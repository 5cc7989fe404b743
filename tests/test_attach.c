/* SPDX-License-Identifier: MIT */
/*
 * test_attach.c - attachments (docs/contract.md, attachments): the bytes
 * stored by hash (written whole or not at all, checked when read, a
 * resumable receive that refuses a swapped byte), and the record.attach
 * entry: who may write it (scope and organization of the record, as an
 * edit: the attacks are hand-made entries), its body's rules, the
 * attachments a record has in any arrival order, and the audit of a
 * folder of bytes.
 */
#include "store_helpers.h"

#include "ntm_bundle.h"
#include "ntm_server.h"
#include "ntm_sync.h"

#include <sys/stat.h>
#include <turbojpeg.h>

#define COMMUNE  "72.710.25657" /* Xã Thạnh Đức, Gò Dầu */
#define COMMUNE2 "72.710.25660"

static struct ntm_key *root, *rec1, *rec2, *rec3;
static char root_hex[65], rec1_hex[65], rec2_hex[65], rec3_hex[65];

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    root = th_key();
    rec1 = th_key();
    rec2 = th_key();
    rec3 = th_key();
    th_author(root, root_hex);
    th_author(rec1, rec1_hex);
    th_author(rec2, rec2_hex);
    th_author(rec3, rec3_hex);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(root);
    ntm_key_free(rec1);
    ntm_key_free(rec2);
    ntm_key_free(rec3);
    th_rmdir();
    return 0;
}

/* rec1: recorder of COMMUNE for doan; rec2: of COMMUNE2 for doan; rec3:
 * of COMMUNE for hnd. */
static struct ntm_store *
enrolled_store(void)
{
    struct ntm_store *st = th_store(root, 0);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec2_hex, "recorder", COMMUNE2,
                                       "other", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec3_hex, "recorder", COMMUNE,
                                       "hnd", "hnd", 1, &w, &err),
                     NTM_OK);
    return st;
}

static void
new_record(struct ntm_store *st, char id[NTM_RECORD_ID_LEN + 1])
{
    json_t *f = json_pack("{s:s, s:s, s:s}", "task", "doan.rural_roads_km",
                          "date", "2017-03-05", "title", "đường");
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       id, &w, &err),
                     NTM_OK);
    json_decref(f);
}

/* A new folder name for attachment bytes (not made yet). */
static const char *
blob_dir(char d[400])
{
    th_tmpdir();
    snprintf(d, 400, "%s/att%d", th_dir, th_serial++);
    return d;
}

static const char jpeg[] = "\xff\xd8\xff\xe0 a photo of the road";

/* ------------------------------------------------------------------ */
/* The bytes */

static void
test_blob_put_check_copy(void **state)
{
    (void)state;
    char dir_buf[400];
    const char *dir = blob_dir(dir_buf);
    char hash[65], want[65];
    struct ntm_error err;
    assert_int_equal(ntm_blob_put_mem(dir, jpeg, sizeof(jpeg), hash, &err),
                     NTM_OK);
    ntm_hash_hex(want, jpeg, sizeof(jpeg));
    assert_string_equal(hash, want);
    int64_t size = 0;
    assert_int_equal(ntm_blob_check(dir, hash, &size, &err), NTM_OK);
    assert_int_equal(size, sizeof(jpeg));
    char out[500];
    snprintf(out, sizeof(out), "%s/out.jpg", dir);
    assert_int_equal(ntm_blob_copy_out(dir, hash, out, &err), NTM_OK);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_size, sizeof(jpeg));
    assert_string_equal(ntm_attach_sniff(jpeg, sizeof(jpeg)), "image/jpeg");
    assert_null(ntm_attach_sniff("<html>", 6));

    /* One byte swapped on disk: check and copy refuse, nothing written. */
    char path[500];
    snprintf(path, sizeof(path), "%s/%s", dir, hash);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 5, SEEK_SET);
    fputc('X', f);
    fclose(f);
    assert_int_equal(ntm_blob_check(dir, hash, NULL, &err), NTM_ECORRUPT);
    unlink(out);
    assert_int_equal(ntm_blob_copy_out(dir, hash, out, &err), NTM_ECORRUPT);
    assert_int_not_equal(stat(out, &sb), 0);
    char other[65];
    memset(other, 'a', 64);
    other[64] = '\0';
    assert_int_equal(ntm_blob_check(dir, other, NULL, &err), NTM_ENOENT);
    assert_int_equal(ntm_blob_check(dir, "../etc/passwd", NULL, &err),
                     NTM_EINVAL);
}

static void
test_blob_put_file_limit(void **state)
{
    (void)state;
    char dir_buf[400];
    const char *dir = blob_dir(dir_buf);
    char src[500], hash[65];
    snprintf(src, sizeof(src), "%s.src", dir);
    FILE *f = fopen(src, "wb");
    assert_non_null(f);
    for (int i = 0; i < 200000; i++)
        fputc(i & 0xff, f);
    fclose(f);
    struct ntm_error err;
    int64_t size = 0;
    assert_int_equal(ntm_blob_put_file(dir, src, 100000, hash, &size, &err),
                     NTM_ETOOLARGE);
    assert_int_equal(ntm_blob_put_file(dir, src, 0, hash, &size, &err), NTM_OK);
    assert_int_equal(size, 200000);
    assert_int_equal(ntm_blob_check(dir, hash, NULL, &err), NTM_OK);
}

/* An upload cut anywhere resumes where the bytes held end; a chunk at the
 * wrong offset is refused; a swapped byte is found at the end and the
 * bytes are discarded. */
static void
test_blob_append_resumes(void **state)
{
    (void)state;
    char dir_buf[400];
    const char *dir = blob_dir(dir_buf);
    size_t n = 300000;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7);
    char hash[65];
    ntm_hash_hex(hash, data, n);
    struct ntm_error err;
    int complete = 0;
    int64_t held, sz = (int64_t)n;
    assert_int_equal(
        ntm_blob_append(dir, hash, &sz, 1, 0, data, 65536, &complete, &err),
        NTM_OK);
    assert_false(complete);
    assert_int_equal(ntm_blob_held(dir, hash, &held, &complete, &err), NTM_OK);
    assert_int_equal(held, 65536);
    /* A chunk sent again (its answer was lost) is refused with the offset
     * to go on from. */
    assert_int_equal(
        ntm_blob_append(dir, hash, &sz, 1, 0, data, 65536, &complete, &err),
        NTM_ECONFLICT);
    assert_int_equal(ntm_blob_append(dir, hash, &sz, 1, 65536, data + 65536,
                                     n - 65536 + 1, &complete, &err),
                     NTM_ETOOLARGE);
    assert_int_equal(ntm_blob_append(dir, hash, &sz, 1, 65536, data + 65536,
                                     n - 65536, &complete, &err),
                     NTM_OK);
    assert_true(complete);
    assert_int_equal(ntm_blob_check(dir, hash, NULL, &err), NTM_OK);
    /* Idempotent once complete. */
    assert_int_equal(
        ntm_blob_append(dir, hash, &sz, 1, 0, data, 10, &complete, &err),
        NTM_OK);
    assert_true(complete);

    /* The same bytes with one swapped, into another folder. */
    char dir2_buf[400];
    const char *dir2 = blob_dir(dir2_buf);
    data[100000] ^= 1;
    assert_int_equal(
        ntm_blob_append(dir2, hash, &sz, 1, 0, data, 150000, &complete, &err),
        NTM_OK);
    assert_int_equal(ntm_blob_append(dir2, hash, &sz, 1, 150000, data + 150000,
                                     n - 150000, &complete, &err),
                     NTM_ECORRUPT);
    assert_false(complete);
    assert_int_equal(ntm_blob_held(dir2, hash, &held, &complete, &err), NTM_OK);
    assert_int_equal(held, 0);
    free(data);
}

/* ------------------------------------------------------------------ */
/* The entry */

static void
test_attach_listed_and_verified(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char id[NTM_RECORD_ID_LEN + 1], hash[65];
    new_record(st, id);
    char dir_buf[400];
    const char *dir = blob_dir(dir_buf);
    struct ntm_error err;
    assert_int_equal(ntm_blob_put_mem(dir, jpeg, sizeof(jpeg), hash, &err),
                     NTM_OK);
    struct ntm_write_result w;
    assert_int_equal(ntm_record_attach(st, rec1, id, hash, sizeof(jpeg),
                                       "image/jpeg", "đường.jpg", "sau khi", &w,
                                       &err),
                     NTM_OK);
    assert_int_equal(th_effect(st, w.id), NTM_OK);
    json_t *list = NULL;
    assert_int_equal(ntm_store_attachments(st, id, &list, &err), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_t *a = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(a, "hash")), hash);
    assert_string_equal(json_string_value(json_object_get(a, "caption")),
                        "sau khi");
    assert_string_equal(json_string_value(json_object_get(a, "entry")), w.id);
    json_decref(list);
    /* The record's fields and heads are not touched by it. */
    json_t *rec = th_record(st, id);
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 1);
    json_decref(rec);

    /* rattach is derived state: verify compares it with a rebuild. */
    json_t *v = NULL;
    assert_int_equal(ntm_store_verify(st, &v, &err), NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(v, "derived_total")),
                     0);
    json_decref(v);

    /* The audit of the folder: sound, then one missing, then one bad. */
    json_t *r = NULL;
    assert_int_equal(ntm_attach_verify(st, dir, &r, &err), NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "ok")), 1);
    assert_int_equal(json_array_size(json_object_get(r, "missing")), 0);
    json_decref(r);
    char empty_buf[400];
    const char *empty = blob_dir(empty_buf);
    assert_int_equal(ntm_attach_verify(st, empty, &r, &err), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(r, "missing")), 1);
    json_decref(r);
    char path[500];
    snprintf(path, sizeof(path), "%s/%s", dir, hash);
    FILE *f = fopen(path, "r+b");
    fputc('Z', f);
    fclose(f);
    assert_int_equal(ntm_attach_verify(st, dir, &r, &err), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(r, "bad")), 1);
    json_decref(r);
    ntm_store_close(st);
}

/* The attacks: a device outside the record's scope, or of another
 * organization, is refused before signing, and its hand-made entry is
 * kept without effect (forbidden) and lists nothing. */
static void
test_attach_outside_scope_or_org_forbidden(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char id[NTM_RECORD_ID_LEN + 1], hash[65];
    new_record(st, id);
    ntm_hash_hex(hash, jpeg, sizeof(jpeg));
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_record_attach(st, rec2, id, hash, sizeof(jpeg),
                                       "image/jpeg", "x.jpg", NULL, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_record_attach(st, rec3, id, hash, sizeof(jpeg),
                                       "image/jpeg", "x.jpg", NULL, &w, &err),
                     NTM_EFORBIDDEN);
    const struct ntm_key *who[] = {rec2, rec3};
    for (int i = 0; i < 2; i++) {
        struct th_chain c;
        th_chain_at(&c, st, who[i]);
        char eid[65];
        json_t *b = json_pack("{s:s, s:s, s:i, s:s, s:s}", "id", id, "hash",
                              hash, "size", (int)sizeof(jpeg), "type",
                              "image/jpeg", "name", "swap.jpg");
        assert_int_equal(
            th_next(st, &c, 1500000000000, "record.attach", b, NULL, eid),
            NTM_OK);
        assert_int_equal(th_effect(st, eid), NTM_EFORBIDDEN);
    }
    json_t *list = NULL;
    assert_int_equal(ntm_store_attachments(st, id, &list, &err), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    ntm_store_close(st);
}

static void
test_attach_body_rules(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char id[NTM_RECORD_ID_LEN + 1], hash[65];
    new_record(st, id);
    ntm_hash_hex(hash, jpeg, sizeof(jpeg));
    struct {
        const char *hash;
        json_int_t size;
        const char *type, *name;
    } bad[] = {
        {"ABCDEF", 10, "image/jpeg", "a.jpg"},
        {hash, 0, "image/jpeg", "a.jpg"},
        {hash, NTM_ATTACH_MAX_BYTES + 1, "image/jpeg", "a.jpg"},
        {hash, 10, "text/html", "a.html"},
        {hash, 10, "image/jpeg", "../../a.jpg"},
        {hash, 10, "image/jpeg", ""},
        {hash, 10, "image/jpeg", "a\nb.jpg"},
    };
    struct th_chain c;
    th_chain_at(&c, st, rec1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char eid[65];
        json_t *b = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "hash",
                              bad[i].hash, "size", bad[i].size, "type",
                              bad[i].type, "name", bad[i].name);
        assert_int_equal(th_next(st, &c, 1500000000000 + (int64_t)i,
                                 "record.attach", b, NULL, eid),
                         NTM_OK);
        if (th_effect(st, eid) != NTM_EBADBODY)
            fail_msg("bad body %zu took effect", i);
    }
    /* A caption too long. */
    char cap[NTM_ATTACH_MAX_CAPTION + 2];
    memset(cap, 'x', sizeof(cap) - 1);
    cap[sizeof(cap) - 1] = '\0';
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_record_attach(st, rec1, id, hash, sizeof(jpeg),
                                       "image/jpeg", "a.jpg", cap, &w, &err),
                     NTM_EBADBODY);
    ntm_store_close(st);
}

/* An attachment travels with the log: another replica lists it, finds
 * it by hash with the record's unit, and computes the same state. */
static void
test_attach_travels_and_converges(void **state)
{
    (void)state;
    struct ntm_store *a = enrolled_store();
    char id[NTM_RECORD_ID_LEN + 1], hash[65];
    new_record(a, id);
    ntm_hash_hex(hash, jpeg, sizeof(jpeg));
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_record_attach(a, rec1, id, hash, sizeof(jpeg),
                                       "image/jpeg", "a.jpg", NULL, &w, &err),
                     NTM_OK);
    struct ntm_store *b = th_store(root, 0);
    th_exchange(a, b);
    char *da = th_dump(a), *db = th_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    json_t *list = NULL;
    assert_int_equal(ntm_store_attachments(b, id, &list, &err), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    json_t *refs = NULL;
    assert_int_equal(ntm_store_attachment_refs(b, hash, &refs, &err), NTM_OK);
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(refs, 0), "unit")),
        COMMUNE);
    json_decref(refs);
    ntm_store_close(a);
    ntm_store_close(b);
}

/* ------------------------------------------------------------------ */
/* Size claims: entries may disagree about a hash's size */

static void
quiet_log(void *ud, const char *line)
{
    (void)ud;
    (void)line;
}

/* A device in scope signs a second record.attach naming the same hash
 * with a wrong size (smaller for one photo, larger for another), after
 * the true one. The true bytes still go up, come down to an eager home,
 * and travel in a bundle: nobody's claim wins by arriving last. */
static void
test_attach_wrong_size_claim_does_not_block(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char id[NTM_RECORD_ID_LEN + 1], h1[65], h2[65];
    new_record(st, id);
    size_t n = 200000;
    unsigned char *d1 = malloc(n), *d2 = malloc(n);
    for (size_t i = 0; i < n; i++) {
        d1[i] = (unsigned char)(i * 13);
        d2[i] = (unsigned char)(i * 17 + 1);
    }
    d1[0] = d2[0] = 0xff;
    d1[1] = d2[1] = 0xd8;
    d1[2] = d2[2] = 0xff;
    ntm_hash_hex(h1, d1, n);
    ntm_hash_hex(h2, d2, n);
    struct ntm_write_result w;
    struct ntm_error err;
    char home_buf[400], srv_buf[400], eager_buf[400], imp_buf[400];
    const char *home = blob_dir(home_buf), *srvdir = blob_dir(srv_buf);
    const char *eager = blob_dir(eager_buf), *imp = blob_dir(imp_buf);
    char h[65];
    assert_int_equal(ntm_blob_put_mem(home, d1, n, h, &err), NTM_OK);
    assert_int_equal(ntm_blob_put_mem(home, d2, n, h, &err), NTM_OK);
    assert_int_equal(ntm_record_attach(st, rec1, id, h1, (int64_t)n,
                                       "image/jpeg", "a.jpg", NULL, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_record_attach(st, rec1, id, h2, (int64_t)n,
                                       "image/jpeg", "b.jpg", NULL, &w, &err),
                     NTM_OK);
    /* The wrong claims, last. */
    assert_int_equal(ntm_record_attach(st, rec1, id, h1, (int64_t)n - 1000,
                                       "image/jpeg", "a.jpg", NULL, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_record_attach(st, rec1, id, h2, (int64_t)n + 1000,
                                       "image/jpeg", "b.jpg", NULL, &w, &err),
                     NTM_OK);

    char sdb[450];
    snprintf(sdb, sizeof sdb, "%s/server%d.db", th_dir, th_serial++);
    struct ntm_server_opts so;
    memset(&so, 0, sizeof so);
    so.db_path = sdb;
    so.listen = "127.0.0.1:0";
    so.root_key = root_hex;
    so.log = quiet_log;
    so.attach_dir = srvdir;
    struct ntm_server *srv = NULL;
    assert_int_equal(ntm_server_start(&srv, &so, &err), NTM_OK);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntm_server_port(srv));
    struct ntm_client_opts co;
    memset(&co, 0, sizeof co);
    co.url = url;
    co.max_attempts = 1;
    char fp[40], got_root[NTM_HEX_ID_LEN + 1];
    assert_int_equal(ntm_client_setup(st, &co, got_root, fp, &err), NTM_OK);
    struct ntm_push_result pr;
    assert_int_equal(ntm_client_push(st, root, NULL, &pr, &err), NTM_OK);
    assert_int_equal(json_array_size(pr.rejected), 0);
    ntm_push_result_release(&pr);

    struct ntm_attach_report rep;
    assert_int_equal(ntm_attach_push(st, rec1, NULL, home, &rep, &err), NTM_OK);
    assert_int_equal(rep.done, 2);
    assert_int_equal(ntm_blob_check(srvdir, h1, NULL, &err), NTM_OK);
    assert_int_equal(ntm_blob_check(srvdir, h2, NULL, &err), NTM_OK);

    /* Down to an eager home: whole, whatever the claims. */
    assert_int_equal(ntm_attach_fetch(st, root, NULL, eager, NULL, &rep, &err),
                     NTM_OK);
    assert_int_equal(rep.done, 2);
    assert_int_equal(ntm_blob_check(eager, h1, NULL, &err), NTM_OK);
    assert_int_equal(ntm_blob_check(eager, h2, NULL, &err), NTM_OK);
    ntm_server_stop(srv);

    /* In a bundle: carried and taken. */
    char bpath[450];
    snprintf(bpath, sizeof bpath, "%s/claims%d.ntmb", th_dir, th_serial++);
    struct ntm_bundle_export_result er;
    memset(&er, 0, sizeof er);
    assert_int_equal(ntm_bundle_export_attach(st, root, NULL, bpath, NULL, home,
                                              NULL, NULL, &er, &err),
                     NTM_OK);
    assert_int_equal(er.attachments, 2);
    struct ntm_store *b = th_store(root, 0);
    struct ntm_bundle_import_result ir;
    memset(&ir, 0, sizeof ir);
    assert_int_equal(
        ntm_bundle_import_attach(b, bpath, imp, NULL, NULL, &ir, &err), NTM_OK);
    assert_int_equal(ir.attachments, 2);
    assert_int_equal(ntm_blob_check(imp, h1, NULL, &err), NTM_OK);
    assert_int_equal(ntm_blob_check(imp, h2, NULL, &err), NTM_OK);
    ntm_bundle_import_result_release(&ir);
    ntm_store_close(b);
    ntm_store_close(st);
    free(d1);
    free(d2);
}

/* ------------------------------------------------------------------ */
/* Photos for weak links */

/* new (tjFree): a w x h JPEG with an EXIF block naming a GPS position
 * spliced in after its SOI marker. */
static unsigned char *
jpeg_with_exif(int w, int h, unsigned long *len)
{
    unsigned char *rgb = malloc((size_t)w * h * 3), *j = NULL;
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (unsigned char)(i % 251);
    tjhandle c = tjInitCompress();
    unsigned long n = 0;
    assert_int_equal(
        tjCompress2(c, rgb, w, 0, h, TJPF_RGB, &j, &n, TJSAMP_420, 90, 0), 0);
    tjDestroy(c);
    free(rgb);
    static const char exif[] = "Exif\0\0GPSLatitude 11.3N GPSLongitude "
                               "106.1E Model PhoneX";
    size_t elen = sizeof(exif) - 1 + 2;
    unsigned char *out = tjAlloc((int)(n + elen + 2));
    out[0] = 0xff, out[1] = 0xd8, out[2] = 0xff, out[3] = 0xe1;
    out[4] = (unsigned char)(elen >> 8), out[5] = (unsigned char)elen;
    memcpy(out + 6, exif, sizeof(exif) - 1);
    memcpy(out + 6 + sizeof(exif) - 1, j + 2, n - 2);
    *len = n + elen + 2;
    tjFree(j);
    return out;
}

static int
has_text(const unsigned char *b, size_t n, const char *t)
{
    size_t k = strlen(t);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(b + i, t, k))
            return 1;
    return 0;
}

static void
test_photo_scaled_and_stripped(void **state)
{
    (void)state;
    unsigned long n;
    unsigned char *big = jpeg_with_exif(3000, 2000, &n);
    assert_true(has_text(big, n, "GPSLatitude"));
    unsigned char *out = NULL;
    size_t olen = 0;
    struct ntm_photo_info info;
    struct ntm_error err;
    assert_int_equal(
        ntm_photo_prepare(big, n, 1600, 80, &out, &olen, &info, &err), NTM_OK);
    assert_int_equal(info.width, 3000);
    assert_true(info.reencoded);
    assert_true(info.out_width <= 1600 && info.out_width >= 1200);
    assert_int_equal(info.out_height * 3, info.out_width * 2);
    assert_false(has_text(out, olen, "GPS"));
    assert_false(has_text(out, olen, "Exif"));
    assert_true(olen < n);
    tjhandle d = tjInitDecompress();
    int w, h, ss, cs;
    assert_int_equal(tjDecompressHeader3(d, out, olen, &w, &h, &ss, &cs), 0);
    assert_int_equal(w, info.out_width);
    tjDestroy(d);
    ntm_free(out);
    tjFree(big);

    /* Small enough: the same pixels, losslessly, without the EXIF. */
    unsigned char *small = jpeg_with_exif(800, 600, &n);
    assert_int_equal(
        ntm_photo_prepare(small, n, 1600, 80, &out, &olen, &info, &err),
        NTM_OK);
    assert_false(info.reencoded);
    assert_int_equal(info.out_width, 800);
    assert_false(has_text(out, olen, "GPS"));
    assert_true(olen < n);
    ntm_free(out);
    tjFree(small);

    /* JPEG magic, then nothing a decoder can read. */
    static const unsigned char junk[] = "\xff\xd8\xff\xe0 not a photo";
    assert_int_equal(ntm_photo_prepare(junk, sizeof(junk), 1600, 80, &out,
                                       &olen, &info, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "--keep-metadata"));
}

/* new (tjFree): a w x h JPEG, its top half red and its bottom half blue,
 * with an EXIF block whose TIFF IFD0 carries the orientation tag (0x0112)
 * as a camera held sideways writes it. */
static unsigned char *
jpeg_oriented(int w, int h, int orientation, unsigned long *len)
{
    unsigned char *rgb = malloc((size_t)w * h * 3), *j = NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = y < h / 2 ? 220 : 20;
            p[1] = 20;
            p[2] = y < h / 2 ? 20 : 220;
        }
    tjhandle c = tjInitCompress();
    unsigned long n = 0;
    assert_int_equal(
        tjCompress2(c, rgb, w, 0, h, TJPF_RGB, &j, &n, TJSAMP_420, 90, 0), 0);
    tjDestroy(c);
    free(rgb);
    /* "Exif\0\0", TIFF big-endian header, IFD0 with one entry. */
    static const unsigned char exif_head[] = {
        'E', 'x', 'i', 'f', 0,    0,    'M', 'M', 0, 42, 0, 0,
        0,   8,   0,   1,   0x01, 0x12, 0,   3,   0, 0,  0, 1};
    unsigned char exif[sizeof(exif_head) + 8];
    memcpy(exif, exif_head, sizeof(exif_head));
    memset(exif + sizeof(exif_head), 0, 8);
    exif[sizeof(exif_head)] = 0;
    exif[sizeof(exif_head) + 1] = (unsigned char)orientation;
    size_t elen = sizeof(exif) + 2;
    unsigned char *out = tjAlloc((int)(n + elen + 2));
    out[0] = 0xff, out[1] = 0xd8, out[2] = 0xff, out[3] = 0xe1;
    out[4] = (unsigned char)(elen >> 8), out[5] = (unsigned char)elen;
    memcpy(out + 6, exif, sizeof(exif));
    memcpy(out + 6 + sizeof(exif), j + 2, n - 2);
    *len = n + elen + 2;
    tjFree(j);
    return out;
}

/* The colour at (x, y) of a JPEG: 'r', 'b' or '?'. */
static char
colour_at(const unsigned char *jpg, size_t n, int x, int y, int *w, int *h)
{
    tjhandle d = tjInitDecompress();
    int ss, cs;
    assert_int_equal(tjDecompressHeader3(d, jpg, n, w, h, &ss, &cs), 0);
    unsigned char *rgb = malloc((size_t)*w * *h * 3);
    assert_int_equal(tjDecompress2(d, jpg, n, rgb, *w, 0, *h, TJPF_RGB, 0), 0);
    tjDestroy(d);
    const unsigned char *p = rgb + ((size_t)y * *w + x) * 3;
    char c = p[0] > 150 && p[2] < 100   ? 'r'
             : p[2] > 150 && p[0] < 100 ? 'b'
                                        : '?';
    free(rgb);
    return c;
}

/* A photo taken sideways (EXIF orientation 6: turn 90 degrees clockwise
 * to show) is stored turned, both when it is scaled down and when it is
 * rewritten losslessly: what was its top (red) is now its right side. */
static void
test_photo_orientation_applied(void **state)
{
    (void)state;
    const int sizes[][2] = {{3200, 2400}, {800, 640}};
    for (int k = 0; k < 2; k++) {
        unsigned long n;
        unsigned char *in = jpeg_oriented(sizes[k][0], sizes[k][1], 6, &n);
        unsigned char *out = NULL;
        size_t olen = 0;
        struct ntm_photo_info info;
        struct ntm_error err;
        assert_int_equal(
            ntm_photo_prepare(in, n, 1600, 80, &out, &olen, &info, &err),
            NTM_OK);
        assert_int_equal(info.reencoded, k == 0);
        int w, h;
        assert_int_equal(colour_at(out, olen, 8, 8, &w, &h), 'b');
        assert_true(h > w); /* portrait now */
        assert_int_equal(info.out_width, w);
        assert_int_equal(info.out_height, h);
        assert_int_equal(colour_at(out, olen, w - 8, 8, &w, &h), 'r');
        assert_int_equal(colour_at(out, olen, w - 8, h - 8, &w, &h), 'r');
        assert_int_equal(colour_at(out, olen, 8, h - 8, &w, &h), 'b');
        ntm_free(out);
        tjFree(in);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_put_check_copy),
        cmocka_unit_test(test_blob_put_file_limit),
        cmocka_unit_test(test_blob_append_resumes),
        cmocka_unit_test(test_attach_listed_and_verified),
        cmocka_unit_test(test_attach_outside_scope_or_org_forbidden),
        cmocka_unit_test(test_attach_body_rules),
        cmocka_unit_test(test_attach_travels_and_converges),
        cmocka_unit_test(test_attach_wrong_size_claim_does_not_block),
        cmocka_unit_test(test_photo_scaled_and_stripped),
        cmocka_unit_test(test_photo_orientation_applied),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
