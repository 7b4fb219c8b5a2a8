/**
 * ImageStore: layers and images on disk, content-addressed (layout in
 * paths.ts). Layers are imported into a private temp directory and renamed
 * into place once complete and verified, so a reader never sees half a
 * layer, a failed import leaves nothing, and two imports of the same layer
 * (in one process or several) end with one copy. Tags and image records
 * change under a lock (lock.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Stats, createReadStream, createWriteStream, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { IsolateError, invalidOption, isIsolateError } from '../errors';
import { processStartTime } from '../cgroup/host';
import { MARK_YOUNG_MS, holdOwnerMark, markState, ownerId } from '../cgroup/owner';
import type { Digest, ExportImageSpec, ExtractLimits, ExtractResult, WriteArchiveOptions } from './contracts';
import { Image, type ImageRecord, type ImageRunConfig, type OciImageConfig } from './image';
import { Layer, MEDIA_TYPE_TAR, MEDIA_TYPE_TAR_GZIP, type LayerImportOptions, type LayerRecord } from './layer';
import { type ClaimKind, claimSuffix, readClaims } from './claims';
import { withLock } from './lock';
import { removeUnlessLeased } from '../layer-leases';
import { defaultStoreRoot, digestHex, isDigest, StorePaths } from './paths';
import { extractLayer } from './tar-read';
import { packToFile, type PackOptions } from './tar-write';
import { readImageArchive, writeImageArchive } from './oci';

export interface ImageStoreOptions {
  /** Its directory (created, mode 0700). @default $XDG_DATA_HOME/isolate-kit, /var/lib/isolate-kit for root */
  root?: string;
}

export interface ImportImageOptions {
  /** Another name for the imported image (when the archive holds one image). */
  tag?: string;
  onProgress?: LayerImportOptions['onProgress'];
  limits?: LayerImportOptions['limits'];
  allowDevices?: boolean;
}

export interface ExportImageOptions {
  /** @default 'oci' */
  format?: 'oci' | 'docker';
  /** One tar file (true) or an OCI layout directory (false; 'oci' only). @default true */
  tar?: boolean;
}

export interface GcResult {
  layers: Digest[];
  blobs: Digest[];
  /** Bytes freed (blobs and layer files, apparent sizes). */
  bytes: number;
}

/** 'busybox' → 'busybox:latest'; refs with a tag or digest stay. */
export function normalizeTag(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.includes(':') || last.includes('@') ? name : `${name}:latest`;
}

/**
 * The spellings of one Docker reference, as `docker` treats them alike:
 * 'busybox' = 'busybox:latest' = 'docker.io/library/busybox:latest', and
 * 'me/app' = 'docker.io/me/app:latest'. Tried in order when looking a name up.
 */
export function nameCandidates(ref: string): string[] {
  const tagged = normalizeTag(ref);
  const out = [ref, tagged];
  const first = tagged.split('/')[0]!;
  const hasRegistry = tagged.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) out.push(tagged.includes('/') ? `docker.io/${tagged}` : `docker.io/library/${tagged}`);
  for (const prefix of ['docker.io/library/', 'docker.io/']) {
    if (tagged.startsWith(prefix)) out.push(tagged.slice(prefix.length));
  }
  return [...new Set(out)];
}

const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;

function checkName(name: unknown, option: string): string {
  // Nor one that reads as an image ID: an ID is never looked up among names.
  if (typeof name !== 'string' || !TAG_RE.test(name) || name.includes('..') || /^sha256:/.test(name) || /^[0-9a-f]{64}(:|$)/.test(name)) {
    throw invalidOption(option, 'an image name such as "busybox" or "example.com/app:1.0"', name);
  }
  return name;
}

/** A name given by the caller: 'busybox' means 'busybox:latest', as in Docker. */
function checkTag(name: unknown, option: string): string {
  return normalizeTag(checkName(name, option));
}

let tmpCounter = 0;

/** What one import claimed (files in tmp/, see claims.ts) and what it added to the store. */
interface ImportTrack {
  claims: string[];
  layers: Digest[];
  blobs: Digest[];
}

function newTrack(): ImportTrack {
  return { claims: [], layers: [], blobs: [] };
}



/**
 * A store directory must be a real directory (no symlink), this process's
 * user's, and writable by no one else: gc() removes what it finds in tmp/
 * and blobs/, and layers are trusted once imported, so another user able
 * to put a symlink there (tmp -> their victim) or change a layer would
 * have root's gc() delete, or a container run, what they chose.
 */
