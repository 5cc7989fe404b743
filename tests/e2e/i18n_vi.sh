#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# i18n_vi.sh - Vietnamese first: the catalog po/vi.po is complete (every
# message translated, none fuzzy), and the real ntm speaks Vietnamese with
# --lang vi or LANG=vi_VN.UTF-8 (even where no vi_VN locale is installed),
# English with --lang en; human dates and numbers read 17/05/2019 and
# 1.234,5 in Vietnamese while JSON keeps the ISO forms; help pages, the
# library's errors (with their hints) and the tables, aligned by display
# width, are Vietnamese too.
#
# Env: NTM_BIN (the built ntm), NTM_SRC (the source tree), NTM_CONFIG_DIR.
# Each check prints a line (check_lib.sh); the last line is "N passed, N
# failed"; exit status 1 on any failure, 77 when a part was skipped.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
SRC=${NTM_SRC:?NTM_SRC must name the source tree}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-i18n.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME LANGUAGE LC_ALL LC_MESSAGES
export LANG=C.UTF-8
H=$T/home

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"
# check_lib.sh sets LANGUAGE=en for the other suites: this one chooses.
unset LANGUAGE

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
run_all "$NTM" --lang vi recrod
has "--lang vi: unknown command in Vietnamese" "ntm: lỗi: 'recrod' không phải lệnh của ntm" "$T/out"
has "--lang vi: hint in Vietnamese" "gợi ý: có phải ý bạn là 'ntm record'?" "$T/out"
[ "$rc" -eq 2 ] && ok "unknown command exits 2 in Vietnamese too" ||
    not_ok "unknown command exits 2 in Vietnamese too (exit $rc)"
run_all "$NTM" --lang vi record --help
has "--lang vi: record --help NAME line" "ntm record - ghi một hoạt động hoặc một số đo" "$T/out"
has "--lang vi: help sections translated" "MÔ TẢ" "$T/out"
run_all "$NTM" record --help --lang=vi
has "--lang=vi after the command" "TÊN" "$T/out"
run_all "$NTM" --lang en record --help
has "--lang en: record --help NAME line" "ntm record - record an activity or a measure" "$T/out"
run_all "$NTM" --home "$T/none" --lang vi whoami
has "--lang vi: a missing home explained" "không phải thư mục ntm: hãy chạy 'ntm init' trước" "$T/out"

# LANG=vi_VN.UTF-8 chooses Vietnamese (whether vi_VN is installed or not).
run_all env LANG=vi_VN.UTF-8 "$NTM" recrod
has "LANG=vi_VN.UTF-8: Vietnamese" "ntm: lỗi: 'recrod' không phải lệnh của ntm" "$T/out"
run_all env LANG=vi_VN.UTF-8 "$NTM" --lang en recrod
has "--lang en beats LANG=vi_VN.UTF-8" "ntm: error: 'recrod' is not an ntm command" "$T/out"
run_all env LC_MESSAGES=vi_VN "$NTM" sync --help
has "LC_MESSAGES=vi_VN: Vietnamese" "ntm sync - gửi các mục mới lên, rồi tải về" "$T/out"
run_all "$NTM" recrod
has "LANG=C.UTF-8 names no language: Vietnamese, the default" "ntm: lỗi: 'recrod' không phải lệnh của ntm" "$T/out"
run_all env LANGUAGE=en "$NTM" recrod
has "LANGUAGE=en: English" "ntm: error: 'recrod' is not an ntm command" "$T/out"

