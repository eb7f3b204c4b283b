#!/bin/sh
# Start a libvirtd for the HDPLAN_LIBVIRTD=1 integration test (test/libvirt/libvirtd.test.ts).
# Needs root and the packages libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86.
# Writes its pid to $HDPLAN_LIBVIRTD_PIDFILE (default /run/hdplan-test-libvirtd.pid);
# scripts/libvirtd-stop.sh stops only that pid.
set -eu
PIDFILE="${HDPLAN_LIBVIRTD_PIDFILE:-/run/hdplan-test-libvirtd.pid}"

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "libvirtd already running (pid $(cat "$PIDFILE"))"
  exit 0
fi
command -v libvirtd >/dev/null || {
  echo "libvirtd not found: apt-get install -y libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86" >&2
  exit 2
}

getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
if ! id libvirt-qemu >/dev/null 2>&1; then
  useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
fi
getent group libvirt >/dev/null || groupadd -r libvirt
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt /var/cache/libvirt

libvirtd --daemon --pid-file "$PIDFILE"
# Wait for the socket.
i=0
while [ $i -lt 100 ]; do
  if [ -S /var/run/libvirt/libvirt-sock-ro ] && virsh -r -c qemu:///system version >/dev/null 2>&1; then
    echo "libvirtd started (pid $(cat "$PIDFILE"))"
    exit 0
  fi
  i=$((i + 1))
  sleep 0.2
done
echo "libvirtd did not come up; see /var/log/libvirt" >&2
exit 1
