/* SPDX-License-Identifier: MIT */
/*
 * test_search.c - word search over records (ntm_record_filter.text, the
 * FTS5 index of store/search.c and state.c): every word in any order, the
 * last as a prefix, case and diacritics (d-stroke too) ignored, over
 * titles, notes and unit names; what must not match; query syntax typed
 * by a user never an error; paging; the index following edits and
 * deletes, rebuilt by migration, compared by verify; and a device's own
 * records waiting for its enrollment (ntm_store_records_waiting).
 */
#include "store_helpers.h"
#include "store_int.h"

#include <sqlite3.h>

#define COMMUNE "72.710.25657" /* Xã Thạnh Đức, Gò Dầu */
#define HAMLET  COMMUNE ".3"

static struct ntm_key *root, *rec1;
static char root_hex[65], rec1_hex[65];

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    root = th_key();
    rec1 = th_key();
    th_author(root, root_hex);
    th_author(rec1, rec1_hex);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(root);
    ntm_key_free(rec1);
    th_rmdir();
    return 0;
}

static json_t *
fields(const char *title, const char *note)
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                          "doan.rural_roads_km", "date", "2017-03-05", "qty",
                          "2.4", "uom", "km", "title", title);
    if (note)
        json_object_set_new(f, "note", json_string(note));
    return f;
}

/* A replica (opened with flags) where root enrolled rec1 (recorder of
 * COMMUNE) and created the hamlet Ấp Bến Đình. */
static struct ntm_store *
search_store_flags(unsigned flags)
{
    struct ntm_store *st = th_store(root, flags);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Xã Thạnh Đức", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(
        ntm_unit_create(st, root, HAMLET, "Ấp Bến Đình", "hamlet", &w, &err),
        NTM_OK);
    return st;
}

static struct ntm_store *
search_store(void)
{
    return search_store_flags(0);
}

static void
create(struct ntm_store *st, const struct ntm_key *k, const char *unit,
       const char *title, const char *note, char rid[33])
{
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = fields(title, note);
    if (ntm_record_create(st, k, "activity", unit, "doan", f, rid, &w, &err) !=
        NTM_OK)
        fail_msg("create: %s", ntm_error_text(&err));
    json_decref(f);
}

/* The ids found for text (with names and paging), in order, as
 * "id,id,..." of their first 6 characters (new, free()). */
static char *
found(struct ntm_store *st, const char *text, const struct ntm_unit_name *names,
      size_t offset, size_t limit, int deleted)
{
    struct ntm_record_filter f = {0};
    f.text = text;
    f.text_names = names;
    f.offset = offset;
    f.limit = limit;
    f.include_deleted = deleted;
    json_t *list = NULL;
    struct ntm_error err;
    if (ntm_store_records(st, &f, &list, &err) != NTM_OK)
        fail_msg("search '%s': %s", text, ntm_error_text(&err));
    char buf[512] = "";
    size_t i;
    json_t *r;
    json_array_foreach (list, i, r) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof(buf) - n, "%s%.6s", i ? "," : "",
                 json_string_value(json_object_get(r, "id")));
    }
    json_decref(list);
    return strdup(buf);
}

static void
expect_found(struct ntm_store *st, const char *text, const char *want)
{
    char *got = found(st, text, NULL, 0, 0, 0);
    if (strcmp(got, want) != 0)
        fail_msg("search '%s': found [%s], want [%s]", text, got, want);
    free(got);
}

/* The verify report must show no difference in the derived state. */
static void
verify_no_diffs(struct ntm_store *st)
{
    json_t *rep = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_verify(st, &rep, &err), NTM_OK);
    if (json_integer_value(json_object_get(rep, "derived_total")) != 0) {
        char *s = json_dumps(json_object_get(rep, "derived"), JSON_COMPACT);
        fail_msg("verify lists differences: %.600s", s);
    }
    json_decref(rep);
}

