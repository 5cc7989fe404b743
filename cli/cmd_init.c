/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - ntm init (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_init(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm init' is not available in this build");
    return EXIT_FAIL;
}
