#!/usr/bin/env bash
# report_html.sh - the HTML report renders in a real browser: every
# numeric target of the plan has its section, its chart and its figures
# in the DOM that headless Chromium builds. Skips (77) without Chromium.
set -euo pipefail

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    apt-get install -y chromium >/dev/null 2>&1 || true
    browser=$(command -v chromium || command -v chromium-browser || true)
fi
[ -n "$browser" ] || { echo "chromium not available: skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NTM_HOME="$work/home"
unset NTM_PASSPHRASE
export LANGUAGE=en # the checks read English labels
ntm() { "$NTM_BIN" "$@"; }

ntm init --root --no-passphrase >/dev/null 2>&1
ntm record activity --task doan.rural_roads_km --unit 72.710.25657 \
    --date 2017-03-05 --qty 42.5 --uom km --title "đường ấp Bến Đình" >/dev/null
ntm record measure --task hccb.health_insurance_pct --unit 72.703 \
    --period 2017 --num 93 --den 100 >/dev/null

ntm report --year 2017 --format html --out "$work/r.html"
"$browser" --headless --no-sandbox --disable-gpu --dump-dom \
    "file://$work/r.html" >"$work/dom.html" 2>/dev/null

fail=0
# every target of the plan whose years include 2017
targets=$(ntm --json plan | python3 -c '
import json,sys
d=json.load(sys.stdin)
for o in d["organizations"]:
    for t in o["targets"]:
        y=t["years"]
        dl=int(t.get("deadline","9999")[:4])
        if y[0] <= 2017 <= y[1] and (t["kind"] not in ("cumulative_by_deadline","exists","per_unit_count") or 2017 <= dl):
            print(t["id"])')
n=0
for id in $targets; do
    n=$((n + 1))
    section=$(python3 - "$work/dom.html" "$id" <<'PY'
import re,sys
dom=open(sys.argv[1],encoding="utf-8").read()
m=re.search(r'<section[^>]*id="target-%s".*?</section>' % re.escape(sys.argv[2]),dom,re.S)
print(m.group(0) if m else "")
PY
)
    if [ -z "$section" ]; then echo "no section for $id"; fail=1; continue; fi
    grep -q '<svg class="chart progress"' <<<"$section" || { echo "no chart for $id"; fail=1; }
    grep -q '<table' <<<"$section" || { echo "no figures for $id"; fail=1; }
done
[ "$n" -ge 20 ] || { echo "only $n targets checked"; fail=1; }
# the figures themselves
python3 - "$work/dom.html" <<'PY' || fail=1
import re,sys
dom=open(sys.argv[1],encoding="utf-8").read()
def sec(i):
    return re.search(r'<section[^>]*id="target-%s".*?</section>' % re.escape(i),dom,re.S).group(0)
s=sec("doan.rural_roads_km")
assert "42.5 / ≥ 80" in s, "rural roads figure missing"
assert "Tỉnh Tây Ninh" in s
s=sec("hccb.health_insurance_pct")
assert "93 / ≥ 90" in s, "health insurance figure missing"
assert 'data-status="met"' in s
PY
exit $fail
