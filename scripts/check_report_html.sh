#!/usr/bin/env bash
# Renders a report's index.html in headless Chromium, saves a screenshot and fails when the page
# logs a console error (a missing figure shows up as "Failed to load resource") or renders blank.
#
#   scripts/check_report_html.sh REPORT_DIR [SCREENSHOT.png]     (default REPORT_DIR/screenshot.png)
#
# Needs Debian's chromium (apt-get install chromium); exits 77 (skipped) without it.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,7p' "$0"; exit 2; }
report=$(cd "$1" && pwd)
screenshot=${2:-$report/screenshot.png}
[[ -f $report/index.html ]] || { echo "check_report_html.sh: no $report/index.html" >&2; exit 2; }
chromium=$(command -v chromium || command -v chromium-browser || true)
[[ -n $chromium ]] || { echo "check_report_html.sh: chromium is not installed; skipped" >&2; exit 77; }

log=$(mktemp)
profile=$(mktemp -d)
trap 'rm -rf "$log" "$profile"' EXIT
# --no-sandbox: root in a container has no user namespaces for the sandbox.
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --enable-logging=stderr --v=0 --window-size=1200,2400 \
  --virtual-time-budget=5000 --screenshot="$screenshot" "file://$report/index.html" >"$log" 2>&1 ||
  { cat "$log" >&2; echo "check_report_html.sh: chromium failed" >&2; exit 1; }
[[ -s $screenshot ]] || { cat "$log" >&2; echo "check_report_html.sh: no screenshot written" >&2; exit 1; }

status=0
if grep -E 'CONSOLE|Failed to load resource|Uncaught' "$log" >&2; then
  echo "check_report_html.sh: the page logged console errors (above)" >&2
  status=1
fi
# Blank render: count the pixels that are not (near) white in the screenshot. PNG decoding with
# the standard library only (zlib + the five scanline filters), so no imaging package is needed.
python3 - "$screenshot" <<'PY' || status=1
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
pos, chunks, header = 8, [], None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR": header = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": chunks.append(body)
    pos += 12 + length
width, height, depth, colour = header[:4]
channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
assert depth == 8, "only 8-bit screenshots are expected"
raw, stride = zlib.decompress(b"".join(chunks)), width * channels
previous, inked, row_start = bytearray(stride), 0, 0
for y in range(height):
    kind, line = raw[row_start], bytearray(raw[row_start + 1:row_start + 1 + stride])
    row_start += 1 + stride
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b, c = previous[i], previous[i - channels] if i >= channels else 0
        if kind == 1: line[i] = (line[i] + a) & 255
        elif kind == 2: line[i] = (line[i] + b) & 255
        elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    inked += sum(1 for x in range(0, stride, channels) if min(line[x:x + min(3, channels)]) < 200)
    previous = line
share = inked / (width * height)
print(f"screenshot {width}x{height}: {100 * share:.1f} % of pixels drawn")
if share < 0.01:
    print("check_report_html.sh: the page rendered (nearly) blank", file=sys.stderr)
    sys.exit(1)
PY
[[ $status == 0 ]] && echo "check_report_html.sh: $report/index.html renders; screenshot $screenshot"
exit $status
