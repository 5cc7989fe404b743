/* SPDX-License-Identifier: MIT */
/*
 * fuzz_entry.c - libFuzzer target: bytes -> ntm_store_ingest (SPEC.md
 * section 2, all five validation steps) on an in-memory store that holds
 * the base log (fuzz_common.h).
 *
 * Input: one mode byte, then the entry bytes B.
 *   bits 0-1  signer: 0 a dummy signature (steps 1-2 only), 1 the root,
 *             2 the enrolled device, 3 an unenrolled key. A random input
 *             almost never carries a valid signature, so signing B with a
 *             fixed key is what lets the fuzzer reach steps 3-5.
 *   bits 2-3  source: push, pull, bundle, local
 *   bit 4     a server store (strict chain rule), else a device store
 *   bit 5     after a new entry, also run the audit (ntm_store_verify)
 * Each input runs in a transaction that is rolled back, so every input
 * sees the same store.
 *
 * Invariants checked besides the sanitizers: a rejection writes no entry;
 * an accepted entry is held at its seq under its id; a verdict is one of
 * the documented codes.
 */
#include "fuzz_common.h"

static struct ntm_store *server_st, *device_st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_init();
    if (!server_st) {
        server_st = fz_store(NTM_STORE_SERVER, 1);
        device_st = fz_store(0, 1);
    }
    unsigned mode = data[0];
    const char *entry = (const char *)data + 1;
    size_t len = size - 1;
    int signer = (int)(mode & 3) - 1;
    static const enum ntm_source sources[4] = {
        NTM_SOURCE_PUSH, NTM_SOURCE_PULL, NTM_SOURCE_BUNDLE, NTM_SOURCE_LOCAL};
    enum ntm_source src = sources[(mode >> 2) & 3];
    struct ntm_store *st = (mode & 0x10) ? server_st : device_st;

    char sig[NTM_SIG_B64_LEN + 1];
    fz_sign(signer, entry, len, sig);

    /* ingest takes (ptr, len): give it a copy without a terminator, so
     * ASan sees any read past len. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, entry, len);

    struct ntm_error err;
    ntm_error_clear(&err);
    if (ntm_store_begin(st, &err) != NTM_OK)
        fz_die("begin", &err);
    int64_t before = fz_entries(st);
    struct ntm_ingest_result res;
    enum ntm_err rc = ntm_store_ingest(st, copy, len, sig, src, &res, &err);
    FZ_CHECK(rc == NTM_OK, "ingest failed as a replica error: %s",
             ntm_error_text(&err));
    int64_t after = fz_entries(st);
    if (getenv("NTM_FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_entry: verdict %s%s flag %s: %s\n",
                ntm_strerror(res.verdict), res.duplicate ? " (duplicate)" : "",
                ntm_strerror(res.flag), res.message);
    switch (res.verdict) {
    case NTM_OK:
        if (res.duplicate) {
            FZ_CHECK(after == before, "duplicate wrote %lld entries",
                     (long long)(after - before));
        } else {
            FZ_CHECK(after == before + 1, "new entry wrote %lld entries",
                     (long long)(after - before));
            int64_t head = 0;
            FZ_CHECK(ntm_store_head(st, res.author, &head, NULL) == NTM_OK &&
                         head >= res.seq,
                     "accepted seq %lld but head is %lld", (long long)res.seq,
                     (long long)head);
            FZ_CHECK(strlen(res.id) == NTM_HEX_ID_LEN, "accepted without id");
            if (mode & 0x20) {
                json_t *report = NULL;
                FZ_CHECK(ntm_store_verify(st, &report, &err) == NTM_OK,
                         "verify failed: %s", ntm_error_text(&err));
                json_decref(report);
            }
        }
        break;
    case NTM_EBADENTRY:
    case NTM_EBADSIG:
    case NTM_EFORK:
    case NTM_EGAP:
    case NTM_EUNKNOWNAUTHOR:
        FZ_CHECK(after == before, "rejection (%s: %s) wrote %lld entries",
                 ntm_strerror(res.verdict), res.message,
                 (long long)(after - before));
        FZ_CHECK(res.message[0], "rejection without a message");
        break;
    default:
        FZ_CHECK(0, "undocumented verdict %d (%s)", (int)res.verdict,
                 ntm_strerror(res.verdict));
    }
    ntm_store_rollback(st);
    free(copy);
    return 0;
}
