from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from herald.accounts.models import Account, Role, User


class UserCreateForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)
    password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leave empty to generate one, shown once after saving."),
    )


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name", "role", "language", "time_zone", "is_active"]


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name", "language", "time_zone"]


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = [
            "company_name",
            "address",
            "email",
            "phone",
            "timezone",
            "language",
            "anonymize_ips",
            "presence_idle_seconds",
        ]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["presence_idle_seconds"].required = False

    def clean_presence_idle_seconds(self) -> int:
        """Left out (scripts posting the older form): the value stays."""
        value = self.cleaned_data.get("presence_idle_seconds")
        return value if value is not None else self.instance.presence_idle_seconds


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What will use it, e.g. “CRM sync”.")
    )
    user = forms.ModelChoiceField(label=_("Acts as"), queryset=User.objects.filter(is_active=True))
