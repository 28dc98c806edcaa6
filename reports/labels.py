"""Human names of report columns and values, in the viewer's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

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
    "forgotten_deals": _("Forgotten deals"),
    "forgotten_deals_sum": _("Forgotten deals, sum"),
    "no_next_step_deals": _("Deals without a next step"),
    "forgotten_leads": _("Forgotten leads"),
    "created_deals": _("Deals created"),
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
    "totals": _("Totals"),
    "deals": _("Deals"),
    "leads": _("Leads"),
    "rows": _("Rows"),
    "by_employee": _("By employee"),
    "by_department": _("By department"),
}


def column_label(key: str):
    return LABELS.get(key, key)
