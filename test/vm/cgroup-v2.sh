#!/usr/bin/env bash
# Runs the cgroup suites on a cgroup-v2-only kernel: vm-run (see
# ../shared/tools/vm-run) boots a throwaway VM with this checkout shared and
# cgroup2 mounted at /sys/fs/cgroup, and mocha runs there in one call (each
# boot costs seconds, and JS runs slower under emulation). The VM's older
# kernel (6.1, Landlock ABI 2) also runs the cross-container suite, whose
# domain there differs from a 6.12+ host's (lib/landlock.ts), and the
# random option checks, as root with CAP_SYS_RESOURCE, which this host's
# root lacks (a nofile above fs.nr_open got past the checks only there).
#
#   test/vm/cgroup-v2.sh            (npm run test:cgroup-v2)
#
# vm-run is found through $VM_RUN, else as shared/tools/vm-run in a parent
# directory of this checkout. Without it: exit 0 with a note, unless
# ISOLATE_KIT_MUST_WORK=1 (CI), which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

find_vm_run() {
  if [ -n "${VM_RUN:-}" ]; then echo "$VM_RUN"; return; fi
  local dir
  dir=$(pwd)
  while [ "$dir" != / ]; do
    dir=$(dirname "$dir")
    if [ -x "$dir/shared/tools/vm-run" ]; then echo "$dir/shared/tools/vm-run"; return; fi
  done
}

vm_run=$(find_vm_run)
if [ -z "$vm_run" ]; then
  msg="cgroup v2 suite: vm-run not found (set VM_RUN, or put shared/tools/vm-run in a parent directory)"
  if [ "${ISOLATE_KIT_MUST_WORK:-}" = 1 ]; then echo "$msg" >&2; exit 1; fi
  echo "$msg; skipped" >&2
  exit 0
fi

npm run --silent build:dev
# ISOLATE_KIT_VM=1: the machine is thrown away afterwards, so tests may change
# what is machine-wide there (the swap test turns swap on).
exec "$vm_run" --timeout 1800 -- env ISOLATE_KIT_MUST_WORK="${ISOLATE_KIT_MUST_WORK:-}" ISOLATE_KIT_VM=1 \
  npx mocha --no-config --require .build/test/helpers/hooks.js --timeout 60000 \
  .build/test/unit/cgroup-limits.test.js \
  .build/test/native/device-filter.test.js \
  '.build/test/integration/cgroup*.test.js' \
  .build/test/integration/cross-container.test.js \
  .build/test/integration/options-kernel.test.js
