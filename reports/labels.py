"""Human names of report columns and values, in the viewer's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

LABELS = {
    "id": _("ID"),
    "name": _("Name"),
    "title": _("Title"),
    "activity_points": _("Activity points"),
    "activity_index": _("Activity index, %"),
    "calls": _("Calls"),
    "meetings": _("Meetings"),
    "emails": _("E-mails"),
    "tasks": _("Tasks"),
    "other": _("Other"),
    "leads_in_work": _("Leads in work"),
    "won_count": _("Won"),
    "won_sum": _("Won, sum"),
    "avg_check": _("Average check"),
    "win_rate": _("Win rate, %"),
    "cycle_days": _("Cycle, days"),
    "lost_count": _("Lost"),
    "lost_sum": _("Lost, sum"),
    "in_work_count": _("Deals in work"),
    "in_work_sum": _("In work, sum"),
    "activity": pgettext_lazy("column group", "Activity"),
    "money": _("Money"),
    "forgotten_deals": _("Forgotten deals"),
    "forgotten_deals_sum": _("Forgotten deals, sum"),
    "no_next_step_deals": _("Deals without a next step"),
    "forgotten_leads": _("Forgotten leads"),
    "created_deals": _("Deals created"),
    "deals_created": _("Deals created"),
    "stage_reached": _("Reached the plan stage"),
    "created_leads": _("Leads created"),
    "share": _("Forgotten share, %"),
    "responsible": _("Responsible"),
    "responsible_id": _("Responsible ID"),
    "responsible_name": _("Responsible"),
    "stage": _("Stage"),
    "stage_id": _("Stage ID"),
    "stage_name": _("Stage"),
    "status_id": _("Status ID"),
    "status_name": _("Status"),
    "amount": _("Amount"),
    "idle_days": _("Idle, days"),
    "reasons": _("Reasons"),
    "idle": _("idle"),
    "no_next_step": _("no next step"),
    "url": _("Link"),
    "created_at": _("Created"),
    "closed_at": _("Closed"),
    "completed_at": _("Completed"),
    "employees": _("Employees"),
    "employee": _("Employee"),
    "department": _("Department"),
    "pipeline": _("Pipeline"),
    "totals": _("Totals"),
    "deals": _("Deals"),
    "leads": _("Leads"),
    "rows": _("Rows"),
    "by_employee": _("By employee"),
    "by_department": _("By department"),
    "month": _("Month"),
    "level": _("Level"),
    "pipeline_id": _("Pipeline ID"),
    "metric": _("Metric"),
    "plan": _("Plan"),
    "fact": _("Fact"),
    "completion": _("Completion, %"),
    "remaining": _("Remaining"),
    "repeat_share": _("Repeat share, %"),
    "bonus": _("Bonus"),
    "new_sales": _("New sales"),
    "repeat_sales": _("Repeat sales"),
    "age_days": _("Age, days"),
    "created": _("Created"),
    "closed": _("Closed"),
    "exits": _("Exits"),
    "mean_days": _("Mean days"),
    "now": _("In the stage now"),
    "now_mean_days": _("Days so far"),
    "count": _("Count"),
    "sum": _("Sum"),
    "mean_age_days": _("Mean age, days"),
    "won_count_year_before": _("Won a year before"),
    "won_sum_year_before": _("Sum a year before"),
    "months": _("Sales by month"),
    "years": _("Sales by year"),
    "stages": _("Stage statistics"),
    "stage_pipelines": _("Pipelines"),
    "long_cycles": _("Long cycles, %"),
    "deal_durations": _("Time in deal stages"),
    "lead_durations": _("Time in lead statuses"),
    "tiles": _("Key figures"),
    "value": _("Value"),
    "year": _("Year"),
    "age_min": _("Age from, days"),
    "age_max": _("Age to, days"),
    "employee_id": _("Employee ID"),
    "semantic": _("State"),
    "won": _("Won"),
    "long": _("Long cycles"),
    "days": _("Days in the stage"),
    "entered_at": _("Entered the stage"),
    "left_at": _("Left the stage"),
    "converted_leads": _("Leads converted"),
    "period_deals": _("Deals of the period"),
    "stage_exits": _("Exits from the stage"),
    "stage_now": _("In the stage now"),
    "entity": _("Entity"),
    "state": _("State"),
    "received": _("Leads received"),
    "new": pgettext_lazy("lead state", "New"),
    "in_work": pgettext_lazy("lead state", "In work"),
    "qualified": _("Qualified"),
    "unqualified": _("Unqualified"),
    "converted": _("Converted"),
    "conversion": _("Conversion, %"),
    "processing_days": _("Processing, days"),
    "cohort_revenue": _("Cohort revenue"),
    "spend": _("Ad spend"),
    "cost_per_lead": _("Cost per lead"),
    "romi": _("ROMI, %"),
    "roi": _("ROI, %"),
    "sources": _("Sources"),
    "source": _("Source"),
    "utm": _("UTM"),
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "reached": _("Reached"),
    "status": _("Status"),
    "status_days": _("Days in status"),
    "marketing": _("Marketing"),
    "top": _("Top 5 sources"),
    "funnel": _("Funnel"),
    "matrix": _("Leads by employee and status"),
    "previous": _("Previous period"),
    "change": _("Change, %"),
    "total": _("Total"),
}

# The data-quality report's columns, where a shared name means something else there.
QUALITY_LABELS = {
    "checked": _("Checked deals"),
    "with_errors": _("With errors"),
    "share": _("Share with errors, %"),
    "zero_amount": _("Won with a zero amount"),
    "no_client": _("No company or contact"),
    "no_source": _("No source"),
    "overdue_close": _("Close date passed"),
    "no_next_step": _("No planned activity"),
    "inactive_owner": _("Responsible fired"),
    "errors": _("Errors"),
    "rule": _("Rule"),
    "count": _("Deals"),
    "close_date": _("Close date"),
    "by_rule": _("By rule"),
}

# Codes that a report's rows carry as values (a plan row's level and metric, a drill row's
# state), in words for the exports; the JSON keeps the codes.
VALUES = {
    "employee": pgettext_lazy("plan level", "employee"),
    "department": pgettext_lazy("plan level", "department"),
    "won": pgettext_lazy("deal state", "won"),
    "lost": pgettext_lazy("deal state", "lost"),
    "open": pgettext_lazy("deal state", "open"),
}
VALUE_COLUMNS = frozenset({"level", "metric", "state"})

REPORT_TITLES = {
    "efficiency": _("Manager efficiency"),
    "forgotten": _("Forgotten leads and deals"),
    "plan": _("Plan vs fact"),
    "quality": _("Errors in filling the CRM"),
    "dynamics": _("Sales dynamics"),
    "marketing": _("Marketing"),
}


# The marketing report's names where a shared key means something else there.
MARKETING_LABELS = {
    "closed": pgettext_lazy("leads", "Closed"),
    "months": _("Months"),
    "stages": _("Stage reach"),
}


def column_label(key: str, overrides: dict | None = None):
    if overrides and key in overrides:
        return overrides[key]
    return LABELS.get(key, key)


def value_label(column: str, value):
    """A code in a value column as words (a metric by its column label); other values as
    they are."""
    if column not in VALUE_COLUMNS or not isinstance(value, str):
        return value
    return str(VALUES.get(value) or LABELS.get(value) or value)


def report_title(name: str) -> str:
    return str(REPORT_TITLES.get(name, name))
