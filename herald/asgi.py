"""The ASGI application `herald web` and `herald run` serve: Django, with the tracking fast path
(open pixel and click redirect) in front of it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
django_application = get_asgi_application()

from herald.tracking.fastpath import wrap  # noqa: E402 - needs Django set up first

application = wrap(django_application)  # type: ignore[arg-type]