# The home's language: Vietnamese unless init is told otherwise; stored in
# config.json; the environment and --lang still choose for one run.
run_all "$NTM" --home "$T/hvi" init --root --no-passphrase
has "init without --lang: Vietnamese" "mã tác giả: " "$T/out"
check "init without --lang stores vi" jq -e '.lang == "vi"' "$T/hvi/config.json"
run_all "$NTM" --home "$T/hen" init --root --no-passphrase --lang en
has "init --lang en: English" "author id: " "$T/out"
check "init --lang en stores en" jq -e '.lang == "en"' "$T/hen/config.json"
run_all "$NTM" --home "$T/hen" whoami
has "a home stored en speaks English" "state:     root key" "$T/out"
run_all "$NTM" --home "$T/hen" --help
has "ntm --help in the home's language" "global options:" "$T/out"
run_all env LANG=vi_VN.UTF-8 "$NTM" --home "$T/hen" whoami
has "LANG=vi_VN.UTF-8 beats the home's en" "trạng thái: khóa gốc" "$T/out"
run_all "$NTM" --home "$T/hvi" --lang en whoami
has "--lang en beats the home's vi" "state:     root key" "$T/out"
run_all "$NTM" --home "$T/hen" init --lang vi
has "init --lang vi on a home: only its language changes" "giờ là tiếng Việt" "$T/out"
check "init --lang vi on a home stores vi" jq -e '.lang == "vi" and (.author | length) == 64' "$T/hen/config.json"
run_all "$NTM" --home "$T/hen" whoami
has "the home now speaks Vietnamese" "trạng thái: khóa gốc" "$T/out"

# A home, then whoami, record, list and show in Vietnamese.
run_all "$NTM" --home "$H" --lang vi init --root --no-passphrase
has "init --lang vi: warning in Vietnamese" "ntm: cảnh báo: khóa được lưu không có mật khẩu" "$T/out"
has "init --lang vi: author id line" "mã tác giả: " "$T/out"
run_all env LANG=vi_VN.UTF-8 "$NTM" --home "$H" whoami
has "whoami in Vietnamese: state" "trạng thái: khóa gốc" "$T/out"
has "whoami in Vietnamese: role label" "vai trò:    quản trị viên" "$T/out"
run_all "$NTM" --home "$H" --lang en whoami
has "whoami --lang en" "state:     root key" "$T/out"
run_all "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2019-05-17 --qty 1234.5 --uom km \
    --people 1200 --title "Bê tông hóa đường ấp Thạnh Hòa"
id=$(tail -1 "$T/out")
run_all "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2019-02-30
has "record: invalid date in Vietnamese" "ngày '2019-02-30' không hợp lệ" "$T/out"
has "record: usage hint in Vietnamese" "gợi ý: chạy 'ntm record --help'" "$T/out"
run_all "$NTM" --home "$H" --lang vi record activity --task nope --unit 72.710.25657 \
    --date 2019-05-17
has "record: unknown task in Vietnamese, said once" "ntm: lỗi: không có nhiệm vụ 'nope'" "$T/out"
run_all "$NTM" --home "$H" --lang vi list
has "list: Vietnamese column heads" "NGÀY" "$T/out"
has "list: date as dd/mm/yyyy" "17/05/2019" "$T/out"
has "list: quantity as 1.234,5" "1.234,5 km" "$T/out"
run_all "$NTM" --home "$H" --lang vi show "$id"
check "show: people as 1.200, under its label" grep -qE "^  số người +1\.200$" "$T/out"
has "show: history header" "TÁC GIẢ" "$T/out"
run_all "$NTM" --home "$H" --lang vi --json list
has "--json keeps ISO dates under --lang vi" '"date": "2019-05-17"' "$T/out"
has "--json keeps the decimal point under --lang vi" '"qty": "1234.5"' "$T/out"
run_all "$NTM" --home "$H" --lang en list
has "list --lang en: ISO date" "2019-05-17" "$T/out"
run_all "$NTM" --home "$H" --lang vi status
has "status in Vietnamese" "lần gửi cuối:   chưa lần nào" "$T/out"

# col TEXT LINE: the display column where TEXT starts in LINE (characters
# before it; the Vietnamese texts are precomposed, one cell a character).
col() {
    local before=${2%%"$1"*}
    echo "${#before}"
}
# aligned DESCRIPTION HEAD VALUE FILE [ROW]: in FILE, HEAD starts in the
# header line at the column where VALUE starts in the first other line that
# holds it (and ROW, when given).
aligned() {
    local h v
    h=$(grep -F -- "$2" "$4" | head -1)
    v=$(grep -F -- "$3" "$4" | grep -vF -- "$2" | grep -F -- "${5:-$3}" | head -1)
    if [ -n "$h" ] && [ -n "$v" ] && [ "$(col "$2" "$h")" -eq "$(col "$3" "$v")" ]; then
        ok "$1"
    else
        [ "$4" = "$T/out" ] || cp "$4" "$T/out"
        not_ok "$1 ('$2' at $(col "$2" "$h"), '$3' at $(col "$3" "$v"))"
    fi
}

