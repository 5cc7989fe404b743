/* SPDX-License-Identifier: MIT */
/*
 * text.c - the dates of plan/: today, calendar checks, day numbers and
 * rounding. Folding, display width and edit distance are util/'s
 * (ntm_text_fold_compat, ntm_text_width, ntm_text_distance).
 *
 * Uses libc only.
 */
#include "plan_int.h"

#include <string.h>
#include <time.h>

void
Ntm_plan_today(char out[PLAN_DATE_LEN])
{
    time_t t = (time_t)(ntm_now_ms() / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(out, PLAN_DATE_LEN, "%Y-%m-%d", &tm);
}

/* Days since 1970-01-01 of a valid YYYY-MM-DD date (H. Hinnant's
 * days_from_civil). */
int64_t
Ntm_plan_days(const char *s)
{
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
                (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
Ntm_plan_date(int64_t z, char out[PLAN_DATE_LEN])
{
    int64_t era, y;
    unsigned doe, yoe, doy, mp, d, m;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int64_t
Ntm_plan_round(double v)
{
    if (v > 9.0e18 || v < -9.0e18)
        return v > 0 ? INT64_MAX : INT64_MIN;
    return v < 0 ? -(int64_t)(-v + 0.5) : (int64_t)(v + 0.5);
}
