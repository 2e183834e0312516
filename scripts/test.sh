#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs the Debian packages the interop tests need
# (as root), installs npm dependencies (building the native addon), builds, runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v restore  >/dev/null 2>&1 || [ -x /usr/sbin/restore ] || need+=(dump)
command -v setfacl  >/dev/null 2>&1 || need+=(acl)
command -v setfattr >/dev/null 2>&1 || need+=(attr)
command -v mke2fs   >/dev/null 2>&1 || [ -x /usr/sbin/mke2fs ] || need+=(e2fsprogs)
command -v mkfs.btrfs >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.btrfs ] || [ -x /sbin/mkfs.btrfs ] || need+=(btrfs-progs)
[ -x /usr/lib/amanda/ndmjob ] || need+=(amanda-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: not root, cannot install ${need[*]}; interop tests will be skipped" >&2
  fi
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
export PATH="$PATH:/usr/sbin:/sbin"
# Backups record their history; keep the tests' history out of the machine's.
SNAPDUMP_STATE=$(mktemp -d "${TMPDIR:-/tmp}/snapdump-test-state.XXXXXX")
export SNAPDUMP_STATE
trap 'rm -rf "$SNAPDUMP_STATE"' EXIT
# Each file runs in its own process; two at a time suits the 2-core machines.
node --test --test-concurrency=2 dist/test/
