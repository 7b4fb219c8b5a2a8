/**
 * A lock between processes sharing a store: a directory made with mkdir
 * (atomic), with its owner's pid and start time inside, so a lock left by a
 * crashed process (or one whose pid was reused) is broken instead of waited
 * for. Held only while tags and image records change, or gc() runs.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolateError } from '../errors';
import { processStartTime } from '../cgroup/host';

const WAIT_MS = 30_000;

function owner(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? 0}`;
}

function ownerAlive(text: string | undefined): boolean {
  if (!text) return false; // being written, or torn: treated as stale only after a grace period (below)
  const [pid, start] = text.trim().split(' ').map(Number);
  if (!pid) return false;
  return processStartTime(pid) === start;
}

function readOwner(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, 'owner'), 'utf8');
  } catch {
    return undefined;
  }
}

/** Runs `fn` holding the lock at `dir` (its parent must exist). */
export async function withLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let emptySince: number | undefined;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, 'owner'), owner());
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = readOwner(dir);
    if (text === undefined) {
      // mkdir'd but no owner yet: its maker is between two syscalls, or died there.
      emptySince ??= Date.now();
      if (Date.now() - emptySince > 1000) rmSync(dir, { recursive: true, force: true });
    } else if (!ownerAlive(text)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new IsolateError('ERR_STATE', `The image store is locked by process ${text?.split(' ')[0] ?? '?'} (${dir}) for over ${WAIT_MS / 1000} s`, { path: dir });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
