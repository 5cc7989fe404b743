#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# i18n_vi.sh - Vietnamese first: the catalog po/vi.po is complete (every
# message translated, none fuzzy), and the real ntm speaks Vietnamese with
# --lang vi or LANG=vi_VN.UTF-8 (even where no vi_VN locale is installed),
# English with --lang en; human dates and numbers read 17/05/2019 and
# 1.234,5 in Vietnamese while JSON keeps the ISO forms.
#
# Env: NTM_BIN (the built ntm), NTM_SRC (the source tree), NTM_CONFIG_DIR.
# Each check prints a line; the last line is "N passed, N failed"; exit
# status 1 on any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
SRC=${NTM_SRC:?NTM_SRC must name the source tree}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-i18n.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME LANGUAGE LC_ALL LC_MESSAGES
export LANG=C.UTF-8
H=$T/home

passed=0
failed=0
ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}
not_ok() {
    echo "FAIL - $1"
    failed=$((failed + 1))
    if [ -s "$T/out" ]; then sed 's/^/    out: /' "$T/out" | head -5; fi
}
# has DESCRIPTION TEXT FILE: FILE holds TEXT (fixed string)
has() {
    if grep -qF -- "$2" "$3"; then ok "$1"; else
        cp "$3" "$T/out" 2>/dev/null
        not_ok "$1 (no '$2')"
    fi
}
# run ARGS...: ntm with stdout and stderr together in $T/out, status in rc
rc=0
run() {
    "$@" >"$T/out" 2>&1
    rc=$?
}

# The catalog: complete, no fuzzy entry, formats consistent.
if stats=$(msgfmt --check --statistics -o /dev/null "$SRC/po/vi.po" 2>&1); then
    ok "msgfmt --check accepts po/vi.po"
else
    echo "$stats" >"$T/out"
    not_ok "msgfmt --check accepts po/vi.po"
fi
case $stats in
*untranslated* | *fuzzy*) echo "$stats" >"$T/out"
    not_ok "po/vi.po: 0 untranslated, 0 fuzzy ($stats)" ;;
*" translated message"*) ok "po/vi.po: 0 untranslated, 0 fuzzy ($stats)" ;;
*) not_ok "msgfmt --statistics gave '$stats'" ;;
esac
# Every message of the sources is in the catalog.
if xgettext --keyword=_ --keyword=N_ --from-code=UTF-8 -o "$T/ntm.pot" \
    -D "$SRC" $(grep -v '^#' "$SRC/po/POTFILES") 2>/dev/null &&
    msgmerge -q -o "$T/merged.po" "$SRC/po/vi.po" "$T/ntm.pot" &&
    m=$(msgfmt --statistics -o /dev/null "$T/merged.po" 2>&1) &&
    ! echo "$m" | grep -qE 'untranslated|fuzzy'; then
    ok "every marked message of cli/ has a translation"
else
    echo "${m:-xgettext or msgmerge failed}" >"$T/out"
    not_ok "every marked message of cli/ has a translation"
fi

# An unknown command, a help page, errors: Vietnamese with --lang vi.
run "$NTM" --lang vi recrod
has "--lang vi: unknown command in Vietnamese" "ntm: lỗi: 'recrod' không phải lệnh của ntm" "$T/out"
has "--lang vi: hint in Vietnamese" "gợi ý: có phải ý bạn là 'ntm record'?" "$T/out"
[ "$rc" -eq 2 ] && ok "unknown command exits 2 in Vietnamese too" ||
    not_ok "unknown command exits 2 in Vietnamese too (exit $rc)"
run "$NTM" --lang vi record --help
has "--lang vi: record --help NAME line" "ntm record - ghi một hoạt động hoặc một số đo" "$T/out"
has "--lang vi: help sections translated" "MÔ TẢ" "$T/out"
run "$NTM" record --help --lang=vi
has "--lang=vi after the command" "TÊN" "$T/out"
run "$NTM" --lang en record --help
has "--lang en: record --help NAME line" "ntm record - record an activity or a measure" "$T/out"
run "$NTM" --home "$T/none" --lang vi whoami
has "--lang vi: a missing home explained" "không phải thư mục ntm: hãy chạy 'ntm init' trước" "$T/out"

# LANG=vi_VN.UTF-8 chooses Vietnamese (whether vi_VN is installed or not).
run env LANG=vi_VN.UTF-8 "$NTM" recrod
has "LANG=vi_VN.UTF-8: Vietnamese" "ntm: lỗi: 'recrod' không phải lệnh của ntm" "$T/out"
run env LANG=vi_VN.UTF-8 "$NTM" --lang en recrod
has "--lang en beats LANG=vi_VN.UTF-8" "ntm: error: 'recrod' is not an ntm command" "$T/out"
run env LC_MESSAGES=vi_VN "$NTM" sync --help
has "LC_MESSAGES=vi_VN: Vietnamese" "ntm sync - gửi các mục mới lên, rồi tải về" "$T/out"
run "$NTM" recrod
has "LANG=C.UTF-8: English" "ntm: error: 'recrod' is not an ntm command" "$T/out"

# A home, then whoami, record, list and show in Vietnamese.
run "$NTM" --home "$H" --lang vi init --root --no-passphrase
has "init --lang vi: warning in Vietnamese" "ntm: cảnh báo: khóa được lưu không có mật khẩu" "$T/out"
has "init --lang vi: author id line" "mã tác giả: " "$T/out"
run env LANG=vi_VN.UTF-8 "$NTM" --home "$H" whoami
has "whoami in Vietnamese: state" "trạng thái: khóa gốc" "$T/out"
has "whoami in Vietnamese: role" "vai trò:    admin" "$T/out"
run "$NTM" --home "$H" --lang en whoami
has "whoami --lang en" "state:     root key" "$T/out"
run "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2019-05-17 --qty 1234.5 --uom km \
    --people 1200 --title "Bê tông hóa đường ấp Thạnh Hòa"
id=$(tail -1 "$T/out")
run "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2019-02-30
has "record: invalid date in Vietnamese" "ngày '2019-02-30' không hợp lệ" "$T/out"
has "record: usage hint in Vietnamese" "gợi ý: chạy 'ntm record --help'" "$T/out"
run "$NTM" --home "$H" --lang vi record activity --task nope --unit 72.710.25657 \
    --date 2019-05-17
has "record: unknown task in Vietnamese" "ntm: lỗi: không có nhiệm vụ này" "$T/out"
run "$NTM" --home "$H" --lang vi list
has "list: Vietnamese column heads" "NGÀY" "$T/out"
has "list: date as dd/mm/yyyy" "17/05/2019" "$T/out"
has "list: quantity as 1.234,5" "1.234,5 km" "$T/out"
run "$NTM" --home "$H" --lang vi show "$id"
has "show: people as 1.200" "people     1.200" "$T/out"
has "show: history header" "TÁC GIẢ" "$T/out"
run "$NTM" --home "$H" --lang vi --json list
has "--json keeps ISO dates under --lang vi" '"date": "2019-05-17"' "$T/out"
has "--json keeps the decimal point under --lang vi" '"qty": "1234.5"' "$T/out"
run "$NTM" --home "$H" --lang en list
has "list --lang en: ISO date" "2019-05-17" "$T/out"
run "$NTM" --home "$H" --lang vi status
has "status in Vietnamese" "lần gửi cuối:   chưa lần nào" "$T/out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
