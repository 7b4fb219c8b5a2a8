/**
 * What a container changed, from its writable layer, like `docker diff`:
 * A (added), C (changed), D (deleted), one line per path, sorted. A
 * directory that exists below and holds a change is C, as Docker reports it.
 *
 * The writable layer may be changing as we read it (a running container),
 * and the layers below may hold symlinks of their own: paths are resolved
 * one component at a time without following symlinks (beneath.ts), so no
 * look reaches outside the layers.
 *
 * Union rules, as overlayfs applies them: in a directory, the topmost layer
 * that has a name decides (a whiteout there hides it); a directory's
 * contents come from each layer down to the first where the name is not a
 * directory (which hides the rest) or is an opaque directory.
 */
import { closeSync, lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import { IsolateError } from '../errors';
import { dirBeneath, fdPath, openDirIn, openRoot } from './beneath';
import { DEFAULT_EXTRACT_LIMITS } from './extract-options';
import { isOpaque, isWhiteout } from './overlay-format';

export interface Change {
  kind: 'A' | 'C' | 'D';
  /** Absolute path inside the container. */
  path: string;
}

/**
 * The directories of the lower layers (fds, top first) whose contents show
 * at one directory of the union: the ones a name there is looked up in.
 */
type Below = number[];

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeSync(fd);
}

/** `below` for directory `name` of the directory `below` is for (new fds: the caller closes them). */
function childBelow(below: Below, name: string): Below {
  const out: number[] = [];
  try {
    for (const fd of below) {
      let child: number;
      try {
        child = openDirIn(fd, name);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // not in this layer: the next one down decides
        if (code === 'ENOTDIR' || code === 'ELOOP') break; // a file, symlink or whiteout: hides the layers below
        throw err;
      }
      out.push(child);
      if (isOpaque(`${fdPath(child)}/.`)) break;
    }
  } catch (err) {
    closeAll(out);
    throw err;
  }
  return out;
}

/** Whether `name` shows in the union of `below`: the topmost layer that has it decides. */
function seenBelow(below: Below, name: string): boolean {
  for (const fd of below) {
    const st = lstatSync(fdPath(fd, name), { throwIfNoEntry: false });
    if (st !== undefined) return !isWhiteout(st);
  }
  return false;
}

/** The roots of `lowers` (top first) as a Below. */
function roots(lowers: readonly string[]): Below {
  const out: number[] = [];
  try {
    for (const layer of lowers) out.push(openRoot(layer));
  } catch (err) {
    closeAll(out);
    throw err;
  }
  return out;
}

/**
 * Whether `rel` is visible in the union of `lowers` (top first): the first
 * layer that has it decides (a whiteout there hides it); a non-directory or
 * an opaque directory on the way hides everything of the layers below it.
 */
export function inLowers(lowers: readonly string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  if (parts.length === 0) return true;
  let below = roots(lowers);
  try {
    for (const part of parts.slice(0, -1)) {
      const next = childBelow(below, part);
      closeAll(below);
      below = next;
      if (below.length === 0) return false;
    }
    return seenBelow(below, parts[parts.length - 1]!);
  } finally {
    closeAll(below);
  }
}

/**
 * Whether an entry of the writable layer is only a mount point that setup
 * made (/proc, /tmp, a bind's target, … where the layers lack them): an
 * empty directory or file that is not in the layers. Docker keeps these in
 * an "init" layer of its own; here they are left out of diff and commit.
 */
export function isSetupMountpoint(upper: string, lowers: readonly string[], rel: string, st: Stats, mountpoints: ReadonlySet<string>): boolean {
  if (!mountpoints.has(`/${rel}`) || inLowers(lowers, rel)) return false;
  if (st.isDirectory()) return dirBeneath(upper, rel, (p) => readdirSync(p).length === 0);
  return st.isFile() && st.size === 0;
}

/**
 * The changes recorded in `upper` (overlay format) over `lowers` (top
 * first), leaving out the mount points setup made (`mountpoints`, absolute).
 *
 * Synchronous, so bounded: past `maxEntries` entries of the writable layer
 * it stops with ERR_BAD_IMAGE. A tmpfs writable layer has at most one inode
 * per KiB of its size (layer-stack.ts), and each directory is looked up in
 * the layers below once, not once per entry, so a walk costs a few
 * microseconds an entry.
 */
export function diffUpper(
  upper: string,
  lowers: readonly string[],
  mountpoints: ReadonlySet<string> = new Set(),
  maxEntries: number = DEFAULT_EXTRACT_LIMITS.maxEntries,
): Change[] {
  const out: Change[] = [];
  let entries = 0;
  const walk = (dirFd: number, rel: string, below: Below) => {
    const list: Dirent[] = readdirSync(fdPath(dirFd), { withFileTypes: true });
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of list) {
      const name = d.name;
      const r = rel ? `${rel}/${name}` : name;
      if (++entries > maxEntries) {
        throw new IsolateError('ERR_BAD_IMAGE', `The writable layer holds more than ${maxEntries} entries (maxEntries), at ${JSON.stringify(r)}`, { path: r });
      }
      // lstat only where the type alone does not tell: a device may be a
      // whiteout, a mount point setup made is left out when empty.
      if (mountpoints.has(`/${r}`) || d.isCharacterDevice()) {
        const st = lstatSync(fdPath(dirFd, name), { throwIfNoEntry: false });
        if (st === undefined) continue; // removed meanwhile
        if (isSetupMountpoint(upper, lowers, r, st, mountpoints)) continue;
        if (isWhiteout(st)) {
          if (seenBelow(below, name)) out.push({ kind: 'D', path: `/${r}` });
          continue;
        }
      }
      out.push({ kind: seenBelow(below, name) ? 'C' : 'A', path: `/${r}` });
      if (!d.isDirectory()) continue;
      let child: number;
      try {
        child = openDirIn(dirFd, name);
      } catch {
        continue; // no longer a directory: swapped meanwhile
      }
      // A and C compare with the tree the layers show, so an opaque directory
      // of the writable layer (removed and made again) is looked up in them
      // all the same: a file made again there is C, as Docker says.
      let childBelowFds: Below = [];
      try {
        childBelowFds = childBelow(below, name);
        walk(child, r, childBelowFds);
      } finally {
        closeAll(childBelowFds);
        closeSync(child);
      }
    }
  };
  const root = openRoot(upper);
  let below: Below = [];
  try {
    below = roots(lowers);
    walk(root, '', below);
  } finally {
    closeAll(below);
    closeSync(root);
  }
  return out;
}
