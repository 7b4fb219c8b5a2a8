/**
 * Which layers running containers use, told in a way an image store's
 * gc() can check from anywhere.
 *
 * gc() once looked only at /proc/<pid>/mountinfo for overlay mounts of a
 * layer: a gc() in another pid namespace (a tool in a container sharing
 * the store, a judge worker in a pod of its own) does not see the
 * containers of this one, and removed layers they had mounted (the
 * nineteenth review). So from its start until its destroy() (diff() and
 * commit() read the layers after it stopped), a container's process holds
 * each of its layer directories open with a shared flock(); gc() takes the
 * lock exclusively before removing a layer, and leaves it when it cannot.
 * A lock is the inode's, the same from every namespace, and the kernel
 * drops it when its holder dies, as the owner marks' (cgroup/owner.ts).
 *
 * Per process and directory, counted: a layer that containers use one
 * after another costs an open, a flock and two stats at each first use.
 */
import { closeSync, constants as fsc, fstatSync, openSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { IsolateError, fromSystemError } from './errors';
import { native } from './native';

const held = new Map<string, { fd: number; users: number }>();

const { EWOULDBLOCK } = constants.errno;

/**
 * Holds `dirs` (a LayerStack's lower directories) for a container; returns
 * what lets them go, once. Throws ERR_SETUP_FAILED, holding nothing, when
 * a layer is being removed, or was, by a gc().
 */
export function leaseLayers(dirs: readonly string[]): () => void {
  const taken: string[] = [];
  try {
    for (const dir of dirs) {
      take(dir);
      taken.push(dir);
    }
  } catch (err) {
    for (const d of taken) letGo(d);
    throw err;
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const d of taken) letGo(d);
  };
}

function take(dir: string): void {
  const h = held.get(dir);
  if (h) {
    h.users++;
    return;
  }
  const gone = (why: string, cause?: unknown) =>
    new IsolateError('ERR_SETUP_FAILED', `The layer directory ${dir} ${why}: an image store's gc() removed it, or is removing it (no image refers to it any more)`, {
      path: dir,
      cause,
    });
  let fd: number;
  try {
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    // Only its absence is a gc()'s doing; EMFILE, EACCES and the like say what they are.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw gone('is not there', err);
    throw fromSystemError('ERR_SETUP_FAILED', `Cannot open the layer directory ${dir} to hold it while the container runs`, err, { path: dir });
  }
  try {
    const r = native().tryLock(fd, true);
    if (r === -EWOULDBLOCK) throw gone('is locked for removal');
    if (r < 0) throw new IsolateError('ERR_SETUP_FAILED', `Cannot lock the layer directory ${dir} (errno ${-r})`, { path: dir });
    // Opened before a gc() removed it, locked after: the directory is no
    // longer the one at that path.
    const a = fstatSync(fd);
    let b;
    try {
      b = statSync(dir);
    } catch (err) {
      throw gone('is gone', err);
    }
    if (a.ino !== b.ino || a.dev !== b.dev) throw gone('was replaced');
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  held.set(dir, { fd, users: 1 });
}

function letGo(dir: string): void {
  const h = held.get(dir);
  if (!h) return;
  if (--h.users > 0) return;
  held.delete(dir);
  closeSync(h.fd);
}

/**
 * For a gc(): runs `remove` with `dir` locked exclusively, unless a
 * container holds it (then false, and nothing is removed). A directory
 * that is not there is nobody's; one that cannot be opened for another
 * reason (EMFILE, ENFILE, ENOMEM: a full fd table, say, for the moment
 * another thread holds it) may be held, and stays.
 */
export function removeUnlessLeased(dir: string, remove: () => void): boolean {
  let fd: number;
  try {
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    remove();
    return true;
  }
  try {
    if (native().tryLock(fd, false) !== 0) return false;
    remove();
    return true;
  } finally {
    closeSync(fd); // drops the lock: a start waiting on it then finds the directory gone
  }
}

/** @internal For tests: the directories held now. */
export function _leasedLayers(): string[] {
  return [...held.keys()];
}
