#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# i18n_leaks.sh - no English identifier reaches a Vietnamese user, and no
# message says the same thing twice. Every command runs with --lang vi:
# its help page, and its real output in a small scenario with a real
# server over TLS (an admin, a recorder enrolled by the admin, records,
# a review, sync, report, bundle, verify) and some errors (a dead server,
# an unknown unit, a damaged bundle, words that are no state). Then:
#   * the human output (not --json, not CSV) holds none of the identifiers
#     that have labels (review states, kinds, roles, fields, ops, statuses,
#     target kinds, units of measure, levels): command lines quoted in
#     hints ('ntm admin enroll ... --role recorder') and option values are
#     left out, since they are what the user types;
#   * no help page keeps an English section head or prefix;
#   * no message (a line of stderr, with the hint that follows it) holds
#     the same sequence of 4 or more words twice.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
# this suite chooses Vietnamese itself, and the homes' time zone
unset LANGUAGE LC_ALL LC_MESSAGES TZ
command -v python3 >/dev/null || {
    echo "python3 is needed"
    exit 77
}

O=$T/outputs # one file per run: NAME.out (stdout), NAME.err (stderr)
mkdir -p "$O"
n=0
# vi NAME HOME ARGS...: run ntm --lang vi, keep both streams for the scan
vi() {
    local name=$1 home=$2
    shift 2
    n=$((n + 1))
    "$NTM" --lang vi --home "$home" "$@" >"$O/$n-$name.out" 2>"$O/$n-$name.err"
    rc=$?
    cp "$O/$n-$name.out" "$T/out"
    cp "$O/$n-$name.err" "$T/err"
}
# vij NAME HOME ARGS...: as vi, with --json (kept apart: not scanned)
vij() {
    "$NTM" --lang vi --home "$2" --json "${@:3}" >"$T/out" 2>"$T/err"
    rc=$?
}

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R=$T/rec
COMMUNE=72.710.25657

# ---------------------------------------------------------------- help
vi help-main "$A" --help
for c in init whoami key admin record edit delete list show conflicts \
    resolve review verify bundle push pull sync status serve report plan \
    units; do
    vi "help-$c" "$A" "$c" --help
    check "$c --help in Vietnamese (exit $rc)" test "$rc" -eq 0
done

# ---------------------------------------------------------------- scenario
vi init-admin "$A" init --root --no-passphrase --name "MTTQ tỉnh Tây Ninh"
check "admin: init" test "$rc" -eq 0
ADMIN=$("$NTM" --home "$A" key export 2>/dev/null)
vi init-server "$S" init --no-passphrase --root-key "$ADMIN" --name "máy chủ"
check "server starts over TLS" start_server "$S"
vi init-admin-server "$A" init --server "$URL" --cacert "$T/cert.pem"
check "admin: given the server" test "$rc" -eq 0
vi init-rec "$R" init --no-passphrase --server "$URL" --pin "$PIN" \
    --name "Xã Thạnh Đức"
check "recorder: init with the server's pin" test "$rc" -eq 0
REC=$(jq -r .author "$R/config.json")
vi enroll "$A" admin enroll "$REC" --role "người ghi" --scope "$COMMUNE"
check "admin enrolls the recorder by the role's label" test "$rc" -eq 0
vi unit "$A" admin unit "$COMMUNE.9" --name "Ấp Bến Đình" --level ấp
check "admin creates a hamlet by the level's label" test "$rc" -eq 0
vi admin-sync "$A" sync
check "admin syncs" test "$rc" -eq 0
vi rec-whoami-before "$R" whoami
vi rec-record "$R" record activity --task doan.rural_roads_km \
    --unit "$COMMUNE" --date 05/04/2017 --qty 2,4 --uom km \
    --people 40 --amount-vnd 1500000 --title "Sửa chữa đường đất ấp Bến Đình"
check "recorder records with 05/04/2017 and 2,4" test "$rc" -eq 0
ID=$(head -1 "$T/out")
vi rec-measure "$R" record measure --task hccb.health_insurance_pct \
    --unit "$COMMUNE" --period 04/2017 --num 93 --den 100
vi rec-house "$R" record activity --task hccb.green_houses --unit "$COMMUNE" \
    --date 06/04/2017 --qty 3 --uom căn
vi rec-sync "$R" sync
check "recorder syncs" test "$rc" -eq 0
vi admin-pull "$A" sync
vi review "$A" review "$ID" --approve --comment "đã kiểm tra"
check "admin approves" test "$rc" -eq 0
vi admin-sync2 "$A" sync
vi rec-pull "$R" pull
vi edit "$R" edit "$ID" --set note="đo lại" --set qty=2,5
vi rec-whoami "$R" whoami
vi rec-list "$R" list
vi rec-list-state "$R" list --state "chờ duyệt"
vi rec-show "$R" show "$ID"
vi admin-show "$A" show "$ID"
vi admin-list "$A" list
vi admin-whoami "$A" whoami
vi status "$R" status
vi conflicts "$R" conflicts
vi verify "$R" verify
vi admin-verify "$A" verify
vi plan "$A" plan
vi plan-org "$A" plan --org doan
vi units "$A" units --under "$COMMUNE"
vi report "$A" report --year 2017
vi report-html "$A" report --year 2017 --format html --out "$T/r.html"
vi bundle-export "$R" bundle export --out "$T/b.ntm"
vi bundle-import "$A" bundle import "$T/b.ntm"
vi key-export "$R" key export