# Tables line up by display width: the Vietnamese heads are wider in bytes.
run_all "$NTM" --home "$H" --lang vi list
aligned "list: DATE column aligned" "NGÀY" "17/05/2019" "$T/out"
aligned "list: UNIT column aligned" "ĐƠN VỊ" "72.710.25657" "$T/out"
aligned "list: STATE column aligned" "TRẠNG THÁI" "chờ duyệt" "$T/out"
aligned "list: TITLE column aligned" "TIÊU ĐỀ" "Bê tông hóa" "$T/out"
run_all "$NTM" --home "$H" --lang vi show "$id"
when=$(grep -F "tạo bản ghi" "$T/out" | grep -oE '[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9:]{8}' | head -1)
aligned "show: TIME column aligned (dd/mm/yyyy)" "THỜI GIAN (UTC)" "${when:-no time}" "$T/out" "tạo bản ghi"
aligned "show: OP column aligned" "THAO TÁC" "tạo bản ghi" "$T/out"
aligned "show: STATUS column aligned" "TÌNH TRẠNG" "hợp lệ" "$T/out"

# Help pages: description, options, placeholders and examples.
run_all "$NTM" --lang vi admin --help
has "admin --help: NAME" "ntm admin - ghi danh hoặc thu hồi thiết bị, tạo đơn vị" "$T/out"
has "admin --help: SYNOPSIS placeholders" "ntm admin revoke <khóa> [--after-seq <n>] --reason <nội-dung>" "$T/out"
has "admin --help: description" "unit tạo một đơn vị chưa có trong cây đơn vị đi kèm" "$T/out"
has "admin --help: option help" "revoke: các mục sau số thứ tự này mất hiệu lực" "$T/out"
has "admin --help: option placeholder" "--scope <đơn-vị>" "$T/out"
has "admin --help: EXAMPLE" "--reason \"mất điện thoại ngày 02/06/2019\"" "$T/out"
run_all "$NTM" --lang en admin --help
has "admin --help --lang en: EXAMPLE stays English" "--reason \"phone lost on 2019-06-02\"" "$T/out"
has "admin --help --lang en: placeholders stay English" "--scope <unit>" "$T/out"
run_all "$NTM" --lang vi key --help
has "key --help: description" "In khóa công khai" "$T/out"
run_all "$NTM" --lang vi resolve --help
has "resolve --help: synopsis" "ntm resolve <mã> (--take <mục> | --set <trường>=<giá-trị>...)" "$T/out"
run_all "$NTM" --lang vi conflicts --help
has "conflicts --help: description" "Liệt kê mọi bản ghi có một trường bị thay đổi cùng lúc" "$T/out"
run_all "$NTM" --lang vi delete --help
has "delete --help: description, the op by its label" "Ký một mục xóa bản ghi" "$T/out"

# Commands of their own, in Vietnamese.
run_all "$NTM" --home "$H" --lang vi conflicts
has "conflicts: none" "không có xung đột" "$T/out"
run_all "$NTM" --home "$H" --lang vi delete
has "delete: missing id" "ntm: lỗi: thiếu mã bản ghi" "$T/out"
run_all "$NTM" --home "$H" --lang vi resolve "$id"
has "resolve: say how" "hãy nói cách giải quyết: --take MỤC hoặc --set TRƯỜNG=GIÁ_TRỊ" "$T/out"
run_all "$NTM" --home "$H" --lang vi admin enroll 1234 --role recorder --scope 72.710.25657
has "admin: bad key" "khóa thiết bị '1234' không hợp lệ" "$T/out"
run_all "$NTM" --home "$H" --lang vi admin unit 72.710.25657.1 --name "Ấp Thạnh Hòa"
has "admin unit: created, level labelled" "đã tạo ấp 72.710.25657.1 (Ấp Thạnh Hòa)" "$T/out"
has "admin unit: entry line" "mục " "$T/out"
run_all "$NTM" --home "$H" --lang vi key export --out "$T/no/such/dir/key.pub"
has "key export: the code's text, then the English detail" "ntm: lỗi: không ghi được khóa công khai: lỗi đọc ghi tệp - cannot create" "$T/out"

