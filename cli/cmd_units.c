/* SPDX-License-Identifier: MIT */
/*
 * cmd_units.c - ntm units (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_units(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm units' is not available in this build");
    return EXIT_FAIL;
}