static void
test_words_in_any_order(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char a[33], b[33], c[33], want[8];
    create(st, rec1, COMMUNE, "Sửa chữa đường đất ấp Bến Đình", NULL, a);
    create(st, rec1, COMMUNE, "Sửa cầu khỉ", "Gỗ tạp, 12 mét", b);
    snprintf(want, sizeof(want), "%.6s", a);

    static const char *const hit[] = {
        "sua duong ben dinh",
        "dinh ben",
        "ap ben dinh sua chua",
        "ben d",          /* the last word as a prefix */
        "SUA CHUA",       /* case */
        "sửa chữa",       /* diacritics */
        "SỬA CHỮA ĐƯỜNG", /* both, and d-stroke */
        "Su\xcc\x9b\xcc\x89"
        "a ch\xc6\xb0\xcc\x83"
        "a",              /* NFD typing */
        "  ben,,dinh!! ", /* punctuation only separates */
    };
    for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
        expect_found(st, hit[i], want);

    /* every word must match: no "cầu" in a's title, no "duong" in b's */
    snprintf(want, sizeof(want), "%.6s", b);
    expect_found(st, "sua cau", want);
    expect_found(st, "cau duong", "");
    /* a word is a whole word unless it is the last one */
    expect_found(st, "din ben", "");
    expect_found(st, "du ben dinh", "");
    expect_found(st, "ha noi", "");
    /* the note is searched */
    expect_found(st, "go tap 12", want);
    /* the record's unit's name: the hamlet's records, though no word of
     * it is in their text */
    create(st, rec1, HAMLET, "Họp dân", NULL, c);
    snprintf(want, sizeof(want), "%.6s", c);
    expect_found(st, "hop dan ben dinh", want);
    json_t *list = NULL;
    struct ntm_record_filter f = {0};
    f.text = "ben dinh";
    assert_int_equal(ntm_store_records(st, &f, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    ntm_store_close(st);
}

/* What users type that is query syntax to FTS5 is never an error and
 * never changes the meaning: the words alone count. A text without a
 * word matches nothing. */
static void
test_syntax_typed_is_words(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char a[33], want[8];
    create(st, rec1, COMMUNE, "Sửa chữa đường đất ấp Bến Đình", NULL, a);
    snprintf(want, sizeof(want), "%.6s", a);
    static const char *const same[] = {
        "\"ben dinh\"", "ben* dinh", "sua -chua",  "dat:sua",
        "(ben) dinh",   "ben^dinh",  "{dat}: ben", "sua + duong",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        expect_found(st, same[i], want);
    static const char *const none[] = {
        "ben OR cau", /* "or" is a word, not in the text */
        "title:sua",  /* "title" too */
        "NEAR(ben cau)",
        "sua NOT duong",
        "ben AND zzz",
        "\"",
        "*",
        "-",
        ":",
        "()",
        "\"*-:()^{}+",
        "",
        "   ",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        expect_found(st, none[i], "");
    struct ntm_record_filter f = {0};
    f.text = "\xff\xfe";
    json_t *list = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_records(st, &f, &list, &err), NTM_EINVAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
    ntm_store_close(st);
}

/* Names of units known outside the store (the plan's tree): a word in a
 * commune's or district's name matches the records below it. */
static void
test_unit_names_from_the_plan(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char a[33], b[33], want[24];
    create(st, rec1, COMMUNE, "Sửa cầu khỉ", NULL, a);
    create(st, rec1, HAMLET, "Họp dân", NULL, b);
    static const struct ntm_unit_name names[] = {
        {"72.710", "Gò Dầu"},
        {COMMUNE, "Thạnh Đức"},
        {"72.705", "Tân Biên"},
        {NULL, NULL},
    };
    char *got = found(st, "thanh duc cau", names, 0, 0, 0);
    snprintf(want, sizeof(want), "%.6s", a);
    assert_string_equal(got, want);
    free(got);
    got = found(st, "go dau hop", names, 0, 0, 0);
    snprintf(want, sizeof(want), "%.6s", b);
    assert_string_equal(got, want);
    free(got);
    /* both are below Gò Dầu; none below Tân Biên */
    got = found(st, "go dau", names, 0, 0, 0);
    assert_int_equal(strlen(got), 13);
    free(got);
    got = found(st, "tan bien", names, 0, 0, 0);
    assert_string_equal(got, "");
    free(got);
    ntm_store_close(st);
}

/* Ranked by relevance, then date; paging with offset and limit. */
static void
test_ranked_and_paged(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char a[33], b[33], c[33];
    create(st, rec1, COMMUNE, "Đường đất và nhiều chữ khác nữa ở đây", NULL, a);
    create(st, rec1, COMMUNE, "Đường đường đường", NULL, b);
    create(st, rec1, COMMUNE, "Cầu", NULL, c);
    char *all = found(st, "duong", NULL, 0, 0, 0);
    char want[32];
    snprintf(want, sizeof(want), "%.6s,%.6s", b, a);
    assert_string_equal(all, want);
    char *p1 = found(st, "duong", NULL, 0, 1, 0);
    char *p2 = found(st, "duong", NULL, 1, 1, 0);
    char *p3 = found(st, "duong", NULL, 2, 1, 0);
    snprintf(want, sizeof(want), "%.6s", b);
    assert_string_equal(p1, want);
    snprintf(want, sizeof(want), "%.6s", a);
    assert_string_equal(p2, want);
    assert_string_equal(p3, "");
    free(all);
    free(p1);
    free(p2);
    free(p3);
    ntm_store_close(st);
}

/* Records of the same rank are ordered by date, newest first, over all of
 * them: 300 records of one title, the newest created first, the next
 * newest last. A page of 2 (and the second page of 1) must show them,
 * wherever the index lists them among the others. */
static void
test_ties_ordered_over_all(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char first[33], last[33], id[33], want[16];
    for (int i = 0; i < 300; i++) {
        char date[16];
        snprintf(date, sizeof(date), "2016-%02d-%02d", 1 + i % 12, 1 + i % 28);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                              "doan.rural_roads_km", "date",
                              i == 0     ? "2020-12-31"
                              : i == 299 ? "2020-12-30"
                                         : date,
                              "qty", "1", "uom", "km", "title", "Họp dân");
        struct ntm_write_result w;
        struct ntm_error err;
        if (ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                              i == 0     ? first
                              : i == 299 ? last
                                         : id,
                              &w, &err) != NTM_OK)
            fail_msg("create: %s", ntm_error_text(&err));
        json_decref(f);
    }
    char *got = found(st, "hop dan", NULL, 0, 2, 0);
    char two[32];
    snprintf(two, sizeof(two), "%.6s,%.6s", first, last);
    assert_string_equal(got, two);
    free(got);
    got = found(st, "hop dan", NULL, 1, 1, 0);
    snprintf(want, sizeof(want), "%.6s", last);
    assert_string_equal(got, want);
    free(got);
    /* and with a filter that every one passes */
    struct ntm_record_filter f = {0};
    f.text = "hop dan";
    f.org = "doan";
    f.limit = 2;
    json_t *list = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_records(st, &f, &list, &err), NTM_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 1), "id")),
        last);
    json_decref(list);
    /* --unit: the unit and below it, not a code that merely starts the
     * same; a filter no match passes finds none */
    static const struct {
        const char *unit, *org;
        size_t n;
    } cases[] = {{"72.710", NULL, 2},  {COMMUNE, NULL, 2},  {"72.71", NULL, 0},
                 {HAMLET, NULL, 0},    {"72.705", NULL, 0}, {NULL, "mttq", 0},
                 {"72.710", "mttq", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f.unit = cases[i].unit;
        f.org = cases[i].org;
        assert_int_equal(ntm_store_records(st, &f, &list, &err), NTM_OK);
        if (json_array_size(list) != cases[i].n)
            fail_msg("unit %s org %s: %zu found", cases[i].unit, cases[i].org,
                     json_array_size(list));
        json_decref(list);
    }
    ntm_store_close(st);
}