# plan, units and report: help pages, human output and errors.
run_all "$NTM" --lang vi plan --help
has "plan --help: NAME" "ntm plan - liệt kê các tổ chức, nhiệm vụ và chỉ tiêu của kế hoạch" "$T/out"
has "plan --help: description" "Liệt kê các tổ chức trong kế hoạch của Cuộc vận động" "$T/out"
has "plan --help: option help" "chỉ tổ chức này (mttq, ldld, hnd, doan, hlhpn, hccb)" "$T/out"
run_all "$NTM" --lang vi plan --org hccb
has "plan: targets heading" " chỉ tiêu:" "$T/out"
has "plan: deadline as dd/mm/yyyy" "hạn 31/12/2017" "$T/out"
has "plan: value as 0,5" "0,5 %" "$T/out"
run_all "$NTM" --lang en plan --org hccb
has "plan --lang en: deadline stays ISO" "deadline 2017-12-31" "$T/out"
run_all "$NTM" --lang vi units --help
has "units --help: NAME" "ntm units - xem và tìm trong cây đơn vị" "$T/out"
has "units --help: description" "\"tan bien\" tìm" "$T/out"
has "units --help: option help" "hiện cả các đơn vị không còn hiệu lực" "$T/out"
run_all "$NTM" --lang vi units "phuoc luu"
has "units: a merged unit in Vietnamese" "(đã sáp nhập vào 72.712.25729 sau ngày 31/01/2020)" "$T/out"
run_all "$NTM" --lang vi units a b
has "units: two search texts" "hãy cho đúng một nội dung cần tìm, không phải 2" "$T/out"
run_all "$NTM" --lang vi report --help
has "report --help: NAME" "ntm report - tiến độ so với các chỉ tiêu của kế hoạch" "$T/out"
has "report --help: statuses" "đạt, đúng tiến độ, chậm tiến độ," "$T/out"
has "report --help: option help" "đánh giá vào ngày này (YYYY-MM-DD, mặc định hôm nay)" "$T/out"
run_all "$NTM" --home "$H" --lang vi report --year 1800
has "report: bad --year in Vietnamese" "ntm: lỗi: năm 1800 không hợp lệ: hãy dùng một năm như 2018" "$T/out"
has "report: usage hint in Vietnamese" "gợi ý: chạy 'ntm report --help'" "$T/out"
[ "$rc" -eq 2 ] && ok "report: bad --year exits 2" ||
    not_ok "report: bad --year exits 2 (exit $rc)"
run_all "$NTM" --home "$H" --lang vi report --as-of 2019-02-30
has "report: bad --as-of in Vietnamese" "ngày --as-of '2019-02-30' không hợp lệ" "$T/out"
run_all "$NTM" --home "$H" --lang vi report --format pdf
has "report: unknown format in Vietnamese" "không có định dạng 'pdf': dùng table, csv, json hoặc html" "$T/out"
run_all "$NTM" --home "$H" --lang vi report --org xyz
has "report: the library's error in Vietnamese" "ntm: lỗi: không tính được báo cáo: không có tổ chức 'xyz' - hãy dùng một trong:" "$T/out"
run_all "$NTM" --home "$H" --lang en report --year 1800
has "report --lang en: bad --year" "ntm: error: bad year 1800: use a year such as 2018" "$T/out"

# report: human forms (table, html) read dd/mm/yyyy and 1.234,5 in
# Vietnamese; CSV, JSON and English keep the ISO date and the '.' decimal.
HR=$T/report
"$NTM" --home "$HR" init --root --no-passphrase >/dev/null 2>&1
"$NTM" --home "$HR" record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2017-03-05 --qty 1234.5 --uom km --title x \
    >/dev/null 2>&1
