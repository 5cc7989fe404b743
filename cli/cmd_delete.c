/* SPDX-License-Identifier: MIT */
/*
 * cmd_delete.c - ntm delete (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm delete' is not available in this build");
    return EXIT_FAIL;
}
