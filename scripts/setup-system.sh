#!/usr/bin/env bash
# System set-up that the real components need (shared/ENVIRONMENT.md): Debian packages for
# eBPF (bcc), gVisor (runsc), the sysdig oracle and a C compiler (pyfalco._speedups), the
# kernel-headers link and tracefs.
# Idempotent; every step is skipped when already done. Needs root for the apt and mount steps;
# without root it prints what is missing and continues (the tests that need it then skip).
set -u
APT_PACKAGES="python3-bpfcc bpfcc-tools linux-headers-amd64 sysdig runsc openssl gcc libc6-dev python3-dev"

log() { printf 'setup-system: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "not root: skipping apt, headers link and tracefs (eBPF, runsc and sysdig tests will skip)"
  exit 0
fi

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # dpkg takes one installer at a time; wait for a concurrent one instead of failing.
  for i in $(seq 1 60); do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; then break; fi
    log "apt busy or failed (try $i), retrying in 5s"; sleep 5
  done
fi

# bcc compiles against /lib/modules/$(uname -r)/build; this kernel has no headers package of its
# own, Debian's generic headers work for tracepoint programs.
K=$(uname -r)
if [ ! -e "/lib/modules/$K/build/Makefile" ]; then
  hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
  common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$hdr" ]; then
    mkdir -p "/lib/modules/$K"
    ln -sfn "$hdr" "/lib/modules/$K/build"
    [ -n "$common" ] && ln -sfn "$common" "/lib/modules/$K/source"
    log "linked kernel headers $hdr"
  else
    log "no Debian kernel headers found; eBPF will not compile"
  fi
fi

if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing && log "mounted tracefs" || log "could not mount tracefs"
fi
exit 0
