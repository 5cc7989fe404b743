/* SPDX-License-Identifier: MIT */
/*
 * ntm_util.h - the base layer of libntm: result codes, the caller-owned
 * error struct, the growable buffer and the allocator hook.
 *
 * Every other module includes this header. It depends on nothing but libc.
 *
 * Conventions used across the library (see STYLE.md):
 *   - every fallible function returns enum ntm_err, NTM_OK = 0;
 *   - detail goes into a caller-owned struct ntm_error *err (may be NULL);
 *   - the library never prints and never exits.
 */
#ifndef NTM_UTIL_H
#define NTM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(NTM_BUILDING_LIBRARY)
#define NTM_EXTERN __attribute__((visibility("default")))
#else
#define NTM_EXTERN
#endif

#define NTM_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * Result codes. Append-only: a retired code keeps its number and becomes
 * NTM_EOBSOLETEnn, as curl does with CURLE_OBSOLETE.
 */
enum ntm_err {
    NTM_OK = 0,
    NTM_ENOMEM = 1,          /* out of memory */
    NTM_EINVAL = 2,          /* bad argument from the caller */
    NTM_EIO = 3,             /* file system error (see sys_errno) */
    NTM_ENOENT = 4,          /* no such file, record, key or unit */
    NTM_EEXIST = 5,          /* already exists */
    NTM_EDB = 6,             /* SQLite failed (message kept in msg) */
    NTM_EBUSY = 7,           /* database locked by another process */
    NTM_EFULL = 8,           /* disk or database full */
    NTM_ECORRUPT = 9,        /* database file damaged */
    NTM_EREADONLY = 10,      /* read-only file system or database */
    NTM_ECRYPTO = 11,        /* libsodium failure */
    NTM_EPASSPHRASE = 12,    /* wrong passphrase, or key file damaged */
    NTM_EBADENTRY = 13,      /* entry not well-formed (SPEC 2 step 1) */
    NTM_EBADSIG = 14,        /* signature invalid (step 2) */
    NTM_EFORK = 15,          /* same seq, different entry (step 3) */
    NTM_EGAP = 16,           /* seq beyond head + 1 (step 3) */
    NTM_EUNKNOWNAUTHOR = 17, /* author not enrolled (step 4) */
    NTM_EREVOKED = 18,       /* author revoked for this seq (step 4) */
    NTM_EBADBODY = 19,       /* op/body invalid (step 5, flag) */
    NTM_EFORBIDDEN = 20,     /* role or scope forbids it (step 5, flag) */
    NTM_ENET = 21,           /* cannot reach the server */
    NTM_ETIMEOUT = 22,       /* network operation timed out */
    NTM_ETLS = 23,           /* TLS failure: certificate or pin mismatch */
    NTM_EHTTP = 24,          /* server answered with an error status */
    NTM_EPROTO = 25,         /* server answer violates the protocol */
    NTM_ETOOLARGE = 26,      /* size limit exceeded */
    NTM_EROLLBACK = 27,      /* server went backwards */
    NTM_EROOTKEY = 28,       /* server reports another root key */
    NTM_ESTALE = 29,         /* local log behind what the server holds */
    NTM_ECONFIG = 30,        /* plan or unit configuration invalid */
    NTM_EAUTH = 31,          /* request authentication refused */
    NTM_ECLOCKSKEW = 32,     /* request refused for clock skew */
    NTM_EUSAGE = 33,         /* command line usage error */
    NTM_ECONFLICT = 34,      /* state does not allow it (e.g. no conflict) */
    NTM_EUNAVAIL = 35,       /* server busy or shutting down (429/503) */
    NTM_EPERMS = 36,         /* a secret file is open to other users */
    NTM_ERR_LAST             /* never used; keep last */
};

#define NTM_ERROR_SIZE 512

/*
 * Detail about a failure, owned by the caller (jansson json_error_t).
 *
 * msg is English. So that it can be shown in another language, the error
 * also carries it untranslated: msgid, the format ntm_error_set was given
 * (a literal, which is the catalogue's message id), and its arguments as
 * they were printed, one after the other in args, each NUL-terminated.
 * When inner is set (ntm_error_wrap), msgid's last argument was itself a
 * message: inner is its format and its ninner arguments follow. The tool
 * and the server translate with ntm_error_text_lang (ntm_text.h); nobody
 * reads these fields otherwise.
 */
