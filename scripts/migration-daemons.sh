#!/bin/sh
# Two libvirt daemons on this machine for the real-migration tests
# (test/libvirt/migration.test.ts, docs/migration-harness.md).
#
#   scripts/migration-daemons.sh start [DIR]   start "src" and "dst", print their URIs
#   scripts/migration-daemons.sh stop  [DIR]   stop exactly the daemons (and guests) started here, by pid
#   scripts/migration-daemons.sh start-bench|stop-bench [DIR]
#       one more daemon ("bench", TCP 127.0.0.1:$HDPLAN_BENCH_PORT, default 16598)
#       serving test-driver files for scripts/bench-live.mjs --remote
#
# DIR defaults to $HDPLAN_MIG_DIR or /tmp/hdplan-mig. Each daemon runs in its own
# mount and UTS namespace (unshare -m -u) with its own hostname, host_uuid and
# tmpfs-backed /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt,
# /var/cache/libvirt (bind-mounted from DIR/<name>/). The destination has the
# hdplan hook (scripts/install-hook.sh --prefix DIR/dst) and listens on TCP
# 127.0.0.1:$HDPLAN_MIG_PORT (default 16599) with auth_tcp = "none": loopback,
# tests only. Needs root, libvirt-daemon, libvirt-daemon-driver-qemu,
# qemu-system-x86, and a built dist/ (npm run build).
set -eu
CMD="${1:-}"
DIR="${2:-${HDPLAN_MIG_DIR:-/tmp/hdplan-mig}}"
PORT="${HDPLAN_MIG_PORT:-16599}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SRC_UUID=5a0c1e5e-0000-4000-8000-00000000000a
DST_UUID=5a0c1e5e-0000-4000-8000-00000000000b

die() { echo "migration-daemons: $*" >&2; exit 1; }

layout() { # NAME UUID LISTEN [PORT]
  d="$DIR/$1"
  port="${4:-$PORT}"
  mkdir -p "$d/etc/libvirt/qemu" "$d/run" "$d/lib" "$d/log" "$d/cache" "$d/var/lib/hostdev-planner" "$d/hdplan-run" "$d/empty" "$d/emptydir"
  : > "$d/empty/none"
  {
    echo "host_uuid = \"$2\""
    echo 'unix_sock_group = "root"'
    echo 'unix_sock_rw_perms = "0770"'
    echo 'auth_unix_ro = "none"'
    echo 'auth_unix_rw = "none"'
    echo "log_outputs = \"3:file:/var/log/libvirt/libvirtd.log\""
    if [ "$3" = listen ]; then
      echo 'listen_tcp = 1'
      echo 'listen_tls = 0'
      echo 'listen_addr = "127.0.0.1"'
      echo "tcp_port = \"$port\""
      echo 'auth_tcp = "none"'
    fi
    # bench: one daemon stands for a fleet of hosts (one client connection
    # each); enough workers that hosts do not queue behind each other. The
    # per-client limit stays libvirt's default (max_client_requests = 5).
    # max_anonymous_clients: 50 hosts connect at once; real hosts each see one.
    if [ "$1" = bench ]; then
      echo 'max_workers = 128'
      echo 'max_anonymous_clients = 500'
    fi
  } > "$d/etc/libvirt/libvirtd.conf"
  # No virtlogd, no cgroups (cgroup v1 would give both daemons the same machine
  # cgroup names), no security driver, QEMU as root: a test rig, not a host.
  cat > "$d/etc/libvirt/qemu.conf" <<EOT
stdio_handler = "file"
cgroup_controllers = [ ]
security_driver = "none"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
EOT
  # The namespace's mount points for the hook's state (install-hook.sh paths).
  mkdir -p /var/lib/hostdev-planner /run/hostdev-planner
}

