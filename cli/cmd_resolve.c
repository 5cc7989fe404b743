/* SPDX-License-Identifier: MIT */
/*
 * cmd_resolve.c - ntm resolve (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_resolve(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm resolve' is not available in this build");
    return EXIT_FAIL;
}
