/* SPDX-License-Identifier: MIT */
/*
 * cmd_key.c - ntm key (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm key' is not available in this build");
    return EXIT_FAIL;
}
