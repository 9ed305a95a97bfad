from __future__ import annotations

import json
import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from herald.mailboxes.models import Mailbox
from herald.messaging.models import Signature, Template


class TemplateForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Language"), choices=[*settings.LANGUAGES, ("he", "עברית")]
    )
    event_timezone = forms.ChoiceField(
        label=_("Event time zone"),
        choices=[(z, z) for z in sorted(zoneinfo.available_timezones())],
        initial="UTC",
    )

    class Meta:
        model = Template
        fields = [
            "name",
            "language",
            "direction",
            "subject",
            "include_company_name",
            "html",
            "text",
            "signature",
            "saved_answer",
            "event_enabled",
            "event_title",
            "event_organizer",
            "event_location",
            "event_start",
            "event_end",
            "event_timezone",
        ]
        widgets = {
            "html": forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
            "text": forms.Textarea(attrs={"rows": 8}),
        }


class SignatureForm(forms.ModelForm):
    class Meta:
        model = Signature
        fields = ["name", "html"]
        widgets = {"html": forms.Textarea(attrs={"rows": 6, "class": "code"})}


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("Attach a file"))


def parse_variables(text: str) -> dict[str, object]:
    """The preview's sample variables: a JSON object, or ``name = value`` lines."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("The sample variables are not valid JSON (line %(line)d): %(msg)s")
                % {"line": exc.lineno, "msg": exc.msg}
            ) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("The sample variables must be a JSON object."))
        return data
    values: dict[str, object] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise forms.ValidationError(
                _("Line %(n)d of the sample variables is not “name = value”.") % {"n": number}
            )
        values[name.strip()] = value.strip()
    return values


class TestSendForm(forms.Form):
    mailbox = forms.ModelChoiceField(
        label=_("Through mailbox"), queryset=Mailbox.objects.filter(enabled=True)
    )
    to = forms.EmailField(label=_("Send a test to"))
    variables = forms.CharField(widget=forms.HiddenInput, required=False)
