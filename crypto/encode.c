/* SPDX-License-Identifier: MIT */
/*
 * encode.c - hex and base64 for keys, ids and signatures.
 *
 * Decoders are strict: they accept exactly one spelling of each value
 * (base64: RFC 4648 section 4 alphabet with '=' padding and zero unused
 * bits; hex: exactly 2n digits) so that two different strings never carry
 * the same key or signature. Built on libsodium's constant-time codecs;
 * the _public decoders accept exactly the same texts by table look-ups,
 * several times faster, for values that are not secret (the signature and
 * author key of every entry taken).
 * Depends on util/ and libsodium only.
 */
#include "crypto_int.h"

#include <sodium.h>
#include <string.h>

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

void
ntm_hex_encode(char *out, const unsigned char *in, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

static int
is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

enum ntm_err
ntm_hex_decode(unsigned char *out, size_t outlen, const char *hex,
               size_t hexlen)
{
    if (outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
        return NTM_EINVAL;
    for (size_t i = 0; i < hexlen; i++)
        if (!is_hex_digit(hex[i]))
            return NTM_EINVAL;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, outlen, hex, hexlen, NULL, &got, &end) != 0 ||
        got != outlen || end != hex + hexlen)
        return NTM_EINVAL;
    return NTM_OK;
}

int
ntm_is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    /* Every s[i] above was a digit, so s[n] exists: s is a string. */
    return s[n] == '\0';
}

size_t
ntm_b64_encoded_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, B64_VARIANT);
}

void
ntm_b64_encode(char *out, const unsigned char *in, size_t n)
{
    sodium_bin2base64(out, ntm_b64_encoded_len(n), in, n, B64_VARIANT);
}

enum ntm_err
ntm_b64_decode(unsigned char *out, size_t outcap, size_t *outlen,
               const char *b64, size_t b64len)
{
    size_t got = 0;
    const char *end = NULL;
    *outlen = 0;
    if (b64len % 4 != 0)
        return NTM_EINVAL;
    if (sodium_base642bin(out, outcap, b64, b64len, NULL, &got, &end,
                          B64_VARIANT) != 0 ||
        end != b64 + b64len)
        return NTM_EINVAL;
    /* Only the one canonical text of these bytes: libsodium (1.0.18)
     * takes some bytes outside the alphabet for letters of it (0xb3 for
     * '/'), and unused low bits may be set; so a signature or key stored
     * in another form than its own encoding is refused, as altered. */
    char small[512];
    size_t need = ntm_b64_encoded_len(got);
    /* Longer texts (attachment chunks in bundles) are checked alike, in a
     * buffer of their size. */
    char *again = need > sizeof(small) ? ntm_malloc(need) : small;
    if (!again)
        return NTM_ENOMEM;
    ntm_b64_encode(again, out, got);
    int same = strlen(again) == b64len && memcmp(again, b64, b64len) == 0;
    if (again != small)
        ntm_free(again);
    if (!same)
        return NTM_EINVAL;
    *outlen = got;
    return NTM_OK;
}

/* Value of a hex digit (either case), -1 for any other byte. */
static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum ntm_err
ntm_hex_decode_public(unsigned char *out, size_t outlen, const char *hex,
                      size_t hexlen)
{
    if (outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
        return NTM_EINVAL;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]);
        int lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NTM_EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return NTM_OK;
}

/* Value of a letter of the RFC 4648 section 4 alphabet, -1 otherwise. */
static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

enum ntm_err
ntm_b64_decode_public(unsigned char *out, size_t outcap, size_t *outlen,
                      const char *b64, size_t b64len)
{
    *outlen = 0;
    if (b64len % 4 != 0)
        return NTM_EINVAL;
    /* '=' only as the last one or two characters of the last group. */
    size_t pad = 0;
    if (b64len && b64[b64len - 1] == '=')
        pad = b64len >= 2 && b64[b64len - 2] == '=' ? 2 : 1;
    size_t got = b64len / 4 * 3 - pad;
    if (got > outcap)
        return NTM_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < b64len; i += 4) {
        int last = i + 4 == b64len;
        int v[4];
        for (int k = 0; k < 4; k++) {
            if (last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            if ((v[k] = b64_value((unsigned char)b64[i + k])) < 0)
                return NTM_EINVAL;
        }
        unsigned long w = (unsigned long)v[0] << 18 |
                          (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
                          (unsigned long)v[3];
        /* The one spelling: bits the padding leaves unused are zero. */
        if (last && ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff))))
            return NTM_EINVAL;
        out[o++] = (unsigned char)(w >> 16);
        if (!last || pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (!last || pad < 1)
            out[o++] = (unsigned char)w;
    }
    *outlen = got;
    return NTM_OK;
}
