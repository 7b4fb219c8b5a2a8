/**
 * Who owns a group, in a way gc() can check from any namespace.
 *
 * A group's name says its owner: `<pid>-<start time>-<counter>`. But that
 * pid and start time are as the owner's own pid and time namespaces see
 * them: a gc() in another pid namespace (the owner in a container sharing
 * the host's cgroup tree, or the reverse), or in another time namespace,
 * reads them as a dead process and would kill a live owner's containers.
 *
 * So each owner also holds a mark: an empty directory `<pid>-<start>.owner`
 * in the parent (a cgroup directory: the only kind of file a cgroup
 * filesystem has), opened and flock()ed shared for as long as the process
 * lives. A lock is the inode's, the same from every namespace, and the
 * kernel drops it when its holder dies: gc() takes a group's owner for dead
 * only when its name says so and no one holds its mark (gc.ts). One mark
 * per process and parent, made before its first group there: no cost per
 * container.
 */
import { closeSync, constants as fsc, fstatSync, mkdirSync, openSync, rmdirSync, statSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { native } from '../native';
import { processStartTime } from './host';
import { onExitAfterRemoval } from './registry';

let id: string | undefined;

/** `<pid>-<start time>` of this process, as its names carry it. */
export function ownerId(): string {
  return (id ??= `${process.pid}-${processStartTime(process.pid) ?? 0}`);
}

export const OWNER_MARK_RE = /^(\d+)-(\d+)\.owner$/;

/** Mark directory → the fd holding its lock. */
const held = new Map<string, number>();
let hooked = false;

/**
 * Makes and locks this process's mark in `parentDir` (once per directory).
 * Best effort: without it, gc() judges by the name alone, as before.
 */
export function holdOwnerMark(parentDir: string): void {
  const dir = `${parentDir}/${ownerId()}.owner`;
  if (held.has(dir)) return;
  let fd = -1;
  try {
    try {
      // 0700: anyone who could open it could hold a lock on it, and so keep a
      // dead owner's groups from gc() for good (flock needs no write access).
      mkdirSync(dir, 0o700);
    } catch (err) {
      // Another thread of this process (a worker: same pid) made it.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return;
    }
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    // A gc() may hold it exclusively for the moment it tests it: wait that out.
    for (let i = 0; native().tryLock(fd, true) !== 0; i++) {
      if (i >= 100) throw new Error('lock');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    // The one we locked must still be the one at that path (a gc() may have removed it meanwhile).
    if (statSync(dir).ino !== fstatSync(fd).ino) throw new Error('replaced');
  } catch {
    if (fd >= 0) closeSync(fd);
    return;
  }
  held.set(dir, fd);
  if (!hooked) {
    hooked = true;
    onExitAfterRemoval(releaseOwnerMarks); // after this process's groups
  }
}

/**
 * On exit, after the groups: lets the marks go. Only the main thread removes
 * them (workers share the pid, so their mark; the process lives on).
 */
export function releaseOwnerMarks(): void {
  for (const [dir, fd] of held) {
    try {
      closeSync(fd);
      if (isMainThread) rmdirSync(dir);
    } catch {
      /* gc() removes it */
    }
  }
  held.clear();
}

/** fds the marks hold (for leak checks: they live as long as the process). */
export function ownerMarkFds(): number[] {
  return [...held.values()];
}

/** The marks' directories (for leak checks, likewise). */
export function ownerMarkDirs(): string[] {
  return [...held.keys()];
}

/**
 * @internal Lets go of the mark in `parentDir` now (a test that removes its
 * own parent while the process lives; with resetParents(), the next group
 * there makes it again).
 */
export function _releaseOwnerMark(parentDir: string): void {
  const dir = `${parentDir}/${ownerId()}.owner`;
  const fd = held.get(dir);
  if (fd === undefined) return;
  held.delete(dir);
  closeSync(fd);
  rmdirSync(dir);
}

/**
 * What a gc() sees of an owner's mark at `path` (a directory here, a file
 * in an image store's tmp/): 'held' (the owner lives), 'free' (no one
 * holds it), 'new' (free but made in the last `youngMs`: its owner may be
 * between making it and locking it), or 'gone'.
 */
export function markState(path: string, youngMs: number): 'held' | 'free' | 'new' | 'gone' {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return 'gone';
  }
  try {
    if (native().tryLock(fd) !== 0) return 'held';
    return Date.now() - fstatSync(fd).ctimeMs < youngMs ? 'new' : 'free';
  } finally {
    closeSync(fd); // (drops the lock at once: an owner waiting for it goes on)
  }
}
