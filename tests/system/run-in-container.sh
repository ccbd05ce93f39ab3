#!/bin/bash
# SPDX-License-Identifier: MIT
# mpmd under a real systemd: boot Debian's systemd in a container (systemd-nspawn on a cached
# debootstrap root, with a throw-away overlay), install this build into it the way a package
# would, and drive it as an operator does: systemctl start/reload/stop/status, journalctl,
# systemd-analyze security. See ../../../shared/reference/system-tests.md for the recipe.
#
# Environment (meson sets it, see meson.build): MPMD_BUILD_ROOT, MPMD_SYSCONFDIR, MPMD_SBINDIR,
# MPMD_BINDIR, MPMD_BUILTIN_MPM, MPMD_SHARED_MPMS, MPMD_MODULEDIR. Optional: MPMD_TEST_ROOT (the cached root, default /var/cache/mpmd-test-root),
# MPMD_TEST_MIRROR (default: debootstrap's), MPMD_TEST_KEEP=1 keeps the work folder.
# Exit status: 0 passed, 1 failed, 77 skipped (meson's convention), with the reason printed.
set -euo pipefail

MAX_EXPOSURE=2.0

# shellcheck source=container-lib.sh
source "$(dirname "$0")/container-lib.sh"

# ---- can this machine run it? ------------------------------------------------------------------
container_require meson
BUILD=${MPMD_BUILD_ROOT:?MPMD_BUILD_ROOT: the meson build folder (meson test sets it)}
CONFDIR=${MPMD_SYSCONFDIR:?MPMD_SYSCONFDIR (meson test sets it)}/mpmd
[[ -x $BUILD/src/supervisor/mpmd ]] || fail "no mpmd binary in $BUILD"

WORK=$(mktemp -d /tmp/mpmd-system.XXXXXX)
STAGE=$WORK/stage

container_root

# ---- install the build ---------------------------------------------------------------------------
step "install $BUILD into a staging folder"
meson install -C "$BUILD" --no-rebuild --destdir "$STAGE" >"$WORK/install.log" 2>&1 ||
        {
                tail -20 "$WORK/install.log"
                fail "meson install failed"
        }
SBIN_MPMD=${MPMD_SBINDIR:?}/mpmd
[[ -x $STAGE$SBIN_MPMD ]] || fail "meson install put no mpmd at $SBIN_MPMD"
stage_find() { (cd "$STAGE" && find . -path "$1" | sed 's|^\.||' | head -1); }
UNIT=$(stage_find '*/systemd/system/mpmd.service')
SYSUSERS=$(stage_find '*/sysusers.d/mpmd.conf')
TMPFILES=$(stage_find '*/tmpfiles.d/mpmd.conf')
[[ -n $UNIT && -n $SYSUSERS && -n $TMPFILES ]] || fail "install lacks a unit, sysusers.d or tmpfiles.d file"
[[ -f $STAGE$CONFDIR/mpmd.conf ]] || fail "install lacks $CONFDIR/mpmd.conf"
pass "installed: $SBIN_MPMD $UNIT $SYSUSERS $TMPFILES $CONFDIR/mpmd.conf"

# ---- boot ----------------------------------------------------------------------------------------
container_boot "$STAGE" /opt/stage


step "install into the container, as a package's scripts would"
inside sh -c 'tar -C /opt/stage -cf - . | tar -C / -xf - --keep-directory-symlink --no-overwrite-dir' ||
        fail "copying the staged files into the container"
inside systemctl daemon-reload
inside systemd-sysusers "$SYSUSERS" || fail "systemd-sysusers $SYSUSERS"
inside systemd-tmpfiles --create "$TMPFILES" || fail "systemd-tmpfiles --create $TMPFILES"
inside id mpmd >/dev/null || fail "sysusers.d did not create the user mpmd"
pass "user mpmd: $(inside id mpmd)"
inside test -r /var/www/html/index.mpmd-debian.html ||
        fail "tmpfiles.d did not create /var/www/html/index.mpmd-debian.html"
pass "document root: $(inside stat -c '%n %U:%G %a' /var/www/html)"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT/
inside mkdir -p /etc/systemd/system/mpmd.socket.d
printf '[Socket]\nListenStream=\nListenStream=%s\n' "$PORT" | inside sh -c 'cat >/etc/systemd/system/mpmd.socket.d/port.conf'
# A short watchdog: if mpmd stopped sending WATCHDOG=1, systemd would kill it during this test.
inside mkdir -p /etc/systemd/system/mpmd.service.d
printf '[Service]\nWatchdogSec=3s\n' | inside sh -c 'cat >/etc/systemd/system/mpmd.service.d/watchdog.conf'
# The MPM of a build without one linked in: the installed conf.d/00-mpm.conf loads one (event when
# it was built), as a distribution's configuration does; select_mpm switches it as an operator would.
has_mpm() { [[ ${MPMD_BUILTIN_MPM:-} == "$1" || ,${MPMD_SHARED_MPMS:-}, == *,"$1",* ]]; }
select_mpm() {
        [[ -n ${MPMD_BUILTIN_MPM:-} ]] && return 0
        inside sed -i "s|^LoadModule = .*|LoadModule = mpm_$1_module ${MPMD_MODULEDIR:?}/mpm_$1.so|" \
                "$CONFDIR/conf.d/00-mpm.conf" || fail "editing $CONFDIR/conf.d/00-mpm.conf"
}
if [[ -z ${MPMD_BUILTIN_MPM:-} ]]; then
        has_mpm event || fail "a build with shared MPMs needs the event module for this test"
        inside grep -q "^LoadModule = mpm_event_module " "$CONFDIR/conf.d/00-mpm.conf" ||
                fail "the installed $CONFDIR/conf.d/00-mpm.conf does not load the event MPM"
        pass "the installed conf.d/00-mpm.conf loads the event MPM"