/* An edit's new words find the record, its old words no longer do; a
 * deleted record is found only with include_deleted; the index equals a
 * rebuild (verify compares it). */
static void
test_index_follows_edits(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char a[33], want[8];
    struct ntm_write_result w;
    struct ntm_error err;
    create(st, rec1, COMMUNE, "Sửa chữa đường đất ấp Bến Đình", NULL, a);
    snprintf(want, sizeof(want), "%.6s", a);
    expect_found(st, "duong dat", want);
    json_t *set = json_pack("{s:s}", "title", "Nạo vét kênh Tư Hai");
    assert_int_equal(ntm_record_update(st, rec1, a, set, &w, &err), NTM_OK);
    json_decref(set);
    expect_found(st, "kenh tu hai", want);
    expect_found(st, "nao vet", want);
    expect_found(st, "duong dat", "");
    expect_found(st, "ben dinh", "");
    /* a note added later */
    set = json_pack("{s:s}", "note", "Làm xong trước mùa mưa");
    assert_int_equal(ntm_record_update(st, rec1, a, set, &w, &err), NTM_OK);
    json_decref(set);
    expect_found(st, "mua mua kenh", want);
    verify_no_diffs(st);
    assert_int_equal(ntm_record_delete(st, rec1, a, &w, &err), NTM_OK);
    expect_found(st, "kenh", "");
    char *got = found(st, "kenh", NULL, 0, 0, 1);
    assert_string_equal(got, want);
    free(got);
    verify_no_diffs(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    expect_found(st, "nao vet", "");
    got = found(st, "nao vet", NULL, 0, 0, 1);
    assert_string_equal(got, want);
    free(got);
    ntm_store_close(st);
}

static void
exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* A store of the schema before the index is migrated: its records are
 * found by words at once. A damaged index row is what verify lists. */
/* The word index's writes wait for the transaction's end (one FTS5
 * segment per batch, not per entry): a search inside the batch still
 * finds its records, a rollback takes them all back (past a batch of
 * NTM_SEARCH_BATCH written early), an edit inside it replaces the words,
 * and verify finds the index as a rebuild makes it. */
static void
test_index_in_a_batch(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    struct ntm_error err;
    struct ntm_write_result w;
    char a[33], b[33], want[8], title[64];
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    create(st, rec1, HAMLET, "Sửa chữa đường đất", NULL, a);
    snprintf(want, sizeof(want), "%.6s", a);
    expect_found(st, "duong dat", want);
    for (int i = 0; i < 600; i++) {
        snprintf(title, sizeof(title), "Trồng cây xanh số %d", i);
        create(st, rec1, HAMLET, title, NULL, b);
    }
    ntm_store_rollback(st);
    expect_found(st, "duong dat", "");
    expect_found(st, "trong cay xanh", "");
    verify_no_diffs(st);

    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    create(st, rec1, HAMLET, "Nạo vét kênh mương", NULL, b);
    json_t *set = json_pack("{s:s}", "title", "Nạo vét ao cá");
    assert_int_equal(ntm_record_update(st, rec1, b, set, &w, &err), NTM_OK);
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    snprintf(want, sizeof(want), "%.6s", b);
    expect_found(st, "nao vet ao", want);
    expect_found(st, "kenh muong", "");
    verify_no_diffs(st);
    json_decref(set);
    ntm_store_close(st);
}

static void
test_migrated_and_verified(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char path[400], a[33], want[8];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    create(st, rec1, HAMLET, "Sửa chữa đường đất", NULL, a);
    snprintf(want, sizeof(want), "%.6s", a);
    ntm_store_close(st);
    exec_sql(path, "DROP TABLE rsearch; DROP TABLE rdoc; "
                   "ALTER TABLE records DROP COLUMN linear;"
                   "ALTER TABLE records DROP COLUMN head;"
                   "ALTER TABLE records ADD COLUMN create_entry TEXT;"
                   "ALTER TABLE records ADD COLUMN search TEXT NOT NULL "
                   "DEFAULT '';"
                   "PRAGMA user_version=5;");
    struct ntm_error err;
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    expect_found(st, "sua duong ben dinh", want);
    verify_no_diffs(st);
    ntm_store_close(st);

    /* the index says other words than the record's: verify says so */
    exec_sql(path, "UPDATE rsearch SET words='something else'");
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    expect_found(st, "something", want);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, &err), NTM_OK);
    char *s = json_dumps(json_object_get(rep, "derived"), JSON_COMPACT);
    assert_non_null(strstr(s, "\"table\":\"search\""));
    assert_non_null(strstr(s, "something else"));
    free(s);
    json_decref(rep);
    /* and the repair puts the record's words back */
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    expect_found(st, "something", "");
    expect_found(st, "sua duong", want);
    ntm_store_close(st);
}

