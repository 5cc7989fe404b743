/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the commands of the ntm tool share: the context the
 * dispatcher prepares, the option parser, and the message helpers.
 *
 * The CLI is a thin layer over libntm's public headers (ntm.h). It never
 * calls sqlite3, libcurl or libsodium directly.
 */
#ifndef NTM_CLI_H
#define NTM_CLI_H

#include <stdio.h>

#include "ntm.h"
#include "i18n.h"

/* Exit codes, fixed by SPEC.md section 8. */
#define EXIT_OK          0
#define EXIT_FAIL        1
#define EXIT_USAGE       2
#define EXIT_VERIFY      3
#define EXIT_UNREACHABLE 4
#define EXIT_REJECTED    5

/* What a command needs the dispatcher to prepare (cli/main.c). */
#define NEED_STORE   (1u << 0) /* open HOME/ntm.db (must exist) */
#define NEED_KEY     (1u << 1) /* load HOME/key (asks the passphrase) */
#define NEED_PLAN    (1u << 2) /* load the plan and unit tree */
#define NEED_NO_HOME (1u << 3) /* runs without an initialised home */
/* With NEED_NO_HOME, NEED_STORE opens the store only when it exists. */

struct cli_ctx {
    const char *home;        /* the home folder (--home, NTM_HOME, XDG) */
    int json;                /* --json */
    int quiet;               /* --quiet */
    const char *lang;        /* "vi" or "en" */
    int lang_given;          /* --lang was given */
    struct ntm_store *store; /* opened when NEED_STORE */
    struct ntm_key *key;     /* loaded when NEED_KEY */
    struct ntm_plan *plan;   /* loaded when NEED_PLAN */
    char author[NTM_HEX_ID_LEN + 1]; /* this device's author id when known */
};

