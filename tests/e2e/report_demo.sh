#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# report_demo.sh - the progress report on the README's demo data: runs
# scripts/demo.sh into a temporary folder, then `ntm report --year 2017` on
# the provincial admin's home in all four formats and checks that
#   * every numeric target of the plan (the 23 ids of PLAN.md) is there in
#     each format;
#   * the figures are those computed by hand from the demo's records:
#     rural roads 2.6 (Bến Đình, corrected from 2.4) + 3.1 (Cẩm Giang) =
#     5.7 km of 80; canals 1.5 + 14 = 15.5 km of 30; savings groups 3 of
#     300 by 2017; poor veterans 1 of 248 = 0.4 % (< 0.5 % by 2020: on
#     track in 2017); everything else has no data; Huyện Gò Dầu (9 of the
#     95 communes) judged on its pro-rata share, with 100 % of the
#     province's achievement; the communes' shares within it;
#   * the CSV parses back (python3 csv) and starts with a byte order mark;
#   * the JSON has the shape of SPEC section 8;
#   * the HTML page has each target's section, chart and figures;
#   * labels follow --lang, else LANG (vi* Vietnamese, English otherwise).
#
# Env: NTM_BIN (the built ntm), NTM_SRC (the source tree); NTM_BUILD (the
# build folder) defaults to the one holding NTM_BIN. Skips (77) without
# certtool or curl, which the demo needs. Each check prints a line
# (check_lib.sh); the last line is "N passed, N failed"; exit status 1 on
# any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
SRC=${NTM_SRC:?NTM_SRC must name the source tree}
export NTM_BUILD=${NTM_BUILD:-$(cd "$(dirname "$NTM")/.." && pwd)}
for tool in certtool curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool not available: skipped"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-report-demo.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_HOME NTM_PASSPHRASE LANGUAGE LC_ALL LC_MESSAGES
export LANG=C.UTF-8

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

# The numeric targets of PLAN.md (../shared/PLAN.md), all 23.
IDS="doan.poor_youth_households doan.rural_roads_km doan.canals_km
doan.youth_econ_clubs doan.savings_groups doan.strong_commune_unions_pct
doan.pilot_communes_strong doan.env_activities doan.traffic_shock_team
doan.self_managed_road doan.reintegrated_youth doan.children_support
hccb.dilapidated_houses hccb.green_houses hccb.income_above_avg
hccb.poor_rate_pct hccb.coop_per_commune hccb.coop_per_district
hccb.no_illiteracy_pct hccb.children_continue_pct hccb.cadre_education_pct
hccb.cultural_families_pct hccb.health_insurance_pct"
export IDS

# --------------------------------------------------------------- the demo
if NTM_BIN=$NTM bash "$SRC/scripts/demo.sh" "$T/demo" >"$T/demo.log" 2>&1; then
    ok "scripts/demo.sh runs to the end"
else
    not_ok "scripts/demo.sh runs to the end"
    tail -n 20 "$T/demo.log" | sed 's/^/    /'
    finish
fi
H=$T/demo/admin-tinh
R=$T/r
mkdir -p "$R"
rep() { "$NTM" --home "$H" report "$@"; }

check "the plan ships the 23 numeric targets of PLAN.md" python3 - "$NTM" <<'PY'
import json, os, subprocess, sys
plan = json.loads(subprocess.run([sys.argv[1], "--json", "plan"], check=True,
                                 capture_output=True).stdout)
have = {t["id"] for o in plan["organizations"] for t in o["targets"]}
want = set(os.environ["IDS"].split())
assert len(want) == 23, len(want)
assert have == want, (sorted(want - have), sorted(have - want))
PY

for f in table csv json html; do
    if rep --year 2017 --format "$f" --out "$R/2017.$f" 2>"$T/err"; then
        ok "ntm report --year 2017 --format $f"
    else
        not_ok "ntm report --year 2017 --format $f"
        sed 's/^/    /' "$T/err"
    fi