/* A statement inside a transaction whose statement journal outgrows the
 * part kept in memory (init.c, SQLITE_CONFIG_STMTJRNL_SPILL), in WAL mode
 * as a store is: 20000 rows of a word index deleted at once, as a rebuild
 * or a migration of the index does. With a spill of 1 MiB, SQLite failed
 * it as "database or disk is full" on a disk with room to spare. */
static void
test_large_write_in_a_transaction(void **state)
{
    (void)state;
    char path[400];
    th_tmpdir();
    snprintf(path, sizeof(path), "%s/big%d.db", th_dir, th_serial++);
    exec_sql(path, "PRAGMA journal_mode=WAL;"
                   "CREATE VIRTUAL TABLE t USING fts5(words, units);"
                   "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                   "FROM c WHERE i < 20000) INSERT INTO t(rowid, words, "
                   "units) SELECT i, 'sua chua duong dat ap ' || i, "
                   "'72 710 ' || (i % 97) FROM c;");
    exec_sql(path, "BEGIN; DELETE FROM t WHERE rowid > 10; COMMIT;");
    exec_sql(path, "BEGIN; UPDATE t SET units = '72'; COMMIT;");
}

/* Schema 10: the units column holds each unit's code from the top down
 * as one token ("72 72x710 72x710x25657 72x710x25657x3"). A store of
 * schema 9 (the code's parts, "72 710 25657 3") is migrated in place:
 * its rows hold the new tokens, a unit's name finds the records in and
 * below it, and the index equals a rebuild (verify compares them). */
