/**
 * A few empty groups made ahead of time. Making a group is a mkdir per
 * hierarchy (on v1: memory, cpuacct and pids, ~80 µs of kernel time here);
 * done right after a start, while its container runs, the next start takes
 * a ready group instead. Pooled groups are ordinary groups of this process (named
 * `<pid>-<start time>-<random>`): removed on exit, or by gc() after a crash.
 * A ready group also has its files opened: the ones the new process joins
 * through and the ones read when it ends. The first open of a file in a new
 * group (~15 µs each here: the kernel makes its inode) then happens here,
 * off the start path, and the reads at the end are a pread each. Pools are
 * kept per key (the caller's: hierarchies and limit files), the few used
 * last; a ready group may also have limits written into it, the last
 * taker's, so that a taker with the same values writes none.
 *
 * Accounting groups are kept instead: on v1, a cpuacct hierarchy of its own
 * only counts CPU time, so an emptied one is as good as new once its
 * counters at that moment are taken as the next group's zero. A group that
 * ends hands its cpuacct directory back here, files still open, with those
 * counters, and the next group takes it: no mkdir, rmdir or open for that
 * hierarchy per container (~70 µs of kernel work here). The sandbox never
 * sees it (its /sys/fs/cgroup shows memory, pids and the limited
 * hierarchies only).
 *
 * ISOLATE_KIT_CGROUP_POOL=0 turns both off.
 */
import { isMainThread } from 'node:worker_threads';
import { native } from '../native';
import { forget, onExitBeforeRemoval, remember } from './registry';
import { ownerMarkFds } from './owner';
import { freezerHoldDirs } from './freezer-hold';

const SIZE = 2;
/** Pools kept (one per key: hierarchies and limit files); the least recently used goes. */
const KEYS = 8;
/** Accounting groups kept per parent; more are removed. */
const ACCOUNTING_KEPT = 16;

/**
 * What a ready group is: its directories, files to open ahead ('r' read,
 * 'w' write, 'd' directory), and limits to write into it ahead (file, value).
 */
export interface GroupShape {
  dirs: string[];
  open: [path: string, mode: 'r' | 'w' | 'd'][];
  writes: [path: string, value: string][];
}

export interface Slot {
  name: string;
  dirs: string[];
  /** path → fd of the files opened ahead (the taker owns them); files that could not be opened are absent. */
  fds: Map<string, number>;
  /** The limits written into it ahead (GroupShape.writes), as writesKey() says them. */
  written: string;
}

/** What a list of limit writes says, to compare with a slot's `written` (file names and values). */
export function writesKey(writes: readonly (readonly [string, string])[]): string {
  return writes.map(([f, v]) => `${f.slice(f.lastIndexOf('/') + 1)}=${v}`).join('\0');
}

interface Pool {
  ready: Slot[];
  /** A fill was refused for good: stop trying (the synchronous path reports why). */
  broken: boolean;
  /** The last taker's (see takeGroup). */
  make: (name: string) => GroupShape;
  newName: () => string;
}

const pools = new Map<string, Pool>();

let enabled: boolean | undefined;

/**
 * ISOLATE_KIT_CGROUP_POOL (read once: an environment lookup costs µs at
 * every start). Off in worker threads: a worker ended by terminate(), or by
 * the main thread's exit, runs no `exit` hook of its own, and its ready
 * groups, kept accounting groups and their fds would stay for as long as
 * the process (a pool of workers recycled would pile them up).
 */
export function poolEnabled(): boolean {
  return (enabled ??= process.env.ISOLATE_KIT_CGROUP_POOL !== '0' && isMainThread);
}

/** @internal Turns the pool on or off (undefined: as the environment says), for measurements. */
export function _setPoolEnabled(on: boolean | undefined): void {
  enabled = on;
}

/**
 * A ready group for `key` (its name and directories), or undefined; starts a
 * refill, shaped by this caller's `make` (so limits written ahead are the
 * last taker's). (Callers check poolEnabled().)
 */
export function takeGroup(key: string, make: (name: string) => GroupShape, newName: () => string): Slot | undefined {
  let pool = pools.get(key);
  if (pool) {
    pools.delete(key); // to the end: most recently used
    pool.make = make;
  } else {
    pool = { ready: [], broken: false, make, newName };
    // A key per set of hierarchies and limit files: keep the few in use, drop the oldest.
    if (pools.size >= KEYS) {
      const [oldKey, old] = pools.entries().next().value!;
      pools.delete(oldKey);
      drain(old);
    }
  }
  pools.set(key, pool);
  const slot = pool.ready.shift();
  if (slot) taken++;
  else missed++;
  const p = pool;
  // After this tick: the caller's own mkdirs and the clone go first.
  setImmediate(() => fill(p));
  return slot;
}

/** Removes a pool's ready groups (it is no longer used). */
function drain(pool: Pool): void {
  pool.broken = true; // a refill already scheduled does nothing
  for (const slot of pool.ready.splice(0)) {
    native().closeFds([...slot.fds.values()]);
    native().rmdirs(slot.dirs);
    forget(slot.dirs);
  }
}

