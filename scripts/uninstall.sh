#!/usr/bin/env bash
# Remove the appliance service and its program. Your configuration and keys
# (/etc/appliance) and the outbox (/var/lib/appliance) stay, unless --purge.
#
#   sudo scripts/uninstall.sh [--purge]
set -euo pipefail

purge=no
case "${1:-}" in
  --purge) purge=yes ;;
  "") ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "uninstall.sh: run it as root: sudo $0 $*" >&2
  exit 77
fi

if [ -d /run/systemd/system ]; then
  systemctl disable --now appliance.service 2>/dev/null || true
fi
rm -f /etc/systemd/system/appliance.service
rm -f /etc/systemd/system/multi-user.target.wants/appliance.service
[ -L /usr/local/bin/appliance ] && rm -f /usr/local/bin/appliance
rm -rf /opt/appliance
# The daemon's bytecode cache (CacheDirectory=; DynamicUser= keeps it behind a symlink).
rm -rf /var/cache/appliance /var/cache/private/appliance
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reset-failed appliance.service 2>/dev/null || true
fi
echo "Removed the service, /opt/appliance, its cache and /usr/local/bin/appliance."

if [ "$purge" = yes ]; then
  # DynamicUser= keeps the state in /var/lib/private/appliance behind a symlink.
  rm -rf /etc/appliance /var/lib/appliance /var/lib/private/appliance
  echo "Purged /etc/appliance (configuration, keys) and /var/lib/appliance (outbox)."
else
  echo "Kept /etc/appliance (configuration, keys) and /var/lib/appliance (outbox): --purge removes them."
fi
echo "The gpio and audio groups and the Debian packages install.sh added stay (other programs may use them)."
