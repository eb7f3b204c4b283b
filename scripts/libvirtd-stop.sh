#!/bin/sh
# Stop the libvirtd started by scripts/libvirtd-start.sh, by its pid file only.
set -eu
PIDFILE="${HDPLAN_LIBVIRTD_PIDFILE:-/run/hdplan-test-libvirtd.pid}"
[ -f "$PIDFILE" ] || { echo "no pid file $PIDFILE: nothing to stop"; exit 0; }
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  i=0
  while kill -0 "$PID" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.2; done
fi
rm -f "$PIDFILE"
echo "libvirtd (pid $PID) stopped"