fi
# info level, so that the journal holds notices and infos next to the errors checked below.
printf '[Server]\nLogLevel = info\n' | inside sh -c "cat >$CONFDIR/conf.d/50-test.conf"
inside systemctl daemon-reload
pass "drop-ins: mpmd.socket ListenStream=$PORT, mpmd.service WatchdogSec=3s"

# ---- socket activation ---------------------------------------------------------------------------
step "socket activation"
inside systemctl start mpmd.socket || fail "systemctl start mpmd.socket"
[[ $(inside systemctl is-active mpmd.socket) == active ]] || fail "mpmd.socket is not active"
[[ $(inside systemctl is-active mpmd.service || true) == inactive ]] || fail "mpmd.service started before any request"
pass "systemctl start mpmd.socket: socket active, service not started yet"
body=$(curl -fsS --max-time 30 "$URL") || fail "first request to $URL"
[[ $body == *"mpmd works"* ]] || fail "first request: unexpected body: $body"
pass "first request (curl $URL) started the service and got the sample page"
[[ $(inside systemctl is-active mpmd.service) == active ]] || fail "mpmd.service is not active after the request"
pass "systemctl is-active mpmd: active"
sleep 1.2 # STATUS= is refreshed once a second
status=$(inside systemctl status --no-pager --full mpmd.service || true)
grep -E 'Status: "generation 1, MPM [a-z]+: .*requests' <<<"$status" >/dev/null ||
        fail "systemctl status has no STATUS line: $status"
pass "systemctl status: $(grep -o 'Status: .*' <<<"$status")"
[[ $(inside systemctl show -P User mpmd.service) == mpmd ]] || fail "service user"
main_pid=$(inside systemctl show -P MainPID mpmd.service)
inside grep -q '^CapEff:[[:space:]]*0*$' "/proc/$main_pid/status" || fail "the supervisor holds capabilities"
pass "supervisor (pid $main_pid in the container) runs as $(inside ps -o user= -p "$main_pid") with no capabilities"
# "SOFT:HARD" of "Max open files" of a process in the container.
nofile() { inside sh -c "grep '^Max open files' /proc/$1/limits" | awk '{ print $4 ":" $5 }'; }
# LimitNOFILE=1024:524288; systemd cannot give a hard limit above its own (a container's may be
# lower), and then gives its own. mpmd raises the soft limit to the hard one.
HARD_NOFILE=$(nofile 1 | cut -d: -f2)
[[ $HARD_NOFILE == unlimited || $HARD_NOFILE -gt 524288 ]] && HARD_NOFILE=524288
[[ $(nofile "$main_pid") == "$HARD_NOFILE:$HARD_NOFILE" ]] ||
        fail "supervisor's descriptor limit $(nofile "$main_pid"), expected $HARD_NOFILE:$HARD_NOFILE"
worker=$(inside pgrep -P "$main_pid" | head -1)
[[ -n $worker && $(nofile "$worker") == "$HARD_NOFILE:$HARD_NOFILE" ]] || fail "a worker's descriptor limit: $(nofile "$worker")"
pass "LimitNOFILE=1024:524288: the supervisor and its workers run with a soft limit of $HARD_NOFILE, the hard limit"

# ---- reload under load ---------------------------------------------------------------------------
step "systemctl reload while a client keeps requesting"
load() {
        # Alternately one request per connection and 20 on one keep-alive connection, until the
        # flag file goes; each line of output is one request's status (000: no answer).
        local urls=() i
        for i in $(seq 20); do urls+=(-o /dev/null "$URL"); done
        while [[ -e $WORK/load.run ]]; do
                curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$URL" || echo "curl-exit-$?"
                curl -s -w '%{http_code}\n' --max-time 10 "${urls[@]}" || echo "curl-exit-$?"
        done
}
touch "$WORK/load.run"
load >"$WORK/load.txt" 2>&1 &
LOAD_PID=$!
sleep 0.5
for i in 1 2 3; do
        inside systemctl reload mpmd.service || fail "systemctl reload number $i"
        sleep 0.5
done
rm "$WORK/load.run"
for _ in $(seq 150); do
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.2
done
kill "$LOAD_PID" 2>/dev/null && fail "the load loop did not end within 30 s"
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=
total=$(wc -l <"$WORK/load.txt")
bad=$(grep -cv '^200$' "$WORK/load.txt" || true)
[[ $total -gt 50 ]] || fail "the load loop made only $total requests"
[[ $bad -eq 0 ]] || fail "$bad of $total requests failed during reloads: $(grep -v '^200$' "$WORK/load.txt" | sort | uniq -c)"
pass "3 x systemctl reload during $total requests: 0 failed"
inside "${MPMD_BINDIR:?}/mpmctl" status | grep -q '^generation: 4$' || fail "not generation 4 after 3 reloads"
pass "mpmctl status in the container: generation 4"

step "a bad configuration"
printf '[Server]\nKeepAliveTimeout = soon\n' | inside sh -c "cat >$CONFDIR/conf.d/99-bad.conf"
if out=$(inside systemctl reload mpmd.service 2>&1); then
        fail "systemctl reload succeeded with a bad configuration"
