/* SPDX-License-Identifier: MIT */
/*
 * cmd_verify.c - ntm verify (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_verify(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm verify' is not available in this build");
    return EXIT_FAIL;
}
