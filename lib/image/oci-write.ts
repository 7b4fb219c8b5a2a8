/**
 * Writes images as an OCI image layout (a directory or one tar) or a
 * `docker save` tar, for `docker load`, `podman load`, skopeo and umoci.
 *
 * OCI: oci-layout, index.json with one manifest descriptor per image and
 * tag (org.opencontainers.image.ref.name = the tag as given, e.g.
 * 'busybox:latest'; an untagged image gets one descriptor without a name),
 * blobs/sha256/<hex> for configs, manifests and layers, each written once.
 * Layer blobs are copied as they are; docker media types become their OCI
 * equivalents (same bytes, same digest).
 *
 * docker: manifest.json [{Config: '<id hex>.json', RepoTags, Layers:
 * ['<diff_id hex>/layer.tar', …]}], repositories, the configs and the layer
 * tars. Docker wants each layer.tar uncompressed, hashing to its diff_id,
 * so gzip blobs are decompressed as they are written and that is checked.
 *
 * Every byte copied is checked against the digest the caller gave (a
 * corrupt store must not produce a plausible archive). The output appears
 * at `dest` only when complete: it is written to `dest.tmp-<random>` and
 * renamed; on failure that is removed. An existing `dest` is never
 * replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Header } from 'tar';
import { IsolateError, fromSystemError, invalidOption } from '../errors';
import type { Digest, ExportImageSpec, WriteArchiveOptions } from './contracts';
import { digestHex, isDigest } from './paths';
import { ANNOTATION_REF_NAME, LAYER_TYPES, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST } from './oci-read';

type LayerSpec = ExportImageSpec['layers'][number];

function sha256(data: Buffer): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

// ---- sinks: where the files go ----

/** What a streamed member turned out to be. */
interface Copied {
  size: number;
  digest: Digest;
}

interface Sink {
  dir(name: string): Promise<void>;
  file(name: string, data: Buffer): Promise<void>;
  /** Writes `src` as file `name`; returns the size and sha256 of what was written. */
  stream(name: string, src: AsyncIterable<Buffer>): Promise<Copied>;
  /** Completes the output (flushed to disk). */
  finish(): Promise<void>;
  /** Releases what it holds after a failure (the caller removes the output). */
  abort(): Promise<void>;
}

async function writeAll(fh: FileHandle, data: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < data.length) done += (await fh.write(data, done, data.length - done, at + done)).bytesWritten;
}

