/* SPDX-License-Identifier: MIT */
/*
 * cmd_list.c - ntm list (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_list(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm list' is not available in this build");
    return EXIT_FAIL;
}
