/**
 * A lock between processes sharing a store: flock() on a file in it. The
 * kernel drops it when its holder closes the file or dies, so there is no
 * stale lock to find and break (a directory made with mkdir, as before,
 * had to be broken by whoever saw its owner dead, and two waiters doing
 * that at once could both end up holding it). Held only while tags and
 * image records change, a layer or blob is put in place (or found) and
 * claimed, a failed import removes what it added, or gc() runs. The holder's pid is written in the
 * file, for the message of a waiter that gives up.
 */
import { closeSync, constants as fsc, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { IsolateError, describeErrno } from '../errors';
import { native } from '../native';

const WAIT_MS = 30_000;
const EWOULDBLOCK = 11;

/** Runs `fn` holding the lock on the file at `path` (made if missing; its directory must exist). */
export async function withLock<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  const fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  try {
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const r = native().tryLock(fd);
      if (r === 0) break;
      if (r !== -EWOULDBLOCK) {
        const [name, text] = describeErrno(-r);
        throw new IsolateError('ERR_SETUP_FAILED', `Cannot lock the image store (${path}): flock: ${name} (${text})`, { path, syscall: 'flock', errno: -r, errnoCode: name });
      }
      if (Date.now() > deadline) {
        let holder = '?';
        try {
          holder = readFileSync(path, 'utf8').trim() || '?';
        } catch {
          /* keep '?' */
        }
        throw new IsolateError('ERR_STATE', `The image store is locked by process ${holder} (${path}) for over ${WAIT_MS / 1000} s`, { path });
      }
      await new Promise((res) => setTimeout(res, delay));
    }
    ftruncateSync(fd, 0);
    writeSync(fd, String(process.pid), 0);
    return await fn();
  } finally {
    closeSync(fd); // drops the lock
  }
}
