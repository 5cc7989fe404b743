/* SPDX-License-Identifier: MIT */
/* main.c - placeholder dispatcher, replaced by the real one. */
#include "cli.h"

int
main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return ntm_global_init() == NTM_OK ? 0 : 1;
}
