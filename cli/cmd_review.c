/* SPDX-License-Identifier: MIT */
/*
 * cmd_review.c - ntm review (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_review(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm review' is not available in this build");
    return EXIT_FAIL;
}
