/* SPDX-License-Identifier: MIT */
/*
 * rank.c - the rank of a word search: the SQL function ntm_rank(rsearch,
 * mask), an FTS5 auxiliary function registered on each connection
 * (Ntm_rank_register), equal to FTS5's own bm25(rsearch, 1.0, 0.0): the
 * words column weighs 1, the units column nothing.
 *
 * Why not bm25 itself: bm25 first counts, for every phrase of the query,
 * the rows that hold it (one pass over its posting list, for its inverse
 * document frequency), the phrases of the units column too, although
 * their weight of 0 makes their part of every score 0. A word that names
 * units (a district) brings phrases whose lists hold a whole district's
 * records: at 10^6 records their counts were about 6 ms of a 45 ms
 * search. mask says, phrase by phrase in the query's order ('1' or '0'),
 * which ones are of the words column (Ntm_search_fts gives it); the
 * others are not counted and add nothing, as in bm25. The rest is bm25's
 * arithmetic, step by step in its order (SQLite's fts5_aux.c), so that a
 * score is the same double.
 *
 * Depends on SQLite (its FTS5 API) alone; no other file of store/.
 */
#include "store_int.h"

#include <math.h>
#include <string.h>

/* bm25's constants (fts5_aux.c) */
#define K1 1.2
#define B  0.75

/* Per query: the phrases, the average row length, each phrase's inverse
 * document frequency (0 for those not counted) and the row's frequencies
 * (scratch). */
struct rank_data {
    int nphrase;
    double avgdl;
    double *idf;
    double *freq;
};

static int
count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud)
{
    (void)api;
    (void)fts;
    (*(sqlite3_int64 *)ud)++;
    return SQLITE_OK;
}

/* The query's data, computed at its first row (as bm25's). */
static int
rank_data(const Fts5ExtensionApi *api, Fts5Context *fts, const char *mask,
          struct rank_data **out)
{
    struct rank_data *p = api->xGetAuxdata(fts, 0);
    if (p) {
        *out = p;
        return SQLITE_OK;
    }
    int n = api->xPhraseCount(fts);
    p = sqlite3_malloc64(sizeof(*p) + (sqlite3_uint64)n * 2 * sizeof(double));
    if (!p)
        return SQLITE_NOMEM;
    memset(p, 0, sizeof(*p) + (size_t)n * 2 * sizeof(double));
    p->nphrase = n;
    p->idf = (double *)&p[1];
    p->freq = &p->idf[n];
    sqlite3_int64 nrow = 0, ntok = 0;
    int rc = api->xRowCount(fts, &nrow);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, -1, &ntok);
    if (rc == SQLITE_OK)
        p->avgdl = (double)ntok / (double)nrow;
    size_t nmask = strlen(mask);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        if ((size_t)i < nmask && mask[i] == '0')
            continue;
        sqlite3_int64 nhit = 0;
        rc = api->xQueryPhrase(fts, i, &nhit, count_cb);
        if (rc == SQLITE_OK) {
            double idf = log((nrow - nhit + 0.5) / (nhit + 0.5));
            if (idf <= 0.0)
                idf = 1e-6;
            p->idf[i] = idf;
        }
    }
    if (rc == SQLITE_OK)
        rc = api->xSetAuxdata(fts, p, sqlite3_free);
    if (rc != SQLITE_OK) {
        sqlite3_free(p);
        return rc;
    }
    *out = p;
    return SQLITE_OK;
}

static void
rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
        int nval, sqlite3_value **val)
{
    const char *mask =
        nval > 0 ? (const char *)sqlite3_value_text(val[0]) : NULL;
    struct rank_data *p = NULL;
    int rc = rank_data(api, fts, mask ? mask : "", &p);
    int ninst = 0;
    if (rc == SQLITE_OK) {
        memset(p->freq, 0, sizeof(double) * (size_t)p->nphrase);
        rc = api->xInstCount(fts, &ninst);
    }
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK)
            p->freq[ip] += ic == 0 ? 1.0 : 0.0;
    }
    double d = 0.0, score = 0.0;
    if (rc == SQLITE_OK) {
        int ntok;
        rc = api->xColumnSize(fts, -1, &ntok);
        d = (double)ntok;
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    for (int i = 0; i < p->nphrase; i++)
        score += p->idf[i] * ((p->freq[i] * (K1 + 1.0)) /
                              (p->freq[i] + K1 * (1 - B + B * d / p->avgdl)));
    sqlite3_result_double(ctx, -1.0 * score);
}

int
Ntm_rank_register(sqlite3 *db)
{
    fts5_api *fts = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_pointer(s, 1, (void *)&fts, "fts5_api_ptr", NULL);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    if (!fts || fts->iVersion < 2)
        return SQLITE_ERROR;
    return fts->xCreateFunction(fts, "ntm_rank", NULL, rank_fn, NULL);
}