run_all "$NTM" --home "$HR" --lang vi report --year 2017 --org doan
has "report table: date as dd/mm/yyyy" "tính đến ngày 31/12/2017" "$T/out"
has "report table: achieved as 1.234,5" "1.234,5  km" "$T/out"
has "report table: pro-rata target as 8,42*" "≥ 8,42*" "$T/out"
run_all "$NTM" --home "$HR" --lang en report --year 2017 --org doan
has "report --lang en: ISO date" "as of 2017-12-31" "$T/out"
has "report --lang en: plain decimal" "1234.5  km" "$T/out"
run_all "$NTM" --home "$HR" --lang vi report --year 2017 --org doan --format csv
has "report csv --lang vi: '.' decimal" ",2017,80,1234.5,km," "$T/out"
run_all "$NTM" --home "$HR" --lang vi report --year 2017 --org doan --format html
has "report html: date as dd/mm/yyyy" "tính đến ngày 31/12/2017" "$T/out"
has "report html: chart figures as 1.234,5" "1.234,5 / ≥ 80 km" "$T/out"
run_all "$NTM" --home "$HR" --lang vi --json report --year 2017 --org doan
has "report json --lang vi: ISO date" '"as_of": "2017-12-31"' "$T/out"

# init: a server that cannot be reached is named in Vietnamese (the
# library's error through cli_error_text).
run_all "$NTM" --home "$T/offline" --lang vi init --no-passphrase --server http://127.0.0.1:9
has "init: unreachable server in Vietnamese" "không kết nối được máy chủ 'http://127.0.0.1:9' (không kết nối được tới http://127.0.0.1:9: máy chủ không chạy ở đó" "$T/out"

# The library's messages (cli_fail): a Vietnamese sentence that says what
# failed and what to do. These also catch a library text that drifted
# from the patterns of cli/msgs.c.
run_all "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_kn \
    --unit 72.710.25657 --date 2019-05-17
has "plan: unknown task with a suggestion" "không có nhiệm vụ 'doan.rural_roads_kn' - có phải ý bạn là 'doan.rural_roads_km'? chạy 'ntm plan' để xem danh sách" "$T/out"
run_all "$NTM" --home "$H" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.2565 --date 2019-05-17
has "plan: unknown unit with suggestions" "không có đơn vị '72.710.2565' - có phải ý bạn là" "$T/out"
has "plan: unknown unit names the units" "(Xã Thạnh Đức)" "$T/out"
run_all "$NTM" --home "$H" --lang vi show 0123456789ab
has "show: unknown record" "ntm: lỗi: thư mục ntm này không có bản ghi '0123456789ab'" "$T/out"

# A recorder of Thạnh Đức records for Gò Dầu: the store refuses before
# signing (EFORBIDDEN), with a hint.
H2=$T/recorder
root=$("$NTM" --home "$H" --json whoami | sed -n 's/.*"author": "\([0-9a-f]*\)".*/\1/p')
"$NTM" --home "$H2" init --no-passphrase --root-key "$root" >/dev/null 2>&1
rec=$("$NTM" --home "$H2" --json whoami | sed -n 's/.*"author": "\([0-9a-f]*\)".*/\1/p')
run_all "$NTM" --home "$H" --lang vi admin enroll "$rec" --role recorder --scope 72.710.25657 --name "Ấp Thạnh Hòa"
has "admin enroll in Vietnamese" "đã ghi danh $rec làm người ghi của 72.710.25657" "$T/out"
"$NTM" --home "$H" bundle export --out "$T/root.ntm" >/dev/null 2>&1
"$NTM" --home "$H2" bundle import "$T/root.ntm" >/dev/null 2>&1
run_all "$NTM" --home "$H2" --lang vi record activity --task doan.rural_roads_km \
    --unit 72.710.25654 --date 2019-05-17
has "store: refused before signing, out of scope" "ntm: lỗi: không ghi được: bị từ chối trước khi ký (chưa ghi gì): đơn vị 72.710.25654 nằm ngoài phạm vi 72.710.25657 của tác giả" "$T/out"
has "store: what to do" "gợi ý: 'ntm whoami' cho biết vai trò và phạm vi của thiết bị này" "$T/out"
[ "$rc" -eq 1 ] && ok "refused before signing exits 1" ||
    not_ok "refused before signing exits 1 (exit $rc)"
