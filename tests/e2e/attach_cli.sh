#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# attach_cli.sh - attachments with the real ntm, offline (docs/contract.md,
# attachments): ntm attach and record --attach sign one record.attach per
# file after checking every file first (type by its bytes, limits per file
# and per record from config.json); show lists them; attachment get writes
# one out checked against its hash and refuses a damaged file; verify finds
# a damaged file (exit 3) and reports a missing one (exit 0); a recorder
# of another commune cannot attach (refused before signing); Vietnamese
# messages.
#
# Env: NTM_BIN (the built ntm), NTM_CONFIG_DIR. Each check prints a line;
# the last line is "N passed, N failed"; exit status 1 on any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-attach.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME
export LANG=C.UTF-8

A=$T/admin    # root admin of the province
R=$T/recorder # recorder of Thạnh Đức
O=$T/other    # recorder of another commune
COMMUNE=72.710.25657

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

if ! command -v jq >/dev/null; then
    echo "jq is needed (apt-get install -y jq)"
    exit 77
fi

# A "photo" (JPEG magic, 1 MB), a PDF, a text file.
python3 -c 'import sys; sys.stdout.buffer.write(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4096)' >"$T/duong.jpg"
printf '%%PDF-1.4\nbien ban\n' >"$T/bienban.pdf"
echo "not a photo" >"$T/note.txt"

expect 0 "admin: init" "$A" init --root --no-passphrase --lang en
ROOT=$(jq -r .author "$A/config.json")
expect 0 "recorder: init" "$R" init --root-key "$ROOT" --no-passphrase --lang en
expect 0 "other: init" "$O" init --root-key "$ROOT" --no-passphrase --lang en
RK=$(jq -r .author "$R/config.json")
OK_=$(jq -r .author "$O/config.json")
expect 0 "admin enrolls the recorder" "$A" admin enroll "$RK" --role recorder --scope $COMMUNE --org doan
expect 0 "admin enrolls another commune's recorder" "$A" admin enroll "$OK_" --role recorder --scope 72.710.25660 --org doan
expect 0 "admin exports a bundle" "$A" bundle export --out "$T/enroll.ntmb"
expect 0 "recorder imports it" "$R" bundle import "$T/enroll.ntmb"

expect 0 "record with --attach" "$R" --json record activity --task doan.rural_roads_km \
    --unit $COMMUNE --date 2019-05-17 --qty 1.2 --uom km --title "Bê tông đường" \
    --attach "$T/duong.jpg" --caption "sau khi làm" --keep-metadata
ID=$(jq -r .id "$T/out")
H=$(jq -r '.attachments[0].hash' "$T/out")
check "record --attach: the hash is BLAKE2b-256 of the bytes" test "$H" = "$(b2sum -l 256 "$T/duong.jpg" | cut -d' ' -f1)"
check "record --attach: stored in the home by its hash" cmp -s "$T/duong.jpg" "$R/attachments/$H"
expect 0 "attach a PDF" "$R" attach "$ID" "$T/bienban.pdf" --caption "biên bản nghiệm thu"
check "attach prints the hash" out_has "attached "

N0=$("$NTM" --home "$R" --json verify | jq .entries)
expect 1 "a text file is refused" "$R" attach "$ID" "$T/note.txt"
check "the refusal says what can be attached" err_has "not a JPEG or PNG photo or a PDF"
expect 1 "record --attach with a bad file signs nothing" "$R" record activity \
    --task doan.rural_roads_km --unit $COMMUNE --date 2019-05-18 --attach "$T/duong.jpg" --attach "$T/note.txt" --keep-metadata
N1=$("$NTM" --home "$R" --json verify | jq .entries)
check "nothing was signed for the refused files ($N0 = $N1)" test "$N0" = "$N1"

jq '.attach_max_file = 100000' "$R/config.json" >"$T/c" && cp "$T/c" "$R/config.json"
expect 1 "a file past attach_max_file is refused" "$R" attach "$ID" "$T/duong.jpg" --keep-metadata
check "the refusal names the limit and where to raise it" err_has "attach_max_file"
jq 'del(.attach_max_file) | .attach_max_record = 1100000' "$R/config.json" >"$T/c" && cp "$T/c" "$R/config.json"
expect 1 "attachments past attach_max_record are refused" "$R" attach "$ID" "$T/duong.jpg" --keep-metadata
check "the refusal names attach_max_record" err_has "attach_max_record"
jq 'del(.attach_max_record)' "$R/config.json" >"$T/c" && cp "$T/c" "$R/config.json"

