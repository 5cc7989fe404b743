/* SPDX-License-Identifier: MIT */
/*
 * cmd_whoami.c - ntm whoami (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_whoami(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm whoami' is not available in this build");
    return EXIT_FAIL;
}