run_all "$NTM" --home "$H2" --lang vi admin unit 72.710.25657.2 --name "Ấp Bình Hòa"
has "store: a role that may not do it" "bị từ chối trước khi ký (chưa ghi gì): vai trò recorder không được phép làm unit.create" "$T/out"
run_all "$NTM" --home "$H2" --lang en record activity --task doan.rural_roads_km \
    --unit 72.710.25654 --date 2019-05-17
has "--lang en keeps the library's English" "ntm: error: cannot record: refused before signing: unit 72.710.25654 is outside the author's scope 72.710.25657" "$T/out"

# The server's error messages: with Accept-Language: vi (first tag) the
# "message" is Vietnamese, then " - " and the English detail; codes stay
# English. Plain HTTP on loopback, no authentication needed for a 404, a
# 405 or a 401. The client sends the CLI's language.
if command -v curl >/dev/null && command -v jq >/dev/null; then
    PORT=0
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            PORT=$p
            break
        fi
    done
    mkdir -p "$T/srv"
    "$NTM" --home "$T/srv" serve --root-key "$root" --listen "127.0.0.1:$PORT" \
        2>"$T/server.log" &
    SERVER_PID=$!
    U=http://127.0.0.1:$PORT
    for _ in $(seq 1 100); do
        curl -s "$U/healthz" 2>/dev/null | grep -q ok && break
        sleep 0.05
    done
    curl -s -H 'Accept-Language: vi-VN,vi;q=0.9,en;q=0.5' "$U/v1/nope" >"$T/out"
    if jq -e '.error.code == "not_found" and (.error.message | startswith("Không có địa chỉ này trên máy chủ - ")) and (.error.message | endswith(" - no such endpoint"))' "$T/out" >/dev/null; then
        ok "server 404 in Vietnamese, code English, English detail kept"
    else not_ok "server 404 in Vietnamese"; fi
    curl -s "$U/v1/nope" >"$T/out"
    if jq -e '.error.message == "no such endpoint"' "$T/out" >/dev/null; then
        ok "server 404 in English without Accept-Language"
    else not_ok "server 404 in English without Accept-Language"; fi
    curl -s -H 'Accept-Language: en-US, vi' "$U/v1/nope" >"$T/out"
    if jq -e '.error.message == "no such endpoint"' "$T/out" >/dev/null; then
        ok "server: only the first language tag counts"
    else not_ok "server: only the first language tag counts"; fi
    curl -s -X DELETE -H 'Accept-Language: vi' "$U/v1/info" >"$T/out"
    if jq -e '.error.code == "method_not_allowed" and (.error.message | startswith("Địa chỉ này không nhận phương thức"))' "$T/out" >/dev/null; then
        ok "server 405 in Vietnamese"
    else not_ok "server 405 in Vietnamese"; fi
    curl -s -X POST -H 'Accept-Language: vi' -H 'Content-Type: application/x-ndjson' \
        --data '' "$U/v1/entries" >"$T/out"
    if jq -e '.error.code == "bad_auth" and (.error.message | startswith("Máy chủ không xác thực được yêu cầu")) and (.error.message | contains(" - missing or malformed Authorization header"))' "$T/out" >/dev/null; then
        ok "server 401 in Vietnamese"
    else not_ok "server 401 in Vietnamese"; fi
    # A new device, not enrolled on this server: the client asks in the
    # CLI's language.
    H3=$T/stranger
    "$NTM" --home "$H3" init --no-passphrase --root-key "$root" --server "$U" \
        >/dev/null 2>&1
    run_all "$NTM" --home "$H3" --lang vi push
    has "push --lang vi: the server's message in Vietnamese" "Thiết bị chưa được ghi danh trên máy chủ - nhờ quản trị viên ghi danh thiết bị" "$T/out"
    run_all "$NTM" --home "$H3" --lang en push
    if grep -qF "is not enrolled on this server" "$T/out" &&
        ! grep -qF "Thiết bị chưa được ghi danh" "$T/out"; then
        ok "push --lang en: the server's message in English"
    else not_ok "push --lang en: the server's message in English"; fi
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
else
    skip "server messages: curl or jq missing"
