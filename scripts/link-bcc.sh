#!/usr/bin/env bash
# bcc's Python bindings are not on PyPI (PyPI's "bcc" is an unrelated package): Debian ships them
# as python3-bpfcc for the system interpreter. They are pure Python over ctypes, so the project's
# venv gets exactly that one module through a directory holding a link to it and a .pth file
# naming the directory. This is the only place bcc enters the environment.
set -eu
venv=${1:-.venv}
src=/usr/lib/python3/dist-packages/bcc
shim="$venv/bcc-shim"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -d "$src" ]; then
  mkdir -p "$shim"
  ln -sfn "$src" "$shim/bcc"
  (cd "$shim" && pwd) > "$site/pyfalco-bcc.pth"
else
  rm -f "$site/pyfalco-bcc.pth"
  echo "link-bcc: $src not found (python3-bpfcc not installed); the eBPF engine is unavailable" >&2
fi
