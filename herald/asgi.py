"""The ASGI application `herald web` and `herald run` serve."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
application = get_asgi_application()
