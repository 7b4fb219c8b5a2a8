/**
 * What a path is in the union of an overlay root's layers, before the
 * container exists: so that a mount target of the wrong kind (a directory
 * bound on an image's file, a tmpfs on one, a target below a file) is
 * refused by `new Container()`, as on the host root, instead of failing in
 * init at start.
 *
 * overlayfs's rules (as in diff.ts): in a directory, the topmost layer that
 * has a name decides, and a whiteout there deletes it; a directory's
 * contents come from each layer down to the first where the name is not a
 * directory or is an opaque directory. Each layer is read one component at
 * a time without following symlinks (beneath.ts). A symlink on the way is
 * not followed here: init resolves it inside the root, where it may lead
 * into a tmpfs or another mount, so such a target is left to init.
 */
import { lstatBeneath } from './beneath';
import { isOpaque, isWhiteout } from './overlay-format';

export type UnionKind =
  /** Nothing there (or deleted): init makes it, of the mount's kind. */
  | { kind: 'missing' }
  | { kind: 'directory' }
  | { kind: 'file' }
  /** A symlink on the way: left to init. */
  | { kind: 'symlink'; at: string }
  /** `at`, a component on the way, is not a directory: nothing can be made below it. */
  | { kind: 'blocked'; at: string };

/** `target` (absolute) in the union of `layers` (directories, base first). */
export function unionKind(layers: readonly string[], target: string): UnionKind {
  const parts = target.split('/').filter((p) => p !== '' && p !== '.');
  // The layers whose directory at `rel` shows in the union, top first.
  let showing = [...layers].reverse();
  let rel = '';
  for (let k = 0; k < parts.length; k++) {
    const name = parts[k]!;
    if (name === '..') return { kind: 'symlink', at: `/${rel}` }; // checkContainerPath normalises; never here
    const path = rel === '' ? name : `${rel}/${name}`;
    let top = -1;
    let st;
    for (let i = 0; i < showing.length; i++) {
      st = lstatBeneath(showing[i]!, path);
      if (st !== undefined) {
        top = i;
        break;
      }
    }
    if (st === undefined || isWhiteout(st)) return { kind: 'missing' };
    if (st.isSymbolicLink()) return { kind: 'symlink', at: `/${path}` };
    if (!st.isDirectory()) return k === parts.length - 1 ? { kind: 'file' } : { kind: 'blocked', at: `/${path}` };
    // The directory's contents: this layer's, then each below while the
    // name is a directory there too, down to an opaque one.
    const next: string[] = [];
    for (let i = top; i < showing.length; i++) {
      const below = i === top ? st : lstatBeneath(showing[i]!, path);
      if (below === undefined) continue;
      if (!below.isDirectory()) break;
      next.push(showing[i]!);
      if (isOpaque(`${showing[i]!}/${path}`)) break;
    }
    showing = next;
    rel = path;
  }
  return { kind: 'directory' };
}
