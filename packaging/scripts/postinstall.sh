#!/bin/sh
# xrayd post-install (deb: postinst configure [old-version]; rpm: %post 1=install 2=upgrade).
# Creates the unprivileged xray user and its directories, then enables and (re)starts
# xray.service when systemd is running. Without systemd (containers, chroots) the service
# part is skipped and the package still installs cleanly.
set -e

action="$1"
case "$action" in
  configure|1|2|"") ;;
  *) exit 0 ;;   # abort-upgrade, abort-remove, ...: nothing to do
esac

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false

if ! getent group xray >/dev/null 2>&1; then
  if command -v groupadd >/dev/null 2>&1; then
    groupadd --system xray
  else
    addgroup -S xray
  fi
fi
if ! getent passwd xray >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --gid xray --no-create-home --home-dir /nonexistent \
      --shell "$nologin" --comment "X-Ray daemon" xray
  else
    adduser -S -D -H -G xray -h /nonexistent -s "$nologin" xray
  fi
fi

for dir in /var/log/xray /var/lib/xray; do
  mkdir -p "$dir"
  chown xray:xray "$dir"
done
chmod 0755 /var/log/xray
chmod 0750 /var/lib/xray

# systemd is "running" only if /run/systemd/system exists (sd_booted(3)).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  # First install: enable and start, like the upstream package. Upgrade: restart if running.
  if [ "$action" = "1" ] || { [ "$action" = "configure" ] && [ -z "$2" ]; }; then
    systemctl enable xray.service || true
    systemctl start xray.service || echo "xray.service failed to start; see: journalctl -u xray" >&2
  else
    systemctl try-restart xray.service || true
  fi
fi
exit 0
