/**
 * The cgroup directories this process has made and not yet removed. On exit
 * we try to remove what is left (a container still running is killed by its
 * init's death; its group may still be busy, which gc() handles later).
 */
import { rmdirSync } from 'node:fs';

const live = new Set<string>();
let hooked = false;
const beforeRemoval: (() => void)[] = [];

/**
 * `fn` runs on exit before the directories are removed: to close the files
 * held open in them first (CgroupReader.closeNow says why).
 */
export function onExitBeforeRemoval(fn: () => void): void {
  beforeRemoval.push(fn);
}

export function remember(dirs: readonly string[]): void {
  for (const d of dirs) live.add(d);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const fn of beforeRemoval) {
        try {
          fn();
        } catch {
          /* the directories go anyway */
        }
      }
      for (const d of live) {
        try {
          rmdirSync(d);
        } catch {
          /* busy or gone: gc() */
        }
      }
    });
  }
}

export function forget(dirs: readonly string[]): void {
  for (const d of dirs) live.delete(d);
}
