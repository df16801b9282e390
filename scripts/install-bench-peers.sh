#!/bin/sh
# Installs the programs `npm run bench` compares hibiki with (docs/benchmarks.md, "Side by side with
# Kamailio and rtpengine"): Kamailio (Debian `kamailio`, a stateful SIP proxy and registrar), SIPp
# (Debian `sip-tester`, the load generator every SIP benchmark needs) and rtpengine (Debian
# `rtpengine-daemon`, used in userspace only: no kernel module). Debian 12 / Ubuntu, as root.
#
# Idempotent: a package already installed is left alone. The benchmarks start their own Kamailio and
# rtpengine with their own configs on loopback ports; the services these packages install are stopped
# and disabled, so that nothing of theirs keeps UDP 5060 (Kamailio) or the ng/RTP ports (rtpengine)
# bound, or takes CPU from a benchmark.
#
# Usage: scripts/install-bench-peers.sh (as root, or through sudo)
set -eu

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
  echo "install-bench-peers: run as root (or install sudo)" >&2
  exit 1
fi

PACKAGES="kamailio sip-tester rtpengine-daemon"
missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  echo "install-bench-peers: installing$missing"
  # The package lists first, so that a fresh machine (or a stale list) finds the current versions.
  apt-get update
  # Keep the packages' services from starting during the installation where invoke-rc.d is used
  # (policy-rc.d exit 101 = "action forbidden"); an existing policy is left untouched.
  policy=/usr/sbin/policy-rc.d
  own_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing || status=$?
  if [ "$own_policy" = yes ]; then rm -f "$policy"; fi
  if [ "${status:-0}" -ne 0 ]; then exit "$status"; fi
else
  echo "install-bench-peers: $PACKAGES already installed"
fi

# The packages' services: stopped and disabled, the benchmarks run their own instances.
for service in kamailio rtpengine-daemon ngcp-rtpengine-daemon; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    if systemctl list-unit-files "$service.service" 2>/dev/null | grep -q "^$service.service"; then
      systemctl disable --now "$service.service" >/dev/null 2>&1 || true
      echo "install-bench-peers: $service service stopped and disabled (systemd)"
    fi
  elif [ -x "/etc/init.d/$service" ]; then
    # No systemd (a container or a minimal VM): the SysV script, if any, is stopped and taken out of
    # the boot sequence.
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    update-rc.d "$service" disable >/dev/null 2>&1 || true
    echo "install-bench-peers: $service init script stopped and disabled (no systemd here)"
  fi
done

# Nothing of Kamailio's may stay bound to the SIP port the benchmarks' peers use.
if command -v ss >/dev/null 2>&1 && ss -lunp 2>/dev/null | grep -q 'kamailio'; then
  echo "install-bench-peers: warning: a kamailio process still listens:" >&2
  ss -lunp | grep kamailio >&2
fi

echo "install-bench-peers: kamailio $(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p'), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ,]*' | head -1 | sed 's/\.$//'), rtpengine $(rtpengine --version 2>&1 | head -1)"