# A real photo (1700 x 16 pixels) with an EXIF block naming where it was
# taken: scaled to 1600 pixels at most, the EXIF dropped; --keep-metadata
# keeps it byte for byte.
echo "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDACAWGBwYFCAcGhwkIiAmMFA0MCwsMGJGSjpQdGZ6eHJmcG6AkLicgIiuim5woNqirr7EztDOfJri8uDI8LjKzsb/2wBDASIkJDAqMF40NF7GhHCExsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsb/wAARCAAQBqQDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDLooorqOcKKKKACiiigAooooAKKKKACiiigBRRQKKBoKKKKACiiigAooooAKKKKACiiigAp1Np1A0FFFFIYUUUUAFFFFABRRRQAUUUUAFAooFA0LRRRQMKKKKACiiigAooooAKKKKACiiigBaKKKRQUUUUAFFFFABRRRQAUUUUAFFFFAAKWkFLSGgooooAKKKKACiiigAooooAKKKKAClpKWgaCiiigYUUUUAFFFFABRRRQAUUUUAFKKSlFA0FFFFIYUUUUAFFFFABRRRQAUUUUAFFFFAC0UUUFBRRRQAUUUUAFFFFABRRRQAUUUUAKKKBRSGgooooGFFFFABRRRQAUUUUAFFFFABTqbTqAQUUUUhhRRRQAUUUUAFFFFABRRRQAUCigUDQtFFFAwooooAKKKKACiiigAooooAKKKKAFooopFBRRRQAUUUUAFFFFABRRRQAUUUUAApaQUtA0FFFFAwooooAKKKKACiiigAooooAKWkpaQIKKKKBhRRRQAUUUUAFFFFABRRRQAUopKUUDQUUUUhhRRRQAUUUUAFFFFABRRRQAUUUUALRRRQUFFFFABRRRQAUUUUAFFFFABRRRQAUUUUAf//Z" | base64 -d >"$T/plain.jpg"
python3 - "$T/plain.jpg" "$T/gps.jpg" <<'PY'
import sys
j = open(sys.argv[1], "rb").read()
exif = b"Exif\0\0GPSLatitude 11.31N GPSLongitude 106.10E Model PhoneX"
seg = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
open(sys.argv[2], "wb").write(j[:2] + seg + j[2:])
PY
expect 1 "a JPEG that cannot be decoded is refused" "$R" attach "$ID" "$T/duong.jpg"
check "  ... saying how to keep it as it is" err_has "keep-metadata"
expect 0 "attach a real photo with GPS in its EXIF" "$R" --json attach "$ID" "$T/gps.jpg"
HG=$(jq -r '.attachments[0].hash' "$T/out")
check "  ... scaled to 1600 pixels at most" json_ok '.attachments[0].photo.width == 1700 and .attachments[0].photo.out_width <= 1600 and .attachments[0].photo.reencoded'
check "  ... no GPS or EXIF left in the file attached" sh -c "! grep -qa -e GPSLatitude -e Exif '$R/attachments/$HG'"
check "  ... still a JPEG" sh -c "head -c 3 '$R/attachments/$HG' | od -An -tx1 | grep -q 'ff d8 ff'"
# The HTML report embeds the records' photos when asked, as data: URIs of
# the stored (already shrunk) JPEGs; only then does its CSP allow them.
expect 0 "report --format html --with-photos" "$R" report --format html --with-photos --out "$T/photos.html"
check "  ... embeds the stored photo as a data: URI" grep -q "<img src=\"data:image/jpeg;base64,$(base64 -w0 "$R/attachments/$HG")\"" "$T/photos.html"
check "  ... its CSP allows data: images" grep -q "img-src data:" "$T/photos.html"
check "  ... and nothing else from outside" grep -q "default-src 'none'" "$T/photos.html"
check "  ... the record's title beside it" grep -q "Bê tông" "$T/photos.html"
expect 0 "report --format html (no photos asked)" "$R" report --format html --out "$T/plain.html"
check "  ... no image in it" sh -c "! grep -q '<img' '$T/plain.html'"
check "  ... and its CSP allows none" sh -c "grep -q \"default-src 'none'\" '$T/plain.html' && ! grep -q 'img-src' '$T/plain.html'"
expect 2 "--with-photos is for the HTML report only" "$R" report --format csv --with-photos
expect 0 "--keep-metadata attaches it as it is" "$R" --json attach "$ID" "$T/gps.jpg" --keep-metadata
check "  ... byte for byte, GPS included" cmp -s "$T/gps.jpg" "$R/attachments/$(jq -r '.attachments[0].hash' "$T/out")"

expect 0 "show lists the attachments" "$R" show "$ID"
check "show: the photo's name and caption" out_has "duong.jpg.*sau khi làm"
check "show: the PDF" out_has "bienban.pdf  application/pdf"
expect 0 "show --json" "$R" --json show "$ID"
check "show --json: four attachments, held" json_ok '(.attachments | length) == 4 and all(.attachments[]; .held)'
check "show --json: history has the record.attach entries" json_ok '[.history[] | select(.op == "record.attach")] | length == 4'

