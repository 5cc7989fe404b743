/* SPDX-License-Identifier: MIT */
/*
 * cmd_admin.c - ntm admin (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_admin(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm admin' is not available in this build");
    return EXIT_FAIL;
}
