/**
 * The cgroup directories this process has made and not yet removed. On exit
 * we remove what is left: a group still busy is thawed (a paused container's
 * init would never see the Node process go), a container's has its
 * processes killed, and the removals are retried for a moment; what still
 * will not go, gc() handles later.
 */
import { rmdirSync } from 'node:fs';
import { removeTree, stopGroup } from './files';

const live = new Set<string>();
/** Of those, the ones whose processes exit kills (containers' groups; a standalone CGroup's processes are the caller's: only thawed). */
const killable = new Set<string>();
let hooked = false;
const beforeRemoval: (() => void)[] = [];
const afterRemoval: (() => void)[] = [];

/**
 * `fn` runs on exit before the directories are removed: to close the files
 * held open in them first (CgroupReader.closeNow says why).
 */
export function onExitBeforeRemoval(fn: () => void): void {
  beforeRemoval.push(fn);
}

/** `fn` runs on exit once the directories are removed (or given up on): the owner marks go last (owner.ts). */
export function onExitAfterRemoval(fn: () => void): void {
  afterRemoval.push(fn);
  hook();
}

export function remember(dirs: readonly string[]): void {
  for (const d of dirs) live.add(d);
  hook();
}

/** Marks a container's group: what runs in it dies with the Node process anyway (its init sees it go), so exit kills it and removes the group. */
export function killOnExit(dirs: readonly string[]): void {
  for (const d of dirs) killable.add(d);
}

export function forget(dirs: readonly string[]): void {
  for (const d of dirs) {
    live.delete(d);
    killable.delete(d);
  }
}

/** How long exit waits for the processes of busy groups to die. */
const EXIT_WAIT_MS = 200;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const fn of beforeRemoval) run(fn);
    let busy = [...live].filter((d) => !tryRemove(d));
    if (busy.length > 0) {
      // Thaw every one first (on v1 the freezer is a directory of its own), then kill.
      for (const d of busy) stopGroup(d, false);
      for (const d of busy) if (killable.has(d)) stopGroup(d);
      // Wait only for what was killed (and the same group's other
      // directories, a v1 freezer's): a standalone group's processes live on.
      const killed = new Set([...killable].map((d) => d.slice(d.lastIndexOf('/') + 1)));
      busy = busy.filter((d) => killed.has(d.slice(d.lastIndexOf('/') + 1)));
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      for (const deadline = Date.now() + EXIT_WAIT_MS; busy.length > 0 && Date.now() < deadline; ) {
        Atomics.wait(sleeper, 0, 0, 2);
        busy = busy.filter((d) => !tryRemove(d));
      }
    }
    live.clear();
    for (const fn of afterRemoval) run(fn);
  });
}

function tryRemove(dir: string): boolean {
  try {
    return removeTree(dir);
  } catch {
    try {
      rmdirSync(dir);
      return true;
    } catch {
      return false; // gc()
    }
  }
}

function run(fn: () => void): void {
  try {
    fn();
  } catch {
    /* the directories go anyway */
  }
}