struct ntm_error {
    enum ntm_err code;
    int sys_errno;   /* errno when the cause was a system call, else 0 */
    int http_status; /* HTTP status when the cause was a server answer */
    char msg[NTM_ERROR_SIZE];
    const char *msgid; /* static; NULL when msg has no message id */
    const char *inner; /* static; NULL when nothing is nested */
    int nargs, ninner; /* arguments of msgid, of inner */
    uint32_t msg_hash; /* of msg when msgid was set: msg changed since? */
    char args[NTM_ERROR_SIZE];
};

/* Human text for a code; never NULL, static storage. */
NTM_EXTERN const char *ntm_strerror(enum ntm_err code);

/*
 * SPEC.md's wire name for a validation code ("bad_entry", "fork", ...), or
 * NULL when the code has no wire name. Static storage.
 */
NTM_EXTERN const char *ntm_err_wire_code(enum ntm_err code);

/* Inverse of ntm_err_wire_code; NTM_ERR_LAST when unknown. */
NTM_EXTERN enum ntm_err ntm_err_from_wire_code(const char *code);

/*
 * Record a failure in err (when not NULL) and return code, so callers can
 * write: return ntm_error_set(err, NTM_EIO, "cannot open '%s'", path);
 * The message is formatted with printf rules; an existing message is
 * replaced.
 */
NTM_EXTERN enum ntm_err ntm_error_set(struct ntm_error *err, enum ntm_err code,
                                      const char *fmt, ...) NTM_PRINTF(3, 4);

/*
 * As ntm_error_set with a format whose one conversion is a %s that stands
 * for the message of why (a failure of a lower layer, set with
 * ntm_error_set): "refused before signing: %s". The message id of why is
 * kept nested, so both are translated.
 */
NTM_EXTERN enum ntm_err ntm_error_wrap(struct ntm_error *err, enum ntm_err code,
                                       const char *fmt,
                                       const struct ntm_error *why);

/*
 * Add a detail in English to err's message, " (detail)": the words of a
 * lower library (libcurl) that say the same thing in its own terms. It
 * is kept in the English text only: the translated text is made from the
 * message id and leaves it out. Cut to fit; NULL or "" is a no-op.
 */
NTM_EXTERN void ntm_error_detail(struct ntm_error *err, const char *detail);

/* As ntm_error_set, and also records errno (sys) and appends strerror. */
NTM_EXTERN enum ntm_err ntm_error_set_errno(struct ntm_error *err,
                                            enum ntm_err code, int sys,
                                            const char *fmt, ...)
    NTM_PRINTF(4, 5);

/* Reset err to NTM_OK with an empty message. NULL is a no-op. */
NTM_EXTERN void ntm_error_clear(struct ntm_error *err);

