#!/usr/bin/env bash
# Opens a walletwatch report in headless Chromium (Debian's `chromium`) and checks what a
# reader gets: the page loads with no external request and no console message (the
# report's Content-Security-Policy turns any attempted load into one), the ratings table
# and the charts are in the DOM, and a screenshot is written beside the report.
# Usage: tests/chromium_report.sh [REPORT_DIR]   (default: reports/demo)
set -euo pipefail
DIR=$(cd "${1:-reports/demo}" && pwd)
PAGE="file://$DIR/index.html"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || { echo "chromium is not installed (apt-get install chromium)"; exit 1; }
# Chromium's own background services (sync, component updates, time) are turned off; the
# few it still contacts are its own hosts, never the page's, and are left out below.
FLAGS=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --disable-domain-reliability --disable-breakpad
  --disable-client-side-phishing-detection
  --disable-features=OptimizationHints,Translate,MediaRouter,AutofillServerCommunication
  --user-data-dir="$T/profile" --enable-logging=stderr --v=0 --virtual-time-budget=3000)
"$BROWSER" "${FLAGS[@]}" --log-net-log="$T/net.json" --dump-dom "$PAGE" >"$T/dom.html" 2>"$T/log.txt"
fail=0
if grep -q 'INFO:CONSOLE' "$T/log.txt"; then
  echo "FAIL: console messages:"; grep 'INFO:CONSOLE' "$T/log.txt"; fail=1
fi
python3 - "$T/net.json" <<'PY' || fail=1
import json, re, sys
from urllib.parse import urlparse
own = ("google.com", "gvt1.com", "googleapis.com", "gstatic.com", "googleusercontent.com")
urls = set(re.findall(r'"url":"([^"]+)"', open(sys.argv[1]).read()))
external = sorted(u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:"))
                  and not (urlparse(u).hostname or "").endswith(own))
if external:
    print("FAIL: external requests:", *external, sep="\n  ")
    sys.exit(1)
PY
for want in 'id="ratings"' '<table' 'id="chart-categories_monthly"' 'id="chart-ratings"'; do
  grep -q "$want" "$T/dom.html" || { echo "FAIL: $want not in the rendered page"; fail=1; }
done
"$BROWSER" "${FLAGS[@]}" --window-size=1280,2400 --screenshot="$DIR/screenshot.png" "$PAGE" >/dev/null 2>&1
[ -s "$DIR/screenshot.png" ] || { echo "FAIL: no screenshot"; fail=1; }
[ $fail -eq 0 ] && echo "chromium: $PAGE loads offline, no console messages, ratings and charts shown; screenshot $DIR/screenshot.png"
exit $fail
