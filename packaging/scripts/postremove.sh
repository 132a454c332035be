#!/bin/sh
# xrayd post-remove (deb: postrm remove|purge|upgrade|...; rpm: %postun 0=erase 1=upgrade).
# Reloads systemd after the unit file is gone. On purge (deb only) also deletes the log and
# state directories. The xray user is kept, as Debian policy asks: files it owned may remain.
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi

if [ "$1" = "purge" ]; then
  rm -rf /var/log/xray /var/lib/xray
fi
exit 0
