#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mutation.sh - mutation smoke test of the store's verify, authorization,
# chain and merge code (RELIABILITY.md T20).
#
#   scripts/mutation.sh            every mutant below
#   scripts/mutation.sh 3 7 12     only these mutants (numbers as printed)
#   scripts/mutation.sh --list     list the mutants and whether they apply
#
# The tree is copied (git archive of HEAD, or the working tree with
# MUT_SRC=worktree) into a temporary folder and built there once; the real
# tree is never touched. Each mutant changes one line of store/entry.c,
# rules.c, auth.c, gate.c, ingest.c or state.c, found by exact text: an anchor
# line (unique in the file, or empty) and the text to replace on the first
# line at or after it that holds it. A mutant whose text no longer exists
# is skipped and reported. After a rebuild the suites run one after the
# other, stopping at the first failure: rules, store, merge, powerloss, the
# cli_offline e2e script and faults (its byte-flip test only with
# MUT_FLIPS=1: it is randomised and fails now and then on its own).
#
# Known equivalent mutants (no test can kill them; kept as a check that
# they stay equivalent): the one that takes a revoked key's enrollment
# from_seq >= a + 1 instead of > a + 1 (auth.c: an enrollment from a + 1
# is the governing one already, taken by the first clause), and the one
# that keeps the latest of two valid creates of a record (state.c: a
# record id is bound to its creator's author and seq, so a second valid
# create of the same id cannot exist).
#
# Prints one line per mutant and "N killed, N survived" (plus skipped and
# not built). A measurement, not a gate: exits 0 whatever the score; 2
# when the unmutated tree does not build or pass.
# Environment: MUT_SRC (head|worktree), MUT_KEEP=1 (keep the copy),
# MUT_TIMEOUT (seconds per suite, default 300), MUT_BUILDTYPE (default
# debugoptimized).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
TIMEOUT=${MUT_TIMEOUT:-300}

