/* SPDX-License-Identifier: MIT */
/*
 * cmd_push.c - ntm push (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_push(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm push' is not available in this build");
    return EXIT_FAIL;
}
