#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package as an administrator meets it: dpkg-buildpackage makes the .deb (lintian finds
# no error in it), `apt-get install ./mpmd_….deb` in a container booted with a real systemd creates
# the users, enables and starts mpmd.socket, and the default site answers; `apt-get purge` removes
# the configuration and the logs while the system users stay (Debian policy).
#
# Environment: MPMD_SOURCE_ROOT (meson sets it). Optional: as run-in-container.sh (MPMD_TEST_ROOT,
# MPMD_TEST_MIRROR, MPMD_TEST_KEEP). Exit status: 0 passed, 1 failed, 77 skipped.
set -euo pipefail

# shellcheck source=container-lib.sh
source "$(dirname "$0")/container-lib.sh"

container_require dpkg-buildpackage
command -v dh >/dev/null || skip "debhelper is not installed (apt-get install debhelper)"
SRC=${MPMD_SOURCE_ROOT:?MPMD_SOURCE_ROOT: the source tree (meson test sets it)}
WORK=$(mktemp -d /tmp/mpmd-package.XXXXXX)

# ---- build the package ---------------------------------------------------------------------------
step "dpkg-buildpackage -us -uc -b"
mkdir "$WORK/src" "$WORK/out"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # what a checkout holds (tracked and new files), not the build folders
        (cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -C "$WORK/src" -xf -
else
        tar -C "$SRC" --exclude='./build*' -cf - . | tar -C "$WORK/src" -xf -
fi
(cd "$WORK/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" timeout 900 dpkg-buildpackage -us -uc -b) \
        >"$WORK/build.log" 2>&1 ||
        {
                tail -30 "$WORK/build.log"
                fail "dpkg-buildpackage failed (log above)"
        }
DEB=$(cd "$WORK" && ls mpmd_*_*.deb | head -1)
[[ -n $DEB ]] || fail "dpkg-buildpackage made no mpmd_*.deb"
mv "$WORK/$DEB" "$WORK/out/"
dpkg-deb -c "$WORK/out/$DEB" >"$WORK/contents"
for f in usr/sbin/mpmd usr/bin/mpmctl etc/mpmd/mpmd.conf etc/mpmd/conf.d/00-mpm.conf etc/logrotate.d/mpmd \
        usr/share/man/man5/mpmd.conf.5.gz lib/systemd/system/mpmd.socket usr/lib/sysusers.d/mpmd.conf \
        usr/share/bash-completion/completions/mpmd usr/share/bash-completion/completions/mpmctl; do
        grep -q " \./$f\$" "$WORK/contents" || fail "$DEB lacks /$f"
done
grep -q '/mpmd/modules/mpm_perchild\.so$' "$WORK/contents" || fail "$DEB lacks the perchild module"
pass "built $DEB ($(du -k "$WORK/out/$DEB" | cut -f1) KiB) with binaries, modules, units, configuration, man pages"
if command -v lintian >/dev/null; then
        lintian --fail-on error "$WORK/out/$DEB" >"$WORK/lintian.log" 2>&1 ||
                {
                        cat "$WORK/lintian.log"
                        fail "lintian reports errors"
                }
        pass "lintian: no error ($(grep -c '^[WI]:' "$WORK/lintian.log" || true) warnings and notes)"
fi

# ---- install it under systemd ---------------------------------------------------------------------
container_root
container_boot "$WORK/out" /opt/pkg

step "apt-get install ./$DEB"
# The package listens on port 80; the container shares this machine's network, where port 80 may
# be taken, so a drop-in (as an administrator would write) moves it first.
PORT=$(free_port)
inside mkdir -p /etc/systemd/system/mpmd.socket.d
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$PORT" |
        inside sh -c 'cat >/etc/systemd/system/mpmd.socket.d/port.conf'
INSIDE_TIMEOUT=300 inside apt-get update -qq >"$WORK/apt.log" 2>&1 ||
        {
                tail -20 "$WORK/apt.log"
                fail "apt-get update in the container"
        }
INSIDE_TIMEOUT=300 inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/opt/pkg/$DEB" \
        >>"$WORK/apt.log" 2>&1 ||
        {
                tail -30 "$WORK/apt.log"
                fail "apt-get install ./$DEB"
        }
pass "installed"
version=$(inside /usr/sbin/mpmd -V) || fail "mpmd -V"
grep "TLS: OpenSSL 3" <<<"$version" >/dev/null || fail "the package's mpmd has no TLS: $version"
inside test -f /lib/systemd/system/mpmd-https.socket -o -f /usr/lib/systemd/system/mpmd-https.socket ||
        fail "the package has no mpmd-https.socket"
[[ $(inside systemctl is-enabled mpmd-https.socket || true) == disabled ]] ||
        fail "mpmd-https.socket is enabled by the package (HTTPS needs a certificate first)"
pass "built with TLS ($(grep -o 'TLS: OpenSSL [^ ]*' <<<"$version")); mpmd-https.socket shipped, disabled"
inside id mpmd >/dev/null || fail "the package did not create the user mpmd"
inside id mpmd-dispatch >/dev/null || fail "the package did not create the user mpmd-dispatch"
pass "users: $(inside id mpmd)"
[[ $(inside systemctl is-enabled mpmd.socket) == enabled ]] || fail "mpmd.socket is not enabled"
inside systemctl is-active --quiet mpmd.socket || fail "mpmd.socket is not active"
[[ $(inside systemctl is-enabled mpmd-perchild.socket || true) != enabled ]] ||
        fail "mpmd-perchild.socket was enabled too (it conflicts with mpmd.socket)"
pass "mpmd.socket enabled and listening"
body=$(curl -fsS --max-time 20 "http://127.0.0.1:$PORT/") || fail "GET / through the package's socket"
[[ $body == *"mpmd works"* && $body == *index.mpmd-debian.html* ]] || fail "GET /: not the package's page: $body"
inside systemctl is-active --quiet mpmd.service || fail "mpmd.service is not running after the first request"
pass "GET / answers with the package's page from /var/www/html"
echo '<p>my site</p>' | inside sh -c 'cat >/var/www/html/index.html'
# The choice of index is cached with the files and looked at again within a second (mpmd.conf(5)).
deadline=$((SECONDS + 5))
until body=$(curl -fsS --max-time 20 "http://127.0.0.1:$PORT/") && [[ $body == *"my site"* ]]; do
        ((SECONDS < deadline)) || fail "GET /: an index.html of the administrator's is not served first: $body"
        sleep 0.3
done
pass "an index.html of the administrator's comes before the package's page"
inside systemctl reload mpmd.service || fail "systemctl reload mpmd"
pass "systemctl reload mpmd"

# ---- log rotation ----------------------------------------------------------------------------------
step "logrotate -f /etc/logrotate.d/mpmd"
INSIDE_TIMEOUT=300 inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q logrotate >>"$WORK/apt.log" 2>&1 ||
        fail "apt-get install logrotate (the package recommends it)"
# The shipped configuration logs every request there: nothing to add.
inside grep -q '^CustomLog = /var/log/mpmd/access.log combined' /etc/mpmd/mpmd.conf ||
        fail "the shipped /etc/mpmd/mpmd.conf has no access log"
curl -fsS --max-time 20 "http://127.0.0.1:$PORT/before-rotation" >/dev/null 2>&1 || true
# Workers buffer access log lines for up to a second (access-log.h): wait for them.
wait_line() {
        local deadline=$((SECONDS + 10))
        until inside grep -q "$1" "$2"; do
                ((SECONDS < deadline)) || return 1
                sleep 0.2
        done
}
wait_line "GET /before-rotation " /var/log/mpmd/access.log || fail "no access log line before rotation"
inside logrotate -f /etc/logrotate.d/mpmd >"$WORK/logrotate.log" 2>&1 ||
        {
                cat "$WORK/logrotate.log"
                fail "logrotate -f /etc/logrotate.d/mpmd"
        }
inside grep -q "GET /before-rotation " /var/log/mpmd/access.log.1 || fail "the old lines are not in access.log.1"
[[ $(inside stat -c '%U:%G %a' /var/log/mpmd/access.log) == "mpmd:adm 640" ]] ||
        fail "the new access.log is $(inside stat -c '%U:%G %a' /var/log/mpmd/access.log), not mpmd:adm 640"
for i in 1 2 3 4 5 6; do
        curl -fsS --max-time 20 "http://127.0.0.1:$PORT/after-rotation-$i" >/dev/null 2>&1 || true
done
for i in 1 2 3 4 5 6; do
        wait_line "GET /after-rotation-$i " /var/log/mpmd/access.log ||
                fail "request $i after rotation is not in the new access.log (a worker still writes the old file?)"
done
inside grep -q "after-rotation" /var/log/mpmd/access.log.1 && fail "lines after rotation went to access.log.1"
pass "rotated: old lines in access.log.1, every request after it in the new access.log (mpmd:adm 0640)"

# ---- purge -----------------------------------------------------------------------------------------
step "apt-get purge mpmd"
inside sh -c 'echo x >/var/log/mpmd/error.log'
printf '; the administrator'"'"'s own settings\n[Server]\nServerTokens = Prod\n' |
        inside sh -c 'cat >/etc/mpmd/conf.d/50-admin.conf'
INSIDE_TIMEOUT=120 inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q mpmd >>"$WORK/apt.log" 2>&1 ||
        {
                tail -20 "$WORK/apt.log"
                fail "apt-get purge mpmd"
        }
for f in mpmd.conf conf.d/00-mpm.conf conf.d/10-mpm.conf conf.d/20-connections.conf; do
        inside test ! -e "/etc/mpmd/$f" || fail "purge left /etc/mpmd/$f"
done
# a file of the administrator's is not the package's to remove
inside test -e /etc/mpmd/conf.d/50-admin.conf || fail "purge removed a configuration file it did not install"
inside test ! -e /var/log/mpmd || fail "purge left /var/log/mpmd"
inside test ! -e /usr/sbin/mpmd || fail "purge left /usr/sbin/mpmd"
inside test -e /var/www/html/index.html || fail "purge removed the administrator's index.html"
inside id mpmd >/dev/null || fail "purge removed the system user mpmd (Debian policy keeps it)"
curl -fsS --max-time 3 "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && fail "the port still answers after purge"
pass "purged: the package's configuration and the logs gone; the users and the administrator's files stay; the port closed"
