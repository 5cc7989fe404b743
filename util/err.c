/* SPDX-License-Identifier: MIT */
/*
 * err.c - result codes, their messages and SPEC.md wire names, and the
 * caller-owned struct ntm_error.
 *
 * Depends on libc only. Must not call any other ntm module.
 */
#include "ntm_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * The texts of ntm_strerror are English msgids of the "ntm" gettext
 * domain: util/ stays libc-only and returns them untranslated, and the
 * ntm tool translates them when it prints them (cli/msgs.c). N_() only
 * marks them for xgettext.
 */
#define N_(s) s

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
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
    }
    err->code = code;
    err->sys_errno = 0;
    err->http_status = 0;
    memcpy(err->msg, tmp, sizeof(tmp));
    return code;
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
