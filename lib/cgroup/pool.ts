/**
 * A few empty groups made ahead of time. Making a group is a mkdir per
 * hierarchy (on v1: memory, cpuacct and pids, ~80 µs of kernel time here);
 * done on libuv's thread pool while containers run, a start takes a ready
 * group instead. Pooled groups are ordinary groups of this process (named
 * `<pid>-<start time>-<random>`): removed on exit, or by gc() after a crash.
 * ISOLATE_KIT_CGROUP_POOL=0 turns it off.
 */
import { mkdir, rmdir } from 'node:fs';
import { forget, remember } from './registry';

const SIZE = 2;

interface Slot {
  name: string;
  dirs: string[];
}

interface Pool {
  ready: Slot[];
  filling: boolean;
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
    pool = { ready: [], filling: false, broken: false, make, newName };
    pools.set(key, pool);
  }
  const slot = pool.ready.shift();
  const p = pool;
  // After this tick: the caller's own mkdirs and the clone go first.
  setImmediate(() => fill(p));
  return slot;
}

function fill(pool: Pool): void {
  if (pool.filling || pool.broken || pool.ready.length >= SIZE) return;
  pool.filling = true;
  const name = pool.newName();
  const dirs = pool.make(name);
  remember(dirs);
  const made: string[] = [];
  const next = (i: number): void => {
    if (i === dirs.length) {
      pool.ready.push({ name, dirs });
      pool.filling = false;
      fill(pool);
      return;
    }
    mkdir(dirs[i]!, (err) => {
      if (err) {
        pool.broken = true;
        pool.filling = false;
        for (const d of made) rmdir(d, () => {});
        forget(dirs);
        return;
      }
      made.push(dirs[i]!);
      next(i + 1);
    });
  };
  next(0);
}

/** Directories of pooled (not yet used) groups. */
export function pooledCgroupDirs(): string[] {
  return [...pools.values()].flatMap((p) => p.ready.flatMap((s) => s.dirs));
}
