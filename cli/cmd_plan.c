/* SPDX-License-Identifier: MIT */
/*
 * cmd_plan.c - ntm plan (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_plan(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm plan' is not available in this build");
    return EXIT_FAIL;
}
