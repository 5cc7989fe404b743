/* SPDX-License-Identifier: MIT */
/*
 * cmd_report.c - ntm report (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_report(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm report' is not available in this build");
    return EXIT_FAIL;
}