fi
pass "systemctl reload with conf.d/99-bad.conf fails: $(head -1 <<<"$out")"
[[ $(inside systemctl is-active mpmd.service) == active ]] || fail "mpmd.service is not active after the bad reload"
body=$(curl -fsS --max-time 10 "$URL") || fail "request after the bad reload"
[[ $body == *"mpmd works"* ]] || fail "after the bad reload: unexpected body"
pass "still active and serving"
err=$(inside journalctl --no-pager -u mpmd.service -o cat | grep -m1 '99-bad.conf:2:.*KeepAliveTimeout' || true)
[[ -n $err ]] || fail "the journal does not name 99-bad.conf:2"
pass "the journal names the error: $err"
inside rm "$CONFDIR/conf.d/99-bad.conf"
inside systemctl reload mpmd.service || fail "reload after removing the bad file"
pass "removed it: systemctl reload succeeds again"

# ---- a restart with a broken configuration -------------------------------------------------------
step "systemctl restart with a broken configuration, then traffic"
printf '[Server]\nKeepAliveTimeout = soon\n' | inside sh -c "cat >$CONFDIR/conf.d/99-bad.conf"
since=$(inside date +%s.%N)
if out=$(inside systemctl restart mpmd.service 2>&1); then
        fail "systemctl restart succeeded with a bad configuration"
fi
[[ $(inside systemctl show -P ExecMainStatus mpmd.service) == 78 ]] ||
        fail "exit status of the failed start: $(inside systemctl show -P ExecMainStatus mpmd.service), expected 78 (EX_CONFIG)"
pass "systemctl restart fails: $(head -1 <<<"$out")"
# The error, with its file:line, at priority err (the "<3>" prefix), not info.
err=$(inside journalctl --no-pager -u mpmd.service -p err --since "@$since" -o cat | grep -m1 '99-bad.conf:2:.*KeepAliveTimeout' || true)
[[ -n $err ]] || fail "journalctl -p err does not show 99-bad.conf:2: $(inside journalctl --no-pager -u mpmd.service --since "@$since" -o cat)"
pass "journalctl -u mpmd -p err: $err"
# grep reads to the end (no -q): with pipefail, a grep that quit early would fail journalctl (SIGPIPE).
inside journalctl --no-pager -u mpmd.service --since "@$since" -o cat | grep 'status=78/CONFIG' >/dev/null ||
        fail "systemd does not report 78/CONFIG"
# Clients that wait while it is broken: each connection in the queue makes the socket try again.
waiting=()
for i in $(seq 8); do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 "$URL" >"$WORK/broken.$i" 2>&1 &
        waiting+=($!)
done
sleep 6
[[ $(inside systemctl is-active mpmd.socket) == active ]] ||
        fail "mpmd.socket is $(inside systemctl is-active mpmd.socket) ($(inside systemctl show -P Result mpmd.socket)) after traffic with a broken configuration"
attempts=$(inside journalctl --no-pager -u mpmd.service --since "@$since" -o cat | grep -c 'status=78/CONFIG' || true)
[[ $(inside systemctl show -P NRestarts mpmd.service) == 0 ]] || fail "systemd restarted the service on exit 78"
pass "after 6 s of waiting clients: mpmd.socket active (listening), $attempts start(s) failed with 78/CONFIG, no Restart="
# Fixed: the next attempt the waiting clients trigger starts it (a `systemctl start` now would join
# an attempt already under way with the old file, and could fail with it).
inside rm "$CONFDIR/conf.d/99-bad.conf"
wait "${waiting[@]}" || true
codes=$(cat "$WORK"/broken.* | sort | uniq -c | xargs)
[[ $(cat "$WORK"/broken.* | grep -c '^200$') -eq 8 ]] || fail "the clients that waited got: $codes"
[[ $(inside systemctl is-active mpmd.service) == active ]] || fail "mpmd.service is not active after the fix"
inside systemctl start mpmd.service || fail "systemctl start after the fix"
pass "config fixed: the next attempt started mpmd, and the 8 clients that waited in the queue got 200"

# ---- systemctl restart under load ----------------------------------------------------------------
# restart_under_load URL: 3 restarts while a client keeps requesting URL; every request must get 200.
restart_under_load() {
        local url=$1 pid before total bad
        touch "$WORK/restart.run"
        (while [[ -e $WORK/restart.run ]]; do
                curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$url" || echo "curl-exit-$?"
        done) >"$WORK/restart.txt" 2>&1 &
        pid=$!
        sleep 0.5
        before=$(inside systemctl show -P MainPID mpmd.service)
        for i in 1 2 3; do
                inside systemctl restart mpmd.service || fail "systemctl restart number $i"
                sleep 0.5
        done
        rm "$WORK/restart.run"
        wait "$pid" || true
        [[ $(inside systemctl show -P MainPID mpmd.service) != "$before" ]] || fail "the main pid did not change: no restart"
        total=$(wc -l <"$WORK/restart.txt")
        bad=$(grep -cv '^200$' "$WORK/restart.txt" || true)
        [[ $total -gt 20 ]] || fail "the client made only $total requests"
        [[ $bad -eq 0 ]] || fail "$bad of $total requests to $url failed during restarts: $(grep -v '^200$' "$WORK/restart.txt" | sort | uniq -c | xargs)"
        RESTART_TOTAL=$total
}
step "systemctl restart while a client keeps requesting (socket activation)"
restart_under_load "$URL"
pass "3 x systemctl restart during $RESTART_TOTAL requests through mpmd.socket: 0 failed"

step "systemctl restart with a socket mpmd binds itself (the fd store)"
# Listen = 127.0.0.1:SPORT next to "http": mpmd binds it, and only the fd store keeps it across a
# restart (mpmd.socket is still there, Requires=, but holds no such port).
SPORT=$(free_port)
printf '[Server]\nListen = 127.0.0.1:%s\n' "$SPORT" | inside sh -c "cat >$CONFDIR/conf.d/60-self.conf"
inside systemctl restart mpmd.service || fail "systemctl restart with Listen = 127.0.0.1:$SPORT"
[[ $(curl -fsS --max-time 10 "http://127.0.0.1:$SPORT/") == *"mpmd works"* ]] || fail "nothing serves 127.0.0.1:$SPORT"
[[ $(inside systemctl show -P NFileDescriptorStore mpmd.service) -ge 1 ]] ||
        fail "mpmd.service's fd store is empty: $(inside journalctl --no-pager -u mpmd.service -o cat | grep -i 'store' | tail -3)"