# ------------------------------------------------------------------ mutants
# file @@ anchor (unique line text, or empty) @@ old text @@ new text
MUTANTS=$(
    cat <<'EOF'
entry.c@@@@    if (len > NTM_MAX_ENTRY_BYTES)@@    if (len > NTM_MAX_ENTRY_BYTES + 1)
entry.c@@@@            if (++depth > max)@@            if (++depth > max + 1)
entry.c@@@@        return n <= MAX_SAFE_INT && n >= -MAX_SAFE_INT;@@        return n <= MAX_SAFE_INT + 1 && n >= -MAX_SAFE_INT;
entry.c@@@@    if (json_object_size(e->json) != 8)@@    if (json_object_size(e->json) < 8)
entry.c@@@@json_integer_value(seq) < 1)@@json_integer_value(seq) < 0)
entry.c@@@@json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je)@@json_loadb(bytes, len, 0, &je)
entry.c@@@@        if (!json_is_null(prev))@@        if (0 && !json_is_null(prev))
entry.c@@@@    if (memchr(bytes, '\0', len))@@    if (0 && memchr(bytes, '\0', len))
entry.c@@@@            return "entry holds -0: write 0";@@            (void)0;
entry.c@@@@        return ts1 < ts2 ? -1 : 1;@@        return ts1 > ts2 ? -1 : 1;
gate.c@@@@        ntm_sign_verify(sig, e->bytes, e->len, pk) != NTM_OK) {@@        (ntm_sign_verify(sig, e->bytes, e->len, pk), 0)) {
gate.c@@@@    if (held[0] && strcmp(held, e->id) == 0) {@@    if (held[0] && strcmp(held, e->id) != 0) {
gate.c@@@@        if (e->seq > head + 1) {@@        if (e->seq > head + 2) {
gate.c@@@@        if (e->seq > 1 && strcmp(e->prev, head_id) != 0) {@@        if (e->seq > 2 && strcmp(e->prev, head_id) != 0) {
gate.c@@@@            if (other[0] && strcmp(other, e->prev) != 0) {@@            if (other[0] && strcmp(other, e->prev) == 0) {
gate.c@@@@    int strict = (st->flags & NTM_STORE_SERVER) ||@@    int strict = 0 ||
ingest.c@@@@        if (!enr.enrolled) {@@        if (0 && !enr.enrolled) {
gate.c@@@@    int ahead = e->ts > now + NTM_DAY_MS;@@    int ahead = e->ts > now;
ingest.c@@@@    if (code == NTM_EBADBODY || code == NTM_EFORBIDDEN || code == NTM_EREVOKED)@@    if (code == NTM_EBADBODY || code == NTM_EREVOKED)
ingest.c@@@@    if (peer > head) {@@    if (peer > head + 1) {
ingest.c@@@@    if (peer > head) {@@    if (peer >= head) {
rules.c@@@@    return strncmp(scope, unit, n) == 0 && (unit[n] == '\0' || unit[n] == '.');@@    return strncmp(scope, unit, n) == 0;
rules.c@@@@        return rank >= 2;@@        return rank >= 1;
rules.c@@@@        return rank >= 3;@@        return rank >= 2;
rules.c@@@@    if (!Ntm_scope_covers(enr->scope, target)) {@@    if (0 && !Ntm_scope_covers(enr->scope, target)) {
auth.c@@@@    if (st->root[0] && strcmp(key, st->root) == 0) {@@    if (0 && st->root[0] && strcmp(key, st->root) == 0) {
rules.c@@@@    if (enr->revoked) {@@    if (0 && enr->revoked) {
rules.c@@@@        if (!json_is_integer(v) || json_integer_value(v) <= 0)@@        if (!json_is_integer(v) || json_integer_value(v) < 0)
auth.c@@@@        if (set[i] != o && set[i]->from_seq <= from && set[i]->from_seq > gov)@@        if (set[i] != o && set[i]->from_seq < from && set[i]->from_seq > gov)
auth.c@@@@        int taken = y->from_seq == gov || (!o->enroll && y->from_seq > from);@@        int taken = y->from_seq == gov || (!o->enroll && y->from_seq >= from);
auth.c@@@@        out->revoked = seq > out->revoked_after;@@        out->revoked = seq >= out->revoked_after;
auth.c@@@@    if (strcmp(e->author, key) == 0) {@@    if (0 && strcmp(e->author, key) == 0) {
auth.c@@"a %s may not %s devices", a.role,@@return NTM_EFORBIDDEN;@@return NTM_OK;
auth.c@@@@SELECT min(after_seq) FROM revocations@@SELECT max(after_seq) FROM revocations
state.c@@@@    return (r->n[a].anc[b / 8] >> (b % 8)) & 1;@@    return (r->n[b].anc[a / 8] >> (a % 8)) & 1;
state.c@@@@            if (order_cmp(&r->n[cand[c]], &r->n[best]) > 0)@@            if (order_cmp(&r->n[cand[c]], &r->n[best]) < 0)
state.c@@@@            (r->create < 0 || order_cmp(nd, &r->n[r->create]) < 0))@@            (r->create < 0 || order_cmp(nd, &r->n[r->create]) > 0))
state.c@@@@        if (idx < 0 || r->n[idx].kind == N_REVIEW || r->n[idx].kind == N_ATTACH)@@        if (idx < 0 || r->n[idx].kind == N_ATTACH)
state.c@@@@        if (nd->code == NTM_OK && nd->missing) {@@        if (0 && nd->missing) {
state.c@@@@    if (nheads == 1) {@@    if (nheads >= 1) {
EOF
)

# Apply mutant "file@@anchor@@old@@new" to the tree at $1. Exit 0: applied;
# 3: the anchor or the text is not there (or the anchor is not unique).
apply_mutant() {
    python3 - "$1" "$2" <<'PY'
import sys
tree, spec = sys.argv[1], sys.argv[2]
f, anchor, old, new = spec.split("@@")
path = tree + "/store/" + f
with open(path, encoding="utf-8") as fp:
    lines = fp.read().split("\n")
start = 0
if anchor:
    hits = [i for i, l in enumerate(lines) if anchor in l]
    if len(hits) != 1:
        sys.exit(3)
    start = hits[0]
else:
    if sum(l.count(old) for l in lines) != 1:
        sys.exit(3)
for i in range(start, len(lines)):
    if old in lines[i]:
        lines[i] = lines[i].replace(old, new, 1)
        print("%s:%d: %s" % (f, i + 1, lines[i].strip()))
        break
else:
    sys.exit(3)
with open(path, "w", encoding="utf-8") as fp:
    fp.write("\n".join(lines))
PY
}

# ---------------------------------------------------------------- arguments
list_only=0
only=()
for a in "$@"; do
    case "$a" in
    --list) list_only=1 ;;
    *[!0-9]* | '')
        echo "usage: scripts/mutation.sh [--list] [N...]" >&2
        exit 2
        ;;
    *) only+=("$a") ;;
    esac
done

command -v python3 >/dev/null || { echo "mutation: python3 is needed" >&2; exit 2; }

# ------------------------------------------------------------- the copy
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ntm-mutation.XXXXXX")
[ -n "${MUT_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
mkdir -p "$SRC"
if [ "${MUT_SRC:-head}" = worktree ]; then
    git ls-files -z --cached --others --exclude-standard |
        tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
else
    git archive HEAD | tar -C "$SRC" -xf -
fi
echo "# tree: ${MUT_SRC:-head} ($(git rev-parse --short HEAD)) copied to $SRC"

if [ "$list_only" = 1 ]; then
    n=0
    while IFS= read -r m; do
        n=$((n + 1))
        cp "$SRC/store/${m%%@@*}" "$WORK/orig"
        if out=$(apply_mutant "$SRC" "$m"); then
            echo "$n: $out"
        else
            echo "$n: SKIPPED (text not found): $m"
        fi
        cp "$WORK/orig" "$SRC/store/${m%%@@*}"
    done <<<"$MUTANTS"
    exit 0
fi

BUILD=$SRC/build-mut
if ! meson setup "$BUILD" "$SRC" --buildtype="${MUT_BUILDTYPE:-debugoptimized}" -Dwerror=false \
    >"$WORK/setup.log" 2>&1 || ! ninja -C "$BUILD" >"$WORK/build.log" 2>&1; then
    tail -20 "$WORK/setup.log" "$WORK/build.log"
    echo "mutation: the unmutated tree does not build"
    exit 2
fi

export CMOCKA_MESSAGE_OUTPUT=STDOUT NTM_CONFIG_DIR=$SRC/config \
    NTM_BIN=$BUILD/cli/ntm NTM_SRC=$SRC MALLOC_PERTURB_=0

# Run the suites in order; print the first that fails (empty: all pass).
run_suites() {
    local log=$1 s
    for s in rules store merge powerloss cli_offline faults; do
        case $s in
        cli_offline)
            timeout "$TIMEOUT" bash "$SRC/tests/e2e/cli_offline.sh" >"$log.$s" 2>&1
            ;;
        faults)
            local ok=1 f
            local filters=("test_disk_*" "test_readonly_*" "test_oom_*")
            [ "${MUT_FLIPS:-0}" = 1 ] && filters+=("test_flipped_*")
            for f in "${filters[@]}"; do
                NTM_TEST_FILTER=$f timeout "$TIMEOUT" "$BUILD/tests/test_faults" \
                    >>"$log.$s" 2>&1 || { ok=0; break; }
            done
            [ $ok = 1 ]
            ;;
        *)
            timeout "$TIMEOUT" "$BUILD/tests/test_$s" >"$log.$s" 2>&1
            ;;
        esac || { echo "$s"; return; }
    done
}

t0=$(date +%s)
failed=$(run_suites "$WORK/base")
if [ -n "$failed" ]; then
    tail -20 "$WORK/base.$failed"
    echo "mutation: the unmutated tree fails suite $failed"
    exit 2
fi
echo "# baseline passes in $(($(date +%s) - t0)) s"

killed=0
survived=0
skipped=0
broken=0
survivors=()
n=0
while IFS= read -r m; do
    n=$((n + 1))
    if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $n "* ]]; then
        continue
    fi
    file=${m%%@@*}
    cp "$SRC/store/$file" "$WORK/orig"
    if ! where=$(apply_mutant "$SRC" "$m"); then
        echo "$n: SKIPPED - text no longer in store/$file: ${m#*@@}"
        skipped=$((skipped + 1))
        continue
    fi
    t0=$(date +%s)
    if ! ninja -C "$BUILD" >"$WORK/build.$n.log" 2>&1; then
        echo "$n: NOT BUILT  $where"
        broken=$((broken + 1))
    else
        failed=$(run_suites "$WORK/m$n")
        if [ -n "$failed" ]; then
            echo "$n: killed by $failed ($(($(date +%s) - t0)) s)  $where"
            killed=$((killed + 1))
        else
            echo "$n: SURVIVED ($(($(date +%s) - t0)) s)  $where"
            survived=$((survived + 1))
            survivors+=("$n: $where")
        fi
    fi
    cp "$WORK/orig" "$SRC/store/$file"
    touch "$SRC/store/$file"
done <<<"$MUTANTS"
# Leave the build matching the unmutated sources.
ninja -C "$BUILD" >/dev/null 2>&1

echo "# survivors:"
for s in "${survivors[@]}"; do
    echo "#   $s"
done
total=$((killed + survived))
[ $total -gt 0 ] && echo "# score: $((100 * killed / total)) % killed"
echo "# $skipped skipped (text not found), $broken did not build"
echo "$killed killed, $survived survived"
exit 0
