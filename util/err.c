/* SPDX-License-Identifier: MIT */
/*
 * err.c - result codes, their messages and SPEC.md wire names, and the
 * caller-owned struct ntm_error: its English message, and the message id
 * and arguments it was made from, so that the tool and the server show it
 * in the user's language (ntm_error_text_lang) by looking the id up in
 * the catalogue - never by reading the English back.
 *
 * Depends on libc and util's catalogue (catalog.c) only.
 */
#include "ntm_text.h"
#include "ntm_util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * The texts of ntm_strerror are English msgids of the catalogue: they are
 * returned untranslated, and translated where they are shown. N_() only
 * marks them for xgettext.
 */

/*
 * ntm_strerror() is a switch with no default on purpose, as in curl's
 * strerror.c: with -Wswitch (in -Wall) and -Werror, adding a code without
 * a message breaks the build instead of printing "unknown error" to users.
 */
const char *
ntm_strerror(enum ntm_err code)
{
    switch (code) {
    case NTM_OK:
        return N_("no error");
    case NTM_ENOMEM:
        return N_("out of memory");
    case NTM_EINVAL:
        return N_("invalid argument");
    case NTM_EIO:
        return N_("input/output error");
    case NTM_ENOENT:
        return N_("not found");
    case NTM_EEXIST:
        return N_("already exists");
    case NTM_EDB:
        return N_("database error");
    case NTM_EBUSY:
        return N_("database is locked by another ntm process");
    case NTM_EFULL:
        return N_("disk full - free some space and try again");
    case NTM_ECORRUPT:
        return N_("database file is damaged");
    case NTM_EREADONLY:
        return N_("storage is read-only");
    case NTM_ECRYPTO:
        return N_("cryptographic operation failed");
    case NTM_EPASSPHRASE:
        return N_("wrong passphrase, or the key file is damaged");
    case NTM_EBADENTRY:
        return N_("entry is not well-formed");
    case NTM_EBADSIG:
        return N_("signature does not match the entry and its author");
    case NTM_EFORK:
        return N_("another entry already holds this author and seq (fork)");
    case NTM_EGAP:
        return N_("entries before this one are missing (gap)");
    case NTM_EUNKNOWNAUTHOR:
        return N_("author is not enrolled");
    case NTM_EREVOKED:
        return N_("author is revoked for this entry");
    case NTM_EBADBODY:
        return N_("operation body is invalid");
    case NTM_EFORBIDDEN:
        return N_("author's role or scope does not allow this");
    case NTM_ENET:
        return N_("cannot reach the server - nothing lost, try again later");
    case NTM_ETIMEOUT:
        return N_("the server did not answer in time - nothing lost, try again "
                  "later");
    case NTM_ETLS:
        return N_("secure connection refused: certificate or pinned key does "
                  "not match");
    case NTM_EHTTP:
        return N_("the server answered with an error");
    case NTM_EPROTO:
        return N_("the server's answer does not follow the protocol");
    case NTM_ETOOLARGE:
        return N_("size limit exceeded");
    case NTM_EROLLBACK:
        return N_("the server went backwards (restored from an old backup?)");
    case NTM_EROOTKEY:
        return N_(
            "the server reports a different root key than the one pinned");
    case NTM_ESTALE:
        return N_("this device's log is behind the server - pull first");
    case NTM_ECONFIG:
        return N_("configuration is invalid");
    case NTM_EAUTH:
        return N_("the server refused the request's authentication");
    case NTM_ECLOCKSKEW:
        return N_("clocks disagree by more than 15 minutes");
    case NTM_EUSAGE:
        return N_("usage error");
    case NTM_ECONFLICT:
        return N_("the record's state does not allow this");
    case NTM_EUNAVAIL:
        return N_("the server is busy - nothing lost, try again later");
    case NTM_EPERMS:
        return N_("other users can read or change the file - make it "
                  "private");
    case NTM_ERR_LAST:
        break;
    }
    return N_("unknown error");
}

struct wire_name {
    enum ntm_err code;
    const char *name;
};