done
rep --year 2017 --unit 72.710 --format json --out "$R/godau.json" 2>/dev/null
rep --year 2017 --approved district --format json --out "$R/approved.json" 2>/dev/null

# every target in every format
for f in table csv json html; do
    missing=
    for id in $IDS; do
        grep -qF -- "$id" "$R/2017.$f" || missing="$missing $id"
    done
    if [ -z "$missing" ]; then ok "all 23 targets in the $f report"; else
        not_ok "all 23 targets in the $f report (missing:$missing)"
    fi
done

# --------------------------------------------------------------- JSON
check "JSON has the shape of SPEC section 8" python3 - "$R/2017.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert isinstance(d, dict) and isinstance(d.get("rows"), list) and d["rows"]
keys = {"task", "org", "unit", "period", "target", "achieved",
        "unit_of_measure", "status"}
for r in d["rows"]:
    assert keys <= r.keys(), (keys - r.keys(), r)
    for k in ("task", "org", "unit", "period", "unit_of_measure", "status"):
        assert isinstance(r[k], str) and r[k], (k, r)
    for k in ("target", "achieved"):
        assert isinstance(r[k], (int, float)) and not isinstance(r[k], bool), (k, r)
    assert r["status"] in ("met", "on_track", "behind", "missed", "no_data"), r
    assert r["basis"] in ("plan", "per_unit", "rate", "pro_rata"), r
    assert r["share"] is None or 0 <= r["share"] <= 100, r
PY

# the figures, by hand from the demo's records
check "JSON figures of the demo (province and Huyện Gò Dầu, 2017)" python3 - "$R/2017.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert d["as_of"] == "2017-12-31" and d["unit"] == "72", d["as_of"]
assert d["communes"] == 95, d["communes"]
rows = {(r["task"], r["unit"], r["period"]): r for r in d["rows"]}
def want(task, unit, period, target, achieved, status, **more):
    r = rows.get((task, unit, period))
    assert r, ("no row", task, unit, period)
    got = (r["target"], r["achieved"], r["status"])
    assert got == (target, achieved, status), (task, unit, got)
    for k, v in more.items():
        assert r[k] == v, (task, unit, k, r[k], v)
P = "72"; G = "72.710"
want("doan.rural_roads_km", P, "2017", 80, 5.7, "missed", unit_of_measure="km",
     basis="plan", share=None)
want("doan.canals_km", P, "2017", 30, 15.5, "missed", unit_of_measure="km")
# a register (kept active from 2017 to 2020): the groups active at the end
# of 2017, the deadline
want("doan.savings_groups", P, "2017", 300, 3, "missed")
# 1 poor member of 248 = 0.403 %: under 0.5 %, judged from 2020: on track
want("hccb.poor_rate_pct", P, "2017", 0.5, 0.4, "on_track", num=1, den=248,
     unit_of_measure="%")
# Go Dau: 9 of 95 communes: 80*9/95 = 7.58 km, 30*9/95 = 2.84 km,
# 300 groups by largest remainder over the districts (95 communes: 703:10,
# 705:10, 706:12, 707:11, 708:15, 709:8, 710:9, 711:9, 712:11): whole parts
# 31 31 37 34 47 25 28 28 34 = 295, remainders (x95) 55 55 85 70 35 25 40 40
# 70: the 5 left go to 706, 707, 712, 703, 705, so Go Dau keeps 28 (the
# shares add up to 300); the poor rate as it stands
want("doan.rural_roads_km", G, "2017", 7.58, 5.7, "missed", basis="pro_rata",
     plan_target=80, share=100)
want("doan.canals_km", G, "2017", 2.84, 15.5, "met", share=100)
want("doan.savings_groups", G, "2017", 28, 3, "missed", share=100)
want("hccb.poor_rate_pct", G, "2017", 0.5, 0.4, "on_track", basis="rate",
     share=100)
# per-unit targets as the plan sets them
want("hccb.coop_per_district", G, "2016-2020", 1, 0, "no_data",
     basis="per_unit")
