#!/bin/sh
# xrayd pre-remove (deb: prerm remove|upgrade|deconfigure; rpm: %preun 0=erase 1=upgrade).
# On a real removal, stop and disable xray.service (SIGTERM, the daemon drains within 25 s).
# Upgrades leave the service alone; postinstall restarts it.
set -e

case "$1" in
  remove|0) ;;
  *) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop xray.service || true
  systemctl disable xray.service || true
fi
exit 0
