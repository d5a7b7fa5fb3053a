#!/usr/bin/env bash
# Sets up everything ringlab needs on a fresh Debian 12 machine, idempotently:
#   1. Debian packages: BCC (python3-bpfcc), kernel headers, bpftool, iproute2 (hardware backend),
#      libxdp-dev (the AF_XDP poller's socket and rings) with xdp-tools (xdp-loader, xdpdump: to look
#      at a running trial), gcc (the fast engine and the native hot loops are C, built on first use);
#   2. the kernel-headers link BCC compiles against (this kernel ships none of its own);
#   3. a virtual environment in .venv with ringlab installed (editable) and BCC made importable.
# Without root (or without apt), steps 1-2 are skipped with a note: the simulator still works.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if ! dpkg -s python3-bpfcc linux-headers-amd64 bpftool iproute2 libxdp-dev xdp-tools gcc >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-bpfcc linux-headers-amd64 bpftool iproute2 libxdp-dev xdp-tools gcc >/dev/null
  fi
  kernel=$(uname -r)
  if [ ! -e "/lib/modules/$kernel/build/include" ]; then
    headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$headers" ]; then
      mkdir -p "/lib/modules/$kernel"
      ln -sfn "$headers" "/lib/modules/$kernel/build"
      ln -sfn "${headers%-amd64}-common" "/lib/modules/$kernel/source"
    fi
  fi
  # BCC's tracepoint probes (naming the poller's pauses) need tracefs; this kernel does not mount it.
  if [ ! -d /sys/kernel/tracing/events ]; then
    mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: could not mount tracefs" >&2
  fi
else
  echo "setup: not root or no apt-get: skipping the hardware backend's system packages" >&2
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -d /usr/lib/python3/dist-packages/bcc ] && [ ! -e "$site/bcc" ]; then
  ln -sfn /usr/lib/python3/dist-packages/bcc "$site/bcc"
fi
.venv/bin/python -m pip install -q -e '.[test]'