want("hccb.coop_per_commune", P, "2016-2020", 95, 0, "no_data")
want("doan.reintegrated_youth", P, "2017", 15, 0, "no_data")
# another district: nothing, a share of nothing
want("doan.rural_roads_km", "72.703", "2017", 8.42, 0, "no_data", share=0)
# nothing else has data; every target has a province row
busy = {"doan.rural_roads_km", "doan.canals_km", "doan.savings_groups",
        "hccb.poor_rate_pct"}
for id in os.environ["IDS"].split():
    prov = [r for r in d["rows"] if r["task"] == id and r["unit"] == P]
    assert len(prov) == 1, (id, len(prov))
    if id not in busy:
        assert all(r["status"] == "no_data" for r in d["rows"]
                   if r["task"] == id), id
PY

check "JSON figures of the Gò Dầu report (communes, 2017)" python3 - "$R/godau.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
rows = {(r["task"], r["unit"]): r for r in d["rows"]}
def want(task, unit, target, achieved, status, share):
    r = rows[(task, unit)]
    got = (r["target"], r["achieved"], r["status"], round(r["share"], 2))
    assert got == (target, achieved, status, round(share, 2)), (task, unit, got)
T, C = "72.710.25657", "72.710.25660"  # Thanh Duc, Cam Giang
# Go Dau's 7.58 km = 758 hundredths over its 9 communes: 84 each, the 2
# left to the first two in tree order (25654, 25657): 0.85, 0.84 for Cam
# Giang; 2.6 of 5.7 km = 45.61 %, 3.1 of 5.7 = 54.39 %
want("doan.rural_roads_km", T, 0.85, 2.6, "met", 100 * 2.6 / 5.7)
want("doan.rural_roads_km", C, 0.84, 3.1, "met", 100 * 3.1 / 5.7)
want("doan.canals_km", T, 0.32, 1.5, "met", 100 * 1.5 / 15.5)
want("doan.canals_km", C, 0.32, 14, "met", 100 * 14 / 15.5)
# Go Dau's 28 groups over its 9 communes: 3 each, the 1 left to the first
# (25654): Thanh Duc 3, which its 3 groups meet
want("doan.savings_groups", T, 3, 3, "met", 100)
want("hccb.poor_rate_pct", T, 0.5, 0.4, "on_track", 100)
assert rows[("doan.rural_roads_km", "72.710")]["target"] == 7.58
PY

check "only the road approved at district level counts with --approved district" \
    python3 - "$R/approved.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
r = [r for r in d["rows"] if r["task"] == "doan.rural_roads_km" and r["unit"] == "72"][0]
assert (r["achieved"], r["status"]) == (2.6, "missed"), r
r = [r for r in d["rows"] if r["task"] == "doan.canals_km" and r["unit"] == "72"][0]
assert r["status"] == "no_data", r
PY

# --------------------------------------------------------------- every organization
rep --year 2017 --org hnd >"$R/hnd.table" 2>/dev/null
rep --year 2017 --org hnd --format json --out "$R/hnd.json" 2>/dev/null
check "--org hnd: the Farmers' Union's work (1250 m2 donated, 7 people)" \
    python3 - "$R/hnd.json" "$R/hnd.table" "$R/2017.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert d["rows"] == [], d["rows"]
by = {(s["task"], s["unit"]): s for s in d["summary"]}
assert {s["org"] for s in d["summary"]} == {"hnd"}, d["summary"]
# Cam Binh hamlet of Cam Giang, Go Dau: one activity, 1200 m2 corrected
# to 1250 by the demo's edit, 7 people
for unit in ("72", "72.710"):
    s = by[("hnd.land_donation", unit)]
    assert (s["activities"], s["quantity"], s["unit_of_measure"], s["people"],
            s["amount_vnd"], s["period"]) == (1, 1250, "m2", 7, None, 2017), s
