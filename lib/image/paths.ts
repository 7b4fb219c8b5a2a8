/**
 * The store's on-disk layout and the checks that keep every path we build
 * inside it: a digest from an image (untrusted) becomes a path only after
 * it matched `sha256:<64 hex>`.
 *
 *   <root>/                     0700, root's (or the user's) only
 *     blobs/sha256/<hex>        blobs as imported (layer tars, configs, manifests), read-only
 *     layers/<hex of diffId>/   one per layer: fs/ (overlay format, what overlayfs mounts) and layer.json
 *     images/<hex of id>.json   one per image: its config, manifest and layers
 *     tags.json                 name → image id
 *     tmp/                      imports in progress and their claims (claims.ts), named after their owner (gc() removes a dead one's)
 *     lockfile                  flock()ed while tags, images, layers or blobs change, or gc() runs
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { IsolateError } from '../errors';
import type { Digest } from './contracts';

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** The hex of a well-formed digest; ERR_BAD_IMAGE naming `what` otherwise. */
export function digestHex(digest: unknown, what: string): string {
  const m = typeof digest === 'string' ? DIGEST_RE.exec(digest) : null;
  if (!m) throw new IsolateError('ERR_BAD_IMAGE', `${what}: ${JSON.stringify(digest)} is not a sha256 digest (sha256:<64 hex digits>)`);
  return m[1]!;
}

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** `$XDG_DATA_HOME/isolate-kit`; for root without it `/var/lib/isolate-kit`; else `~/.local/share/isolate-kit`. */
export function defaultStoreRoot(): string {
  const xdg = process.env.XDG_DATA_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'isolate-kit');
  if (process.getuid?.() === 0) return '/var/lib/isolate-kit';
  return join(homedir(), '.local', 'share', 'isolate-kit');
}

export class StorePaths {
  constructor(readonly root: string) {}

  get blobs(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  blob(digest: Digest): string {
    return join(this.blobs, digestHex(digest, 'blob'));
  }

  get layers(): string {
    return join(this.root, 'layers');
  }

  layerDir(diffId: Digest): string {
    return join(this.layers, digestHex(diffId, 'layer'));
  }

  layerFs(diffId: Digest): string {
    return join(this.layerDir(diffId), 'fs');
  }

  get images(): string {
    return join(this.root, 'images');
  }

  image(id: Digest): string {
    return join(this.images, `${digestHex(id, 'image')}.json`);
  }

  get tags(): string {
    return join(this.root, 'tags.json');
  }

  get tmp(): string {
    return join(this.root, 'tmp');
  }

  get lock(): string {
    return join(this.root, 'lockfile');
  }
}