restart_under_load "http://127.0.0.1:$SPORT/"
pass "3 x systemctl restart during $RESTART_TOTAL requests to the self-bound 127.0.0.1:$SPORT: 0 failed (FileDescriptorStoreMax=)"
# Without its Listen, the restart gets the stored socket back, closes it and takes it out of the
# store (FDSTOREREMOVE=1): connecting is refused, not queued for nobody.
inside rm "$CONFDIR/conf.d/60-self.conf"
inside systemctl restart mpmd.service || fail "systemctl restart without 60-self.conf"
[[ $(inside systemctl show -P NFileDescriptorStore mpmd.service) == 0 ]] ||
        fail "the fd store still holds $(inside systemctl show -P NFileDescriptorStore mpmd.service) socket(s)"
if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SPORT" 2>/dev/null; then
        fail "127.0.0.1:$SPORT still accepts connections after a restart without a Listen for it"
fi
pass "restarted without the Listen: the stored socket is closed and out of the store"

# ---- WorkerConnections under the unit's descriptor limit ----------------------------------------
step "5000 idle keep-alive connections"
# The event MPM's default WorkerConnections (10240) needs the unit's LimitNOFILE=: 5000 connections
# that each made one request and then stay open, idle, and still a new one is served. A long
# keep-alive timeout, so that none times out while the others are opened.
printf '[Server]\nKeepAliveTimeout = 300\n' | inside sh -c "cat >$CONFDIR/conf.d/61-keepalive.conf"
inside systemctl reload mpmd.service || fail "reload with KeepAliveTimeout = 300"
python3 - "$PORT" 5000 <<'EOF' || fail "5000 idle keep-alive connections"
import resource, selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < n + 100:
    sys.exit(f"this test process may open only {hard} descriptors")
resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else n + 1000, hard))
req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
def one(s):
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += s.recv(65536)
conns = []
t0 = time.monotonic()
try:
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        one(s)
        conns.append(s)
except Exception as e:
    sys.exit(f"connection {len(conns) + 1}: {e!r}")
opened = time.monotonic() - t0
# Still open: one the server closed would be readable (EOF).
sel = selectors.DefaultSelector()
for s in conns:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
closed = len(sel.select(timeout=0.5))
if closed:
    sys.exit(f"{closed} of {n} idle connections were closed by the server")
s = socket.create_connection(("127.0.0.1", port), timeout=30)
one(s)
print(f"ok   - {n} keep-alive connections opened in {opened:.1f} s, all still open; connection {n + 1} served")
EOF
inside rm "$CONFDIR/conf.d/61-keepalive.conf"
inside systemctl reload mpmd.service || fail "reload without 61-keepalive.conf"

# ---- a per-site socket from the template ---------------------------------------------------------
step "mpmd-vhost@.socket"
VPORT=$(free_port)
inside mkdir -p /etc/systemd/system/mpmd-vhost@site1.socket.d /var/www/site1
printf '[Socket]\nListenStream=127.0.0.1:%s\n' "$VPORT" |
        inside sh -c 'cat >/etc/systemd/system/mpmd-vhost@site1.socket.d/port.conf'
echo "site one" | inside sh -c 'cat >/var/www/site1/index.html'
printf '[VirtualHost site1]\nServerName = site1.test\nListen = vhost:site1\nDocumentRoot = /var/www/site1\n' |
        inside sh -c "cat >$CONFDIR/conf.d/60-site1.conf"
inside systemctl daemon-reload
# systemd starts no socket unit for a running service, and mpmd takes its sockets at start.
inside systemctl stop mpmd.service || fail "systemctl stop mpmd"
inside systemctl start mpmd-vhost@site1.socket mpmd.service || fail "systemctl start mpmd-vhost@site1.socket mpmd"
[[ $(curl -fsS --max-time 10 "http://127.0.0.1:$VPORT/") == "site one" ]] ||
        fail "the site socket does not reach [VirtualHost site1]"
[[ $(curl -fsS --max-time 10 -H 'Host: localhost' "http://127.0.0.1:$VPORT/") == "site one" ]] ||
        fail "the site socket served another site for Host: localhost"
[[ $(curl -fsS --max-time 10 -H 'Host: site1.test' "$URL") == *"mpmd works"* ]] ||
        fail "site1 answered on mpmd.socket although it listens on its own socket only"
pass "mpmd-vhost@site1.socket (FileDescriptorName=vhost@site1) feeds [VirtualHost site1] only"

# ---- HAProxy's agent under the unit: AgentCheck, mpmctl drain across a reload --------------------
step "AgentCheck and mpmctl drain under the shipped unit"
APORT=$(free_port)
printf '[Server]\nAgentCheck = 127.0.0.1:%s\nServerStatus = /server-status\n' "$APORT" |
        inside sh -c "cat >$CONFDIR/conf.d/61-agent.conf"