/* The message to show: err->msg if set, else ntm_strerror(err->code). */
NTM_EXTERN const char *ntm_error_text(const struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Allocation. The library allocates only through these, so that tests
 * can inject failures (ntm_set_alloc_funcs). ntm_free(NULL) is a no-op. */

typedef void *(*ntm_malloc_fn)(size_t);
typedef void *(*ntm_realloc_fn)(void *, size_t);
typedef void (*ntm_free_fn)(void *);

NTM_EXTERN void *ntm_malloc(size_t n);
NTM_EXTERN void *ntm_calloc(size_t count, size_t n);
NTM_EXTERN void *ntm_realloc(void *p, size_t n);
NTM_EXTERN void ntm_free(void *p);
/* new: a copy of s (NULL when s is NULL or on failure); free with ntm_free */
NTM_EXTERN char *ntm_strdup(const char *s);
NTM_EXTERN char *ntm_strndup(const char *s, size_t n);
NTM_EXTERN void ntm_set_alloc_funcs(ntm_malloc_fn m, ntm_realloc_fn r,
                                    ntm_free_fn f);

/* ------------------------------------------------------------------ */
/* Growable buffer (git strbuf). Always NUL-terminated when len > 0 or
 * after any _add; buf is never NULL after a successful _grow. */

struct ntm_buf {
    char *buf;
    size_t len;
    size_t alloc;
};

#define NTM_BUF_INIT                                                           \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

NTM_EXTERN void ntm_buf_init(struct ntm_buf *b);
/* Free the storage and reset to NTM_BUF_INIT. */
NTM_EXTERN void ntm_buf_release(struct ntm_buf *b);
/* Ensure room for extra more bytes plus the terminating NUL. */
NTM_EXTERN enum ntm_err ntm_buf_grow(struct ntm_buf *b, size_t extra);
NTM_EXTERN enum ntm_err ntm_buf_add(struct ntm_buf *b, const void *data,
                                    size_t len);
NTM_EXTERN enum ntm_err ntm_buf_adds(struct ntm_buf *b, const char *s);
NTM_EXTERN enum ntm_err ntm_buf_addch(struct ntm_buf *b, char c);
/* Append s as HTML text (the one escaper of every page ntm writes: the
 * report and ntm ui): & < > " ' as entities, control characters other
 * than newline and tab shown as \xNN instead of passed on. NULL adds
 * nothing. */
NTM_EXTERN enum ntm_err ntm_buf_add_html(struct ntm_buf *b, const char *s);
NTM_EXTERN enum ntm_err ntm_buf_addf(struct ntm_buf *b, const char *fmt, ...)
    NTM_PRINTF(2, 3);
NTM_EXTERN enum ntm_err ntm_buf_vaddf(struct ntm_buf *b, const char *fmt,
                                      va_list ap);
/* Set len to 0, keep the storage. */
NTM_EXTERN void ntm_buf_reset(struct ntm_buf *b);
/* new: the string (never NULL: "" when empty); b is reset to empty. Free
 * the result with ntm_free. NULL only when out of memory. */
NTM_EXTERN char *ntm_buf_detach(struct ntm_buf *b, size_t *len);
/* borrowed: b's contents as a string, "" when empty. Valid until the next
 * change to b. */
NTM_EXTERN const char *ntm_buf_str(const struct ntm_buf *b);

/* ------------------------------------------------------------------ */
/* Small helpers shared by all modules. */

/* Wall clock in milliseconds since the Unix epoch. The environment
 * variable NTM_NOW_MS, when set to an integer, overrides it (tests and
 * clock-skew drills); NTM_CLOCK_OFFSET_MS adds an offset. */
NTM_EXTERN int64_t ntm_now_ms(void);

/* Parse a whole decimal integer in [min, max]; NTM_EINVAL otherwise. */
NTM_EXTERN enum ntm_err ntm_parse_int64(const char *s, int64_t min, int64_t max,
                                        int64_t *out);

/* 1 when s is a real calendar date YYYY-MM-DD of a year from 1900 on
 * (the calendar rule of the plan, reports and record fields). */
NTM_EXTERN int ntm_date_valid(const char *s);

/* Read a whole file into b (appended). NTM_ETOOLARGE past max bytes. */
NTM_EXTERN enum ntm_err ntm_file_read(const char *path, size_t max,
                                      struct ntm_buf *b, struct ntm_error *err);

/* Write data to path atomically: a temporary file in the same folder,
 * fsync, rename, fsync of the folder. mode is the new file's mode. */
NTM_EXTERN enum ntm_err ntm_file_write_atomic(const char *path,
                                              const void *data, size_t len,
                                              int mode, struct ntm_error *err);

/* Create a directory and its parents with the given mode (mkdir -p). */
NTM_EXTERN enum ntm_err ntm_mkdir_p(const char *path, int mode,
                                    struct ntm_error *err);

/*
 * Run fn(ud, i) for every i in [0, n) on up to `threads` threads (the
 * caller's among them), each index once, in no set order; returns when
 * all are done. fn must not touch what another index touches. threads 0:
 * ntm_par_threads(). When a thread cannot be started, the ones running
 * (the caller's at least) do its share: the work is always done.
 */
NTM_EXTERN void ntm_par_for(size_t n, void (*fn)(void *ud, size_t i), void *ud,
                            unsigned threads);

/*
 * One step done ahead: ntm_ahead_start runs fn(ud) on a thread of its own
 * while the caller goes on; ntm_ahead_wait returns once it is done. When
 * no thread can be started, ntm_ahead_wait runs fn itself: the step is
 * always done, at the latest by the wait. Every started step must be
 * waited for. What fn touches, the caller must not touch in between.
 */
struct ntm_ahead {
    void (*fn)(void *ud);
    void *ud;
    void *thread; /* the running thread, or NULL: none started */
};
NTM_EXTERN void ntm_ahead_start(struct ntm_ahead *a, void (*fn)(void *ud),
                                void *ud);
NTM_EXTERN void ntm_ahead_wait(struct ntm_ahead *a);

/* Threads for CPU-bound work such as verifying signatures: the online
 * CPUs, at least 2 and at most 16; NTM_THREADS (1-64) overrides it. */
NTM_EXTERN unsigned ntm_par_threads(void);

#endif /* NTM_UTIL_H */
