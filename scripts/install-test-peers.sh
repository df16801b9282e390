#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive hibiki with, when missing:
# sipp (package sip-tester), baresip, openssl (self-signed certificates for TLS tests), and chromium (the web
# console's and browser phone's real-browser tests, driven by playwright-core), and rtpengine-daemon (the
# second media engine: WebRTC legs, media.engine rtpengine).
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need+=(baresip)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rtpengine >/dev/null 2>&1 || need+=(rtpengine-daemon)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "install-test-peers: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-peers: need root (or sudo) to apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