static const struct wire_name wire_names[] = {
    {NTM_EBADENTRY, "bad_entry"},
    {NTM_EBADSIG, "bad_signature"},
    {NTM_EFORK, "fork"},
    {NTM_EGAP, "gap"},
    {NTM_EUNKNOWNAUTHOR, "unknown_author"},
    {NTM_EREVOKED, "revoked"},
    {NTM_EBADBODY, "bad_body"},
    {NTM_EFORBIDDEN, "forbidden"},
    {NTM_ETOOLARGE, "too_large"},
    {NTM_EAUTH, "bad_auth"},
    {NTM_ECLOCKSKEW, "clock_skew"},
    {NTM_EINVAL, "bad_request"},
    {NTM_EUNAVAIL, "unavailable"},
    {NTM_ENOENT, "not_found"},
};

const char *
ntm_err_wire_code(enum ntm_err code)
{
    for (size_t i = 0; i < sizeof(wire_names) / sizeof(wire_names[0]); i++)
        if (wire_names[i].code == code)
            return wire_names[i].name;
    return NULL;
}

enum ntm_err
ntm_err_from_wire_code(const char *code)
{
    if (!code)
        return NTM_ERR_LAST;
    for (size_t i = 0; i < sizeof(wire_names) / sizeof(wire_names[0]); i++)
        if (strcmp(wire_names[i].name, code) == 0)
            return wire_names[i].code;
    return NTM_ERR_LAST;
}

void
ntm_error_clear(struct ntm_error *err)
{
    if (!err)
        return;
    err->code = NTM_OK;
    err->sys_errno = 0;
    err->http_status = 0;
    err->msg[0] = '\0';
    err->msgid = err->inner = NULL;
    err->nargs = err->ninner = 0;
    err->msg_hash = 0;
    err->args[0] = '\0';
}

/* FNV-1a of s: whether msg is still the text msgid made. */
static uint32_t
text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The end of the conversion that starts at p ('%'): the conversion
 * character, or NULL for one this file does not take apart (positional
 * arguments, '*' widths, %n). *len gets the length modifier: 0 none, 'H'
 * hh, 'h', 'l', 'q' ll, 'j', 'z', 't', 'L'. */
static const char *
conversion(const char *p, int *len)
{
    const char *q = p + 1;
    q += strspn(q, "-+ #0'");
    q += strspn(q, "0123456789");
    if (*q == '.') {
        q++;
        q += strspn(q, "0123456789");
    }
    if (*q == '$' || *q == '*')
        return NULL;
    *len = 0;
    if (q[0] == 'h' && q[1] == 'h')
        *len = 'H', q += 2;
    else if (q[0] == 'l' && q[1] == 'l')
        *len = 'q', q += 2;
    else if (*q && strchr("hljztL", *q))
        *len = *q++;
    if (!*q || !strchr("diouxXcspfFeEgGaA", *q))
        return NULL;
    return q;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/*
 * Print each argument of fmt, one by one with its own conversion, into
 * args (each NUL-terminated), as msg printed them; *n gets their number.
 * 0 when fmt has a conversion this file does not take apart or the
 * arguments do not fit: the error then has no message id.
 */
static int
record_args(const char *fmt, va_list ap, char *args, size_t size, int *n)
{
    size_t used = 0;
    *n = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        int len;
        const char *q = conversion(p, &len);
        char spec[32];
        if (!q || (size_t)(q - p) + 2 > sizeof(spec))
            return 0;
        memcpy(spec, p, (size_t)(q - p) + 1);
        spec[q - p + 1] = '\0';
        char *out = args + used;
        size_t room = size - used;
        int w;
        switch (*q) {
        case 'd':
        case 'i':
            if (len == 'l')
                w = snprintf(out, room, spec, va_arg(ap, long));
            else if (len == 'q')
                w = snprintf(out, room, spec, va_arg(ap, long long));
            else if (len == 'j')
                w = snprintf(out, room, spec, va_arg(ap, intmax_t));
            else if (len == 'z')
                w = snprintf(out, room, spec, va_arg(ap, ssize_t));
            else if (len == 't')
                w = snprintf(out, room, spec, va_arg(ap, ptrdiff_t));
            else
                w = snprintf(out, room, spec, va_arg(ap, int));
            break;
        case 'o':
        case 'u':
        case 'x':
        case 'X':
            if (len == 'l')
                w = snprintf(out, room, spec, va_arg(ap, unsigned long));
            else if (len == 'q')
                w = snprintf(out, room, spec, va_arg(ap, unsigned long long));
            else if (len == 'j')
                w = snprintf(out, room, spec, va_arg(ap, uintmax_t));
            else if (len == 'z')
                w = snprintf(out, room, spec, va_arg(ap, size_t));
            else if (len == 't')
                w = snprintf(out, room, spec, va_arg(ap, ptrdiff_t));
            else
                w = snprintf(out, room, spec, va_arg(ap, unsigned));
            break;
        case 'c':
            w = snprintf(out, room, spec, va_arg(ap, int));
            break;
        case 's': {
            const char *v = va_arg(ap, const char *);
            w = snprintf(out, room, spec, v ? v : "(null)");
            break;
        }
        case 'p':
            w = snprintf(out, room, spec, va_arg(ap, void *));
            break;
        default: /* the floating conversions */
            if (len == 'L')
                w = snprintf(out, room, spec, va_arg(ap, long double));
            else
                w = snprintf(out, room, spec, va_arg(ap, double));
            break;
        }
        if (w < 0 || (size_t)w >= room)
            return 0;
        used += (size_t)w + 1;
        (*n)++;
        p = q;
    }
    return 1;
}
/* The wrapped message as the one argument of fmt (see ntm_error_wrap). */
static void
set_wrapped(struct ntm_error *err, enum ntm_err code, const char *fmt,
            const char *text)
{
    ntm_error_set(err, code, fmt, text);
}
#pragma GCC diagnostic pop

