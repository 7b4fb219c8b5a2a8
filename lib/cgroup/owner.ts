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
import { closeSync, constants as fsc, fstatSync, openSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { fromSystemError } from '../errors';
import { native } from '../native';
import { processStartTime } from './host';
import { onExitAfterRemoval } from './registry';

let id: string | undefined;

/**
 * `<pid>-<start time>` of this process, as its names carry it. A failed
 * read (a full fd table) is an error, not a start time of 0: that would be
 * kept for the whole process, and its groups' names would no longer tell
 * it from a later process given its pid (the eighteenth review).
 */
export function ownerId(): string {
  if (id !== undefined) return id;
  let start: number | null;
  try {
    // /proc/self, not /proc/<process.pid>: in a pid namespace of its own
    // with an outer namespace's /proc (unshare --pid without --mount-proc,
    // a container given the host's /proc), /proc/<our pid> is another
    // process, pid 1 the host's init: our groups' names then carried its
    // start time and read as alive to every gc() for as long as it ran.
    start = processStartTime('self', true);
  } catch (err) {
    throw fromSystemError('ERR_SETUP_FAILED', "Cannot read this process's start time (/proc/self/stat), which names its cgroups", err);
  }
  return (id = `${process.pid}-${start ?? 0}`);
}

export const OWNER_MARK_RE = /^(\d+)-(\d+)\.owner$/;

/**
 * A mark made this recently and not locked may be one its owner is about
 * to lock (it makes it, then locks it, before its first group or tmp/
 * entry): a gc() leaves it alone unless that owner has groups or entries.
 */
export const MARK_YOUNG_MS = 5000;

let hooked = false;

/**
 * Makes and locks this process's mark in `parentDir`. The addon holds the
 * marks for the whole process (csrc/owner_marks.c), once per directory
 * whichever thread asks: a worker thread ended by terminate() runs no exit
 * hook, and must not take its marks' fds with it. The addon also lets them
 * go at the process's exit() (after this module's hook, which runs first
 * and removes the groups before their marks), for a process whose groups
 * were all made by workers. Best effort: without a mark, gc() judges by
 * the name alone. True once held.
 */
export function holdOwnerMark(parentDir: string): boolean {
  if (native().holdMark(`${parentDir}/${ownerId()}.owner`) < 0) return false;
  // The main thread's exit is the process's: it lets every mark go, after its groups.
  if (!hooked && isMainThread) {
    hooked = true;
    onExitAfterRemoval(releaseOwnerMarks);
  }
  return true;
}

/** On the main thread's exit, after the groups: closes and removes every mark of the process. */
export function releaseOwnerMarks(): void {
  native().releaseMarks(null, true);
}

/** fds the marks hold (for leak checks: they live as long as the process). */
export function ownerMarkFds(): number[] {
  return native().marks().map(([, fd]) => fd);
}

/** The marks' directories (for leak checks, likewise). */
export function ownerMarkDirs(): string[] {
  return native().marks().map(([path]) => path);
}

/**
 * @internal Lets go of the mark in `parentDir` now (a test that removes its
 * own parent while the process lives; with resetParents(), the next group
 * there makes it again).
 */
export function _releaseOwnerMark(parentDir: string): void {
  native().releaseMarks(`${parentDir}/${ownerId()}.owner`, true);
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
