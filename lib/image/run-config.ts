/**
 * An image's config as a container's defaults, the way Docker applies it:
 * Env under the caller's env, WorkingDir as cwd, User (a name is looked up
 * in the image's own /etc/passwd and /etc/group), and the command:
 * Entrypoint + (the caller's command, or Cmd).
 */
import { IsolateError } from '../errors';
import { lstatBeneath, readFileBeneath } from './beneath';
import { isWhiteout } from './overlay-format';
import type { Image } from './image';

export interface ImageDefaults {
  env: Record<string, string>;
  cwd: string | undefined;
  user: { uid: number; gid: number; groups: number[] } | undefined;
  entrypoint: string[];
  cmd: string[];
}

function strings(v: unknown, what: string, image: Image): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && !s.includes('\0'))) {
    throw new IsolateError('ERR_BAD_IMAGE', `Image ${image.id}: config.${what} must be an array of strings`, { path: image.id });
  }
  return [...v];
}

/**
 * A file of the union of the image's layers (top layer first wins; a
 * whiteout deletes), or undefined. Resolved inside each layer without
 * following symlinks (beneath.ts): a layer whose `etc` links elsewhere
 * would otherwise have the host's files read for it.
 */
export function readImageFile(image: Image, rel: string): string | undefined {
  for (let i = image.layers.length - 1; i >= 0; i--) {
    const root = image.layers[i]!.path;
    const st = lstatBeneath(root, rel);
    if (!st) continue;
    if (isWhiteout(st) || !st.isFile()) return undefined;
    return readFileBeneath(root, rel);
  }
  return undefined;
}

/** Looks `name` up in a passwd/group-format file: field 2 (0-based) is the id. */
function lookup(text: string | undefined, name: string): string[] | undefined {
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return f;
  }
  return undefined;
}

function resolveUser(image: Image, spec: string): ImageDefaults['user'] {
  if (spec === '') return undefined;
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const passwd = () => readImageFile(image, 'etc/passwd');
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = (passwd() ?? '').split('\n').map((l) => l.split(':')).find((f) => f[2] === u);
    if (entry) gid = Number(entry[3]);
  } else {
    const entry = lookup(passwd(), u);
    if (!entry) throw new IsolateError('ERR_BAD_IMAGE', `Image ${image.id}: config.User ${JSON.stringify(spec)}: no user ${u} in the image's /etc/passwd`, { path: image.id });
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = lookup(readImageFile(image, 'etc/group'), g);
      if (!entry) throw new IsolateError('ERR_BAD_IMAGE', `Image ${image.id}: config.User ${JSON.stringify(spec)}: no group ${g} in the image's /etc/group`, { path: image.id });
      gid = Number(entry[2]);
    }
  }
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1;
  if (!ok(uid) || (gid !== undefined && !ok(gid))) throw new IsolateError('ERR_BAD_IMAGE', `Image ${image.id}: config.User ${JSON.stringify(spec)} is not a valid user`, { path: image.id });
  return { uid, gid: gid ?? uid, groups: [] };
}

export function imageDefaults(image: Image): ImageDefaults {
  const c = image.config.config ?? {};
  const env: Record<string, string> = {};
  for (const kv of strings(c.Env, 'Env', image)) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const cwd = typeof c.WorkingDir === 'string' && c.WorkingDir.startsWith('/') ? c.WorkingDir : undefined;
  return {
    env,
    cwd,
    user: typeof c.User === 'string' ? resolveUser(image, c.User) : undefined,
    entrypoint: strings(c.Entrypoint, 'Entrypoint', image),
    cmd: strings(c.Cmd, 'Cmd', image),
  };
}

/** The command a container of the image runs: Entrypoint + (the given command, or Cmd). */
export function imageCommand(d: ImageDefaults, command: readonly string[]): string[] {
  return [...d.entrypoint, ...(command.length > 0 ? command : d.cmd)];
}