/* Record fmt and its arguments in err as the message id of err->msg;
 * a bare "%s" says nothing of its own and is no message id. */
static void
set_msgid(struct ntm_error *err, const char *fmt, va_list ap)
{
    char args[NTM_ERROR_SIZE];
    int n = 0;
    err->msgid = err->inner = NULL;
    err->nargs = err->ninner = 0;
    err->args[0] = '\0';
    if (!fmt || !strcmp(fmt, "%s") ||
        !record_args(fmt, ap, args, sizeof(args), &n))
        return;
    memcpy(err->args, args, sizeof(args));
    err->msgid = fmt;
    err->nargs = n;
    err->msg_hash = text_hash(err->msg);
}

/*
 * Both setters format into a local buffer first: callers may pass
 * err->msg itself as an argument ("...: %s", err->msg) to wrap an earlier
 * message, and vsnprintf must not read the buffer it writes.
 */
enum ntm_err
ntm_error_set(struct ntm_error *err, enum ntm_err code, const char *fmt, ...)
{
    if (!err)
        return code;
    char tmp[NTM_ERROR_SIZE];
    tmp[0] = '\0';
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    if (fmt)
        vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    err->code = code;
    err->sys_errno = 0;
    err->http_status = 0;
    memcpy(err->msg, tmp, sizeof(tmp));
    set_msgid(err, fmt, ap2);
    va_end(ap2);
    return code;
}

enum ntm_err
ntm_error_wrap(struct ntm_error *err, enum ntm_err code, const char *fmt,
               const struct ntm_error *why)
{
    if (!err)
        return code;
    struct ntm_error inner = *why; /* why may be err itself */
    const char *text = ntm_error_text(&inner);
    set_wrapped(err, code, fmt, text);
    if (!err->msgid || err->nargs != 1)
        return code;
    /* The inner message's id, when it still describes its text; else ""
     * (nested, shown as the code's text and the English). */
    err->inner = "";
    if (!inner.msgid || inner.inner || inner.msg_hash != text_hash(inner.msg))
        return code;
    size_t used = strlen(err->args) + 1, n = 0;
    for (int i = 0; i < inner.nargs; i++)
        n += strlen(inner.args + n) + 1;
    if (used + n > sizeof(err->args))
        return code;
    memcpy(err->args + used, inner.args, n);
    err->inner = inner.msgid;
    err->ninner = inner.nargs;
    return code;
}

void
ntm_error_detail(struct ntm_error *err, const char *detail)
{
    if (!err || !detail || !*detail)
        return;
    int ours = err->msgid && err->msg_hash == text_hash(err->msg);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", detail);
    if (ours)
        err->msg_hash = text_hash(err->msg);
}