inside systemctl restart mpmd.service || fail "systemctl restart mpmd with an AgentCheck"
# The agent writes one line and closes; bash reads it straight off the socket.
agent_line() {
        local line=
        exec 3<>"/dev/tcp/127.0.0.1/$APORT" || return 1
        read -r -t 5 line <&3 || true
        exec 3<&-
        printf '%s' "$line"
}
[[ $(agent_line) == "ready up "*% ]] || fail "the agent did not say ready (got: $(agent_line))"
inside mpmctl drain >/dev/null || fail "mpmctl drain"
[[ $(agent_line) == drain ]] || fail "the agent did not say drain after mpmctl drain"
inside systemctl reload mpmd.service || fail "systemctl reload while drained"
[[ $(agent_line) == drain ]] || fail "a reload undrained the node"
[[ $(curl -fsS --max-time 10 "${URL}server-status?health") == drained ]] ||
        fail "the health page of a drained node is not 200 drained"
inside mpmctl undrain >/dev/null || fail "mpmctl undrain"
[[ $(agent_line) == "ready up "*% ]] || fail "the agent did not say ready after mpmctl undrain"
inside rm -f "$CONFDIR/conf.d/61-agent.conf"
inside systemctl restart mpmd.service || fail "systemctl restart mpmd without the AgentCheck"
pass "AgentCheck answers ready, drain across a systemctl reload, ready again after undrain"

# ---- HTTPS: mpmd-https.socket, the key as a systemd credential -----------------------------------
step "HTTPS: mpmd-https.socket with the key from LoadCredential="
if [[ -z $(stage_find '*/systemd/system/mpmd-https.socket') ]]; then
        pass "HTTPS part skipped: this build has no TLS (-Dtls=disabled)"
else
        TPORT=$(free_port)
        tls_pair() { # NAME: a self-signed P-256 certificate for localhost into $WORK/NAME.{crt,key}
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
                        -subj /CN=localhost -addext subjectAltName=DNS:localhost \
                        -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null || fail "openssl req ($1)"
        }
        tls_install() { # NAME: the pair as certbot would leave it: the certificate world-readable,
                # the key root's only (the service reads it as a credential, never from the file)
                inside mkdir -p /etc/mpmd/tls
                inside sh -c 'cat >/etc/mpmd/tls/site.crt' <"$WORK/$1.crt"
                inside sh -c 'umask 077 && cat >/etc/mpmd/tls/site.key' <"$WORK/$1.key"
                inside chmod 0644 /etc/mpmd/tls/site.crt
        }
        served_cert() {
                openssl s_client -connect "127.0.0.1:$TPORT" -servername localhost </dev/null 2>/dev/null |
                        openssl x509 -noout -fingerprint -sha256
        }
        tls_pair one
        tls_pair two
        tls_install one
        inside mkdir -p /etc/systemd/system/mpmd-https.socket.d
        printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$TPORT" |
                inside sh -c 'cat >/etc/systemd/system/mpmd-https.socket.d/port.conf'
        printf '[Service]\nLoadCredential=mpmd-key:/etc/mpmd/tls/site.key\n' |
                inside sh -c 'cat >/etc/systemd/system/mpmd.service.d/tls.conf'
        printf '[Server]\nListen = https\nSSLCertificateFile = /etc/mpmd/tls/site.crt\nSSLCertificateKeyFile = credential:mpmd-key\n' |
                inside sh -c "cat >$CONFDIR/conf.d/62-tls.conf"
        inside systemctl daemon-reload
        inside systemctl stop mpmd.service || fail "systemctl stop mpmd"
        inside systemctl start mpmd-https.socket mpmd.service || {
                inside journalctl --no-pager -u mpmd.service -n 20 -o cat
                fail "systemctl start mpmd-https.socket mpmd"
        }
        TURL=https://localhost:$TPORT/
        body=$(curl -fsS --max-time 10 --cacert "$WORK/one.crt" --resolve "localhost:$TPORT:127.0.0.1" "$TURL") ||
                fail "curl $TURL"
        [[ $body == *"mpmd works"* ]] || fail "HTTPS: unexpected body: $body"
        [[ $(curl -fsS --max-time 10 "$URL") == *"mpmd works"* ]] || fail "plain HTTP stopped with HTTPS on"
        pass "curl $TURL (certificate verified) and $URL both serve; the key came from LoadCredential="
        inside sh -c "! setpriv --reuid=mpmd --regid=mpmd --clear-groups cat /etc/mpmd/tls/site.key 2>/dev/null" ||
                fail "the key file is readable by the service's user"
        pass "the key file itself is root's only (mode $(inside stat -c %a /etc/mpmd/tls/site.key))"
        # A certificate renewed without its key (a broken deploy): the reload is refused, the old
        # certificate keeps serving.
        before=$(served_cert)
        [[ -n $before ]] || fail "openssl s_client got no certificate"
        inside sh -c 'cat >/etc/mpmd/tls/site.crt' <"$WORK/two.crt"
        if inside systemctl reload mpmd.service 2>/dev/null; then
                fail "systemctl reload with a certificate that does not match the key succeeded"
        fi
        inside journalctl --no-pager -u mpmd.service -o cat | grep "62-tls.conf:[0-9]*: \[Server\] SSLCertificateKeyFile" >/dev/null ||
                fail "the refused reload's error does not name 62-tls.conf:LINE"
        [[ $(served_cert) == "$before" ]] || fail "the old certificate stopped serving after a refused reload"
        pass "systemctl reload with a mismatched certificate fails; the old certificate keeps serving"
        # Back to the good pair; the credential is the key systemd loaded at start.
        inside sh -c 'cat >/etc/mpmd/tls/site.crt' <"$WORK/one.crt"
        inside systemctl reload mpmd.service || fail "systemctl reload with the good pair again"
        [[ $(served_cert) == "$before" ]] || fail "the certificate changed after a reload with the same pair"
        inside rm "$CONFDIR/conf.d/62-tls.conf" /etc/systemd/system/mpmd.service.d/tls.conf
        inside systemctl daemon-reload
        inside systemctl stop mpmd.service mpmd-https.socket || fail "systemctl stop mpmd mpmd-https.socket"
        inside systemctl start mpmd.service || fail "systemctl start mpmd after the HTTPS part"
        pass "reload with the good pair serves it; HTTPS part undone"