static void
test_units_migrated(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char path[400], a[33], b[33], want[16];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    create(st, rec1, HAMLET, "Họp dân", NULL, a);
    create(st, rec1, COMMUNE, "Họp chi bộ", NULL, b);
    ntm_store_close(st);
    exec_sql(path, "UPDATE rsearch SET units=replace(units, '.', ' ');"
                   "PRAGMA user_version=9;");
    struct ntm_error err;
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(units, '|') FROM "
                                        "(SELECT units FROM rsearch ORDER BY "
                                        "units)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0),
                        "72 72x710 72x710x25657|72 72x710 72x710x25657 "
                        "72x710x25657x3");
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* the hamlet's name (a unit of the store): its record alone */
    snprintf(want, sizeof(want), "%.6s", a);
    expect_found(st, "ben dinh hop", want);
    /* the commune's name (the plan's): both, the hamlet's below it */
    static const struct ntm_unit_name names[] = {{COMMUNE, "Thạnh Đức"},
                                                 {NULL, NULL}};
    char *got = found(st, "thanh duc hop", names, 0, 0, 0);
    assert_int_equal(strlen(got), 13);
    free(got);
    verify_no_diffs(st);
    ntm_store_close(st);
}

/* The scores (rowid:bm25, in rowid order) of match over table t of db. */
static char *
scores(sqlite3 *db, const char *t, const char *match)
{
    char sql[200], buf[2048] = "";
    sqlite3_stmt *s = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT rowid, bm25(%s, 1.0, 0.0) FROM %s WHERE %s MATCH ?1 "
             "ORDER BY rowid",
             t, t, t);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof(buf) - n, "%lld:%.17g ",
                 (long long)sqlite3_column_int64(s, 0),
                 sqlite3_column_double(s, 1));
    }
    sqlite3_finalize(s);
    return strdup(buf);
}

/* A unit is one token of the units column (schema 10) instead of a
 * phrase of its code's parts: the same records match, with the same bm25
 * scores, so the same order. Records of different lengths in a hamlet,
 * its commune and another district, searched by words and by names. */
