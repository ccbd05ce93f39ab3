#!/bin/bash
# SPDX-License-Identifier: MIT
# container-lib.sh — sourced by the system tests: a real systemd booted in a container
# (systemd-nspawn on a cached debootstrap root, with a throw-away overlay), helpers to run commands
# inside it, and a cleanup that powers it off and keeps the work folder of a failed run. See
# ../../../shared/reference/system-tests.md for the recipe.
#
# The sourcing script sets WORK (its temporary folder) before calling container_root and
# container_boot; on a failure the cleanup prints the state and journal of mpmd's units. Exit status convention: 0 passed,
# 1 failed, 77 skipped (meson's), with the reason printed.

SKIP=77
ROOT=${MPMD_TEST_ROOT:-/var/cache/mpmd-test-root}
MIRROR=${MPMD_TEST_MIRROR:-} # empty: debootstrap's own default mirror
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,curl,procps,libinih1,libcap2,libseccomp2

skip() { echo "SKIP: $*"; exit "$SKIP"; }
pass() { echo "ok   - $*"; }
fail() {
        echo "FAIL - $*"
        exit 1
}
step() { echo "---- $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- can this machine run it? ------------------------------------------------------------------
container_require() {
        [[ $(id -u) -eq 0 ]] || skip "the system tests boot a container with systemd-nspawn and need root"
        local tool
        for tool in systemd-nspawn debootstrap nsenter curl python3 "$@"; do
                command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install systemd-container debootstrap curl)"
        done
}

NSPAWN=
CPID=

inside() { timeout "${INSIDE_TIMEOUT:-60}" nsenter -t "$CPID" -a "$@"; }

diagnose() {
        [[ -n $CPID ]] && kill -0 "$CPID" 2>/dev/null || return 0
        echo "---- diagnostics: systemctl status of mpmd's units; journal of mpmd"
        inside systemctl status --no-pager --full mpmd.socket mpmd.service mpmd-perchild.socket \
                mpmd-perchild.service 2>&1 | tail -60 || true
        inside journalctl --no-pager -n 80 -u mpmd.service -u mpmd-perchild.service 2>&1 || true
}

cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        rm -f "$WORK/load.run"
        [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null || true
        if [[ $rc -ne 0 && $rc -ne $SKIP ]]; then
                diagnose
        fi
        if [[ -n $NSPAWN ]] && kill -0 "$NSPAWN" 2>/dev/null; then
                # A clean poweroff first; whatever is left after a few seconds is killed, the
                # container with it (PID 1 of its namespace).
                [[ -n $CPID ]] && INSIDE_TIMEOUT=5 inside systemctl poweroff --no-block >/dev/null 2>&1 || true
                for _ in $(seq 50); do
                        kill -0 "$NSPAWN" 2>/dev/null || break
                        sleep 0.2
                done
                if kill -0 "$NSPAWN" 2>/dev/null; then
                        echo "container did not power off in 10 s: killing it"
                        kill -KILL -- "-$NSPAWN" 2>/dev/null || true
                        [[ -n $CPID ]] && kill -KILL "$CPID" 2>/dev/null || true
                fi
                wait "$NSPAWN" 2>/dev/null || true
        fi
        if [[ ${MPMD_TEST_KEEP:-0} == 1 || ($rc -ne 0 && $rc -ne $SKIP) ]]; then
                echo "work folder kept: $WORK"
        else
                rm -rf "$WORK"
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---- the cached root -----------------------------------------------------------------------------
container_root() {
        if [[ ! -x $ROOT/usr/lib/systemd/systemd ]]; then
                if [[ -n $MIRROR ]]; then
                        curl -fsI --max-time 15 "$MIRROR/dists/$SUITE/Release" >/dev/null ||
                                skip "no cached root at $ROOT and the Debian mirror $MIRROR cannot be reached"
                fi
                step "debootstrap $SUITE into $ROOT (once; about a minute)"
                exec 9>"$ROOT.lock"
                flock -w 900 9 || fail "another run holds $ROOT.lock"
                if [[ ! -x $ROOT/usr/lib/systemd/systemd ]]; then
                        rm -rf "$ROOT.tmp"
                        timeout 900 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT.tmp" ${MIRROR:+"$MIRROR"} \
                                >"$WORK/debootstrap.log" 2>&1 ||
                                {
                                        tail -20 "$WORK/debootstrap.log"
                                        fail "debootstrap failed (log above)"
                                }
                        mv "$ROOT.tmp" "$ROOT"
                fi
                exec 9>&-
        fi
        pass "root with systemd at $ROOT"
}

# ---- boot: container_boot HOST_DIR DIR binds HOST_DIR read-only at DIR in the container ----------
container_boot() {
        step "boot systemd in a container"
        setsid systemd-nspawn -q -D "$ROOT" --volatile=overlay --register=no --keep-unit \
                --bind-ro="$1":"$2" -b </dev/null >"$WORK/nspawn.log" 2>&1 &
        NSPAWN=$!
        for _ in $(seq 150); do
                CPID=$(pgrep -P "$NSPAWN" -x systemd || true)
                [[ -n $CPID ]] && break
                kill -0 "$NSPAWN" 2>/dev/null || { cat "$WORK/nspawn.log"; fail "systemd-nspawn exited"; }
                sleep 0.2
        done
        [[ -n $CPID ]] || fail "no systemd in the container after 30 s"
        # Until PID 1 listens, systemctl fails at once: ask again, within a bound.
        state=
        deadline=$((SECONDS + 90))
        while ((SECONDS < deadline)); do
                state=$(INSIDE_TIMEOUT=$((deadline - SECONDS + 1)) inside systemctl is-system-running --wait 2>/dev/null || true)
                [[ $state == running || $state == degraded ]] && break
                sleep 0.3
        done
        case $state in
        running | degraded) pass "systemd $(inside systemctl --version | head -1 | cut -d' ' -f2) is up ($state)" ;;
        *) fail "system state \"$state\" after 90 s" ;;
        esac
}
