"""Template filters that put Herald's recorded codes in words people read."""

from __future__ import annotations

from functools import cache

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from herald.contacts.models import SuppressionReason

register = template.Library()

# The classification reasons (herald.inbound.classify; `herald mail classify` prints them as they
# are) that a person reads on a message, in words. Header facts ("Auto-Submitted: auto-replied")
# are shown as they came.
CLASSIFICATION = {
    "no thread": gettext_lazy("not an answer to a message Herald sent"),
    "reply token": gettext_lazy("an answer to a message Herald sent (its reply address)"),
    "In-Reply-To/References": gettext_lazy("an answer to a message Herald sent (its headers)"),
    "hard bounce": gettext_lazy("the address does not exist (hard bounce)"),
    "soft bounce": gettext_lazy("delivery failed for now (soft bounce)"),
    "delay warning": gettext_lazy("delivery is delayed, still being tried"),
    "read receipt (RFC 8098)": gettext_lazy("read receipt"),
    "out-of-office subject": gettext_lazy("out of office (subject)"),
    "out-of-office wording": gettext_lazy("out of office (wording)"),
    "automatic answer (ack)": gettext_lazy("automatic acknowledgement"),
    "automatic answer (optout)": gettext_lazy("automatic opt-out confirmation"),
    "automatic answer (confirm)": gettext_lazy("request to confirm an opt-out"),
}


@register.filter
def reason(text: str) -> str:
    """A skip or failure reason as recorded ("suppressed: opt_out") in words ("on the
    suppression list: opt-out keyword"); other reasons are already words."""
    if not isinstance(text, str):
        return text
    if text in CLASSIFICATION:
        return str(CLASSIFICATION[text])
    for prefix, words in (
        ("suppressed domain: ", _("its domain is on the suppression list: %(why)s")),
        ("suppressed: ", _("on the suppression list: %(why)s")),
    ):
        if text.startswith(prefix):
            code = text[len(prefix) :]
            why = SuppressionReason(code).label if code in SuppressionReason.values else code
            return words % {"why": why}
    return text


@register.filter
def label_of(value: str, choices: str) -> str:
    """The label, in the page's language, of a stored choice (kinds: ``presence``,
    ``campaign_status``), e.g. ``{{ a.presence|label_of:"presence" }}``."""
    from herald.campaigns.models import CampaignStatus
    from herald.routing.models import PresenceStatus

    kinds = {"presence": PresenceStatus, "campaign_status": CampaignStatus}
    kind = kinds.get(choices)
    if kind is None or value not in kind.values:
        return value
    return str(kind(value).label)


@register.filter
def field_label(name: str, model_name: str) -> str:
    """What a page calls the field ``name`` of the model named ``model_name`` (an audit event's
    object type, e.g. "template"): its verbose name in the page's language, else the name."""
    model = _models().get(model_name)
    if model is None:
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


@register.filter
def model_label(model_name: str) -> str:
    """What a page calls a kind of object (an audit event's object type): the model's verbose
    name in the page's language, else the name as recorded."""
    model = _models().get(model_name)
    return str(model._meta.verbose_name) if model is not None else model_name


@cache
def _models() -> dict[str, type[Model]]:
    return {m._meta.model_name or "": m for m in apps.get_models()}
