/* SPDX-License-Identifier: MIT */
/* opts.c - placeholder, replaced by the real option parser. */
#include "cli.h"
