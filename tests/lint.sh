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

# ---------------------------------------------------------------- layering
# Who may include what (library and tool code; tests, fuzz targets and
# benchmarks may reach anything). Quoted includes follow the layers: a
# module sees its own headers and the public ntm_*.h of the modules below
# it (util < crypto < store < plan, store < sync); the tool (cli/) and
# examples/ see only the public headers and, for cli/, its own. Each
# dependency library is included by the one module that wraps it.
layer_fail=0
public='ntm.h ntm_util.h ntm_text.h ntm_crypto.h ntm_store.h ntm_plan.h ntm_sync.h ntm_bundle.h'
allowed_quoted() { # folder -> headers its files may include with quotes
    case $1 in
    util) echo "ntm_util.h ntm_text.h" ;;
    crypto) echo "ntm_util.h ntm_text.h ntm_crypto.h crypto_int.h" ;;
    store) echo "ntm_util.h ntm_text.h ntm_crypto.h crypto_int.h ntm_store.h store_int.h" ;;
    plan) echo "ntm_util.h ntm_text.h ntm_crypto.h ntm_store.h ntm_plan.h plan_int.h" ;;
    sync) echo "ntm_util.h ntm_text.h ntm_crypto.h ntm_store.h ntm_sync.h ntm_bundle.h sync_int.h ntm_server.h" ;;
    cli) echo "$public ntm_server.h cli.h i18n.h ui.h" ;;
    examples) echo "$public" ;;
    .) echo "$public crypto_int.h store_int.h sync_int.h" ;;
    *) echo "*" ;;
    esac
}
# only_in HEADER PATTERN: <HEADER> or "HEADER" only in files matching the
# extended regex PATTERN
only_in() {
    local hdr=$1 where=$2 bad
    bad=$(grep -lE "^\s*#\s*include\s*[<\"]$hdr[>\"]" $lib 2>/dev/null |
        grep -vE "$where")
    if [ -n "$bad" ]; then
        echo "lint: <${hdr//\\/}> is included outside $where:" $bad
        layer_fail=1
    fi
}
for f in $lib; do
    case $f in */*) dir=${f%%/*} ;; *) dir=. ;; esac
    ok_list=$(allowed_quoted "$dir")
    [ "$ok_list" = "*" ] && continue
    for h in $(sed -nE 's/^\s*#\s*include\s*"([^"]*)".*/\1/p' "$f"); do
        case " $ok_list " in
        *" $h "*) ;;
        *)
            echo "lint: $f includes \"$h\" (allowed in $dir/: $ok_list)"
            layer_fail=1
            ;;
        esac
    done
    if [ "$dir" = cli ] || [ "$dir" = examples ]; then
        for h in $(sed -nE 's/^\s*#\s*include\s*<(ntm[^>]*)>.*/\1/p' "$f"); do
            case " $public " in
            *" $h "*) ;;
            *) echo "lint: $f includes <$h>, not a public header"; layer_fail=1 ;;
            esac
        done
    fi
done
only_in 'sqlite3\.h' '^store/'
only_in 'sodium\.h' '^crypto/'
only_in 'curl/curl\.h' '^sync/(transport|init)\.c$'
only_in 'microhttpd\.h' '^(sync/server\.c|cli/cmd_ui\.c)$'
if [ $layer_fail = 0 ]; then
    pass=$((pass + 1))
else
    echo "lint: layering broken (see the rules at the layering block of tests/lint.sh)"
    fail=$((fail + 1))
fi
# A wrong device clock comes from preloading libfaketime (fake_clock in
# tests/e2e/threat_lib.sh), never from the faketime wrapper: the wrapper
# makes a named semaphore per pid in /dev/shm that a killed wrapper leaves
# behind, and a later wrapper given the same pid exits 1 ('sem_open: File
# exists') before running anything.
if grep -nE '^[^#]*(^|[;&|({`]|\$\(|\s)faketime\s+(-[fm]|["'"'"'@+])' \
        tests/e2e/*.sh scripts/*.sh 2>/dev/null; then
    echo "lint: the faketime wrapper is used - preload libfaketime (fake_clock)"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
