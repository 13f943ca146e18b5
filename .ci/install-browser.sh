#!/usr/bin/env bash
# Installs Debian's Chromium for the end-to-end browser test (tests/test_web_browser.py).
# Playwright drives /usr/bin/chromium through its executable_path; it never downloads a
# browser of its own. Run by .ci/run before the test command; safe to run by hand.
# Exits 0 even when it cannot install: the browser test then fails loudly under CI=true
# (and skips, saying why, outside CI).
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "warning: /usr/bin/chromium is missing and apt-get needs root;" \
       "the browser test will fail under CI" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: /usr/bin/chromium is missing and there is no apt-get;" \
       "the browser test will fail under CI" >&2
  exit 0
fi
echo "browser: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
if "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq chromium chromium-driver; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null)"
else
  echo "warning: apt-get could not install chromium; the browser test will fail under CI" >&2
fi
exit 0
