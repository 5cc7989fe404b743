/* SPDX-License-Identifier: MIT */
/*
 * cmd_edit.c - ntm edit (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_edit(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm edit' is not available in this build");
    return EXIT_FAIL;
}