# ---------------------------------------------------------------- errors
vi err-state "$R" list --state "duyệt rồi"
check "an unknown state is a usage error" test "$rc" -eq 2
vi err-qty "$R" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 05/04/2017 --qty 1.234 --uom km
check "1.234 is refused as reading two ways" test "$rc" -eq 2
vi err-unit "$R" record activity --task doan.rural_roads_km \
    --unit 72.710.2565 --date 05/04/2017
check "an unknown unit is refused" test "$rc" -ne 0
vi err-task "$R" record activity --task doan.rural_roads_kn \
    --unit "$COMMUNE" --date 05/04/2017
vi err-role "$A" admin enroll "$REC" --role "trưởng ấp" --scope "$COMMUNE"
sed 's/"sig":"[A-Za-z0-9+\/]\{4\}/"sig":"AAAA/' "$T/b.ntm" >"$T/bad.ntm"
[ -f "$T/b.ntm.minisig" ] && cp "$T/b.ntm.minisig" "$T/bad.ntm.minisig"
printf 'x' >>"$T/bad.ntm"
vi err-bundle "$A" bundle import "$T/bad.ntm"
check "a damaged bundle is refused" test "$rc" -ne 0
stop_server
vi err-dead "$R" sync
check "a dead server: exit 4" test "$rc" -eq 4

# JSON keeps identifiers (they are an interface).
vij show-json "$R" show "$ID"
check "--json keeps the review state's identifier" json_ok '.review == "approved" or .review == "submitted"'

# ---------------------------------------------------------------- scan
python3 - "$O" >"$T/scan" 2>&1 <<'PY'
import os, re, sys
d = sys.argv[1]
# identifiers that have labels: none may reach a Vietnamese reader
ids = """submitted approved rejected has_issues conflict deleted
activity measure admin coordinator recorder
record.create record.update record.delete unit.create device.enroll
device.revoke valid invalid waiting unknown_author bad_signature
yearly yearly_sum yearly_window ratio_at_least ratio_at_most every_month
monthly_count per_unit_count per_unit_yearly_count exists
reach_zero_by_deadline register_active compare_reference
cumulative_by_deadline household households club clubs house houses
person people amount_vnd labor_days qty uom title note period date
province district commune hamlet""".split()
english = ["error:", "warning:", "hint:", "NAME", "SYNOPSIS", "DESCRIPTION",
           "OPTIONS", "EXIT STATUS", "EXAMPLE", "usage:", "(UTC)"]
bad = 0
# on help pages, where option values and --set fields are documented as
# typed, only these; and no English sentence (see below)
help_ids = [w for w in ids if "." in w] + ["valid", "invalid", "waiting"]
def strip(line):
    # what the user types is left as typed: quoted commands, commands
    # named in the text, options and their values, task or unit codes
    line = re.sub(r"'[^']*'", " ", line)
    line = re.sub(r'"[^"]*"', " ", line)
    line = re.sub(r"\bntm( [a-z][a-z-]*){1,2}", " ", line)
    line = re.sub(r"--[a-z-]+(=\S+|\s+\S+)?", " ", line)
    line = re.sub(r"\b[a-z]+\.[a-z_]+\b", lambda m: m.group(0)
                  if m.group(0) in ids else " ", line)
    return line
for f in sorted(os.listdir(d)):
    text = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
    help_page = f.split("-", 1)[1].startswith("help")
    section = ""
    for line in text.split("\n"):
        if help_page and re.match(r"^\S", line):
            section = line.strip()
        for w in english:
            if w in line:
                print("FAIL %s: English '%s': %s" % (f, w, line.strip()))
                bad += 1
        if help_page and section in ("VÍ DỤ", "CÚ PHÁP", "EXAMPLE", "SYNOPSIS"):
            continue
        s = strip(line)
        for w in (help_ids if help_page else ids):
            if re.search(r"(?<![\w.])%s(?![\w.])" % re.escape(w), s):
                print("FAIL %s: identifier '%s': %s" % (f, w, line.strip()))
                bad += 1
        # an English sentence: four or more plain ASCII words in a row, no
        # Vietnamese letter on the line
        if help_page and not re.search(r"[^\x00-\x7f]", s) and \
                re.search(r"(\b[A-Za-z]{2,}\b[ ,;:]+){4,}", s):
            print("FAIL %s: English text: %s" % (f, line.strip()))
            bad += 1
    # doubled phrases: a message is a line of stderr and the hint after it;
    # the help pages' paragraphs too
    # (help pages: line by line, their options share words on purpose)
    if f.endswith(".err") or help_page:
        lines = text.split("\n")
        msgs = []
        for l in lines:
            if msgs and not help_page and (l.startswith("gợi ý:") or
                                           l.startswith("    ")):
                msgs[-1] += " " + l
            else:
                msgs.append(l)
        for m in msgs:
            words = re.findall(r"\w+", m.lower())
            seen = {}
            for i in range(len(words) - 3):
                k = tuple(words[i:i + 4])
                if k in seen and i - seen[k] >= 4:
                    print("FAIL %s: doubled '%s': %s" % (f, " ".join(k), m.strip()[:300]))
                    bad += 1
                    break
                seen.setdefault(k, i)
print("scanned %d outputs, %d problems" % (len(os.listdir(d)), bad))
sys.exit(1 if bad else 0)
PY
scan_rc=$?
sed 's/^/    /' "$T/scan" | head -60
check "no English identifier, English head or doubled phrase in --lang vi output" test "$scan_rc" -eq 0
check "the scan saw the scenario's outputs" grep -q "scanned [0-9][0-9]* outputs" "$T/scan"

finish
