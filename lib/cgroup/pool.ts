/**
 * A few empty groups made ahead of time. Making a group is a mkdir per
 * hierarchy (on v1: memory, cpuacct and pids, ~80 µs of kernel time here);
 * done right after a start, while its container runs, the next start takes
 * a ready group instead. Pooled groups are ordinary groups of this process (named
 * `<pid>-<start time>-<random>`): removed on exit, or by gc() after a crash.
 * ISOLATE_KIT_CGROUP_POOL=0 turns it off.
 */
import { native } from '../native';
import { remember } from './registry';

const SIZE = 2;

interface Slot {
  name: string;
  dirs: string[];
}

interface Pool {
  ready: Slot[];
  /** A fill failed: stop trying (the synchronous path reports why). */
  broken: boolean;
  make: (name: string) => string[];
  newName: () => string;
}

const pools = new Map<string, Pool>();

export function poolEnabled(): boolean {
  return process.env.ISOLATE_KIT_CGROUP_POOL !== '0';
}

/** A ready group for `key` (its name and directories), or undefined; starts a refill. */
export function takeGroup(key: string, make: (name: string) => string[], newName: () => string): Slot | undefined {
  if (!poolEnabled()) return undefined;
  let pool = pools.get(key);
  if (!pool) {
    pool = { ready: [], broken: false, make, newName };
    pools.set(key, pool);
  }
  const slot = pool.ready.shift();
  const p = pool;
  // After this tick: the caller's own mkdirs and the clone go first.
  setImmediate(() => fill(p));
  return slot;
}

function fill(pool: Pool): void {
  // Synchronous, but after the start that took a group (setImmediate), while
  // its container runs: a mkdir on libuv's threads could still be in flight
  // when the process exits, and leave a directory behind.
  while (!pool.broken && pool.ready.length < SIZE) {
    const name = pool.newName();
    const dirs = pool.make(name);
    const failed = native().mkdirs(dirs);
    if (failed) {
      pool.broken = true;
      native().rmdirs(dirs.slice(0, failed[0]));
      return;
    }
    remember(dirs);
    pool.ready.push({ name, dirs });
  }
}

/** Directories of pooled (not yet used) groups. */
export function pooledCgroupDirs(): string[] {
  return [...pools.values()].flatMap((p) => p.ready.flatMap((s) => s.dirs));
}
