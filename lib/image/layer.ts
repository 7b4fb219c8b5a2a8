/**
 * A Layer: one read-only filesystem diff in an ImageStore, named by the
 * sha256 of its uncompressed tar (its OCI diff_id). On disk it is a
 * directory in overlayfs's format (what a LayerStack mounts) plus the blob
 * it came from, so exporting it gives back the very bytes imported.
 */
import { createReadStream, createWriteStream, lstatSync, openSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { IsolateError, fromSystemError, invalidOption } from '../errors';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Digest, ExtractLimits, Progress } from './contracts';
import type { ImageStore } from './store';

/** What the store records of a layer (layer.json). */
export interface LayerRecord {
  diffId: Digest;
  /** The blob it was first imported from (later imports of the same content, compressed otherwise, keep theirs too). */
  digest: Digest;
  mediaType: string;
  /** Bytes of that blob. */
  size: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  /** ISO time of the import. */
  created: string;
}

export interface LayerImportOptions {
  /** Where it goes. @default ImageStore.default() */
  store?: ImageStore;
  /** Called as the input is read: bytes done and (for a file) in all. */
  onProgress?: (p: Progress) => void;
  /** Caps on the tar (see docs/images.md); beyond one: ERR_BAD_IMAGE. */
  limits?: Partial<ExtractLimits>;
  /** Keep character and block devices (root only). @default false: ERR_BAD_IMAGE */
  allowDevices?: boolean;
  signal?: AbortSignal;
}

export const MEDIA_TYPE_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function defaultStore(): Promise<ImageStore> {
  // At call time: store.ts imports this module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./store') as typeof import('./store')).ImageStore.default();
}

export class Layer {
  /** @internal Made by the store. */
  constructor(
    readonly store: ImageStore,
    private readonly record: LayerRecord,
  ) {
    Object.freeze(this);
  }

  /** sha256 of the uncompressed tar: the OCI diff_id, and this layer's name. */
  get diffId(): Digest {
    return this.record.diffId;
  }

  /** sha256 of the blob it was imported from. */
  get digest(): Digest {
    return this.record.digest;
  }

  get mediaType(): string {
    return this.record.mediaType;
  }

  /** Bytes of the blob. */
  get size(): number {
    return this.record.size;
  }

  /** Bytes of the uncompressed tar. */
  get uncompressedSize(): number {
    return this.record.uncompressedSize;
  }

  /** The directory overlayfs mounts (overlay format). Never write to it. */
  get path(): string {
    return this.store._paths.layerFs(this.diffId);
  }

  /** The blob file. */
  get blobPath(): string {
    return this.store._paths.blob(this.digest);
  }

  /** A layer tar (plain or gzip, by its magic bytes) into the store. Streaming; digests checked as it goes. */
  static async fromTar(source: string | Readable, options: LayerImportOptions = {}): Promise<Layer> {
    const store = options.store ?? (await defaultStore());
    return store.importLayer(source, options);
  }

  /** A directory's files as a new layer (as `tar` of it would be, in a fixed order). The directory is only read. */
  static async fromDirectory(dir: string, options: { store?: ImageStore } = {}): Promise<Layer> {
    const store = options.store ?? (await defaultStore());
    return store.layerFromDirectory(dir);
  }

  /**
   * Writes the layer as an uncompressed tar (its diff_id is this layer's)
   * to a file path (created; an existing file is an error) or a stream.
   */
  async exportTar(dest: string | Writable): Promise<void> {
    const toFile = typeof dest === 'string';
    if (toFile ? dest === '' : !(dest instanceof Writable)) throw invalidOption('dest', 'a file path (not existing yet) or a Writable stream', dest);
    const exists = () => new IsolateError('ERR_INVALID_OPTION', `${dest} exists; exportTar never overwrites a file`, { option: 'dest', path: dest as string });
    // lstat: a dangling symlink is there too (and 'wx' would refuse it).
    if (toFile && lexists(dest)) throw exists();
    let fd: number | undefined;
    if (toFile) {
      try {
        fd = openSync(dest, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists(); // made meanwhile: not ours to remove
        const code = (err as NodeJS.ErrnoException).code;
        const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
        throw fromSystemError(denied ? 'ERR_PERMISSION' : 'ERR_SETUP_FAILED', `Cannot export layer ${this.diffId} to ${dest}`, err, { option: 'dest' });
      }
    }
    const out = fd !== undefined ? createWriteStream('', { fd, mode: 0o644 }) : (dest as Writable);
    const src = createReadStream(this.blobPath);
    try {
      if (this.mediaType.endsWith('gzip')) await pipeline(src, createGunzip(), out);
      else await pipeline(src, out);
    } catch (err) {
      if (toFile) rmSync(dest, { force: true }); // ours (made by the open above): no half a tar
      const code = (err as NodeJS.ErrnoException).code;
      const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
      throw fromSystemError(denied ? 'ERR_PERMISSION' : 'ERR_SETUP_FAILED', `Cannot export layer ${this.diffId} to ${toFile ? dest : 'the stream'}`, err, {
        option: 'dest',
      });
    }
  }

  toJSON(): LayerRecord {
    return { ...this.record };
  }
}

/** Whether anything, a dangling symlink included, is at `path`. */
function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
