/* SPDX-License-Identifier: MIT */
/*
 * recwarn.c - warnings at record time, never refusals: a record's date or
 * period that lies outside the plan's period (its "from" and "to", read
 * through the public plan API), or after today by this device's clock.
 * Both are often typing slips (2091 for 2019, a month and day swapped),
 * yet may be true (a late entry, a plan extended), so the record is still
 * made; the store's own field rules decide what is refused. Also a
 * measure of a task judged against a named list (the pilot communes) at a
 * unit the list does not hold: the report will not count it.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The plan's first and last day (YYYY-MM-DD), "" when it has none. */
static void
plan_bounds(const struct ntm_plan *plan, char from[11], char to[11])
{
    json_t *d = NULL;
    from[0] = to[0] = '\0';
    if (!plan || ntm_plan_describe(plan, NULL, &d, NULL) != NTM_OK)
        return;
    const char *f = json_string_value(json_object_get(d, "from"));
    const char *t = json_string_value(json_object_get(d, "to"));
    if (f && ntm_date_valid(f))
        snprintf(from, 11, "%s", f);
    if (t && ntm_date_valid(t))
        snprintf(to, 11, "%s", t);
    json_decref(d);
}

/* First and last day of a period YYYY or YYYY-MM (last day may be later
 * than the month's: only compared as text against real dates). */
static void
period_days(const char *period, char first[11], char last[11])
{
    if (strlen(period) == 7) {
        snprintf(first, 11, "%.7s-01", period);
        snprintf(last, 11, "%.7s-31", period);
    } else {
        snprintf(first, 11, "%.4s-01-01", period);
        snprintf(last, 11, "%.4s-12-31", period);
    }
}

void
cli_warn_record_time(const struct cli_ctx *ctx, const char *date,
                     const char *period)
{
    char first[11], last[11], from[11], to[11], today[11];
    if (date && ntm_field_date_valid(date)) {
        snprintf(first, sizeof(first), "%s", date);
        snprintf(last, sizeof(last), "%s", date);
    } else if (period && ntm_field_period_valid(period)) {
        period_days(period, first, last);
    } else {
        return;
    }
    plan_bounds(ctx->plan, from, to);
    if ((from[0] && strcmp(last, from) < 0) ||
        (to[0] && strcmp(first, to) > 0)) {
        if (date)
            cli_warn(ctx,
                     _("the date %s lies outside the plan's period, %s to "
                       "%s: check it (the record is kept)"),
                     date, from[0] ? from : "?", to[0] ? to : "?");
        else
            cli_warn(ctx,
                     _("the period %s lies outside the plan's period, %s to "
                       "%s: check it (the record is kept)"),
                     period, from[0] ? from : "?", to[0] ? to : "?");
    }
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !localtime_r(&now, &tm) ||
        strftime(today, sizeof(today), "%Y-%m-%d", &tm) != 10)
        return;
    if (strcmp(first, today) > 0) {
        if (date)
            cli_warn(ctx,
                     _("the date %s is in the future: today is %s by this "
                       "device's clock (the record is kept)"),
                     date, today);
        else
            cli_warn(ctx,
                     _("the period %s has not begun: today is %s by this "
                       "device's clock (the record is kept)"),
                     period, today);
    }
}

void
cli_warn_record_listed(const struct cli_ctx *ctx, const char *task,
                       const char *unit)
{
    const char *file = NULL;
    if (ctx->plan && ntm_plan_unit_listed(ctx->plan, task, unit, &file) == 0)
        cli_warn(ctx,
                 _("unit %s is not on the list %s that task '%s' is judged "
                   "on: the report will list this record as not counted "
                   "(the record is kept)"),
                 unit, file, task);
}
