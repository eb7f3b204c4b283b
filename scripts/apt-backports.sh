#!/bin/sh
# Add Debian bookworm-backports (libvirt 11.3, QEMU 10.0) as an apt source, on
# the same mirror the machine's bookworm sources already use (deb822 *.sources
# or one-line sources.list). Idempotent. Run by .ci/run (root).
set -eu
LIST=/etc/apt/sources.list.d/hdplan-bookworm-backports.sources
MIRROR="$(
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && [ "$f" != "$LIST" ] && { cat "$f"; echo; }
    done | awk '
      /^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
      /^[[:space:]]*$/ { if (s ~ /[[:space:]]bookworm([[:space:]]|$)/ && u != "") print u; u = ""; s = "" }'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
             if ($(i + 1) == "bookworm") print $i }'
  } | head -n 1
)"
[ -n "$MIRROR" ] || { echo "apt-backports: no bookworm source in /etc/apt/sources.list*" >&2; exit 2; }
cat > "$LIST.tmp" <<EOT
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
mv -f "$LIST.tmp" "$LIST"
echo "apt-backports: bookworm-backports from $MIRROR in $LIST"