/** Files in directory `root` (the temp name of the output). */
async function dirSink(root: string): Promise<Sink> {
  await mkdir(root, { mode: 0o755 });
  const writeFile = async (name: string, body: (fh: FileHandle) => Promise<void>): Promise<void> => {
    const fh = await open(join(root, name), 'wx', 0o644);
    try {
      await body(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
  return {
    dir: (name) => mkdir(join(root, name), { mode: 0o755 }).then(() => undefined),
    file: (name, data) => writeFile(name, (fh) => writeAll(fh, data, 0)),
    async stream(name, src) {
      const hash = createHash('sha256');
      let size = 0;
      await writeFile(name, async (fh) => {
        for await (const chunk of src) {
          hash.update(chunk);
          await writeAll(fh, chunk, size);
          size += chunk.length;
        }
      });
      return { size, digest: `sha256:${hash.digest('hex')}` };
    },
    async finish() {},
    async abort() {},
  };
}

/** A tar header for `name`; fixed owner, mode and time so equal inputs give equal archives. */
function tarHeader(name: string, type: 'File' | 'Directory', size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new IsolateError('ERR_INVALID_OPTION', `Archive member name too long for a plain tar header: ${name}`);
  const h = new Header({ path: name, type, size, mode: type === 'Directory' ? 0o755 : 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) });
  const block = Buffer.alloc(512);
  // encode() reports "needs pax" for a size past 8 GiB too; it has then
  // written the size in base-256, which GNU tar, Go and node-tar read.
  // Our names are short (blobs/sha256/<hex> is 77 bytes), so nothing else
  // ever needs a pax header.
  h.encode(block);
  return block;
}

const pad = (size: number): number => (512 - (size % 512)) % 512;

/**
 * One tar file. A streamed member's size is known only at its end (a layer
 * being decompressed): its header block is reserved, the data written, and
 * the header filled in afterwards; so this writes to a file, not a pipe.
 */
async function tarSink(path: string): Promise<Sink> {
  const fh = await open(path, 'wx', 0o644);
  let pos = 0;
  const put = async (data: Buffer): Promise<void> => {
    await writeAll(fh, data, pos);
    pos += data.length;
  };
  const zeros = Buffer.alloc(1024);
  return {
    dir: (name) => put(tarHeader(`${name}/`, 'Directory', 0)),
    async file(name, data) {
      await put(tarHeader(name, 'File', data.length));
      await put(data);
      await put(zeros.subarray(0, pad(data.length)));
    },
    async stream(name, src) {
      const headerAt = pos;
      await put(zeros.subarray(0, 512));
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of src) {
        hash.update(chunk);
        await put(chunk);
        size += chunk.length;
      }
      await put(zeros.subarray(0, pad(size)));
      await writeAll(fh, tarHeader(name, 'File', size), headerAt);
      return { size, digest: `sha256:${hash.digest('hex')}` };
    },
    async finish() {
      await put(zeros); // the end-of-archive marker: two zero blocks
      await fh.sync();
      await fh.close();
    },
    async abort() {
      await fh.close().catch(() => {});
    },
  };
}

// ---- checks ----

interface Checked {
  tags: string[];
  config: Buffer;
  configDigest: Digest;
  layers: LayerSpec[];
}

/** The specs, checked before anything is written: digests well-formed, blob files there with their sizes, config diff_ids matching the layers. */
async function checkSpecs(images: unknown): Promise<Checked[]> {
  if (!Array.isArray(images) || images.length === 0) throw invalidOption('images', 'a non-empty array of images', images);
  const out: Checked[] = [];
  for (const [i, spec] of (images as ExportImageSpec[]).entries()) {
    const at = `images[${i}]`;
    if (typeof spec !== 'object' || spec === null) throw invalidOption(at, 'an image to export', spec);
    if (!Array.isArray(spec.tags) || !spec.tags.every((t) => typeof t === 'string' && t !== '' && !/[\s\0]/.test(t))) {
      throw invalidOption(`${at}.tags`, 'an array of image names', spec.tags);
    }
    if (!Buffer.isBuffer(spec.config)) throw invalidOption(`${at}.config`, 'a Buffer of the image config JSON', spec.config);
    if (!Array.isArray(spec.layers)) throw invalidOption(`${at}.layers`, 'an array of layers', spec.layers);
    let config: { rootfs?: { diff_ids?: unknown } };
    try {
      config = JSON.parse(spec.config.toString('utf8')) as typeof config;
    } catch (err) {
      throw new IsolateError('ERR_INVALID_OPTION', `${at}.config is not valid JSON: ${(err as Error).message}`, { option: `${at}.config`, cause: err });
    }
    const ids = config?.rootfs?.diff_ids;
    for (const [j, l] of spec.layers.entries()) {
      const lat = `${at}.layers[${j}]`;
      if (!isDigest(l?.digest)) throw invalidOption(`${lat}.digest`, 'a sha256 digest (sha256:<64 hex digits>)', l?.digest);
      if (!isDigest(l.diffId)) throw invalidOption(`${lat}.diffId`, 'a sha256 digest (sha256:<64 hex digits>)', l.diffId);
      if (typeof l.mediaType !== 'string' || !LAYER_TYPES.has(l.mediaType)) {
        throw new IsolateError('ERR_UNSUPPORTED', `${lat}: media type ${JSON.stringify(l.mediaType)} is not a layer type we can export (plain or gzip tar)`, { option: `${lat}.mediaType` });
      }
      if (typeof l.path !== 'string' || l.path === '') throw invalidOption(`${lat}.path`, 'the path of the layer blob', l.path);
      let st;
      try {
        st = await stat(l.path);
      } catch (err) {
        throw fromSystemError('ERR_INVALID_OPTION', `${lat}: cannot read the layer blob ${l.path}`, err, { option: `${lat}.path` });
      }
      if (!st.isFile() || st.size !== l.size) {
        throw new IsolateError('ERR_BAD_IMAGE', `${lat}: the layer blob ${l.path} is ${st.isFile() ? `${st.size} bytes, not ${l.size}` : 'not a regular file'}`, { path: l.path });
      }
    }
    const want = spec.layers.map((l) => l.diffId);
    if (!Array.isArray(ids) || ids.length !== want.length || ids.some((id, j) => id !== want[j])) {
      throw new IsolateError('ERR_INVALID_OPTION', `${at}: the config's rootfs.diff_ids ${JSON.stringify(ids)} do not match the layers' diff_ids ${JSON.stringify(want)}`, {
        option: `${at}.config`,
      });
    }
    // The same image twice (by two names) is one image with both names.
    const configDigest = sha256(spec.config);
    const same = out.find((c) => c.configDigest === configDigest && c.layers.length === spec.layers.length && c.layers.every((l, j) => l.digest === spec.layers[j]!.digest));
    const img = same ?? { tags: [], config: spec.config, configDigest, layers: spec.layers };
    for (const t of spec.tags) if (!img.tags.includes(t)) img.tags.push(t);
    if (!same) out.push(img);
  }
  return out;
}

/** The bytes of a layer blob, failing (ERR_BAD_IMAGE) at the end unless they are `size` bytes hashing to `digest`. */
async function* checkedBlob(l: LayerSpec): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let n = 0;
  for await (const chunk of createReadStream(l.path)) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (n !== l.size || actual !== l.digest) {
    throw new IsolateError('ERR_BAD_IMAGE', `Layer blob ${l.path} should be ${l.size} bytes hashing to ${l.digest}, but is ${n} bytes hashing to ${actual}`, { path: l.path });
  }
}