static void
test_unit_tokens_rank_as_phrases(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char path[400], id[33];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    create(st, rec1, HAMLET, "Họp dân", NULL, id);
    create(st, rec1, HAMLET, "Họp dân họp tổ họp", "ghi chú dài hơn", id);
    create(st, rec1, COMMUNE, "Họp chi bộ Thạnh Đức", NULL, id);
    create(st, rec1, COMMUNE, "Sửa đường họp", NULL, id);
    create(st, root, "72.705.25489", "Họp dân Tân Biên", NULL, id);
    create(st, root, "72.705", "Họp huyện", "họp họp", id);
    ntm_store_close(st);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* the index as schema 9 held it */
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE VIRTUAL TABLE temp.old USING fts5(words, "
                     "units, tokenize='unicode61 remove_diacritics 2', "
                     "prefix='1 2 3');"
                     "INSERT INTO old(rowid, words, units) SELECT d.doc, "
                     "x.words, r.unit FROM rdoc d JOIN rsearch x ON "
                     "x.rowid=d.doc JOIN records r ON r.id=d.record;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    static const char *const q[][2] = {
        {"words : \"hop\" *", "words : \"hop\" *"},
        {"words : \"hop\" AND (words : \"thanh\" OR units : "
         "\"72x710x25657\") AND (words : \"duc\" * OR units : "
         "\"72x710x25657\")",
         "words : \"hop\" AND (words : \"thanh\" OR units : ^ "
         "\"72 710 25657\") AND (words : \"duc\" * OR units : ^ "
         "\"72 710 25657\")"},
        {"(words : \"tan\" OR units : \"72x705\") AND words : \"hop\" "
         "*",
         "(words : \"tan\" OR units : ^ \"72 705\") AND words : "
         "\"hop\" *"},
        {"(words : \"ben\" OR units : \"72x710x25657x3\") AND words : "
         "\"dan\" *",
         "(words : \"ben\" OR units : ^ \"72 710 25657 3\") AND words "
         ": \"dan\" *"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char *now = scores(db, "rsearch", q[i][0]);
        char *was = scores(db, "old", q[i][1]);
        if (strcmp(now, was) != 0 || !*now)
            fail_msg("query %zu: scores [%s], were [%s]", i, now, was);
        free(now);
        free(was);
    }
    sqlite3_close(db);
}

/* The rank of a search (store/rank.c, ntm_rank) is FTS5's bm25 over the
 * words column (the units column weighing nothing): records of different
 * lengths, word counts and dates, some found through a unit's name, come
 * in the order bm25 gives them, ties by date. */
static void
test_rank_is_bm25(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    char path[400], id[33];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    static const char *const titles[] = {
        "Họp dân",
        "Họp dân họp tổ họp",
        "Họp chi bộ Thạnh Đức về đường",
        "Họp",
        "Thạnh Đức họp dân ở ấp xa, họp lại lần hai",
        "Họp Thạnh Đức",
        "Đức họp Thạnh",
    };
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
        create(st, rec1, i % 2 ? HAMLET : COMMUNE, titles[i],
               i % 3 ? NULL : "ghi chú: họp", id);
        create(st, root, "72.705.25489", titles[i], NULL, id);
    }
    static const struct ntm_unit_name names[] = {{COMMUNE, "Thạnh Đức"},
                                                 {NULL, NULL}};
    static const char *const q[][3] = {
        {"hop", "words : \"hop\" *", "1"},
        {"thanh duc hop",
         "(words : \"thanh\" OR units : \"72x710x25657\") AND (words : "
         "\"duc\" OR units : \"72x710x25657\") AND words : \"hop\" *",
         "10101"},
        {"hop dan", "words : \"hop\" AND words : \"dan\" *", "11"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char *got = found(st, q[i][0], names, 0, 0, 0);
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(
                db,
                "WITH c AS MATERIALIZED (SELECT rowid AS doc, bm25(rsearch, "
                "1.0, 0.0) AS score FROM rsearch WHERE rsearch MATCH ?1) "
                "SELECT group_concat(substr(id, 1, 6), ',') FROM (SELECT r.id "
                "FROM c JOIN rdoc d ON d.doc=c.doc JOIN records r ON "
                "r.id=d.record ORDER BY c.score, coalesce(json_extract("
                "r.fields, '$.date'), json_extract(r.fields, '$.period'), "
                "'') DESC, r.c_ts DESC, r.id)",
                -1, &s, NULL),
            SQLITE_OK);
        sqlite3_bind_text(s, 1, q[i][1], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        const char *want = (const char *)sqlite3_column_text(s, 0);
        if (!want || strcmp(got, want) != 0)
            fail_msg("'%s': found [%s], bm25 orders [%s]", q[i][0], got,
                     want ? want : "");
        sqlite3_finalize(s);
        /* and each score is the same double */
        assert_int_equal(Ntm_rank_register(db), SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db,
                               "SELECT bm25(rsearch, 1.0, 0.0), "
                               "ntm_rank(rsearch, ?2) FROM rsearch "
                               "WHERE rsearch MATCH ?1",
                               -1, &s, NULL),
            SQLITE_OK);
        sqlite3_bind_text(s, 1, q[i][1], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, q[i][2], -1, SQLITE_STATIC);
        int rows = 0, r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            double a = sqlite3_column_double(s, 0);
            double b = sqlite3_column_double(s, 1);
            if (memcmp(&a, &b, sizeof(a)) != 0)
                fail_msg("'%s': row %d: rank %.17g, bm25 %.17g", q[i][0], rows,
                         b, a);
            rows++;
        }
        assert_int_equal(r, SQLITE_DONE);
        assert_true(rows > 2);
        sqlite3_finalize(s);
        sqlite3_close(db);
        free(got);
    }
    ntm_store_close(st);
}

