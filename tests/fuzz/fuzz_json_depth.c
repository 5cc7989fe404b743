/* SPDX-License-Identifier: MIT */
/*
 * fuzz_json_depth.c - libFuzzer target: deep nesting, odd numbers and odd
 * strings -> step 1 of SPEC.md section 2 (Ntm_entry_parse: the raw-byte
 * depth check, NUL, jansson with duplicate keys refused, integers only in
 * +-(2^53 - 1)), and the NDJSON line round trip of the same bytes.
 *
 * Input: one mode byte, then
 *   mode % 3 == 0  the entry bytes as they are
 *   mode % 3 == 1  a JSON value placed as "body" inside an otherwise
 *                  well-formed entry, so the body's own shape is what is
 *                  tested (the other members pass)
 *   mode % 3 == 2  a program for a nesting generator: each byte opens an
 *                  array or object, writes a number or string of an odd
 *                  form, or closes, producing deep and wide bodies that
 *                  random mutation rarely finds
 *
 * Invariants (a differential check of entry.c against a jansson tree walk):
 * an accepted entry nests at most NTM_MAX_JSON_DEPTH levels, holds no real
 * and no integer outside +-(2^53 - 1), its id is the hash of its bytes, and
 * a push line carrying it gives back exactly the same bytes.
 */
#include "fuzz_common.h"

#define MAX_SAFE_INT 9007199254740991LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth as the spec counts it: the entry object is level 1. */
static int
tree_depth(json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            int c = tree_depth(x);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            int c = tree_depth(x);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

static int
numbers_fine(json_t *v)
{
    if (json_is_real(v))
        return 0;
    if (json_is_integer(v))
        return json_integer_value(v) <= MAX_SAFE_INT &&
               json_integer_value(v) >= -MAX_SAFE_INT;
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach (v, k, x)
            if (!numbers_fine(x))
                return 0;
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, x)
            if (!numbers_fine(x))
                return 0;
    }
    return 1;
}

static const char *const atoms[] = {
    "0",
    "-0",
    "1",
    "-1",
    "9007199254740991",
    "9007199254740992",
    "1e2",
    "1.0",
    "-0.0",
    "1E400",
    "9223372036854775807",
    "18446744073709551616",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\\"]]]\"",
    "\"[{\"",
    "true",
    "null",
    "\"\xc3\xa9\"",
    "\"\xff\"",
};

static void
generate(struct ntm_buf *out, const uint8_t *p, size_t n)
{
    /* stack of open containers: 'a' array, 'o' object; need_comma per
     * level. */
    char stack[256];
    int need[256];
    int top = 0;
    ntm_buf_adds(out, "{");
    stack[0] = 'o';
    need[0] = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        unsigned op = c & 3, arg = c >> 2;
        if (op == 3) { /* close */
            if (top == 0)
                break;
            ntm_buf_addch(out, stack[top] == 'a' ? ']' : '}');
            top--;
            need[top] = 1;
            continue;
        }
        if (need[top])
            ntm_buf_addch(out, ',');
        if (stack[top] == 'o')
            ntm_buf_addf(out, "\"k%u\":", (unsigned)i);
        need[top] = 1;
        if (op == 2 || top + 1 >= (int)sizeof stack) {
            ntm_buf_adds(out, atoms[arg % (sizeof atoms / sizeof atoms[0])]);
            continue;
        }
        top++;
        stack[top] = op == 0 ? 'a' : 'o';
        need[top] = 0;
        ntm_buf_addch(out, op == 0 ? '[' : '{');
    }
    while (top >= 0) {
        ntm_buf_addch(out, stack[top] == 'a' ? ']' : '}');
        top--;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_init();
    unsigned mode = data[0] % 3;
    struct ntm_buf b = NTM_BUF_INIT;
    if (mode == 0) {
        ntm_buf_add(&b, data + 1, size - 1);
    } else {
        ntm_buf_addf(&b, "{\"author\":\"%s\",\"body\":", fz_authors[FZ_ROOT]);
        if (mode == 1)
            ntm_buf_add(&b, data + 1, size - 1);
        else
            generate(&b, data + 1, size - 1);
        ntm_buf_adds(&b, ",\"lc\":0,\"op\":\"unit.create\",\"prev\":null,"
                         "\"seq\":1,\"ts\":1700000000000,\"v\":1}");
    }
    if (!b.buf) {
        ntm_buf_release(&b);
        return 0;
    }
    /* Exactly len bytes, no terminator: ASan sees reads past the end. */
    size_t len = b.len;
    char *bytes = malloc(len ? len : 1);
    memcpy(bytes, b.buf, len);
    ntm_buf_release(&b);

    struct Ntm_entry e;
    char msg[256];
    enum ntm_err rc = Ntm_entry_parse(&e, bytes, len, msg, sizeof msg);
    if (rc == NTM_OK) {
        FZ_CHECK(tree_depth(e.json) <= NTM_MAX_JSON_DEPTH,
                 "accepted an entry nesting %d levels", tree_depth(e.json));
        FZ_CHECK(numbers_fine(e.json),
                 "accepted a real or an integer outside +-(2^53-1)");
        char id[NTM_HEX_ID_LEN + 1];
        ntm_hash_hex(id, bytes, len);
        FZ_CHECK(!strcmp(id, e.id), "id is not the hash of the bytes");
        FZ_CHECK(!memchr(bytes, '\0', len), "accepted a NUL byte");
        char a[NTM_HEX_ID_LEN + 1];
        Ntm_entry_author(bytes, len, a);
        FZ_CHECK(!strcmp(a, e.author), "wire reads author '%s', store '%s'", a,
                 e.author);

        /* Line round trip: the bytes that arrive are the bytes signed. */
        struct ntm_buf line = NTM_BUF_INIT;
        FZ_CHECK(Ntm_line_add(&line, 7, bytes, len, "c2ln") == NTM_OK,
                 "an accepted entry cannot be put on a line");
        char *back = NULL, *sig = NULL;
        size_t back_len = 0;
        int64_t gseq = 0;
        struct ntm_error err;
        FZ_CHECK(Ntm_line_parse(line.buf, line.len - 1, &back, &back_len, &sig,
                                &gseq, &err) == NTM_OK,
                 "own line does not parse: %s", ntm_error_text(&err));
        FZ_CHECK(back_len == len && !memcmp(back, bytes, len) && gseq == 7,
                 "line round trip changed the entry bytes");
        ntm_free(back);
        ntm_free(sig);
        ntm_buf_release(&line);
    } else {
        FZ_CHECK(rc == NTM_EBADENTRY, "parse returned %s", ntm_strerror(rc));
        FZ_CHECK(msg[0], "refusal without a reason");
    }
    Ntm_entry_release(&e);
    free(bytes);
    return 0;
}
