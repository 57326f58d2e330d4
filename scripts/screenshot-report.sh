#!/usr/bin/env bash
# Screenshot of a report page with headless Chromium.
#
#   scripts/screenshot-report.sh INDEX_HTML OUT_PNG
#
# Needs Debian's chromium (/usr/bin/chromium): apt-get install -y chromium.
# The page is loaded from disk (file://), in a throw-away profile, with
# every background network feature off; the window is 1200×2000 px.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 INDEX_HTML OUT_PNG" >&2
  exit 2
fi
page=$1
out=$2
if [ ! -f "$page" ]; then
  echo "$0: no such file: $page" >&2
  exit 1
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "$0: $chromium not found; install it with: apt-get install -y chromium" >&2
  exit 1
fi
abs_page=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
case $out in
  /*) abs_out=$out ;;
  *) abs_out=$(pwd)/$out ;;
esac
mkdir -p "$(dirname "$abs_out")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1200,2000 \
  --screenshot="$abs_out" "file://$abs_page" 2>"$profile/chromium.log" || {
  echo "$0: chromium failed:" >&2
  cat "$profile/chromium.log" >&2
  exit 1
}
if [ ! -s "$abs_out" ]; then
  echo "$0: chromium wrote no screenshot" >&2
  cat "$profile/chromium.log" >&2
  exit 1
fi
echo "$abs_out"