/* A device not enrolled yet writes records: they have no effect, so the
 * store's records do not hold them, but they are listed as waiting and
 * searched by words; once enrolled they are ordinary records. */
static void
test_waiting_records(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_key *dev = th_key();
    char dev_hex[65], a[33], b[33];
    th_author(dev, dev_hex);
    struct ntm_write_result w;
    struct ntm_error err;
    create(st, dev, COMMUNE, "Sửa chữa đường đất ấp Bến Đình", NULL, a);
    create(st, dev, COMMUNE, "Sửa cầu khỉ", NULL, b);

    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, &err), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    assert_int_equal(ntm_store_records_waiting(st, dev_hex, NULL, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 2);
    json_t *r0 = json_array_get(list, 0), *r1 = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), a);
    assert_true(json_is_true(json_object_get(r0, "waiting")));
    assert_string_equal(json_string_value(json_object_get(r0, "unit")),
                        COMMUNE);
    assert_string_equal(json_string_value(json_object_get(r0, "review")),
                        "submitted");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r1, "fields"), "title")),
                        "Sửa cầu khỉ");
    json_decref(list);

    /* filters and words apply */
    struct ntm_record_filter f = {0};
    f.text = "dinh ben";
    assert_int_equal(ntm_store_records_waiting(st, dev_hex, &f, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    f.text = "sua cau tre"; /* "tre" is in no title */
    assert_int_equal(ntm_store_records_waiting(st, dev_hex, &f, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    f.text = NULL;
    f.unit = "72.705";
    assert_int_equal(ntm_store_records_waiting(st, dev_hex, &f, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* another author's: none */
    assert_int_equal(ntm_store_records_waiting(st, root_hex, NULL, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    /* enrolled: they take effect, wait no more, and are in the index */
    assert_int_equal(ntm_device_enroll(st, root, dev_hex, "recorder", COMMUNE,
                                       "Xã Thạnh Đức", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_store_records_waiting(st, dev_hex, NULL, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    char want[8];
    snprintf(want, sizeof(want), "%.6s", b);
    expect_found(st, "cau khi", want);
    verify_no_diffs(st);
    ntm_key_free(dev);
    ntm_store_close(st);
}

/* A unit renamed after its records were written: the derived state still
 * matches the log, whatever the order the entries arrived in (a unit's
 * name is matched when searching, through the names the caller gives,
 * and is not kept in each record's search text). */
static void
test_unit_renamed_keeps_verify_clean(void **state)
{
    (void)state;
    struct ntm_store *st = search_store();
    struct ntm_write_result w;
    struct ntm_error err;
    char a[33], want[8];
    create(st, rec1, HAMLET, "Dọn kênh", NULL, a);
    snprintf(want, sizeof(want), "%.6s", a);
    assert_int_equal(
        ntm_unit_create(st, root, HAMLET, "Ấp Kênh Xáng", "hamlet", &w, &err),
        NTM_OK);
    verify_no_diffs(st);
    expect_found(st, "don kenh", want);
    ntm_store_close(st);
}

/* One value read with a connection of its own. */
static char *
sql_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    char *v = NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v ? v : strdup("(none)");
}

static void
expect_sql(const char *path, const char *sql, const char *want)
{
    char *got = sql_text(path, sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", sql, got, want);
    free(got);
}

/* A server never searches by words, and writing the word index was a
 * fifth of what taking an entry cost: a new server's store keeps none
 * (meta search=lazy, rdoc kept) until a search needs it, which builds it
 * from the records; from then on every handle keeps it, a server's next
 * open too. verify finds no difference at each step. */
static void
test_server_store_builds_its_index_on_first_search(void **state)
{
    (void)state;
    struct ntm_store *st = search_store_flags(NTM_STORE_SERVER), *other = NULL;
    char path[400], a[33], b[33], c[33], d[33], want[40];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    struct ntm_error err;
    create(st, rec1, COMMUNE, "Đường bê tông ấp 3", NULL, a);
    create(st, rec1, COMMUNE, "Sửa cầu", "đường liên xã", b);
    expect_sql(path, "SELECT value FROM meta WHERE key='search'", "lazy");
    expect_sql(path, "SELECT count(*) FROM rsearch", "0");
    expect_sql(path, "SELECT count(*) FROM rdoc", "2");
    verify_no_diffs(st);

    /* read-only, it cannot build: it says so */
    struct ntm_store *ro = NULL;
    assert_int_equal(ntm_store_open(&ro, path, NTM_STORE_READONLY, &err),
                     NTM_OK);
    struct ntm_record_filter f = {0};
    f.text = "be tong";
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(ro, &f, &list, &err), NTM_EREADONLY);
    assert_non_null(strstr(err.msg, "word index"));
    assert_null(list);
    ntm_store_close(ro);

    /* another handle, opened while the store kept no index */
    assert_int_equal(ntm_store_open(&other, path, NTM_STORE_SERVER, &err),
                     NTM_OK);
    snprintf(want, sizeof(want), "%.6s", a);
    expect_found(st, "be tong", want);
    snprintf(want, sizeof(want), "%.6s", b);
    expect_found(st, "lien xa", want);
    expect_sql(path, "SELECT value FROM meta WHERE key='search'", "kept");
    expect_sql(path, "SELECT count(*) FROM rsearch", "2");
    verify_no_diffs(st);
    /* the other handle keeps the index from its next transaction on */
    create(other, rec1, COMMUNE, "Nạo vét kênh", NULL, c);
    snprintf(want, sizeof(want), "%.6s", c);
    expect_found(st, "nao vet", want);
    verify_no_diffs(other);
    ntm_store_close(other);
    ntm_store_close(st);

    /* a server's next open leaves the kept index as it is */
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_SERVER, &err), NTM_OK);
    create(st, rec1, COMMUNE, "Trồng cây xanh", NULL, d);
    expect_sql(path, "SELECT count(*) FROM rsearch", "4");
    snprintf(want, sizeof(want), "%.6s", d);
    expect_found(st, "cay xanh", want);
    verify_no_diffs(st);
    ntm_store_close(st);
}

/* A record whose stored fields no longer read as JSON (a damaged file)
 * stops the build with a message that points to verify, not "out of
 * memory"; the store stays as it was (lazy, no index row). */
static void
test_server_index_build_on_damaged_fields(void **state)
{
    (void)state;
    struct ntm_store *st = search_store_flags(NTM_STORE_SERVER);
    char path[400], a[33];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    create(st, rec1, COMMUNE, "Đường bê tông ấp 3", NULL, a);
    ntm_store_close(st);
    exec_sql(path, "UPDATE records SET fields='{\"title\":'");
    struct ntm_error err;
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_SERVER, &err), NTM_OK);
    struct ntm_record_filter f = {0};
    f.text = "be tong";
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, &f, &list, &err), NTM_EDB);
    assert_non_null(strstr(err.msg, "ntm verify"));
    assert_null(strstr(err.msg, "memory"));
    ntm_store_close(st);
    expect_sql(path, "SELECT value FROM meta WHERE key='search'", "lazy");
    expect_sql(path, "SELECT count(*) FROM rsearch", "0");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_renamed_keeps_verify_clean),
        cmocka_unit_test(test_words_in_any_order),
        cmocka_unit_test(test_syntax_typed_is_words),
        cmocka_unit_test(test_unit_names_from_the_plan),
        cmocka_unit_test(test_ranked_and_paged),
        cmocka_unit_test(test_ties_ordered_over_all),
        cmocka_unit_test(test_index_follows_edits),
        cmocka_unit_test(test_migrated_and_verified),
        cmocka_unit_test(test_index_in_a_batch),
        cmocka_unit_test(test_waiting_records),
        cmocka_unit_test(test_large_write_in_a_transaction),
        cmocka_unit_test(test_units_migrated),
        cmocka_unit_test(test_unit_tokens_rank_as_phrases),
        cmocka_unit_test(test_rank_is_bm25),
        cmocka_unit_test(test_server_store_builds_its_index_on_first_search),
        cmocka_unit_test(test_server_index_build_on_damaged_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
