"""The servers the mailbox tests connect to, as fixtures: ``dovecot`` and ``smtp_server``."""

from tests.dovecot import dovecot  # noqa: F401
from tests.mailboxes.servers import smtp_server  # noqa: F401