enum ntm_err
ntm_error_set_errno(struct ntm_error *err, enum ntm_err code, int sys,
                    const char *fmt, ...)
{
    /* The code must not depend on whether the caller wants the detail. */
    if (sys == ENOSPC || sys == EDQUOT)
        code = NTM_EFULL;
    else if (sys == EROFS)
        code = NTM_EREADONLY;
    if (!err)
        return code;
    char tmp[NTM_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tmp))
        snprintf(tmp + n, sizeof(tmp) - (size_t)n, ": %s", strerror(sys));
    err->code = code;
    err->sys_errno = sys;
    err->http_status = 0;
    memcpy(err->msg, tmp, sizeof(tmp));
    /* The system's text follows: no message id of ours. */
    err->msgid = err->inner = NULL;
    err->nargs = err->ninner = 0;
    return code;
}

const char *
ntm_error_text(const struct ntm_error *err)
{
    if (!err)
        return N_("unknown error");
    if (err->msg[0])
        return err->msg;
    return ntm_strerror(err->code);
}

/* The n pieces of args, one after the other, into p[]. */
static void
split_args(const char *args, int n, const char **p)
{
    for (int i = 0; i < n; i++) {
        p[i] = args;
        args += strlen(args) + 1;
    }
}

/* Append to b the translation tr with each conversion (%s, %lld, %2$s)
 * replaced by the piece printed for it, in order or by position. */
static void
put_pieces(struct ntm_buf *b, const char *tr, const char *const *pieces, int n)
{
    int next = 0;
    for (const char *p = tr; *p; p++) {
        if (p[0] == '%' && p[1] == '%') {
            ntm_buf_addch(b, '%');
            p++;
            continue;
        }
        if (p[0] != '%') {
            ntm_buf_addch(b, *p);
            continue;
        }
        const char *q = p + 1;
        int k = -1;
        size_t d = strspn(q, "0123456789");
        if (d && q[d] == '$') {
            k = 0;
            for (size_t i = 0; i < d && k < 1000; i++)
                k = k * 10 + (q[i] - '0');
            k--;
            q += d + 1;
        }
        int len;
        const char *end = conversion(q - 1, &len);
        if (!end) { /* not a conversion we know: as it is */
            ntm_buf_addch(b, *p);
            continue;
        }
        if (k < 0)
            k = next++;
        if (k >= 0 && k < n)
            ntm_buf_adds(b, pieces[k]);
        p = end;
    }
}

/* The translation of a message id with its pieces into b, or 0 when the
 * catalogue has none. */
static int
translate(struct ntm_buf *b, const char *lang, const char *msgid,
          const char *const *pieces, int n)
{
    const char *tr = msgid ? ntm_tr_find(lang, msgid) : NULL;
    if (!tr)
        return 0;
    put_pieces(b, tr, pieces, n);
    return 1;
}

const char *
ntm_error_text_lang(const struct ntm_error *err, const char *lang, char *out,
                    size_t size)
{
    const char *msg = ntm_error_text(err);
    if (size == 0)
        return out;
    if (!err || !lang || !strcmp(lang, "en")) {
        snprintf(out, size, "%s", ntm_tr(lang, msg));
        return out;
    }
    const char *code_text = ntm_tr(lang, ntm_strerror(err->code));
    struct ntm_buf b = NTM_BUF_INIT;
    const char *pieces[2 * NTM_ERROR_SIZE];
    int ok = 0;
    if (!err->msg[0] || !strcmp(err->msg, ntm_strerror(err->code))) {
        ntm_buf_adds(&b, code_text);
        ok = 1;
    } else if (err->msgid && err->msg_hash == text_hash(err->msg)) {
        split_args(err->args, err->nargs + err->ninner, pieces);
        struct ntm_buf ib = NTM_BUF_INIT;
        if (err->inner && err->nargs > 0) {
            /* The last argument is a message: its translation, or the
             * code's text and the English. */
            const char *english = pieces[err->nargs - 1];
            if (!translate(&ib, lang, err->inner, pieces + err->nargs,
                           err->ninner))
                ntm_buf_addf(&ib, "%s - %s", code_text, english);
            pieces[err->nargs - 1] = ntm_buf_str(&ib);
        }
        ok = translate(&b, lang, err->msgid, pieces, err->nargs);
        ntm_buf_release(&ib);
    }
    if (!ok) {
        ntm_buf_reset(&b);
        ntm_buf_addf(&b, "%s - %s", code_text, err->msg);
    }
    /* Out of memory: the English text still says what failed. */
    snprintf(out, size, "%s", b.len ? ntm_buf_str(&b) : msg);
    ntm_buf_release(&b);
    return out;
}
