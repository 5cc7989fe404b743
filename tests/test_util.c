/* SPDX-License-Identifier: MIT */
/* test_util.c - placeholder; the util suite lands with the crypto suite. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ntm_util.h"

static void
test_buf_addf(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(ntm_buf_addf(&b, "%s-%d", "a", 7), NTM_OK);
    assert_string_equal(ntm_buf_str(&b), "a-7");
    ntm_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_buf_addf)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