t = open(sys.argv[2], encoding="utf-8").read()
assert "hnd.land_donation" in t and "1250" in t, t
# the whole report: the Women's Union's charity house, 45000000 VND
a = {(s["task"], s["unit"]): s for s in
     json.load(open(sys.argv[3], encoding="utf-8"))["summary"]}
s = a[("hlhpn.charity_houses", "72")]
assert (s["activities"], s["quantity"], s["amount_vnd"]) == (1, 1, 45000000), s
PY

# --------------------------------------------------------------- CSV
check "CSV starts with a byte order mark and parses back like the JSON" \
    python3 - "$R/2017.csv" "$R/2017.json" <<'PY'
import csv, io, json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), raw[:8]
assert b"\r\n" in raw
allrows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
d = json.load(open(sys.argv[2], encoding="utf-8"))
# target rows first, then not counted and the summary of every task
rows = [r for r in allrows if r["status"] not in ("summary", "not_counted", "duty", "completeness")]
assert len([r for r in allrows if r["status"] == "duty"]) == len(d["duties"])
assert len([r for r in allrows if r["status"] == "completeness"]) == len(d["completeness"])
sums = [r for r in allrows if r["status"] == "summary"]
assert len(rows) == len(d["rows"]), (len(rows), len(d["rows"]))
assert len(sums) == len(d["summary"]), (len(sums), len(d["summary"]))
for c, j in zip(sums, d["summary"]):
    assert (c["task"], c["unit"], c["period"], c["activities"]) == \
        (j["task"], j["unit"], str(j["period"]), str(j["activities"])), (c, j)
for c, j in zip(rows, d["rows"]):
    for k in ("task", "org", "unit", "unit_name", "period", "status",
              "unit_of_measure", "basis"):
        assert c[k] == j[k], (k, c[k], j[k])
    assert float(c["target"]) == j["target"], (c, j)
    if j["status"] != "no_data":
        assert float(c["achieved"]) == j["achieved"], (c, j)
    else:
        assert c["achieved"] == "", c
by = {(r["task"], r["unit"]): r for r in rows}
r = by[("doan.rural_roads_km", "72")]
assert (r["target"], r["achieved"], r["status"]) == ("80", "5.7", "missed"), r
assert "80 km" in r["label"] and r["unit_name"] == "Tỉnh Tây Ninh", r
r = by[("doan.canals_km", "72.710")]
assert (r["target"], r["achieved"], r["status"], r["share"]) == \
    ("2.84", "15.5", "met", "100"), r
r = by[("hccb.poor_rate_pct", "72")]
assert (r["achieved"], r["status"]) == ("0.4", "on_track"), r
PY

# --------------------------------------------------------------- table
check "table: figures and legend" python3 - "$R/2017.table" <<'PY'
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
assert t.startswith("Progress report: Tỉnh Tây Ninh (72)  as of 2017-12-31"), t[:80]
assert "pro-rata" in t and "95 communes" in t, "legend"
def row(task, unit):
    sec = t.split("\n\n" + task + "  ", 1)[1].split("\n\n", 1)[0]
    for line in sec.splitlines():
        if line.split() and line.split()[0] == unit:
            return line.split()
    raise AssertionError((task, unit))
r = row("doan.rural_roads_km", "72")
assert "5.7" in r and "missed" in r and "80" in r, r
r = row("doan.rural_roads_km", "72.710")
assert "7.58*" in r and "5.7" in r and "100" in r and "missed" in r, r
r = row("doan.canals_km", "72")
assert "30" in r and "15.5" in r, r
r = row("doan.savings_groups", "72")
assert "300" in r and "3" in r, r
r = row("hccb.poor_rate_pct", "72")
assert "0.5" in r and "0.4" in r and "track" in r, r
PY

# --------------------------------------------------------------- HTML
check "HTML: one self-contained page, each target's chart and figures" \
    python3 - "$R/2017.html" <<'PY'
