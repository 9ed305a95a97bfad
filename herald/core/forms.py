"""Form helpers shared by the pages of every app."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import BaseForm


def add_errors(form: BaseForm, exc: ValidationError) -> None:
    """Shows an action's ``ValidationError`` on ``form``: next to the field it names when the
    form has that field, otherwise at the top of the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