expect 0 "attachment get by a prefix of the hash" "$R" attachment get "${H:0:10}" --out "$T/got.jpg"
check "the file written out is the one attached" cmp -s "$T/duong.jpg" "$T/got.jpg"
expect 0 "verify: attachments sound" "$R" --json verify
check "verify --json: 4 checked, 0 bad, 0 missing" json_ok '.attachments.ok == 4 and (.attachments.bad | length) == 0 and (.attachments.missing | length) == 0'

# Bundles carry the attachments; minisign still verifies the whole file.
expect 0 "bundle export carries the attachments" "$R" --json bundle export --out "$T/att.ntmb"
check "  ... four attachments in it" json_ok '.attachments == 4'
check "  ... the header says so" sh -c "head -1 '$T/att.ntmb' | jq -e '.attachments == 4' >/dev/null"
if command -v minisign >/dev/null; then
    check "minisign -V verifies the bundle with its attachments" \
        minisign -Vq -p <("$NTM" --home "$R" key export --minisign) -m "$T/att.ntmb"
else
    skip "minisign -V (minisign is not installed)"
fi
expect 0 "a fresh home imports it" "$T/fresh" init --root-key "$(jq -r .author "$A/config.json")" --no-passphrase --lang en
expect 0 "  ... import" "$T/fresh" --json bundle import "$T/enroll.ntmb"
expect 0 "  ... import the bundle with attachments" "$T/fresh" --json bundle import "$T/att.ntmb"
check "  ... all four attachments stored" json_ok '.attachments == 4 and .attachments_refused == 0'
check "  ... the photo, byte for byte" cmp -s "$T/duong.jpg" "$T/fresh/attachments/$H"
expect 0 "  ... verify there: sound" "$T/fresh" --json verify
check "  ... 4 attachments checked, none missing" json_ok '.attachments.ok == 4 and (.attachments.missing | length) == 0'
# One byte of the photo changed inside the bundle (its base64 text).
python3 - "$T/att.ntmb" "$T/bad.ntmb" <<'PY'
import json, sys, base64
out = []
for i, line in enumerate(open(sys.argv[1], "rb").read().split(b"\n")):
    o = json.loads(line) if line.startswith(b'{"attachment"') else None
    if o and o["offset"] == 0 and o["size"] > 100000:
        d = bytearray(base64.b64decode(o["data"]))
        d[10] ^= 0x55
        o["data"] = base64.b64encode(bytes(d)).decode()
        line = json.dumps(o, separators=(",", ":"), sort_keys=True).encode()
    out.append(line)
open(sys.argv[2], "wb").write(b"\n".join(out))
PY
expect 0 "another fresh home" "$T/fresh2" init --root-key "$(jq -r .author "$A/config.json")" --no-passphrase --lang en
run "$T/fresh2" bundle import "$T/enroll.ntmb"
cp "$T/att.ntmb.minisig" "$T/bad.ntmb.minisig"
expect 1 "a bundle whose photo was changed fails its signature" "$T/fresh2" bundle import "$T/bad.ntmb"
check "  ... nothing imported, saying why" err_has "does not verify"
rm -f "$T/bad.ntmb.minisig"
expect 0 "  ... imports the changed bundle without its signature" "$T/fresh2" --json bundle import "$T/bad.ntmb"
check "  ... the changed photo is refused, the others stored" json_ok '.attachments == 3 and .attachments_refused == 1'
check "  ... no photo stored" test ! -e "$T/fresh2/attachments/$H"

# A swapped byte in the stored photo.
printf 'X' | dd of="$R/attachments/$H" bs=1 seek=1000 conv=notrunc 2>/dev/null
expect 3 "verify: a damaged attachment is exit 3" "$R" verify
check "verify names the damaged attachment" out_has "$H"
rm -f "$T/bad.jpg"
expect 3 "attachment get refuses a damaged file" "$R" attachment get "$H" --out "$T/bad.jpg"
check "nothing was written out" test ! -e "$T/bad.jpg"
rm "$R/attachments/$H"
expect 0 "verify: a missing attachment is not an error of the log" "$R" --json verify
check "verify --json lists it as missing" json_ok ".attachments.missing == [\"$H\"]"
expect 0 "show says it is not in this home" "$R" show "$ID"
check "show: the way to fetch it" out_has "ntm attachment get"

# Another commune's recorder, holding the record: refused before signing.
expect 0 "recorder exports a bundle" "$R" bundle export --out "$T/rec.ntmb"
expect 0 "other imports it" "$O" bundle import "$T/rec.ntmb"
expect 1 "another commune's recorder cannot attach" "$O" attach "$ID" "$T/bienban.pdf"
check "the refusal says the unit is outside its scope" err_has "outside the author's scope"

# Vietnamese.
run "$R" --lang vi attach "$ID" "$T/note.txt"
check "Vietnamese: the refusal" err_has "không phải ảnh JPEG, PNG hay tài liệu PDF"

finish
