#!/usr/bin/env bash
# Installs the system programs the test suite drives for real, when missing: Debian's Chromium
# for the browser tests, Debian's Dovecot for the IMAP tests (started by tests/dovecot.py on
# ports of its own; the package's system service is never started), and GNU gettext (xgettext,
# msgfmt) for the translation catalogs' test. As root it uses apt-get;
# otherwise it says what to install.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
command -v xgettext >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
command -v npm >/dev/null 2>&1 || missing+=(npm)

# axe-core, the accessibility checker of the browser tests, from the npm registry (pinned in
# tests/browser/axe/package-lock.json).
axe_ready() { [ -f tests/browser/axe/node_modules/axe-core/axe.min.js ]; }
install_axe() {
  if ! axe_ready; then
    echo "Installing axe-core (npm ci)…"
    npm ci --prefix tests/browser/axe --no-audit --no-fund --silent
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_axe
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} (apt-get)…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# policy-rc.d keeps the packages' system services (Dovecot on port 143) from starting.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi
install_axe