import os, re, sys
from html.parser import HTMLParser
h = open(sys.argv[1], encoding="utf-8").read()
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.ext = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith("#"):
                self.ext.append(a[k])
p = P(); p.feed(h); p.close()
assert not p.ext, ("external resources", p.ext)
assert '<p class="legend">' in h
for id in os.environ["IDS"].split():
    m = re.search(r'<section[^>]*id="target-%s".*?</section>' % re.escape(id), h, re.S)
    assert m, ("no section", id)
    s = m.group(0)
    assert '<svg class="chart progress"' in s, ("no progress chart", id)
    assert '<svg class="chart units"' in s, ("no districts chart", id)
    assert "<table" in s and "Tỉnh Tây Ninh" in s, ("no figures", id)
def sec(i):
    return re.search(r'<section[^>]*id="target-%s".*?</section>' % re.escape(i), h, re.S).group(0)
assert "5.7 / ≥ 80 km" in sec("doan.rural_roads_km")
assert "5.7 / ≥ 7.58* km" in sec("doan.rural_roads_km")
assert "15.5 / ≥ 30 km" in sec("doan.canals_km")
assert "3 / ≥ 300" in sec("doan.savings_groups")
assert "0.4 / &lt; 0.5 %" in sec("hccb.poor_rate_pct") or "0.4 / < 0.5 %" in sec("hccb.poor_rate_pct")
PY

# --------------------------------------------------------------- language
LANG=vi_VN.UTF-8 rep --year 2017 >"$R/vi.table" 2>/dev/null
LANG=en_US.UTF-8 rep --year 2017 >"$R/en.table" 2>/dev/null
rep --year 2017 --lang vi >"$R/lang-vi.table" 2>/dev/null
LANG=vi_VN.UTF-8 "$NTM" --home "$H" --lang en report --year 2017 >"$R/lang-en.table" 2>/dev/null
LANG=vi_VN.UTF-8 rep --year 2017 --format html --out "$R/vi.html" 2>/dev/null
LANG=vi_VN.UTF-8 rep --year 2017 --format csv --out "$R/vi.csv" 2>/dev/null
vi_labels() {
    grep -qF "Báo cáo tiến độ: Tỉnh Tây Ninh (72)  tính đến ngày 31/12/2017" "$1" &&
        grep -qF "chia theo tỷ lệ" "$1" && grep -qF "Tình trạng" "$1" &&
        grep -qF "Tỷ trọng" "$1" && grep -qF "Không đạt" "$1" &&
        grep -qF "Chưa có số liệu" "$1" && ! grep -qF "Progress report" "$1"
}
en_labels() {
    grep -qF "Progress report: Tỉnh Tây Ninh (72)  as of 2017-12-31" "$1" &&
        grep -qF "pro-rata" "$1" && grep -qF "Status" "$1" &&
        grep -qF "no data" "$1" && ! grep -qF "Tình trạng" "$1"
}
check "LANG=vi_VN.UTF-8: Vietnamese labels and legend" vi_labels "$R/vi.table"
check "LANG=C.UTF-8: English labels and legend" en_labels "$R/2017.table"
check "LANG=en_US.UTF-8: English labels and legend" en_labels "$R/en.table"
check "report --lang vi under LANG=C.UTF-8: Vietnamese" vi_labels "$R/lang-vi.table"
check "ntm --lang en report under LANG=vi_VN.UTF-8: English" en_labels "$R/lang-en.table"
check "LANG=vi_VN.UTF-8: the HTML page is Vietnamese" \
    sh -c 'grep -qF "<html lang=\"vi\">" "$1" && grep -qF "Báo cáo tiến độ" "$1" && grep -qF "chia theo tỷ lệ" "$1"' _ "$R/vi.html"
check "LANG=vi_VN.UTF-8: CSV labels Vietnamese, codes unchanged" \
    sh -c 'grep -qF "doan.rural_roads_km" "$1" && grep -qF ",missed,Không đạt," "$1"' _ "$R/vi.csv"

finish
