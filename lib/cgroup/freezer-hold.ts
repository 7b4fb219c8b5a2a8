/**
 * Keeps v1's freezer switched on while containers of this process can be
 * frozen, so that pause(), resume() and a kill do not switch it each time.
 *
 * The kernel guards its freezer checks with a static key (freezer_active):
 * on while any v1 freezer group of the host is freezing or frozen, off
 * otherwise. Turning it on or off patches kernel code on every CPU, and on
 * a VM that is slow: on this project's VM a write of `FROZEN` or `THAWED`
 * to freezer.state took ~1.3 ms when it turned the key, ~10 µs when some
 * other group was frozen already (a C loop; pause() + resume() went from
 * 0.22 ms on the VM's earlier host to 2.8 ms on its current one). So, from
 * the first time a group of ours joins the freezer until a moment after the
 * last such group is removed, one empty group of ours is kept FROZEN: the
 * key stays on and a container's freeze or thaw only counts.
 *
 * The hold is an ordinary group of this process (named like the others:
 * removed on exit by the registry, by gc() after a crash) with no process
 * of ours in it, so it freezes nothing (one a payload put there is moved
 * out at a kill: evictFromHold). While the key is on, the kernel checks
 * `freezing()` for tasks as they take signals and in some kernel threads'
 * loops (a flag test on a path that is already slow); that is what every
 * paused container costs the host anyway.
 *
 * Main thread only: a worker's JavaScript may end without its exit hook
 * (pool.ts says the same of the group pool).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { pidsIn } from './files';
import { ownerId } from './owner';
import { forget, remember } from './registry';

/** How long the hold outlives the last group that needed it: containers paused one after another keep it. */
let lingerMs = 2000;

/** @internal For tests: how long the hold outlives its last user (undefined: the default). */
export function _setFreezerLinger(ms: number | undefined): void {
  lingerMs = ms ?? 2000;
}

let users = 0;
let held: string | undefined;
let linger: NodeJS.Timeout | undefined;

/**
 * A group of ours joined the freezer under `parentDir` (its v1 freezer
 * parent, the default's or the caller's): hold the key on, making the hold
 * group there if there is none (like the pool's groups, it then stays in
 * that parent a while). Best effort: if it cannot be made, freezes switch
 * the key as before.
 */
export function holdFreezer(parentDir: string): void {
  users++;
  if (linger) {
    clearTimeout(linger);
    linger = undefined;
  }
  // Removed behind our back (by hand, a tree removal of its parent): make another.
  if (held !== undefined && !existsSync(held)) {
    forget([held]);
    held = undefined;
  }
  if (held !== undefined || !isMainThread) return;
  // Named as groups are (host.ts CGROUP_NAME_RE), so gc() knows whose it is.
  const dir = join(parentDir, `${ownerId()}-${randomBytes(5).toString('hex')}`);
  try {
    mkdirSync(dir);
  } catch {
    return;
  }
  remember([dir]);
  try {
    writeFileSync(join(dir, 'freezer.state'), 'FROZEN');
    held = dir;
  } catch {
    drop(dir);
  }
}

/** A group that held the freezer (holdFreezer) was removed. */
export function releaseFreezer(): void {
  if (users === 0) return;
  users--;
  if (users > 0 || held === undefined || linger) return;
  linger = setTimeout(() => {
    linger = undefined;
    if (users === 0 && held !== undefined) {
      const dir = held;
      held = undefined;
      drop(dir);
    }
  }, lingerMs);
  linger.unref();
}

/**
 * Moves whatever is in the hold out to its parent (thawed there). Nothing of
 * ours goes in, but a payload that can mount the freezer hierarchy (uid 0
 * with CAP_SYS_ADMIN: its cgroup namespace's freezer root is the Node
 * process's group while its own group has not joined the freezer) can put
 * its processes in it: frozen where no kill of its container thaws them, its
 * init (pid 1 of its namespace) never ends and destroy() never settles.
 * True if something was moved.
 */
export function evictFromHold(dir = held): boolean {
  if (dir === undefined) return false;
  let moved = false;
  for (let round = 0; round < 10; round++) {
    const pids = pidsIn(join(dir, 'cgroup.procs')); // [] once it is gone
    if (pids.length === 0) return moved;
    for (const pid of pids) {
      try {
        writeFileSync(join(dirname(dir), 'cgroup.procs'), String(pid));
        moved = true;
      } catch {
        /* exited meanwhile */
      }
    }
  }
  return moved;
}

/** rmdir of the (empty) hold group: the kernel turns the key off then if nothing else is frozen. */
function drop(dir: string): void {
  evictFromHold(dir);
  try {
    rmdirSync(dir);
    forget([dir]);
  } catch {
    /* left for exit's removal, or gc() */
  }
}

/** The hold group, if there is one now (held across containers: leak checks count it with the pool's). */
export function freezerHoldDirs(): string[] {
  return held === undefined ? [] : [held];
}
