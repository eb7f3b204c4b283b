#!/bin/sh
# Install the hdplan libvirt qemu hook and the timer that keeps its host
# snapshot fresh (cli.md `hook`).
#
#   scripts/install-hook.sh [--prefix DIR] [--dry-run] [--node PATH] [--connect URI]
#                           [--descriptors DIR] [--host-key KEY]
#
# --prefix DIR       install under DIR instead of / (for packaging and tests)
# --dry-run          print what would be done, change nothing
# --descriptors DIR  operator descriptor folder the hook uses (the same files
#                    as plan --descriptors; DIR/<host key>/ for this host)
# --host-key KEY     this host's key as plan names it (default: hostname -s)
#
# Installs:
#   /etc/libvirt/hooks/qemu.d/hdplan            sh wrapper: exec node .../dist/cli/main.js hook "$@"
#   /var/lib/hostdev-planner/                   host snapshot (host.json)
#   /etc/systemd/system/hdplan-inventory.service + .timer (every minute:
#     hdplan inventory --connect qemu:///system -o /var/lib/hostdev-planner/host.json)
# libvirtd (or virtqemud) must be restarted to pick up a new hook script.
set -eu

PREFIX=""
DRY=0
NODE="$(command -v node || echo /usr/bin/node)"
CONNECT="qemu:///system"
DESCRIPTORS=""
HOST_KEY="$(hostname -s 2>/dev/null || hostname)"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
MAIN="$HERE/dist/cli/main.js"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --node) NODE="${2:?--node needs a path}"; shift 2 ;;
    --connect) CONNECT="${2:?--connect needs a URI}"; shift 2 ;;
    --descriptors) DESCRIPTORS="${2:?--descriptors needs a directory}"; shift 2 ;;
    --host-key) HOST_KEY="${2:?--host-key needs a key}"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "install-hook: unknown option $1" >&2; exit 2 ;;
  esac
done

HOOK_DIR="$PREFIX/etc/libvirt/hooks/qemu.d"
STATE_DIR="$PREFIX/var/lib/hostdev-planner"
UNIT_DIR="$PREFIX/etc/systemd/system"

run() {
  if [ "$DRY" = 1 ]; then echo "+ $*"; else "$@"; fi
}

write() { # write FILE MODE (content on stdin)
  if [ "$DRY" = 1 ]; then
    echo "+ write $1 (mode $2):"; sed 's/^/    /'
  else
    tmp="$1.tmp.$$"; cat > "$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$1"
  fi
}

[ -f "$MAIN" ] || [ "$DRY" = 1 ] || { echo "install-hook: error: $MAIN not found; run 'npm run build' first" >&2; exit 2; }
case "$HOST_KEY" in
  ""|*[!A-Za-z0-9._-]*) echo "install-hook: error: host key '$HOST_KEY' must be letters, digits, '.', '_' or '-' (pass --host-key)" >&2; exit 2 ;;
esac
if [ -n "$DESCRIPTORS" ] && [ ! -d "$PREFIX$DESCRIPTORS" ] && [ ! -d "$DESCRIPTORS" ]; then
  echo "install-hook: warning: descriptor folder $PREFIX$DESCRIPTORS does not exist yet: until it does the hook cannot read it and allows migrations with a warning (refuses with HDPLAN_HOOK_STRICT=1); copy the planner's folder there" >&2
fi
ENV_LINES="export HDPLAN_HOOK_HOST_KEY=\"\${HDPLAN_HOOK_HOST_KEY:-$HOST_KEY}\""
if [ -n "$DESCRIPTORS" ]; then
  ENV_LINES="$ENV_LINES
export HDPLAN_HOOK_DESCRIPTORS=\"\${HDPLAN_HOOK_DESCRIPTORS:-$DESCRIPTORS}\""
fi

run mkdir -p "$HOOK_DIR" "$STATE_DIR" "$UNIT_DIR"

write "$HOOK_DIR/hdplan" 0755 <<EOT
#!/bin/sh
# hdplan libvirt hook (installed by hostdev-planner scripts/install-hook.sh).
# Only "<guest> migrate begin -" does work; see 'hdplan hook --help'. Every
# other call (libvirt runs the hook for each operation) exits here, without
# starting node: the hook's cost stays on migrate begin.
[ "\$2" = migrate ] && [ "\$3" = begin ] || exit 0
# This host's key and descriptor folder, as the planner names them:
$ENV_LINES
exec "$NODE" "$MAIN" hook "\$@"
EOT

write "$UNIT_DIR/hdplan-inventory.service" 0644 <<EOT
[Unit]
Description=hostdev-planner: refresh the host snapshot read by the libvirt hook
After=libvirtd.service virtqemud.service

[Service]
Type=oneshot
ExecStart=$NODE $MAIN inventory --connect $CONNECT -o /var/lib/hostdev-planner/host.json
EOT

write "$UNIT_DIR/hdplan-inventory.timer" 0644 <<EOT
[Unit]
Description=hostdev-planner: refresh the host snapshot every minute

[Timer]
OnBootSec=30s
OnUnitActiveSec=1min
AccuracySec=5s

[Install]
WantedBy=timers.target
EOT

if [ -z "$PREFIX" ]; then
  run systemctl daemon-reload
  run systemctl enable --now hdplan-inventory.timer
fi

if [ "$DRY" = 1 ]; then
  echo "dry run: nothing was installed; without --dry-run this installs the hdplan hook in $HOOK_DIR/hdplan (host key $HOST_KEY)"
else
  echo "installed the hdplan hook in $HOOK_DIR/hdplan (host key $HOST_KEY${DESCRIPTORS:+, descriptors $DESCRIPTORS})"
  echo "restart libvirtd (or virtqemud) so it picks up the hook: systemctl restart libvirtd (or virtqemud)"
fi
