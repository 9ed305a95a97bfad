"""Template filters that put Herald's recorded codes in words people read."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from herald.contacts.models import SuppressionReason

register = template.Library()


@register.filter
def reason(text: str) -> str:
    """A skip or failure reason as recorded ("suppressed: opt_out") in words ("on the
    suppression list: opt-out keyword"); other reasons are already words."""
    if not isinstance(text, str):
        return text
    for prefix, words in (
        ("suppressed domain: ", _("its domain is on the suppression list: %(why)s")),
        ("suppressed: ", _("on the suppression list: %(why)s")),
    ):
        if text.startswith(prefix):
            code = text[len(prefix) :]
            why = SuppressionReason(code).label if code in SuppressionReason.values else code
            return words % {"why": why}
    return text
