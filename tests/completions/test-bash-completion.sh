#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completions of completions/: source one, set COMP_WORDS and COMP_CWORD as bash would for
# a command line, call its function, compare COMPREPLY. Exits 77 (skipped) without bash 4.
# Usage: test-bash-completion.sh COMPLETIONS_DIR
set -u
dir=${1:?usage: $0 COMPLETIONS_DIR}
((BASH_VERSINFO[0] >= 4)) || exit 77
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/conf.d"
touch "$tmp/mpmd.conf" "$tmp/mime.types" "$tmp/with space.conf"

# expect FUNCTION "WANTED WORDS" WORD… : the words of the line, the last being the one completed.
expect() {
        local fn=$1 want=$2 got
        shift 2
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        "$fn"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd' ')
        want=$(tr ' ' '\n' <<<"$want" | sed 's/\\_/ /g' | LC_ALL=C sort | paste -sd' ')
        if [[ $got != "$want" ]]; then
                echo "FAIL: $* -> [$got], wanted [$want]"
                failures=$((failures + 1))
        else
                echo "ok: $* -> [$got]"
        fi
}

source "$dir/mpmd" || exit 1
source "$dir/mpmctl" || exit 1
[[ $(complete -p mpmd) == "complete -F _mpmd mpmd" ]] || { echo "FAIL: mpmd not registered"; failures=$((failures + 1)); }
[[ $(complete -p mpmctl) == "complete -F _mpmctl mpmctl" ]] || { echo "FAIL: mpmctl not registered"; failures=$((failures + 1)); }

# mpmd: its options, files after -f/--config (a name with a space stays one), nothing for a word
expect _mpmd "--config" mpmd --con
expect _mpmd "--define --dump-vhosts" mpmd --d
expect _mpmd "-f -D -t -q -S -l -V -h --config --define --test --quiet --dump-vhosts --list-modules --version --help" mpmd -
expect _mpmd "$tmp/mpmd.conf $tmp/mime.types" mpmd -f "$tmp/m"
expect _mpmd "$tmp/mpmd.conf" mpmd -t --config "$tmp/mp"
expect _mpmd "$tmp/with\_space.conf" mpmd -f "$tmp/w"
expect _mpmd "$tmp/mpmd.conf" mpmd --config = "$tmp/mpm"
expect _mpmd "" mpmd -t x
# mpmctl: options, then the commands, then each command's own options
expect _mpmctl "-s -h -V --socket --help --version" mpmctl -
expect _mpmctl "reload reopen-logs" mpmctl re
expect _mpmctl "reload status audit reopen-logs stop drain undrain" mpmctl ""
expect _mpmctl "drain" mpmctl dr
expect _mpmctl "status stop" mpmctl -s /run/mpmd/control st
expect _mpmctl "status stop" mpmctl --socket = /run/mpmd/control st
expect _mpmctl "$tmp/mpmd.conf" mpmctl --socket "$tmp/mpmd"
expect _mpmctl "--json" mpmctl status --
expect _mpmctl "--now" mpmctl stop -
expect _mpmctl "" mpmctl reload -
expect _mpmctl "--json --expect-uid --supervisor-caps" mpmctl audit --
expect _mpmctl "" mpmctl audit --expect-uid ""
expect _mpmctl "" mpmctl status --json -

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
