"""Exit 0 when a PostgreSQL server answers at the URL given, 1 otherwise (used by `make test`)."""

import socket
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
try:
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 5432), timeout=3):
        pass
except OSError:
    sys.exit(1)
