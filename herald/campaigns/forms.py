"""The campaign form: every editable setting, with send windows and the recurrence written as
text ("Mon-Fri 13:00-18:00", "Mon 09:00") and the status mapping as one field per outcome.

The text forms are read and written by ``herald.campaigns.windows`` through the four functions
below, the one place that knows them (the API uses them too).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from herald.campaigns import windows
from herald.campaigns.actions import EDITABLE_FIELDS
from herald.campaigns.models import STATUS_MAP_OUTCOMES, Campaign
from herald.contacts.models import ContactList
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template

# -- text <-> JSON of windows and recurrences -------------------------------------------------


def windows_from_text(text: str) -> list[dict[str, Any]]:
    """The JSON of send windows written as text; raises ValueError saying what to fix."""
    return windows.to_json(windows.parse_windows(text))


def windows_text(value: Any) -> str:
    """The text of stored send windows ("" for always open)."""
    return windows.format_windows(windows.from_json(value or []))


def recurrence_from_text(text: str) -> dict[str, Any] | None:
    """The JSON of a recurrence written as text (None for an empty text)."""
    if not text.strip():
        return None
    return windows.recurrence_to_json(windows.parse_recurrence(text))


def recurrence_text(value: Any) -> str:
    """The text of a stored recurrence ("" for none)."""
    if not value:
        return ""
    return windows.format_recurrence(windows.recurrence_from_json(value))


# -- the form --------------------------------------------------------------------------------

OUTCOME_LABELS = {
    "sent": _("Sent"),
    "failed": _("Failed"),
    "bounced": _("Bounced"),
    "unsubscribed": _("Unsubscribed"),
    "opened": _("Opened"),
    "clicked": _("Clicked"),
    "replied": _("Replied"),
}


STATUS_MAPPING = _("Status mapping: the list-member status each outcome sets (empty: unchanged)")


class CampaignForm(forms.ModelForm):
    lists = forms.ModelMultipleChoiceField(
        label=_("Contact lists"),
        queryset=ContactList.objects.order_by("name"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
    )
    windows = forms.CharField(
        label=_("Send windows"),
        required=False,
        help_text=_(
            "When sending may happen, e.g. “Mon-Fri 13:00-18:00” or "
            "“Mon-Fri 09:00-12:00, 14:00-18:00; Sat 10:00-13:00”. Empty: any time."
        ),
    )
    recurrence = forms.CharField(
        label=_("Recurs"),
        required=False,
        help_text=_("For a recurring campaign: the days and time of each run, e.g. “Mon 09:00”."),
    )
    start_at = forms.DateTimeField(
        label=_("Start at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("For a campaign that starts at a date and time (the account's time zone)."),
    )

    # Shown in this order, in these groups.
    SECTIONS = (
        (
            _("What is sent, to whom"),
            ("name", "mailbox", "template", "lists", "addresses", "subject", "bcc", "enabled"),
        ),
        (
            _("When"),
            ("start_mode", "start_at", "recurrence", "windows", "window_zone"),
        ),
        (
            _("Pace"),
            (
                "rate_count",
                "rate_unit",
                "wait_seconds",
                "daily_cap",
                "warmup_per_hour",
                "warmup_growth_percent",
                "pace_by_agents_of",
            ),
        ),
        (
            _("Safety"),
            ("failure_percent", "failure_window", "max_retry_hours"),
        ),
        (
            _("Tracking and recipient pages"),
            ("track_opens", "track_clicks", "optout_template", "thank_you_text"),
        ),
    )

    class Meta:
        model = Campaign
        fields = [name for name in EDITABLE_FIELDS if name != "status_map"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        campaign = self.instance
        for outcome in STATUS_MAP_OUTCOMES:
            self.fields[f"status_{outcome}"] = forms.CharField(
                label=OUTCOME_LABELS[outcome],
                required=False,
                max_length=50,
                initial=(campaign.status_map or {}).get(outcome, ""),
            )
        if campaign.pk:
            self.initial["lists"] = list(campaign.lists.all())
        self.initial["windows"] = windows_text(campaign.windows)
        self.initial["recurrence"] = recurrence_text(campaign.recurrence)
        mailbox = cast(forms.ModelChoiceField, self.fields["mailbox"])
        mailbox.queryset = Mailbox.objects.order_by("name")
        template = cast(forms.ModelChoiceField, self.fields["template"])
        template.queryset = Template.objects.order_by("name")
        optout = cast(forms.ModelChoiceField, self.fields["optout_template"])
        optout.queryset = Template.objects.order_by("name")
        agents_of = cast(forms.ModelChoiceField, self.fields["pace_by_agents_of"])
        agents_of.queryset = Mailbox.objects.order_by("name")
        # The live recipient count follows these two.
        for name in ("lists", "addresses"):
            self.fields[name].widget.attrs["data-recipients"] = "1"

    FOLDED = (_("Safety"), _("Tracking and recipient pages"))  # rarely changed: closed

    def sections(self) -> list[tuple[str, list[tuple[forms.BoundField, str, str]], bool]]:
        """Every field of the form, grouped (a field left out of the page would be saved
        empty); the rare groups folded unless one of their fields has an error."""
        groups = [(title, list(names)) for title, names in self.SECTIONS]
        groups.append((STATUS_MAPPING, [f"status_{outcome}" for outcome in STATUS_MAP_OUTCOMES]))
        out = []
        for title, names in groups:
            fields = [self[name] for name in names]
            folded = (title in self.FOLDED or title == STATUS_MAPPING) and not any(
                f.errors for f in fields
            )
            out.append((str(title), [(f, "", "") for f in fields], folded))
        return out

    def clean_windows(self) -> list[dict[str, Any]]:
        try:
            return windows_from_text(self.cleaned_data["windows"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_recurrence(self) -> dict[str, Any] | None:
        try:
            return recurrence_from_text(self.cleaned_data["recurrence"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def action_arguments(self) -> dict[str, Any]:
        """What ``do_save_campaign`` takes, from the cleaned data."""
        data = self.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
        fields["status_map"] = {
            outcome: data[f"status_{outcome}"].strip()
            for outcome in STATUS_MAP_OUTCOMES
            if data.get(f"status_{outcome}", "").strip()
        }
        return {"lists": data["lists"], **fields}