fi

# ---- the journal ---------------------------------------------------------------------------------
step "journal"
inside journalctl --no-pager -u mpmd.service -o json >"$WORK/journal.json" || fail "journalctl -o json"
python3 - "$WORK/journal.json" <<'EOF' || fail "journal priorities"
import json, sys
prio = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("SYSLOG_IDENTIFIER") != "mpmd" or not isinstance(e.get("MESSAGE"), str):
        continue
    prio.setdefault(int(e["PRIORITY"]), []).append(e["MESSAGE"])
want = {3: "99-bad.conf:2", 5: "reloading the configuration", 6: "ready"}
for p, needle in want.items():
    hit = next((m for m in prio.get(p, []) if needle in m), None)
    if not hit:
        sys.exit(f"no PRIORITY={p} line containing {needle!r}; have { {k: len(v) for k, v in prio.items()} }")
    print(f"ok   - journal PRIORITY={p}: {hit}")
if any(m.startswith("<") for v in prio.values() for m in v):
    sys.exit("a message kept its <N> prefix: JOURNAL_STREAM was not honoured")
EOF
# Native entries (sd_journal_sendv): the reloads above are found by their MESSAGE_ID, with the call
# site and the generation; the refused one (99-bad.conf) at PRIORITY=3. The ids are the header's.
message_id() { sed -n "s/^#define $1 *\"\([0-9a-f]\{32\}\)\".*/\1/p" "$(dirname "$0")/../../src/shared/message-ids.h"; }
RELOAD_DONE=$(message_id MPMD_MESSAGE_RELOAD_DONE)
RELOAD_REFUSED=$(message_id MPMD_MESSAGE_RELOAD_REFUSED)
[[ ${#RELOAD_DONE} == 32 && ${#RELOAD_REFUSED} == 32 ]] || fail "no message ids in src/shared/message-ids.h"
inside journalctl --no-pager -u mpmd.service -o json "MESSAGE_ID=$RELOAD_DONE" >"$WORK/reload-done.json" ||
        fail "journalctl MESSAGE_ID=$RELOAD_DONE"
inside journalctl --no-pager -u mpmd.service -o json "MESSAGE_ID=$RELOAD_REFUSED" >"$WORK/reload-refused.json" ||
        fail "journalctl MESSAGE_ID=$RELOAD_REFUSED"
python3 - "$WORK/reload-done.json" "$WORK/reload-refused.json" <<'EOF' || fail "journal MESSAGE_IDs"
import json, sys
def entries(path):
    return [json.loads(line) for line in open(path) if line.strip()]
done, refused = entries(sys.argv[1]), entries(sys.argv[2])
# 3 reloads under load, then the one after the bad file was removed
if len(done) < 4:
    sys.exit(f"MESSAGE_ID of reload done: {len(done)} entries, expected at least 4")
for e in done:
    if not e.get("CODE_FILE", "").endswith("supervisor.c") or not e.get("CODE_LINE") or not e.get("CODE_FUNC"):
        sys.exit(f"reload done without its call site: {e}")
    if e.get("SYSLOG_IDENTIFIER") != "mpmd" or e.get("PRIORITY") != "5" or not e.get("MPMD_GENERATION"):
        sys.exit(f"reload done: {e}")
print(f"ok   - journalctl MESSAGE_ID=<reload done>: {len(done)} entries, e.g. {done[-1]['MESSAGE']!r} "
      f"at {done[-1]['CODE_FILE']}:{done[-1]['CODE_LINE']} ({done[-1]['CODE_FUNC']})")
if len(refused) < 1 or any(e.get("PRIORITY") != "3" for e in refused):
    sys.exit(f"MESSAGE_ID of reload refused: {[(e.get('PRIORITY'), e.get('MESSAGE')) for e in refused]}")
print(f"ok   - journalctl MESSAGE_ID=<reload refused>: PRIORITY=3 {refused[0]['MESSAGE']!r}")
EOF
if inside journalctl --no-pager -u mpmd.service -o cat | grep -E 'killed by signal|Sandbox step'; then
        fail "a worker died under the unit's sandbox (lines above)"
fi
[[ $(inside systemctl show -P NRestarts mpmd.service) == 0 ]] || fail "mpmd.service was restarted by systemd"
if inside journalctl --no-pager -u mpmd.service -o cat | grep -i 'watchdog timeout'; then
        fail "systemd's watchdog fired"
fi
# systemd stamps the watchdog at start and at each WATCHDOG=1: wait for a stamp 1 s after start.
petted=
for _ in $(seq 50); do
        started=$(inside systemctl show -P ExecMainStartTimestampMonotonic mpmd.service)
        stamp=$(inside systemctl show -P WatchdogTimestampMonotonic mpmd.service)
        if [[ $((stamp - started)) -gt 1000000 ]]; then
                petted=1
                break
        fi
        sleep 0.1
done
[[ -n $petted ]] || fail "no WATCHDOG=1 within 5 s (started $started, last stamp $stamp)"
pass "no worker died under the sandbox, WATCHDOG=1 arrives, no restart"

# ---- security --------------------------------------------------------------------------------------
step "systemd-analyze security"
sec=$(inside systemd-analyze security --no-pager mpmd.service 2>&1 || true)
level=$(sed -n 's/.*Overall exposure level for mpmd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[[ -n $level ]] || fail "no exposure level in: $sec"
awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' ||
        fail "exposure $level > $MAX_EXPOSURE: $(grep '✗' <<<"$sec")"
pass "systemd-analyze security mpmd.service: exposure $level (<= $MAX_EXPOSURE)"

# ---- stop ----------------------------------------------------------------------------------------
step "systemctl stop"
procs=$(inside pgrep -u mpmd | wc -l)
[[ $procs -ge 2 ]] || fail "expected a supervisor and workers, found $procs processes"
inside systemctl stop mpmd.service || fail "systemctl stop mpmd"
[[ $(inside systemctl is-active mpmd.service || true) == inactive ]] || fail "mpmd.service is not inactive after stop"
[[ $(inside systemctl show -P Result mpmd.service) == success ]] || fail "stop result: $(inside systemctl show -P Result mpmd.service)"
left=$(inside pgrep -u mpmd || true)
[[ -z $left ]] || fail "processes of mpmd left after stop: $left"
inside journalctl --no-pager -u mpmd.service -o cat | grep 'all workers have exited' >/dev/null ||
        fail "the journal does not show a graceful end"
pass "systemctl stop: $procs processes ended, result success, graceful"
[[ $(inside systemctl is-active mpmd.socket) == active ]] || fail "mpmd.socket stopped with the service"
body=$(curl -fsS --max-time 30 "$URL") || fail "a request after stop did not restart the service"
pass "the socket stays: the next request starts mpmd again"

# ---- perchild: mpmd-perchild.socket and mpmd-perchild.service -----------------------------------
if ! has_mpm perchild; then
        pass "perchild part skipped: this build has no perchild MPM (-Dmpms_shared=all has one)"
        echo "PASS: mpmd under systemd in a container"
        exit 0
fi
step "perchild: two sites with users of their own"
# The sites' users, as an administrator makes them (uids from 1000: MinUID); docroots they own,
# readable by everyone.
for site in a b; do
        inside useradd -M -U -K UID_MIN=1000 -s /usr/sbin/nologin "mpmdsite$site" || fail "useradd mpmdsite$site"
        inside mkdir -p "/srv/site-$site"
        echo "site $site" | inside sh -c "cat >/srv/site-$site/index.html"
        inside chown -R "mpmdsite$site:mpmdsite$site" "/srv/site-$site"
        inside chmod 0755 "/srv/site-$site"
done
UID_A=$(inside id -u mpmdsitea)
UID_B=$(inside id -u mpmdsiteb)
# Site b on a socket of its own from the template, which one drop-in points at perchild.
BPORT=$(free_port)
inside systemctl stop mpmd-vhost@site1.socket || fail "systemctl stop mpmd-vhost@site1.socket"
inside rm -f "$CONFDIR/conf.d/60-site1.conf"
select_mpm perchild
printf '[VirtualHost a]\nServerName = a.test\nDocumentRoot = /srv/site-a\nUser = mpmdsitea\nGroup = mpmdsitea\n
[VirtualHost b]\nServerName = b.test\nDocumentRoot = /srv/site-b\nUser = mpmdsiteb\nGroup = mpmdsiteb\nListen = vhost:b\n' |
        inside sh -c "cat >$CONFDIR/conf.d/70-perchild.conf"
inside mkdir -p /etc/systemd/system/mpmd-perchild.socket.d /etc/systemd/system/mpmd-perchild.service.d \
        /etc/systemd/system/mpmd-vhost@.socket.d /etc/systemd/system/mpmd-vhost@b.socket.d
# The same port as mpmd.socket: the switch must free it before perchild's socket binds it.
printf '[Socket]\nListenStream=\nListenStream=%s\n' "$PORT" |
        inside sh -c 'cat >/etc/systemd/system/mpmd-perchild.socket.d/port.conf'
printf '[Service]\nWatchdogSec=3s\n' | inside sh -c 'cat >/etc/systemd/system/mpmd-perchild.service.d/watchdog.conf'
printf '[Socket]\nService=mpmd-perchild.service\n' | inside sh -c 'cat >/etc/systemd/system/mpmd-vhost@.socket.d/perchild.conf'
printf '[Socket]\nListenStream=127.0.0.1:%s\n' "$BPORT" | inside sh -c 'cat >/etc/systemd/system/mpmd-vhost@b.socket.d/port.conf'
inside systemctl daemon-reload
pass "users mpmdsitea ($UID_A) and mpmdsiteb ($UID_B); b listens on mpmd-vhost@b.socket (port $BPORT)"

step "perchild: switching to mpmd-perchild.socket"
[[ $(inside systemctl is-active mpmd.service) == active ]] || fail "mpmd.service is not running before the switch"
inside systemctl start mpmd-perchild.socket mpmd-vhost@b.socket || fail "systemctl start mpmd-perchild.socket mpmd-vhost@b.socket"
[[ $(inside systemctl is-active mpmd.socket || true) == inactive ]] || fail "mpmd.socket still active next to mpmd-perchild.socket"
[[ $(inside systemctl is-active mpmd.service || true) == inactive ]] || fail "mpmd.service still active next to mpmd-perchild.socket"
[[ $(inside systemctl is-active mpmd-perchild.socket) == active ]] || fail "mpmd-perchild.socket is not active"
[[ $(inside systemctl is-active mpmd-perchild.service || true) == inactive ]] || fail "mpmd-perchild.service started before any request"
pass "systemctl start mpmd-perchild.socket: mpmd.socket and mpmd.service stopped, port $PORT taken over"
body=$(curl -fsS --max-time 30 -H 'Host: a.test' "$URL") || fail "first request for a.test to $URL"
[[ $body == "site a" ]] || fail "a.test through the dispatcher: unexpected body: $body"
pass "first request (Host: a.test) started mpmd-perchild.service; the dispatcher passed it to site a"
[[ $(inside systemctl is-active mpmd-perchild.service) == active ]] || fail "mpmd-perchild.service is not active"
[[ $(curl -fsS --max-time 10 "http://127.0.0.1:$BPORT/") == "site b" ]] || fail "mpmd-vhost@b.socket does not reach site b"
[[ $(curl -fsS --max-time 10 -H 'Host: b.test' "$URL") != "site b" ]] || fail "site b answered on the shared socket"
pass "mpmd-vhost@b.socket (the template, Service=mpmd-perchild.service) feeds site b only"

pool_pids() { # the children of pid $2 running as uid $1
        inside ps -o pid=,uid= --ppid "$2" | awk -v u="$1" '$2 == u { print $1 }' || true
}
perchild_checks() {
        local main_pid pa pb out
        main_pid=$(inside systemctl show -P MainPID mpmd-perchild.service)
        inside grep -q '^CapEff:[[:space:]]*00000000000001e0$' "/proc/$main_pid/status" ||
                fail "supervisor: $(inside grep Cap "/proc/$main_pid/status" | tr '\n' ' ')"
        # Pools start once the supervisor is up: give them a moment.
        for _ in $(seq 50); do
                pa=$(pool_pids "$UID_A" "$main_pid")
                pb=$(pool_pids "$UID_B" "$main_pid")
                [[ -n $pa && -n $pb ]] && break
                sleep 0.2
        done
        [[ -n $pa && -n $pb ]] || fail "no pools under uids $UID_A and $UID_B: $(inside ps -o pid,uid,args --ppid "$main_pid")"
        [[ $(nofile "$main_pid") == "$HARD_NOFILE:$HARD_NOFILE" && $(nofile "$(head -1 <<<"$pa")") == "$HARD_NOFILE:$HARD_NOFILE" ]] ||
                fail "descriptor limits: supervisor $(nofile "$main_pid"), pool a $(nofile "$(head -1 <<<"$pa")")"
        out=$(inside "${MPMD_BINDIR:?}/mpmctl" audit) || fail "mpmctl audit failed: $out"
        # Columns: ROLE PID USER CAPS NNP SECCOMP CONNECT VERDICT; these sites have no upstream, so
        # their pools may connect nowhere ("-").
        grep -qE '^supervisor +[0-9]+ +root +cap_kill,cap_setgid,cap_setuid,cap_setpcap +yes +[a-z]+ +[a-z0-9,-]+ +PASS$' <<<"$out" ||
                fail "audit: supervisor: $out"
        grep -qE "^pool a +[0-9]+ +$(inside id -nu "$UID_A") +- +yes +filter +- +PASS$" <<<"$out" || fail "audit: pool a: $out"
        grep -qE "^pool b +[0-9]+ +$(inside id -nu "$UID_B") +- +yes +filter +- +PASS$" <<<"$out" || fail "audit: pool b: $out"
        pass "mpmctl audit: $(tail -1 <<<"$out"); pools a (uid $UID_A) and b (uid $UID_B), supervisor holds only CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_KILL"
}
perchild_checks

step "perchild: systemctl reload"
inside systemctl reload mpmd-perchild.service || fail "systemctl reload mpmd-perchild"
inside "${MPMD_BINDIR:?}/mpmctl" status | grep -q '^generation: 2$' || fail "not generation 2 after the reload"
[[ $(curl -fsS --max-time 10 -H 'Host: a.test' "$URL") == "site a" ]] || fail "a.test after the reload"
[[ $(curl -fsS --max-time 10 "http://127.0.0.1:$BPORT/") == "site b" ]] || fail "site b after the reload"
pass "generation 2 serves both sites"
perchild_checks
if inside journalctl --no-pager -u mpmd-perchild.service -o cat | grep -E 'killed by signal|Sandbox step|no socket of that name'; then
        fail "perchild's journal has the errors above"
fi
[[ $(inside systemctl show -P NRestarts mpmd-perchild.service) == 0 ]] || fail "mpmd-perchild.service was restarted"
pass "no process died, no restart"

sec=$(inside systemd-analyze security --no-pager mpmd-perchild.service 2>&1 || true)
level=$(sed -n 's/.*Overall exposure level for mpmd-perchild.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[[ -n $level ]] || fail "no exposure level in: $sec"
awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || fail "exposure $level > 2.5: $(grep '✗' <<<"$sec")"
pass "systemd-analyze security mpmd-perchild.service: exposure $level (<= 2.5)"

step "perchild: systemctl stop"
inside systemctl stop mpmd-perchild.service || fail "systemctl stop mpmd-perchild"
[[ $(inside systemctl is-active mpmd-perchild.service || true) == inactive ]] || fail "mpmd-perchild.service is not inactive after stop"
[[ $(inside systemctl show -P Result mpmd-perchild.service) == success ]] ||
        fail "stop result: $(inside systemctl show -P Result mpmd-perchild.service)"
left=$(inside pgrep -u "mpmdsitea,mpmdsiteb,mpmd-dispatch,mpmd" || true)
left+=$(inside pgrep -x mpmd || true)
[[ -z $left ]] || fail "processes left after stop: $(inside ps -o pid,user,args -p "$(tr '\n' ',' <<<"$left")")"
inside journalctl --no-pager -u mpmd-perchild.service -o cat | grep 'all workers have exited' >/dev/null ||
        fail "the journal does not show a graceful end"
pass "systemctl stop: every process ended, result success, graceful"

step "back to mpmd.socket"
inside systemctl start mpmd.socket || fail "systemctl start mpmd.socket"
[[ $(inside systemctl is-active mpmd-perchild.socket || true) == inactive ]] || fail "mpmd-perchild.socket still active"
pass "systemctl start mpmd.socket stops mpmd-perchild.socket"

echo "PASS: mpmd under systemd in a container"
