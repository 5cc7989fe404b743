/* SPDX-License-Identifier: MIT */
/*
 * cmd_show.c - ntm show (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_show(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm show' is not available in this build");
    return EXIT_FAIL;
}