function checkOwnDir(dir: string, root: string): void {
  const st = lstatSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    const what = st.isSymbolicLink() ? 'is a symlink' : !st.isDirectory() ? 'is not a directory' : `belongs to uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
    throw new IsolateError(
      'ERR_PERMISSION',
      `The image store at ${root} is not safe to use: ${dir} ${what}; it must be a directory of this process's user (uid ${uid}) that no one else can write`,
      { path: dir },
    );
  }
}

/** How long gc() leaves a layer no image refers to yet (see gc()). */
export const GC_GRACE_MS = 10 * 60 * 1000;
const stores = new Map<string, ImageStore>();

export class ImageStore {
  /** @internal */
  readonly _paths: StorePaths;

  constructor(options: ImageStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    for (const k of Object.keys(options)) {
      if (k !== 'root') throw new IsolateError('ERR_INVALID_OPTION', `Unknown ImageStore option \`${k}\`; known: root`, { option: k });
    }
    if (options.root !== undefined && (typeof options.root !== 'string' || options.root === '')) throw invalidOption('root', 'a directory path', options.root);
    this._paths = new StorePaths(resolve(options.root ?? defaultStoreRoot()));
    for (const d of [this._paths.root, this._paths.blobs, this._paths.layers, this._paths.images, this._paths.tmp]) {
      try {
        mkdirSync(d, { recursive: true, mode: 0o700 });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new IsolateError(code === 'EACCES' || code === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_SETUP_FAILED', `Cannot make the image store at ${this._paths.root}: ${code}`, {
          path: d,
          cause: err,
        });
      }
      checkOwnDir(d, this._paths.root);
    }
  }

  /** The store at the default root (one object per root in this process). */
  static default(): ImageStore {
    const root = resolve(defaultStoreRoot());
    let s = stores.get(root);
    if (!s) stores.set(root, (s = new ImageStore({ root })));
    return s;
  }

  get root(): string {
    return this._paths.root;
  }

  // ---- layers ----

  /** The layer with this diff_id; ERR_INVALID_OPTION when the store has none. */
  layer(diffId: Digest): Layer {
    const rec = this.readLayer(diffId);
    if (!rec) throw new IsolateError('ERR_INVALID_OPTION', `No layer ${diffId} in the image store at ${this.root}`, { option: 'diffId' });
    return new Layer(this, rec);
  }

  hasLayer(diffId: Digest): boolean {
    return isDigest(diffId) && this.readLayer(diffId) !== undefined;
  }

  /** Every layer in the store. */
  layers(): Layer[] {
    return readdirSync(this._paths.layers)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((hex) => this.readLayer(`sha256:${hex}`))
      .filter((r): r is LayerRecord => r !== undefined)
      .map((r) => new Layer(this, r));
  }

  private readLayer(diffId: Digest): LayerRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this._paths.layerDir(diffId), 'layer.json'), 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
  }

  /** A fresh directory under tmp/, named after this process (gc() removes a dead owner's). */
  private tmpPath(what: string): string {
    // The owner mark gc() checks when the names read as dead (cgroup/owner.ts).
    holdOwnerMark(this._paths.tmp);
    const name = `${ownerId()}-${(tmpCounter++).toString(36)}${randomBytes(3).toString('hex')}-${what}`;
    return join(this._paths.tmp, name);
  }

  /**
   * A layer tar (file or stream, plain or gzip) into the store: read once,
   * extracted and kept as a blob at the same time; renamed into place when
   * complete. `expect`: digests the source claims (from a manifest),
   * checked before anything becomes visible.
   */
  async importLayer(
    source: string | Readable,
    options: LayerImportOptions & { expect?: { digest?: Digest; mediaType?: string } } = {},
  ): Promise<Layer> {
    const { layer } = await this.importLayerTracked(source, options);
    return layer;
  }

  /**
   * importLayer, also saying whether the layer is new in the store. With
   * `track`, the claims stay (the caller lets go of them) and what was
   * added is listed there; without, the claims go when the layer is in.
   */
  private async importLayerTracked(
    source: string | Readable,
    options: LayerImportOptions & { expect?: { digest?: Digest; mediaType?: string } },
    track?: ImportTrack,
  ): Promise<{ layer: Layer; created: boolean }> {
    let input: Readable;
    let bytesTotal: number | undefined;
    if (typeof source === 'string') {
      let st;
      try {
        st = statSync(source);
      } catch (err) {
        throw new IsolateError('ERR_INVALID_OPTION', `Layer tar ${source} does not exist`, { option: 'source', path: source, cause: err });
      }
      if (!st.isFile()) throw new IsolateError('ERR_INVALID_OPTION', `Layer tar ${source} is not a file`, { option: 'source', path: source });
      bytesTotal = st.size;
      input = createReadStream(source, { highWaterMark: 1 << 20 });
    } else if (source instanceof Readable) {
      input = source;
    } else {
      throw invalidOption('source', 'a tar file path or a Readable stream', source);
    }
    const work = this.tmpPath('layer');
    mkdirSync(work, { mode: 0o700 });
    const blobTmp = `${work}.blob`;
    try {
      mkdirSync(join(work, 'fs'), { mode: 0o755 });
      // One read feeds both the extraction and the blob file; pipe() to two
      // destinations waits for the slower one.
      const toExtract = new PassThrough({ highWaterMark: 1 << 20 });
      const toBlob = createWriteStream(blobTmp, { mode: 0o444 });
      const inputDone = new Promise<void>((res, rej) => {
        input.once('error', rej);
        input.once('end', res);
      });
      input.pipe(toExtract);
      input.pipe(toBlob);
      let res: ExtractResult;
      try {
        const extractOpts: Parameters<typeof extractLayer>[2] = {};
        if (options.limits) extractOpts.limits = options.limits;
        if (options.onProgress) extractOpts.onProgress = options.onProgress;
        if (bytesTotal !== undefined) extractOpts.bytesTotal = bytesTotal;
        if (options.allowDevices) extractOpts.allowDevices = true;
        if (options.signal) extractOpts.signal = options.signal;
        [res] = await Promise.all([extractLayer(toExtract, join(work, 'fs'), extractOpts), inputDone, finished(toBlob)]);
      } catch (err) {
        input.unpipe();
        input.destroy();
        toBlob.destroy();
        throw err;
      }
      const expect = options.expect;
      if (expect?.digest && expect.digest !== res.digest) {
        throw new IsolateError('ERR_BAD_IMAGE', `Layer blob ${expect.digest} does not match its digest: its bytes hash to ${res.digest}`, { path: expect.digest });
      }
      const mediaType = expect?.mediaType ?? (res.compression === 'gzip' ? MEDIA_TYPE_TAR_GZIP : MEDIA_TYPE_TAR);
      const rec: LayerRecord = { diffId: res.diffId, digest: res.digest, mediaType, size: res.size, uncompressedSize: res.uncompressedSize, created: new Date().toISOString() };
      const t = track ?? newTrack();
      try {
        return await withLock(this._paths.lock, () => this.commitLayer(rec, work, blobTmp, t));
      } finally {
        if (!track) this.release(t);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(blobTmp, { force: true });
    }
  }

  /**
   * The end of a layer's import, under the store's lock: claims the layer
   * and its blob for the import (claims.ts), then puts each in place or,
   * when the store has it already, refreshes it (so that gc()'s grace
   * starts again) and drops the copy just made.
   */
  private commitLayer(rec: LayerRecord, work: string, blobTmp: string, t: ImportTrack): { layer: Layer; created: boolean } {
    t.claims.push(this.claim('blob', rec.digest), this.claim('layer', rec.diffId));
    const blob = this._paths.blob(rec.digest);
    const blobAdded = !touch(blob);
    if (blobAdded) {
      renameSync(blobTmp, blob);
      t.blobs.push(rec.digest);
    }
    try {
      const dir = this._paths.layerDir(rec.diffId);
      const existing = this.readLayer(rec.diffId);
      if (existing) {
        touch(join(dir, 'layer.json'));
        return { layer: new Layer(this, existing), created: false };
      }
      writeFileSync(join(work, 'layer.json'), `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o444 });
      try {
        renameSync(work, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Put there meanwhile by a process not taking the lock: theirs stands.
        const theirs = code === 'EEXIST' || code === 'ENOTEMPTY' ? this.readLayer(rec.diffId) : undefined;
        if (theirs) return { layer: new Layer(this, theirs), created: false };
        throw err;
      }
      t.layers.push(rec.diffId);
      return { layer: new Layer(this, rec), created: true };
    } catch (err) {
      if (blobAdded) {
        rmSync(blob, { force: true });
        t.blobs.pop();
      }
      throw err;
    }
  }

  /** A claim (claims.ts) of this process on a layer or blob; returns its file, for release(). */
  private claim(kind: ClaimKind, digest: Digest): string {
    const path = this.tmpPath(claimSuffix(kind, digestHex(digest, kind)));
    writeFileSync(path, '', { mode: 0o600 });
    return path;
  }

  /** Lets go of an import's claims. */
  private release(t: ImportTrack): void {
    for (const c of t.claims.splice(0)) rmSync(c, { force: true });
  }

  /**
   * After a failed import, under the store's lock: lets go of its claims,
   * then removes the layers and blobs it added that no image refers to and
   * no other import claims (a failure leaves nothing behind).
   */
  private dropUnused(t: ImportTrack): void {
    this.release(t);
    const claimed = readClaims(this._paths.tmp);
    const usedLayers = this.referencedLayers();
    for (const d of t.layers) {
      if (!usedLayers.has(d) && !claimed.layer.has(digestHex(d, 'layer'))) rmSync(this._paths.layerDir(d), { recursive: true, force: true });
    }
    const usedBlobs = this.referencedBlobs();
    for (const d of t.blobs) {
      const hex = digestHex(d, 'blob');
      if (!usedBlobs.has(hex) && !claimed.blob.has(hex)) rmSync(this._paths.blob(d), { force: true });
    }
  }

  /**
   * A directory (overlay format: whiteouts and opaque directories become OCI
   * ones) as a layer: packed into a tar (the blob), then imported from it.
   * `exclude(relative path, lstat)`: entries to leave out (commit() leaves
   * out setup's mount points). `limits`: the import's, applied to the
   * packing too, from each entry's lstat before it is written (a sparse
   * file counts at its full length, as the tar holds it), so a layer over
   * them costs no disk: ERR_BAD_IMAGE, and nothing is left in tmp/.
   */
  async layerFromDirectory(dir: string, options: { exclude?: (rel: string, st: Stats) => boolean; limits?: Partial<ExtractLimits> } = {}): Promise<Layer> {
    let st;
    try {
      st = statSync(dir);
    } catch (err) {
      throw new IsolateError('ERR_INVALID_OPTION', `Directory ${dir} does not exist`, { option: 'dir', path: dir, cause: err });
    }
    if (!st.isDirectory()) throw new IsolateError('ERR_INVALID_OPTION', `${dir} is not a directory`, { option: 'dir', path: dir });
    const tarTmp = `${this.tmpPath('pack')}.tar`;
    const packOpts: PackOptions = {};
    if (options.exclude) packOpts.exclude = options.exclude;
    if (options.limits !== undefined) packOpts.limits = options.limits;
    try {
      // packToFile: the file is open before packing starts and removed on
      // failure once closed (a write stream opened late could make it again).
      await packToFile(dir, tarTmp, packOpts);
      return await this.importLayer(tarTmp, options.limits !== undefined ? { limits: options.limits } : {});
    } finally {
      rmSync(tarTmp, { force: true });
    }
  }

  // ---- images ----

  private readTags(): Record<string, Digest> {
    try {
      return JSON.parse(readFileSync(this._paths.tags, 'utf8')) as Record<string, Digest>;
    } catch {
      return {};
    }
  }

  private writeTags(tags: Record<string, Digest>): void {
    const tmp = `${this.tmpPath('tags')}.json`;
    writeFileSync(tmp, `${JSON.stringify(tags, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this._paths.tags);
  }

  private readRecord(id: Digest): ImageRecord | undefined {
    try {
      return JSON.parse(readFileSync(this._paths.image(id), 'utf8')) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  private load(rec: ImageRecord, tags: Record<string, Digest>): Image {
    let config: OciImageConfig;
    try {
      config = JSON.parse(readFileSync(this._paths.blob(rec.id), 'utf8')) as OciImageConfig;
    } catch (err) {
      throw new IsolateError('ERR_BAD_IMAGE', `Image ${rec.id} in the image store at ${this.root}: its config blob cannot be read (${(err as NodeJS.ErrnoException).code ?? 'not JSON'})`, {
        path: this._paths.blob(rec.id),
        cause: err,
      });
    }
    const layers = rec.layers.map((l) => this.layer(l.diffId));
    const names = Object.keys(tags)
      .filter((t) => tags[t] === rec.id)
      .sort();
    return new Image(this, rec, config, layers, names);
  }

  /** Every image, with its tags. */
  images(): Image[] {
    const tags = this.readTags();
    return readdirSync(this._paths.images)
      .filter((n) => /^[0-9a-f]{64}\.json$/.test(n))
      .map((n) => this.readRecord(`sha256:${n.slice(0, 64)}`))
      .filter((r): r is ImageRecord => r !== undefined)
      .flatMap((r) => {
        // One broken record (its blob gone) must not hide every other image.
        try {
          return [this.load(r, tags)];
        } catch (err) {
          if (isIsolateError(err) && (err.code === 'ERR_BAD_IMAGE' || err.code === 'ERR_INVALID_OPTION')) return [];
          throw err;
        }
      });
  }

  /** An image by name ('busybox', 'busybox:1.36'), ID ('sha256:…') or a unique ID prefix of 12+ hex digits. */
  image(ref: string): Image {
    const id = this.resolve(ref);
    return this.load(this.readRecord(id)!, this.readTags());
  }

  private resolve(ref: unknown): Digest {
    if (typeof ref !== 'string' || ref === '') throw invalidOption('ref', 'an image name or ID', ref);
    // An ID, or what looks like one, is only ever an ID: a tag named like
    // one (an archive's, say) must not answer for it.
    if (isDigest(ref) || /^sha256:/.test(ref)) {
      if (isDigest(ref) && this.readRecord(ref)) return ref;
      throw new IsolateError('ERR_INVALID_OPTION', `No image ${ref} in the image store at ${this.root}`, { option: 'ref' });
    }
    if (/^[0-9a-f]{12,64}$/.test(ref)) {
      const hits = readdirSync(this._paths.images).filter((n) => n.startsWith(ref) && n.endsWith('.json'));
      if (hits.length === 1) return `sha256:${hits[0]!.slice(0, 64)}`;
      if (hits.length > 1) throw new IsolateError('ERR_INVALID_OPTION', `Image ID prefix ${ref} is ambiguous (${hits.length} images)`, { option: 'ref' });
      throw new IsolateError('ERR_INVALID_OPTION', `No image with ID prefix ${ref} in the image store at ${this.root}`, { option: 'ref' });
    }
    const tags = this.readTags();
    for (const name of nameCandidates(ref)) {
      const id = tags[name];
      if (id && this.readRecord(id)) return id;
    }
    throw new IsolateError('ERR_INVALID_OPTION', `No image ${ref} in the image store at ${this.root}`, { option: 'ref' });
  }

  /** Points `name` at an image (moving it from another image if it had one). */
  async tag(ref: string, name: string): Promise<void> {
    const tag = checkTag(name, 'name');
    await withLock(this._paths.lock, () => {
      const id = this.resolve(ref);
      const tags = this.readTags();
      tags[tag] = id;
      this.writeTags(tags);
    });
  }

  /**
   * Removes an image: by name, just that name (the image goes with its last
   * name); by ID, the image and all its names. Its layers stay until gc().
   */
  async removeImage(ref: string): Promise<void> {
    await withLock(this._paths.lock, () => {
      const id = this.resolve(ref);
      const tags = this.readTags();
      const byName = !isDigest(ref) && !/^[0-9a-f]{12,64}$/.test(ref);
      if (byName) delete tags[nameCandidates(ref).find((n) => tags[n] === id)!];
      else for (const t of Object.keys(tags)) if (tags[t] === id) delete tags[t];
      this.writeTags(tags);
      if (!Object.values(tags).includes(id)) rmSync(this._paths.image(id), { force: true });
    });
  }

  /**
   * Stores a blob given whole (configs, manifests); returns its digest.
   * Under the store's lock: found or added, it is refreshed, so gc() in
   * another process gives it its grace; with `t`, it is claimed for the
   * import and listed there if added.
   */
  private putBlob(bytes: Buffer, t?: ImportTrack): Digest {
    const digest: Digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const path = this._paths.blob(digest);
    if (t) t.claims.push(this.claim('blob', digest));
    if (!touch(path)) {
      const tmp = `${this.tmpPath('blob')}`;
      writeFileSync(tmp, bytes, { mode: 0o444 });
      renameSync(tmp, path);
      t?.blobs.push(digest);
    }
    return digest;
  }

  /** Records an image (config stored as given) and points `tags` at it. */
  private async record(config: Buffer, descriptors: ImageRecord['layers'], manifest: ImageRecord['manifest'], tags: string[], t?: ImportTrack): Promise<Image> {
    const id = await withLock(this._paths.lock, () => {
      const id = this.putBlob(config, t);
      const rec: ImageRecord = { id, manifest, layers: descriptors, created: new Date().toISOString() };
      const tagsNow = this.readTags();
      const existing = this.readRecord(id);
      if (!existing || (!existing.manifest && manifest)) {
        const tmp = `${this.tmpPath('image')}.json`;
        writeFileSync(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
        renameSync(tmp, this._paths.image(id));
      }
      for (const name of tags) tagsNow[name] = id;
      this.writeTags(tagsNow);
      return id;
    });
    return this.image(id);
  }

  /**
   * An image of `layers` (base first) with a config of `run` (Env, Cmd,
   * Entrypoint, WorkingDir, User): what commit() makes. Named `tag` if given.
   */
  async createImage(layers: readonly Layer[], options: { config?: ImageRunConfig; tag?: string; history?: string } = {}): Promise<Image> {
    if (!Array.isArray(layers) || layers.length === 0 || !layers.every((l) => l instanceof Layer && l.store === this)) {
      throw invalidOption('layers', 'a non-empty array of Layers of this store', layers);
    }
    const tag = options.tag === undefined ? undefined : checkTag(options.tag, 'tag');
    const created = new Date().toISOString();
    const config: OciImageConfig = {
      created,
      architecture: ociArch(),
      os: 'linux',
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created, created_by: i === layers.length - 1 && options.history ? options.history : 'isolate-kit' })),
    };
    return this.record(
      Buffer.from(JSON.stringify(config)),
      layers.map((l) => ({ diffId: l.diffId, digest: l.digest, mediaType: l.mediaType, size: l.size })),
      null,
      tag ? [tag] : [],
    );
  }

  /**
   * Images from an OCI image layout (directory or tar) or a `docker save`
   * archive. Every blob is checked against its digest and every layer
   * against the config's diff_ids; a bad one fails the import
   * (ERR_BAD_IMAGE), and the layers it added go again.
   */
  async importImage(path: string, options: ImportImageOptions = {}): Promise<Image[]> {
    if (typeof path !== 'string' || path === '') throw invalidOption('path', 'an image archive or layout path', path);
    const extra = options.tag === undefined ? undefined : checkTag(options.tag, 'tag');
    // A gzip'd archive is unpacked in tmp/, where gc() finds it after a crash.
    const archive = await readImageArchive(path, { scratch: this.tmpPath('archive') });
    const t = newTrack();
    try {
      if (extra && archive.images.length !== 1) {
        throw new IsolateError('ERR_INVALID_OPTION', `\`tag\` names one image, but ${path} holds ${archive.images.length}`, { option: 'tag' });
      }
      // Its names first, before anything is written: a bad one is the archive's fault.
      const names = archive.images.map((img) =>
        img.tags.map((t) => {
          try {
            return checkName(t, 'tag');
          } catch {
            throw new IsolateError('ERR_BAD_IMAGE', `Image archive ${path} names an image ${JSON.stringify(t)}, which is not an image name (or reads as an image ID)`, { path });
          }
        }),
      );
      const ready: { config: Buffer; descriptors: ImageRecord['layers']; manifest: ImageRecord['manifest']; tags: string[] }[] = [];
      for (const [k, img] of archive.images.entries()) {
        const configDigest = `sha256:${createHash('sha256').update(img.config).digest('hex')}`;
        if (configDigest !== img.configDigest) {
          throw new IsolateError('ERR_BAD_IMAGE', `Image config ${img.configDigest} does not match its digest (${configDigest})`, { path: img.configDigest });
        }
        let config: OciImageConfig;
        try {
          config = JSON.parse(img.config.toString('utf8')) as OciImageConfig;
        } catch (err) {
          throw new IsolateError('ERR_BAD_IMAGE', `Image config ${img.configDigest} is not JSON`, { path: img.configDigest, cause: err });
        }
        const diffIds = config.rootfs?.diff_ids;
        if (!Array.isArray(diffIds) || diffIds.length !== img.layers.length || !diffIds.every(isDigest)) {
          throw new IsolateError('ERR_BAD_IMAGE', `Image config ${img.configDigest}: rootfs.diff_ids must list one sha256 digest per layer (${img.layers.length})`, {
            path: img.configDigest,
          });
        }
        const layers: Layer[] = [];
        for (const [i, src] of img.layers.entries()) {
          const importOpts: LayerImportOptions & { expect: { digest: Digest; mediaType: string } } = { expect: { digest: src.digest, mediaType: src.mediaType } };
          if (options.onProgress) importOpts.onProgress = options.onProgress;
          if (options.limits) importOpts.limits = options.limits;
          if (options.allowDevices) importOpts.allowDevices = true;
          const { layer } = await this.importLayerTracked(src.open(), importOpts, t);
          if (layer.diffId !== diffIds[i]) {
            throw new IsolateError('ERR_BAD_IMAGE', `Layer ${i} (${src.digest}) unpacks to ${layer.diffId}, but the config says ${diffIds[i]}`, { path: src.digest });
          }
          layers.push(layer);
        }
        const bytes = img.manifest;
        const manifest =
          bytes && img.manifestDigest ? { digest: await withLock(this._paths.lock, () => this.putBlob(bytes, t)), mediaType: manifestMediaType(bytes), size: bytes.length } : null;
        const descriptors = img.layers.map((l, i) => ({ diffId: layers[i]!.diffId, digest: l.digest, mediaType: l.mediaType, size: l.size }));
        // As the archive names them: an OCI ref.name may be only a tag
        // ('latest', as umoci writes it), which image() still finds.
        const tags = names[k]!;
        if (extra) tags.push(extra);
        ready.push({ config: img.config, descriptors, manifest, tags });
      }
      // Recorded and named only once every image of the archive checked
      // out: a failure above leaves no image, and no name moved.
      const out: Image[] = [];
      for (const r of ready) out.push(await this.record(r.config, r.descriptors, r.manifest, r.tags, t));
      return out;
    } catch (err) {
      // What this import added and nothing else uses or claims: away again
      // (if the lock cannot be had, gc() takes it after its grace).
      await withLock(this._paths.lock, () => this.dropUnused(t)).catch(() => undefined);
      throw err;
    } finally {
      this.release(t);
      await archive.close();
    }
  }

  /** Writes images (by name or ID) as an OCI layout (tar or directory) or a `docker save` tar. */
  async exportImage(refs: string | readonly string[], dest: string, options: ExportImageOptions = {}): Promise<void> {
    const list = typeof refs === 'string' ? [refs] : [...refs];
    if (list.length === 0) throw invalidOption('refs', 'at least one image', refs);
    if (typeof dest !== 'string' || dest === '') throw invalidOption('dest', 'a path', dest);
    const format = options.format ?? 'oci';
    if (format !== 'oci' && format !== 'docker') throw invalidOption('format', "'oci' or 'docker'", options.format);
    const tar = options.tar ?? true;
    if (typeof tar !== 'boolean') throw invalidOption('tar', 'a boolean', options.tar);
    if (format === 'docker' && !tar) throw invalidOption('tar', "true for format 'docker' (docker load reads a tar)", tar);
    const specs: ExportImageSpec[] = list.map((ref) => {
      const img = this.image(ref);
      const byName = !isDigest(ref) && !/^[0-9a-f]{12,64}$/.test(ref);
      const rec = img._record();
      return {
        tags: byName ? [normalizeTag(ref)] : [...img.tags],
        config: readFileSync(this._paths.blob(img.id)),
        layers: rec.layers.map((l) => ({ ...l, path: this._paths.blob(l.digest) })),
      };
    });
    const opts: WriteArchiveOptions = { format, tar };
    await writeImageArchive(resolve(dest), specs, opts);
  }

  // ---- gc ----

  private referencedLayers(): Set<Digest> {
    const used = new Set<Digest>();
    for (const n of readdirSync(this._paths.images)) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      const rec = this.readRecord(`sha256:${n.slice(0, 64)}`);
      for (const l of rec?.layers ?? []) used.add(l.diffId);
    }
    return used;
  }

  /** Layers of this store some live overlay mount uses (any process's mount namespace). */
  private mountedLayers(): Set<Digest> {
    const used = new Set<Digest>();
    const prefix = `${this._paths.layers}/`;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      } catch {
        continue; // gone, or not ours to read
      }
      if (!text.includes(prefix)) continue;
      for (const m of text.matchAll(/[0-9a-f]{64}/g)) {
        const at = m.index ?? 0;
        if (text.slice(at - prefix.length, at) === prefix) used.add(`sha256:${m[0]}`);
      }
    }
    return used;
  }

  /**
   * Removes layers and blobs no image refers to and no running container
   * uses, and what imports of dead processes left in tmp/. Returns what went.
   * A layer younger than `graceMs` stays too: between commit() (or an
   * import) and the createImage() that refers to it, a layer belongs to no
   * image yet, and a gc() in another process must not take it away.
   */
  async gc(options: { graceMs?: number } = {}): Promise<GcResult> {
    const grace = options.graceMs ?? GC_GRACE_MS;
    if (!Number.isFinite(grace) || grace < 0) throw invalidOption('graceMs', 'a number of milliseconds, 0 or more', options.graceMs);
    return withLock(this._paths.lock, () => {
      const out: GcResult = { layers: [], blobs: [], bytes: 0 };
      this.sweepTmp();
      // What imports in progress use, found or added and not recorded yet.
      const claimed = readClaims(this._paths.tmp);
      const keepLayers = new Set([...this.referencedLayers(), ...this.mountedLayers()]);
      for (const hex of readdirSync(this._paths.layers)) {
        const diffId = `sha256:${hex}`;
        if (!/^[0-9a-f]{64}$/.test(hex) || keepLayers.has(diffId) || claimed.layer.has(hex)) continue;
        const rec = this.readLayer(diffId);
        // Young: made, or found again by an import (which refreshes its
        // layer.json), in the last `grace`.
        if (rec && Date.now() - Math.max(Date.parse(rec.created), mtimeMs(join(this._paths.layers, hex, 'layer.json'))) < grace) continue;
        // A running container holds its layers (layer-leases.ts), seen
        // from every pid namespace, where mountinfo is only this one's.
        const gone = removeUnlessLeased(this._paths.layerFs(diffId), () => rmSync(join(this._paths.layers, hex), { recursive: true, force: true }));
        if (!gone) continue;
        out.bytes += rec?.uncompressedSize ?? 0;
        out.layers.push(diffId);
      }
      const keepBlobs = this.referencedBlobs();
      for (const hex of readdirSync(this._paths.blobs)) {
        if (keepBlobs.has(hex) || claimed.blob.has(hex)) continue;
        const p = join(this._paths.blobs, hex);
        const st = lstatSync(p);
        // Young: an import wrote it (or found it and refreshed it) in the
        // last `grace` (a claim covers it only until that import ends).
        if (Date.now() - st.mtimeMs < grace) continue;
        out.bytes += st.size;
        rmSync(p, { force: true });
        out.blobs.push(`sha256:${hex}`);
      }
      return out;
    });
  }

  /** The hex of every blob an image record or a layer in the store refers to. */
  private referencedBlobs(): Set<string> {
    const keep = new Set<string>();
    for (const n of readdirSync(this._paths.images)) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      const rec = this.readRecord(`sha256:${n.slice(0, 64)}`);
      if (!rec) continue;
      keep.add(digestHex(rec.id, 'image'));
      if (rec.manifest) keep.add(digestHex(rec.manifest.digest, 'manifest'));
      for (const l of rec.layers) keep.add(digestHex(l.digest, 'layer blob'));
    }
    for (const l of this.layers()) keep.add(digestHex(l.digest, 'layer blob'));
    return keep;
  }

  /**
   * Removes from tmp/ what imports of dead processes left (claims too).
   * Only what an import names (<pid>-<start time>-…), of a dead owner:
   * dead by its name (as our pid namespace sees it) and by its mark (as any
   * sees it: an owner in another pid or time namespace holds it). A mark
   * made in the last seconds, unlocked, with nothing of its owner beside
   * it: its owner may be between the open and the lock.
   */
  private sweepTmp(): void {
    const entries = readdirSync(this._paths.tmp).map((n) => ({ n, m: /^(\d+-\d+)(-|\.owner$)/.exec(n) }));
    const withEntries = new Set(entries.filter((e) => e.m?.[2] === '-').map((e) => e.m![1]!));
    const states = new Map<string, ReturnType<typeof markState>>();
    for (const { n, m } of entries) {
      if (!m) continue;
      const owner = m[1]!;
      const [pid, start] = owner.split('-').map(Number) as [number, number];
      if (processStartTime(pid) === start) continue;
      let st = states.get(owner);
      if (st === undefined) states.set(owner, (st = markState(join(this._paths.tmp, `${owner}.owner`), MARK_YOUNG_MS)));
      if (st === 'held' || (st === 'new' && !withEntries.has(owner))) continue;
      rmSync(join(this._paths.tmp, n), { recursive: true, force: true });
    }
  }
}

/** A file's mtime in ms; 0 when it is gone. */
function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Sets a file's times to now; false when it is gone. */
function touch(path: string): boolean {
  try {
    const now = new Date();
    utimesSync(path, now, now);
    return true;
  } catch {
    return false;
  }
}

function manifestMediaType(manifest: Buffer): string {
  try {
    const m = JSON.parse(manifest.toString('utf8')) as { mediaType?: unknown };
    if (typeof m.mediaType === 'string') return m.mediaType;
  } catch {
    /* checked by the reader */
  }
  return 'application/vnd.oci.image.manifest.v1+json';
}

/** Node's arch as OCI (GOARCH) names it. */
function ociArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

