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
# store/ in layers (the table at the top of store/store_int.h): a file of
# store/ calls only functions defined in a lower layer, never one beside or
# above it. Read from the sources (comments and strings left out): no build
# needed.
if command -v perl >/dev/null && [ -f store/store_int.h ]; then
    if perl -e '
        my (%level, %def, %text);
        open(my $h, "<", "store/store_int.h") or die;
        while (<$h>) {
            last if m{^ \*/};
            next unless /^ \*\s+(\d+)\s+((?:[a-z_]+\.c\s*)+)/;
            my $n = $1;
            $level{$_} = $n for split(" ", $2);
        }
        my $bad = 0;
        for my $p (glob("store/*.c")) {
            (my $f = $p) =~ s{^store/}{};
            if (!exists $level{$f}) {
                print "lint: store/$f has no layer in store/store_int.h\n";
                $bad++;
                next;
            }
            open(my $c, "<", $p) or die;
            local $/;
            my $src = <$c>;
            $src =~ s{(/\*.*?\*/)|("(?:\\.|[^"\\\n])*")|('"'"'(?:\\.|[^'"'"'\\\n])*'"'"')}{defined $1 ? " " : q("")}gse;
            $text{$f} = $src;
            my $prev = "";
            for (split /\n/, $src) {
                $def{$1} = $f if /^([A-Za-z_]\w*)\(/ && $prev !~ /^static\b/;
                $prev = $_;
            }
        }
        for my $f (sort keys %text) {
            my %seen;
            while ($text{$f} =~ /\b([A-Za-z_]\w*)\s*\(/g) {
                my $g = $def{$1};
                next if !defined $g || $g eq $f || $seen{$1}++;
                next if $level{$g} < $level{$f};
                printf "lint: store/%s (layer %d) calls %s of store/%s (layer %d)\n",
                    $f, $level{$f}, $1, $g, $level{$g};
                $bad++;
            }
        }
        exit($bad ? 1 : 0);
    '; then
        pass=$((pass + 1))
    else
        echo "lint: store/ calls must go to a lower layer (see store/store_int.h)"
        fail=$((fail + 1))
    fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