typedef int (*cli_cmd_fn)(int argc, char **argv, struct cli_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Messages (curl tool_msgs.c): fixed prefixes, --quiet respected. */

/* "ntm: error: ..." on stderr, always printed. */
void cli_error(const char *fmt, ...) NTM_PRINTF(1, 2);
/* "ntm: warning: ..." on stderr unless --quiet. */
void cli_warn(const struct cli_ctx *ctx, const char *fmt, ...) NTM_PRINTF(2, 3);
/* Plain note on stderr unless --quiet (progress, hints). */
void cli_note(const struct cli_ctx *ctx, const char *fmt, ...) NTM_PRINTF(2, 3);
/* Usage error for command cmd: prints the message and the hint
 * "run 'ntm <cmd> --help'"; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) NTM_PRINTF(2, 3);
/*
 * Print an ntm_error and return the exit code that fits its code: "ntm:
 * error: <what>: <text>", then a hint for the codes that have one. The
 * text is cli_error_text's.
 */
int cli_fail(const struct ntm_error *err, const char *what);
/*
 * The text of err in the user's language, into out (always terminated;
 * returns out). In English, the library's message. In Vietnamese, the
 * translation of a known library message (store/, plan/), else the
 * code's text, a dash and the library's English detail, so that the
 * sentence that says what failed is always Vietnamese.
 */
const char *cli_error_text(const struct ntm_error *err, char *out, size_t size);
/* ntm_strerror(code) in the user's language. Borrowed. */
const char *cli_strerror(enum ntm_err code);
/* Map a library code to an exit code (SPEC.md section 8). */
int cli_exit_code(enum ntm_err code);
/*
 * Text output (curl tool_msgs.c's one door, for bytes): record titles,
 * notes, unit and device names, server messages may carry terminal escape
 * sequences. cli_output_init puts a filter on stderr, and on stdout when
 * escape_stdout (not for --json: jansson escapes JSON), that shows C0
 * controls but '\n', DEL, C1 controls and bytes that are not UTF-8 as
 * \t, \r, \xHH or \u00HH. cli_output_raw lets stdout's bytes through
 * (the CSV and HTML reports). cli_escape_text is the filter: it appends s
 * escaped to out and returns the bytes used (an incomplete UTF-8
 * character at the end is left unless final).
 */
void cli_output_init(int escape_stdout);
void cli_output_raw(void);
size_t cli_escape_text(struct ntm_buf *out, const char *s, size_t n, int final);
/* Print a JSON value on stdout (indented, sorted keys, newline); takes a
 * reference (json_decref'd). Returns EXIT_OK or EXIT_FAIL. */
int cli_print_json(json_t *v);

/* ------------------------------------------------------------------ */
/* Option parsing (git parse-options, small). */

enum cli_opt_type {
    CLI_OPT_END = 0,
    CLI_OPT_FLAG,   /* int *: set to 1 */
    CLI_OPT_STRING, /* const char **: the value */
    CLI_OPT_INT,    /* int64_t *: a checked integer */
    CLI_OPT_LIST    /* struct cli_list *: repeatable string option */
};

struct cli_list {
    const char **items;
    int count;
    int cap;
};

struct cli_option {
    enum cli_opt_type type;
    const char *name; /* long name without "--" */
    void *value;
    const char *arg;  /* placeholder shown in help, e.g. "<unit>" */
    const char *help; /* one line */
};

#define CLI_OPT_END_MARK                                                       \
    {                                                                          \
        CLI_OPT_END, NULL, NULL, NULL, NULL                                    \
    }

/*
 * The man-page-style help of a command (NAME, SYNOPSIS, DESCRIPTION,
 * OPTIONS, EXIT STATUS, EXAMPLE), printed by --help.
 */
struct cli_help {
    const char *name;        /* "ntm record - record an activity ..." */
    const char *synopsis;    /* git notation, may hold several lines */
    const char *description; /* paragraphs */
    const char *exit_status; /* NULL: the standard list */
    const char *example;
};

/*
 * Parse argv[1..] against opts ("--name value" and "--name=value"). Plain
 * arguments are left in argv[0..*nargs) (argv[0] is dropped: it is the
 * command name). --help prints help and returns -1 with *exit_code
 * EXIT_OK; a bad option prints a usage error and returns -1 with
 * EXIT_USAGE. Returns 0 on success.
 */
int cli_parse(const char *cmd, int argc, char **argv,
              const struct cli_option *opts, const struct cli_help *help,
              int *nargs, int *exit_code);

/* text with the placeholders of synopses (<unit>, <file>, ...)
 * translated, into out (always terminated; returns out). */
const char *cli_tr_placeholders(const char *text, char *out, size_t size);
void cli_print_help(const char *cmd, const struct cli_option *opts,
                    const struct cli_help *help, FILE *out);
void cli_list_release(struct cli_list *l);

/* ------------------------------------------------------------------ */
/* Shared helpers for commands */

/* Parse "FIELD=VALUE" items into a new JSON object (numbers stay strings
 * except for the int fields people/amount_vnd/num/den). NULL and a usage
 * error printed when an item is malformed. */
json_t *cli_parse_set(const char *cmd, const struct cli_list *sets);

/* The identifier that text names in set (the identifier or its label in
 * either language: ntm_label_parse), or NULL and a usage error of cmd that
 * lists the choices for option opt ("--state"). */
const char *cli_parse_label(const char *cmd, enum ntm_label_set set,
                            const char *opt, const char *text);

/*
 * A date, quantity or period (field "date", "qty", "period") as a person
 * typed it, in the machine form the record rules take, into out: ISO
 * dates and "1234.5" as they are, and the forms printed in Vietnamese
 * (17/05/2019, 2,4, 1.234,5, 05/2019) in Vietnamese, numbers grouped with
 * ',' in English - ntm_human_parse_*. NULL and a usage error of cmd when
 * it is none, or reads two ways in the language of the messages (the
 * error shows both forms).
 */
const char *cli_input(const char *cmd, const char *field, const char *in,
                      char *out, size_t size);

/* Warn (never refuse) when a record's date, or else its period (either
 * may be NULL), lies outside the plan's period or after today by this
 * device's clock (cli/recwarn.c). */
/* The units of the plan's tree and those created in the store, each name a
 * unit has had, for word search: *names (new, ended by a NULL code) points
 * into *units (new); both NULL when they cannot be read. */
void cli_unit_names(struct cli_ctx *ctx, json_t **units,
                    struct ntm_unit_name **names);
/* warn when a measure's unit is outside the named list of its task */
void cli_warn_record_listed(const struct cli_ctx *ctx, const char *task,
                            const char *unit);
void cli_warn_record_time(const struct cli_ctx *ctx, const char *date,
                          const char *period);

/* Path of a file in the home: HOME/name. new: free with ntm_free. */
char *cli_home_path(const struct cli_ctx *ctx, const char *name);

/* Whether stderr is a terminal and not --quiet (for progress bars). */
int cli_progress_enabled(const struct cli_ctx *ctx);
/*
 * Show text as the progress line on stderr when cli_progress_enabled: it
 * replaces the line shown before, padded and cut by display width
 * (ntm_text_width) so that Vietnamese text leaves no remains and fits the
 * terminal. cli_progress_done ends the line when one was shown.
 */
void cli_progress_show(const struct cli_ctx *ctx, const char *text);
void cli_progress_done(void);
/*
 * A progress bar "[=====     ] " of width cells for done of total, into
 * out (at least width + 4 bytes); plain ASCII, so its display width is
 * its length.
 */
void cli_progress_bar(int64_t done, int64_t total, int width, char *out,
                      size_t size);
/* Write s padded with spaces to width display cells (ntm_text_width). */
void cli_put_padded(FILE *out, const char *s, size_t width);

/* Load this device's key into ctx->key when not loaded yet (the
 * dispatcher does it for NEED_KEY commands; a command that needs the key
 * for one sub-command only calls this). Asks the passphrase when the key
 * file is sealed. Returns EXIT_OK or an exit code, the error printed. */
int cli_need_key(struct cli_ctx *ctx);

/* Read a passphrase from the terminal without echo. 0 on success, -1 when
 * there is no terminal or reading failed. The caller wipes buf. */
int cli_read_passphrase(const char *prompt, char *buf, size_t size);
/* The same with echo on, for an answer that is not secret. */
/* A new passphrase typed twice at the terminal (prompt, then "the same
 * passphrase again"); 0 when buf holds it, else the error is said: no_tty
 * without a terminal, differ when the two differ (both translated). */
int cli_ask_new_passphrase(const char *prompt, const char *no_tty,
                           const char *differ, char *buf, size_t size);
int cli_read_answer(const char *prompt, char *buf, size_t size);

/*
 * Find a record by id or unique prefix: full receives the whole id and
 * *rec (may be NULL) a new reference to the record JSON of
 * ntm_store_record. Returns EXIT_OK or an exit code, the error printed.
 */
int cli_find_record(struct cli_ctx *ctx, const char *cmd, const char *id,
                    char full[NTM_RECORD_ID_LEN + 1], json_t **rec);

/* Format ms since the epoch as "YYYY-MM-DD HH:MM:SS" in the time zone of
 * the times shown (TZ, else the home's "tz", else Asia/Ho_Chi_Minh: set by
 * cli/main.c) into out, or "DD/MM/YYYY HH:MM:SS" in Vietnamese: for human
 * output only (JSON and CSV keep UTC). */
void cli_format_time(int64_t ms, char out[32]);
/* The default time zone of a home. */
#define CLI_DEFAULT_TZ "Asia/Ho_Chi_Minh"
/* Whether tz names a time zone this machine knows (a file of
 * /usr/share/zoneinfo, or Asia/Ho_Chi_Minh, Asia/Saigon, UTC, which need
 * none). */
int cli_tz_valid(const char *tz);
/* The TZ value for the zone tz: tz, or a POSIX rule when the zone
 * database lacks it. Borrowed. */
const char *cli_tz_spec(const char *tz);

/* Ask a question on the terminal (echo on) when stdin and stderr are
 * terminals: 0 with the answer in buf, -1 when there is none to ask. */
int cli_ask(const char *prompt, char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Join codes (joincode.c, docs/contract.md "Join codes"). */

struct cli_join {
    const char *server, *pin, *root, *signer; /* signer: root when absent */
    const char *role, *scope, *org, *name;    /* org, name may be NULL */
    const char *nonce;
    int64_t expires; /* ms since the epoch */
    json_t *doc;     /* holds the strings above */
    char *text;      /* the code without white space (ntm_free) */
};
enum cli_join_status { CLI_JOIN_OK, CLI_JOIN_BAD, CLI_JOIN_EXPIRED };
/* The code for j (server, pin, root, role, scope, org, name, expires),
 * signed by key; NULL when out of memory. Free with ntm_free. */
char *cli_join_make(const struct ntm_key *key, const struct cli_join *j);
/* Read and check code: CLI_JOIN_BAD when it is not a join code, is cut or
 * altered (signature), CLI_JOIN_EXPIRED when it is sound but past its
 * expiry (out is filled then too). Release out with cli_join_release. */
enum cli_join_status cli_join_read(const char *code, int64_t now_ms,
                                   struct cli_join *out);
void cli_join_release(struct cli_join *j);
/* "ab12 cd34 ef56 7890": the first 16 hex digits in groups of four. */
void cli_short_fingerprint(const char *hex, char out[40]);
/* Whether typed (spaces, dashes, any case) is the fingerprint of hex. */
int cli_fingerprint_matches(const char *hex, const char *typed);
/* After ntm init --join: ask the server to enroll this device (or keep
 * the request for the next push or pull when it cannot be reached), and
 * say so. 0 sent, 1 kept for later, -1 refused (said). */
int cli_join_ask(struct cli_ctx *ctx, struct ntm_store *st,
                 const struct ntm_key *key, const struct cli_join *jc,
                 const char *name);
/* Before a push or pull: send a join request that waits, and say what
 * came of it. */
void cli_join_resend(struct cli_ctx *ctx, struct ntm_client_opts *co);

/* ------------------------------------------------------------------ */
/* A new key pair for a home (rekey.c, docs/contract.md "a new key"). */

/* Where the home lives: a hash of the machine's id and the home's real
 * path (meta home.place; ntm_client_opts.place). */
void cli_home_place(const struct cli_ctx *ctx, char out[NTM_HEX_ID_LEN + 1]);
/* new: the home's key change for status and sync JSON - {"needed" (a
 * copy of the home was found: run ntm init --rekey), "from", "to",
 * "at_ms" (the last new key, null when none), "enrolled" (this device's
 * key), "waiting" (its entries the server lacks, set-aside ones
 * included)} - or NULL when the home never needed or got a new key. */
json_t *cli_rekey_json(struct cli_ctx *ctx);
/* Say it in words (status): nothing when cli_rekey_json is NULL. */
void cli_rekey_say(struct cli_ctx *ctx);
/* ntm init --rekey [--join CODE] [--no-passphrase]. */
int cli_init_rekey(struct cli_ctx *ctx, int no_pass, const char *join);

/* Commands, one file each: cli/cmd_<name>.c */
int cmd_init(int argc, char **argv, struct cli_ctx *ctx);
int cmd_whoami(int argc, char **argv, struct cli_ctx *ctx);
int cmd_key(int argc, char **argv, struct cli_ctx *ctx);
int cmd_admin(int argc, char **argv, struct cli_ctx *ctx);
int cmd_record(int argc, char **argv, struct cli_ctx *ctx);
int cmd_edit(int argc, char **argv, struct cli_ctx *ctx);
int cmd_delete(int argc, char **argv, struct cli_ctx *ctx);
int cmd_list(int argc, char **argv, struct cli_ctx *ctx);
int cmd_show(int argc, char **argv, struct cli_ctx *ctx);
int cmd_conflicts(int argc, char **argv, struct cli_ctx *ctx);
int cmd_resolve(int argc, char **argv, struct cli_ctx *ctx);
int cmd_review(int argc, char **argv, struct cli_ctx *ctx);
int cmd_verify(int argc, char **argv, struct cli_ctx *ctx);
int cmd_bundle(int argc, char **argv, struct cli_ctx *ctx);
int cmd_push(int argc, char **argv, struct cli_ctx *ctx);
int cmd_pull(int argc, char **argv, struct cli_ctx *ctx);
int cmd_sync(int argc, char **argv, struct cli_ctx *ctx);
int cmd_status(int argc, char **argv, struct cli_ctx *ctx);
int cmd_serve(int argc, char **argv, struct cli_ctx *ctx);
int cmd_report(int argc, char **argv, struct cli_ctx *ctx);
int cmd_plan(int argc, char **argv, struct cli_ctx *ctx);
int cmd_units(int argc, char **argv, struct cli_ctx *ctx);
int cmd_ui(int argc, char **argv, struct cli_ctx *ctx);

/* cmd_push.c: what a push or pull found of this device's own chain
 * (struct ntm_heal), said in plain words; its JSON form (new). */
void cli_sync_heal(struct cli_ctx *ctx, const struct ntm_heal *h);
json_t *cli_sync_heal_json(const struct ntm_heal *h);

#endif /* NTM_CLI_H */