/** A gzip layer blob decompressed (the blob itself checked on the way). */
async function* gunzipped(l: LayerSpec): AsyncGenerator<Buffer> {
  const src = Readable.from(checkedBlob(l));
  const gunzip = createGunzip();
  // A digest mismatch is an error of `src` after its last chunk, before
  // its end: gunzip has not ended, so the error reaches the loop below.
  src.on('error', (err) => gunzip.destroy(err));
  src.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof IsolateError) throw err;
    throw new IsolateError('ERR_BAD_IMAGE', `Layer blob ${l.path} (${l.digest}) is not valid gzip: ${(err as Error).message}`, { path: l.path, cause: err });
  } finally {
    src.destroy();
    gunzip.destroy();
  }
}

// ---- formats ----

async function writeOci(sink: Sink, images: Checked[]): Promise<void> {
  await sink.file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
  await sink.dir('blobs');
  await sink.dir('blobs/sha256');
  const written = new Set<Digest>();
  const blob = async (digest: Digest, data: Buffer): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    await sink.file(`blobs/sha256/${digestHex(digest, 'blob')}`, data);
  };
  const index: object[] = [];
  for (const img of images) {
    for (const l of img.layers) {
      if (written.has(l.digest)) continue;
      written.add(l.digest);
      await sink.stream(`blobs/sha256/${digestHex(l.digest, 'layer')}`, checkedBlob(l));
    }
    await blob(img.configDigest, img.config);
    const manifest = json({
      schemaVersion: 2,
      mediaType: MEDIA_OCI_MANIFEST,
      config: { mediaType: MEDIA_OCI_CONFIG, digest: img.configDigest, size: img.config.length },
      layers: img.layers.map((l) => ({ mediaType: LAYER_TYPES.get(l.mediaType)!.oci, digest: l.digest, size: l.size })),
    });
    const digest = sha256(manifest);
    await blob(digest, manifest);
    const desc = { mediaType: MEDIA_OCI_MANIFEST, digest, size: manifest.length };
    if (img.tags.length === 0) index.push(desc);
    for (const tag of img.tags) index.push({ ...desc, annotations: { [ANNOTATION_REF_NAME]: tag } });
  }
  await sink.file('index.json', json({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: index }));
}

/** 'busybox:latest' → ['busybox', 'latest']; a name without a tag is ':latest'; a digest reference has no place in `repositories`. */
function repoAndTag(name: string): [string, string] | null {
  if (name.includes('@')) return null;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, 'latest'];
}

