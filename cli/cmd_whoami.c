/* SPDX-License-Identifier: MIT */
/*
 * cmd_whoami.c - ntm whoami: this device's author id, and the enrollment
 * that governs its next entry (role, scope, state) as this replica knows
 * it. Needs no passphrase: the author id comes from config.json.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm whoami - show this device's author id, role and scope"),
    "ntm whoami",
    N_("Prints the author id (the hex of this device's public key) and the\n"
       "enrollment that governs the next entry it writes, as this replica\n"
       "knows it: role, scope and whether it is enrolled, revoked or the root\n"
       "key. An enrollment made elsewhere is known after a pull or a bundle\n"
       "import."),
    NULL, "ntm whoami\nntm whoami --json"};

int
cmd_whoami(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("whoami", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("whoami", _("unexpected argument '%s'"),
                               argv[0]);
    if (!ctx->author[0] && (code = cli_need_key(ctx)) != EXIT_OK)
        return code;

    struct ntm_error err = {0};
    struct ntm_enrollment e;
    memset(&e, 0, sizeof(e));
    if (ntm_store_enrollment(ctx->store, ctx->author, 0, &e, &err) != NTM_OK)
        return cli_fail(&err, _("cannot read this device's enrollment"));
    int enrolled = (e.enrolled || e.is_root) && !e.revoked;
    const char *role = e.is_root ? "admin" : e.role;
    const char *scope = e.is_root && !e.scope[0] ? "72" : e.scope;
    int64_t head = 0;
    ntm_store_head(ctx->store, ctx->author, &head, NULL);

    if (ctx->json) {
        json_t *o = json_object();
        if (!o)
            return cli_print_json(NULL);
        json_object_set_new(o, "author", json_string(ctx->author));
        json_object_set_new(
            o, "role", enrolled && role[0] ? json_string(role) : json_null());
        json_object_set_new(o, "scope",
                            enrolled && scope[0] ? json_string(scope)
                                                 : json_null());
        json_object_set_new(o, "enrolled", json_boolean(enrolled));
        json_object_set_new(o, "revoked", json_boolean(e.revoked));
        json_object_set_new(o, "root", json_boolean(e.is_root));
        json_object_set_new(o, "name", json_string(e.name));
        json_object_set_new(o, "org",
                            e.org[0] ? json_string(e.org) : json_null());
        json_object_set_new(o, "seq", json_integer(head));
        return cli_print_json(o);
    }
    printf(_("author id: %s\n"), ctx->author);
    if (e.revoked) {
        printf(_("state:     revoked after seq %lld\n"),
               (long long)e.revoked_after);
    } else if (!enrolled) {
        printf(_("state:     not enrolled yet: records are kept here until an "
                 "admin enrolls this key\n"));
    } else {
        const char *uname =
            ctx->plan ? ntm_plan_unit_name(ctx->plan, scope) : NULL;
        printf(_("state:     %s\n"), e.is_root ? _("root key") : _("enrolled"));
        printf(_("role:      %s\n"), cli_label(NTM_LABEL_ROLE, role));
        printf(_("scope:     %s%s%s%s\n"), scope, uname ? " (" : "",
               uname ? uname : "", uname ? ")" : "");
        if (e.org[0])
            printf(_("org:       %s\n"), e.org);
    }
    if (e.name[0])
        printf(_("name:      %s\n"), e.name);
    printf(_("entries:   %lld written\n"), (long long)head);
    return EXIT_OK;
}