fi

# Vietnamese input where Vietnamese output is printed: 2,4 and 1.234,5,
# dd/mm/yyyy, mm/yyyy, labels for --state and --uom; what reads two ways
# is refused with both forms, never guessed.
V=$T/vin
run_all "$NTM" --home "$V" init --root --no-passphrase
run_all "$NTM" --home "$V" --json record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 05/04/2017 --qty 2,4 --uom km --title "Ấp Thạnh Hòa"
vid=$(jq -r .id "$T/out" 2>/dev/null)
run_all "$NTM" --home "$V" --json show "$vid"
check "--date 05/04/2017 is 5 April 2017" json_ok '.fields.date == "2017-04-05"'
check "--qty 2,4 is 2.4" json_ok '.fields.qty == "2.4"'
run_all "$NTM" --home "$V" --json record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2017-04-06 --qty 1.234,5 --uom km
run_all "$NTM" --home "$V" --json show "$(jq -r .id "$T/out" 2>/dev/null)"
check "--qty 1.234,5 is 1234.5" json_ok '.fields.qty == "1234.5"'
run_all "$NTM" --home "$V" record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2017-04-06 --qty 1.234 --uom km
check "--qty 1.234 in Vietnamese refused (exit 2)" test "$rc" -eq 2
has "  ... showing both forms" "viết 1234 nếu là số nguyên, hoặc 1,234 nếu là số có phần thập phân" "$T/out"
run_all "$NTM" --home "$V" --lang en record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 2017-04-06 --qty 1,234 --uom km
check "--qty 1,234 in English refused (exit 2)" test "$rc" -eq 2
has "  ... showing both forms" "write 1234 for the whole number, or 1.234 for the number with decimals" "$T/out"
run_all "$NTM" --home "$V" --lang en record activity --task doan.rural_roads_km \
    --unit 72.710.25657 --date 05/04/2017 --qty 1 --uom km
check "--date 05/04/2017 in English (which reads ISO dates) refused (exit 2)" test "$rc" -eq 2
has "  ... asking for YYYY-MM-DD" "give a real calendar date as YYYY-MM-DD" "$T/out"
run_all "$NTM" --home "$V" --json record measure --task hccb.health_insurance_pct \
    --unit 72.703 --period 04/2017 --num 9 --den 10
run_all "$NTM" --home "$V" --json show "$(jq -r .id "$T/out" 2>/dev/null)"
check "--period 04/2017 is 2017-04" json_ok '.fields.period == "2017-04"'
run_all "$NTM" --home "$V" --json record activity --task hccb.green_houses \
    --unit 72.703 --date 2017-04-07 --qty 3 --uom "căn"
run_all "$NTM" --home "$V" --json show "$(jq -r .id "$T/out" 2>/dev/null)"
check "--uom căn (the label) is house" json_ok '.fields.uom == "house"'
run_all "$NTM" --home "$V" edit "$vid" --set qty=3,5 --set date=06/04/2017
run_all "$NTM" --home "$V" --json show "$vid"
check "edit --set qty=3,5 date=06/04/2017" json_ok '.fields.qty == "3.5" and .fields.date == "2017-04-06"'
run_all "$NTM" --home "$V" list
has "list: the month period as 04/2017" "04/2017" "$T/out"
has "list: the uom label" "3 căn" "$T/out"
run_all "$NTM" --home "$V" review "$vid" --approve
for s in "đã duyệt" "đã-duyệt" "da duyet" approved; do
    run_all "$NTM" --home "$V" --json list --state "$s"
    check "list --state '$s' finds the approved record" json_ok "length == 1 and .[0].id == \"$vid\""
done
run_all "$NTM" --home "$V" list --state "duyet xong"
check "list --state with an unknown word refused (exit 2)" test "$rc" -eq 2
has "  ... listing the labels" "chờ duyệt, đã duyệt, bị từ chối, cần sửa" "$T/out"

finish
