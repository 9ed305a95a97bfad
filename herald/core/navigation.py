"""The main navigation: each entry is shown to the roles that may open it.

Each part of Herald adds its pages here, in the order they appear in the menu.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from herald.accounts.models import Role


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    role: Role
    section: str  # highlights the entry for every URL under this namespace


NAVIGATION: list[NavItem] = [
    NavItem(_("Home"), "home", Role.AGENT, "home"),
    NavItem(_("Dashboard"), "tracking:dashboard", Role.MANAGER, "tracking"),
    NavItem(_("Contacts"), "contacts:search", Role.AGENT, "contacts"),
    NavItem(_("Inbox"), "conversations:list", Role.AGENT, "conversations"),
    NavItem(_("Supervisor"), "routing:supervisor", Role.MANAGER, "routing"),
    NavItem(_("Agent teams"), "conversations:members", Role.MANAGER, "conversations"),
    NavItem(_("Wrap-up reasons"), "conversations:wrapup", Role.MANAGER, "conversations"),
    NavItem(_("Contact lists"), "contacts:lists", Role.MANAGER, "contacts-lists"),
    NavItem(_("Suppression list"), "contacts:suppressions", Role.MANAGER, "contacts-suppressions"),
    NavItem(_("Templates"), "messaging:list", Role.MANAGER, "messaging"),
    NavItem(_("Mailboxes"), "mailboxes:list", Role.MANAGER, "mailboxes"),
    NavItem(_("Campaigns"), "campaigns:list", Role.MANAGER, "campaigns"),
    NavItem(_("Dispositions"), "dispositions:page", Role.MANAGER, "dispositions"),
    NavItem(_("Sandbox mailbox"), "mailboxes:sandbox", Role.AGENT, "mailboxes"),
    NavItem(_("History"), "audit:history", Role.MANAGER, "audit"),
    NavItem(_("Users"), "accounts:users", Role.ADMIN, "accounts-users"),
    NavItem(_("Account settings"), "accounts:settings", Role.ADMIN, "accounts-settings"),
    NavItem(_("API tokens"), "accounts:tokens", Role.AGENT, "accounts-tokens"),
    NavItem(_("Webhooks"), "webhooks:list", Role.ADMIN, "webhooks"),
]
