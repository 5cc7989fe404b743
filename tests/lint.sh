#!/usr/bin/env bash
# Lint: clang-format conformance and banned functions (curl's checksrc spirit).
set -u
cd "${NTM_SRC:?}"
pass=0
fail=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if command -v clang-format >/dev/null; then
    if clang-format --dry-run -Werror $files 2>/tmp/ntm-lint.$$; then
        pass=$((pass + 1))
    else
        head -20 /tmp/ntm-lint.$$
        echo "lint: files are not formatted - run clang-format -i on them"
        fail=$((fail + 1))
    fi
    rm -f /tmp/ntm-lint.$$
fi
# Banned in library and tool code (tests may use libc freely).
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|gets|strtok|atoi|atol|rand)\s*\('
lib=$(echo "$files" | tr ' ' '\n' | grep -v '^tests/' | grep -v '^bench/')
if grep -nE "$banned" $lib; then
    echo "lint: banned function used (see STYLE.md rule 42)"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
