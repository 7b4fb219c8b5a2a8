/**
 * overlayfs's on-disk format of a layer, in one place: a deleted path is a
 * whiteout (a character device 0/0 with its name); a directory hiding what
 * the layers below hold has the xattr trusted.overlay.opaque = "y". The
 * tar reader writes it, the tar writer and diff() read it.
 */
import type { Stats } from 'node:fs';
import { native } from '../native';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** overlayfs's whiteout: a character device 0/0. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether the directory at `path` is opaque (never follows a final symlink). */
export function isOpaque(path: string): boolean {
  return native().lgetxattr(path, OPAQUE_XATTR)?.toString() === 'y';
}

/** Marks the directory at `path` opaque. */
export function markOpaque(path: string): void {
  native().lsetxattr(path, OPAQUE_XATTR, Buffer.from('y'));
}