/**
 * Why a refill may fail now and work at the next start: a lack of memory,
 * fds or cgroup ids (v1's memory groups), a name taken, a busy kernel. Any
 * other refusal (EACCES, EINVAL: a limit the parent does not allow, ENOENT:
 * the parent removed) would be made again at every start, an mkdir and an
 * rmdir for nothing each time, and stops the pool. (writeFiles makes an
 * interrupted write again; EINTR is listed for any other call that meets it.)
 */
const PASSING_ERRNOS = new Set([
  4 /* EINTR */, 11 /* EAGAIN */, 12 /* ENOMEM */, 16 /* EBUSY */, 17 /* EEXIST */, 23 /* ENFILE */, 24 /* EMFILE */, 28 /* ENOSPC */,
]);

/** The pool stops for good on a refusal that would come again (PASSING_ERRNOS). */
function failedWith(pool: Pool, errno: number): void {
  if (!PASSING_ERRNOS.has(errno)) pool.broken = true;
  refillsFailed++;
}

let refillsFailed = 0;
let taken = 0;
let missed = 0;

/** @internal What the pools did so far (for tests): groups handed out ready, takers that found none, refills that failed. */
export function _poolCounts(): { taken: number; missed: number; refillsFailed: number } {
  return { taken, missed, refillsFailed };
}

function fill(pool: Pool): void {
  // Synchronous, but after the start that took a group (setImmediate), while
  // its container runs: a mkdir on libuv's threads could still be in flight
  // when the process exits, and leave a directory behind. A failure ends this
  // refill; the next taker's starts another unless the pool is broken.
  while (!pool.broken && pool.ready.length < SIZE) {
    const name = pool.newName();
    const { dirs, open, writes } = pool.make(name);
    const failed = native().mkdirs(dirs);
    if (failed) {
      failedWith(pool, failed[1]);
      native().rmdirs(dirs.slice(0, failed[0]));
      return;
    }
    remember(dirs);
    // Limits written now are written for the taker: its key says which, so
    // it skips them. One the kernel refuses stops the pool (the taker's own
    // write then says why). One native call: writeFileSync's JS around each
    // open, write and close cost as much as the kernel's work here.
    const refused = writes.length > 0 ? native().writeFiles(writes.map(([f]) => f), writes.map(([, v]) => v)) : null;
    if (refused) {
      failedWith(pool, refused[1]);
      native().rmdirs(dirs);
      forget(dirs);
      return;
    }
    const got = native().openFiles(
      open.map(([p]) => p),
      open.map(([, m]) => m).join(''),
    );
    const fds = new Map<string, number>();
    got.forEach((fd, i) => {
      if (fd >= 0) fds.set(open[i]![0], fd);
    });
    pool.ready.push({ name, dirs, fds, written: writesKey(writes) });
  }
}

/** cpuacct's counters (ns): usage, and its user/system split. */
export interface CpuCounters {
  usage: number;
  user: number;
  system: number;
}

/** A reusable accounting group: its directory, its files, open (path → fd), and its counters when it was handed back. */
export interface AccountingGroup {
  dir: string;
  fds: Map<string, number>;
  base: CpuCounters;
}

/** Parent directory → accounting groups free for the next taker. */
const accounting = new Map<string, AccountingGroup[]>();

/** A free accounting group under `parentDir`, else a new one from `make` (undefined: none to be had; it throws on failure). */
export function takeAccounting(parentDir: string, make: () => AccountingGroup | undefined): AccountingGroup | undefined {
  return accounting.get(parentDir)?.pop() ?? make();
}

/**
 * Keeps an emptied accounting group for the next taker; false when enough
 * are kept already (the caller removes it).
 */
export function keepAccounting(parentDir: string, group: AccountingGroup): boolean {
  let free = accounting.get(parentDir);
  if (!free) accounting.set(parentDir, (free = []));
  if (free.length >= ACCOUNTING_KEPT) return false;
  free.push(group);
  return true;
}

/** @internal The kept accounting groups (for tests): their directories and the counters the next taker starts from. */
export function _keptAccounting(): { dir: string; base: CpuCounters }[] {
  return [...accounting.values()].flatMap((l) => l.map((g) => ({ dir: g.dir, base: { ...g.base } })));
}

/** Directories of pooled (not yet used) groups, of kept accounting groups, and the freezer's hold group (freezer-hold.ts). */
export function pooledCgroupDirs(): string[] {
  return [
    ...[...pools.values()].flatMap((p) => p.ready.flatMap((s) => s.dirs)),
    ...[...accounting.values()].flatMap((l) => l.map((g) => g.dir)),
    ...freezerHoldDirs(),
  ];
}

/** The files of pooled and kept groups, open. */
function heldGroupFds(): number[] {
  return [
    ...[...pools.values()].flatMap((p) => p.ready.flatMap((s) => [...s.fds.values()])),
    ...[...accounting.values()].flatMap((l) => l.flatMap((g) => [...g.fds.values()])),
  ];
}

// On exit the registry removes pooled and kept groups: their files go first.
onExitBeforeRemoval(() => {
  const fds = heldGroupFds();
  if (fds.length > 0) native().closeFds(fds);
});

/** fds held open across containers (pooled and kept groups' files, the parents' directories, the owner marks), for leak checks. */
export function pooledCgroupFds(): number[] {
  return [...heldGroupFds(), ...native().cgroupDirFds(), ...ownerMarkFds()];
}