start_one() { # NAME LISTEN
  d="$DIR/$1"
  pidfile="$d/run/libvirtd.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$1: libvirtd already running (pid $(cat "$pidfile"))"; return 0
  fi
  rm -f "$pidfile"
  extra=""
  [ "$2" = listen ] && extra="--listen"
  # Hide the QEMU binaries not needed (the first connection probes each, ~4 s).
  hide=""
  for b in /usr/bin/qemu-system-*; do
    case "$b" in */qemu-system-x86_64) ;; *) [ -f "$b" ] && [ ! -L "$b" ] && hide="$hide $b" ;; esac
  done
  # shellcheck disable=SC2086 # $hide: word list of paths
  unshare -m -u --propagation private sh -c '
    set -e
    d="$1"; name="$2"; extra="$3"; shift 3
    hostname "hdplan-mig-$name"
    # The hostname resolves locally: libvirt looks it up (getaddrinfo) for
    # virConnectGetHostname, and a DNS query has no server to reach here.
    { cat /etc/hosts; echo "127.0.0.1 hdplan-mig-$name"; } > "$d/hosts"
    mount --bind "$d/hosts" /etc/hosts
    mount --bind "$d/etc/libvirt" /etc/libvirt
    mount --bind "$d/run" /run/libvirt
    mount --bind "$d/lib" /var/lib/libvirt
    mount --bind "$d/log" /var/log/libvirt
    mount --bind "$d/cache" /var/cache/libvirt
    mount --bind "$d/var/lib/hostdev-planner" /var/lib/hostdev-planner
    mount --bind "$d/hdplan-run" /run/hostdev-planner
    for b in "$@"; do mount --bind "$d/empty/none" "$b"; done
    # bench: only the test driver (built into libvirt.so); no QEMU, network, ... drivers.
    if [ "$name" = bench ]; then
      for m in /usr/lib/*/libvirt/connection-driver; do [ -d "$m" ] && mount --bind "$d/emptydir" "$m"; done
    fi
    exec libvirtd --daemon $extra --pid-file /run/libvirt/libvirtd.pid --config /etc/libvirt/libvirtd.conf
  ' sh "$d" "$1" "$extra" $hide
  drv=qemu path=system
  [ "$1" = bench ] && drv=test path=default
  i=0
  while [ $i -lt 300 ]; do
    if [ -f "$pidfile" ] && [ -S "$d/run/libvirt-sock" ] &&
      virsh -q -c "$drv:///$path?socket=$d/run/libvirt-sock" version >/dev/null 2>&1; then
      echo "$1: libvirtd pid $(cat "$pidfile"), URI $drv:///$path?socket=$d/run/libvirt-sock"
      return 0
    fi
    i=$((i + 1)); sleep 0.2
  done
  die "$1: libvirtd did not come up within 60 s; see $d/log/libvirtd.log"
}

stop_one() { # NAME
  d="$DIR/$1"
  pidfile="$d/run/libvirtd.pid"
  # Guests this daemon started: their QEMU pid files in its run dir.
  # (<guest>.pid beside <guest>.xml; driver.pid is the daemon's own lock.)
  for p in "$d"/run/qemu/*.pid; do
    [ -f "$p" ] && [ -f "${p%.pid}.xml" ] || continue
    q="$(cat "$p")"
    if [ -n "$q" ] && kill -0 "$q" 2>/dev/null && tr '\0' ' ' < "/proc/$q/cmdline" | grep -q qemu-system; then
      kill -TERM "$q"
      echo "$1: stopped guest QEMU pid $q ($p)"
    fi
  done
  [ -f "$pidfile" ] || { echo "$1: no pid file: nothing to stop"; return 0; }
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  echo "$1: libvirtd (pid $pid) stopped"
}

case "$CMD" in
  start)
    [ "$(id -u)" = 0 ] || die "needs root (mount namespaces)"
    command -v libvirtd >/dev/null || die "libvirtd not found: apt-get install libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86"
    [ -f "$HERE/dist/cli/main.js" ] || die "$HERE/dist/cli/main.js not found: npm run build"
    layout src "$SRC_UUID" unix
    layout dst "$DST_UUID" listen
    # The hook on the destination only, into its /etc/libvirt/hooks/qemu.d and
    # /var/lib/hostdev-planner (both bind-mounted in its namespace); libvirt
    # looks for hooks at start-up, so before the daemon starts.
    sh "$HERE/scripts/install-hook.sh" --prefix "$DIR/dst" >/dev/null
    start_one src unix
    start_one dst listen
    echo "dst: TCP URI qemu+tcp://127.0.0.1:$PORT/system"
    ;;
  start-bench)
    # One daemon serving test-driver files over TCP for scripts/bench-live.mjs --remote.
    [ "$(id -u)" = 0 ] || die "needs root (mount namespaces)"
    command -v libvirtd >/dev/null || die "libvirtd not found"
    layout bench 5a0c1e5e-0000-4000-8000-0000000000bc listen "${HDPLAN_BENCH_PORT:-16598}"
    start_one bench listen
    ;;
  stop-bench)
    stop_one bench
    ;;
  stop)
    rc=0
    stop_one src || rc=1
    stop_one dst || rc=1
    exit $rc
    ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
