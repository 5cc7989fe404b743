/* SPDX-License-Identifier: MIT */
/*
 * cmd_serve.c - ntm serve (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_serve(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm serve' is not available in this build");
    return EXIT_FAIL;
}