async function writeDocker(sink: Sink, images: Checked[]): Promise<void> {
  const manifest: object[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const img of images) {
    const configName = `${digestHex(img.configDigest, 'config')}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      await sink.file(configName, img.config);
    }
    const layers: string[] = [];
    for (const l of img.layers) {
      const hex = digestHex(l.diffId, 'diff_id');
      const name = `${hex}/layer.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      written.add(name);
      await sink.dir(hex);
      const gzip = LAYER_TYPES.get(l.mediaType)!.compression === 'gzip';
      const out = await sink.stream(name, gzip ? gunzipped(l) : checkedBlob(l));
      if (out.digest !== l.diffId) {
        throw new IsolateError('ERR_BAD_IMAGE', `Layer ${l.digest} (${l.path}) unpacks to a tar hashing to ${out.digest}, not its diff_id ${l.diffId}`, { path: l.path });
      }
    }
    // A digest reference (name@sha256:…) is not a tag docker load could set.
    const tags = img.tags.filter((t) => repoAndTag(t) !== null);
    manifest.push({ Config: configName, RepoTags: tags, Layers: layers });
    const top = layers.length ? layers[layers.length - 1]!.slice(0, 64) : null;
    for (const tag of tags) {
      const [repo, name] = repoAndTag(tag)!;
      if (top) (repositories[repo] ??= {})[name] = top;
    }
  }
  await sink.file('manifest.json', json(manifest));
  await sink.file('repositories', json(repositories));
}

// ---- the entry point ----

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fromSystemError('ERR_INVALID_OPTION', `Cannot check ${path}`, err, { option: 'dest', path });
  }
}

/**
 * Writes `images` at `dest`: an OCI image layout (a directory, or a tar with
 * `tar: true`) or a `docker save` tar. `dest` must not exist; its parent
 * must. Nothing appears at `dest` unless the whole archive was written.
 */
export async function writeImageArchive(dest: string, images: ExportImageSpec[], opts: WriteArchiveOptions): Promise<void> {
  if (typeof dest !== 'string' || dest === '') throw invalidOption('dest', 'a path', dest);
  if (typeof opts !== 'object' || opts === null) throw invalidOption('opts', 'an object', opts);
  if (opts.format !== 'oci' && opts.format !== 'docker') throw invalidOption('format', "'oci' or 'docker'", opts.format);
  if (typeof opts.tar !== 'boolean') throw invalidOption('tar', 'a boolean', opts.tar);
  if (opts.format === 'docker' && !opts.tar) throw invalidOption('tar', "true for format 'docker' (docker load reads a tar)", opts.tar);
  const target = resolve(dest);
  if (await exists(target)) throw new IsolateError('ERR_INVALID_OPTION', `${target} already exists; refusing to replace it`, { option: 'dest', path: target });
  if (!(await exists(dirname(target)))) throw new IsolateError('ERR_INVALID_OPTION', `The directory ${dirname(target)} (for ${target}) does not exist`, { option: 'dest', path: target });
  const checked = await checkSpecs(images);

  const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  let sink: Sink | undefined;
  try {
    sink = opts.tar ? await tarSink(tmp) : await dirSink(tmp);
    await (opts.format === 'oci' ? writeOci(sink, checked) : writeDocker(sink, checked));
    await sink.finish();
    if (opts.tar) {
      // link() fails if `dest` appeared meanwhile, where rename() would replace it.
      await link(tmp, target);
      await unlink(tmp);
    } else {
      if (await exists(target)) throw new IsolateError('ERR_INVALID_OPTION', `${target} appeared while the archive was written; refusing to replace it`, { option: 'dest', path: target });
      await rename(tmp, target);
    }
  } catch (err) {
    await sink?.abort();
    await rm(tmp, { recursive: true, force: true });
    if (err instanceof IsolateError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new IsolateError('ERR_INVALID_OPTION', `${target} appeared while the archive was written; refusing to replace it`, { option: 'dest', path: target, cause: err });
    }
    // errors.ts has no code for "the disk failed us"; the destination is
    // what the caller chose, so a failure to fill it is charged to `dest`.
    const code = ['EACCES', 'EPERM', 'EROFS'].includes((err as NodeJS.ErrnoException).code ?? '') ? 'ERR_PERMISSION' : 'ERR_INVALID_OPTION';
    throw fromSystemError(code, `Cannot write the image archive ${target}`, err, { option: 'dest', path: target });
  }
}
