/**
 * A few empty groups made ahead of time. Making a group is a mkdir per
 * hierarchy (on v1: memory, cpuacct and pids, ~80 µs of kernel time here);
 * done right after a start, while its container runs, the next start takes
 * a ready group instead. Pooled groups are ordinary groups of this process (named
 * `<pid>-<start time>-<random>`): removed on exit, or by gc() after a crash.
 * A ready group also has its files opened: the ones the new process joins
 * through and the ones read when it ends. The first open of a file in a new
 * group (~15 µs each here: the kernel makes its inode) then happens here,
 * off the start path, and the reads at the end are a pread each.
 * ISOLATE_KIT_CGROUP_POOL=0 turns it off.
 */
import { native } from '../native';
import { remember } from './registry';

const SIZE = 2;

/** What a ready group is: its directories, and files to open ahead ('r' read, 'w' write, 'd' directory). */
export interface GroupShape {
  dirs: string[];
  open: [path: string, mode: 'r' | 'w' | 'd'][];
}

export interface Slot {
  name: string;
  dirs: string[];
  /** path → fd of the files opened ahead (the taker owns them); files that could not be opened are absent. */
  fds: Map<string, number>;
}

interface Pool {
  ready: Slot[];
  /** A fill failed: stop trying (the synchronous path reports why). */
  broken: boolean;
  make: (name: string) => GroupShape;
  newName: () => string;
}

const pools = new Map<string, Pool>();

export function poolEnabled(): boolean {
  return process.env.ISOLATE_KIT_CGROUP_POOL !== '0';
}

/** A ready group for `key` (its name and directories), or undefined; starts a refill. */
export function takeGroup(key: string, make: (name: string) => GroupShape, newName: () => string): Slot | undefined {
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
    const { dirs, open } = pool.make(name);
    const failed = native().mkdirs(dirs);
    if (failed) {
      pool.broken = true;
      native().rmdirs(dirs.slice(0, failed[0]));
      return;
    }
    remember(dirs);
    const got = native().openFiles(
      open.map(([p]) => p),
      open.map(([, m]) => m).join(''),
    );
    const fds = new Map<string, number>();
    got.forEach((fd, i) => {
      if (fd >= 0) fds.set(open[i]![0], fd);
    });
    pool.ready.push({ name, dirs, fds });
  }
}

/** Directories of pooled (not yet used) groups. */
export function pooledCgroupDirs(): string[] {
  return [...pools.values()].flatMap((p) => p.ready.flatMap((s) => s.dirs));
}

/** fds the pool holds open (pooled groups' files), for leak checks. */
export function pooledCgroupFds(): number[] {
  return [...pools.values()].flatMap((p) => p.ready.flatMap((s) => [...s.fds.values()]));
}
