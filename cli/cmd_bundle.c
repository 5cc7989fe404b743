/* SPDX-License-Identifier: MIT */
/*
 * cmd_bundle.c - ntm bundle (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_bundle(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm bundle' is not available in this build");
    return EXIT_FAIL;
}
