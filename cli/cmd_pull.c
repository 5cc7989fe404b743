/* SPDX-License-Identifier: MIT */
/*
 * cmd_pull.c - ntm pull (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_pull(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm pull' is not available in this build");
    return EXIT_FAIL;
}
