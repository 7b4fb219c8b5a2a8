/**
 * Reads image archives: an OCI image layout (a directory, or a tar of one),
 * or a `docker save` tar (the classic layout with manifest.json and
 * `<id>/layer.tar`, and Docker 25's, which is an OCI layout plus
 * manifest.json). Everything in them is untrusted: every blob an image
 * needs must be there with the size its descriptor says; JSON blobs are
 * checked against their digests as they are read, layer blobs as they are
 * streamed (open()); a digest becomes a path only after matching
 * `sha256:<64 hex>`; member names that are absolute or climb out with '..'
 * are refused. Failures are ERR_BAD_IMAGE (malformed, hostile) or
 * ERR_UNSUPPORTED (well-formed but not something we run: zstd layers,
 * artifacts that are not images, other platforms), naming the file or
 * digest.
 *
 * A tar is never extracted. It is indexed once: node-tar's Parser decodes
 * the headers while we feed it the file ourselves, so we know where each
 * member's data starts (node-tar does not report offsets). A blob is then a
 * byte range of the file, opened with createReadStream(start, end). See
 * indexTar() for how the offsets are kept exact.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { posix, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { IsolateError, fromSystemError, invalidOption } from '../errors';
import type { Digest, ImageArchive, SourceImage, SourceLayer } from './contracts';
import { digestHex } from './paths';

export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const INDEX_TYPES = new Set([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST]);
const MANIFEST_TYPES = new Set([MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST]);
const CONFIG_TYPES = new Set([MEDIA_OCI_CONFIG, MEDIA_DOCKER_CONFIG]);

/**
 * The layer media types we can unpack, and their OCI equivalents (same
 * bytes, so the same digest: what a writer of an OCI layout puts instead of
 * a docker one). Non-distributable ("foreign") layers are ordinary tars;
 * their only difference is that registries may not ship them, and a blob
 * missing from the archive is refused like any other.
 */
export const LAYER_TYPES: ReadonlyMap<string, { compression: 'none' | 'gzip'; oci: string }> = new Map([
  [MEDIA_OCI_LAYER, { compression: 'none', oci: MEDIA_OCI_LAYER }],
  [MEDIA_OCI_LAYER_GZIP, { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  [MEDIA_DOCKER_LAYER, { compression: 'none', oci: MEDIA_OCI_LAYER }],
  [MEDIA_DOCKER_LAYER_GZIP, { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', { compression: 'none', oci: MEDIA_OCI_LAYER }],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
] as const);

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's (and Docker 25's) full image name; there ref.name is only the tag. */
const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

/** Index, manifest and config blobs are read into memory; real ones are a few KiB. */
const MAX_JSON = 16 << 20;
/** Nested indexes followed at most (they could point at each other). */
const MAX_INDEX_DEPTH = 4;
/** Links followed at most to find a member (they could point at each other). */
const MAX_LINKS = 16;

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const BZIP2_MAGIC = Buffer.from('BZh');

function bad(archive: string, message: string, cause?: unknown): IsolateError {
  return new IsolateError('ERR_BAD_IMAGE', `${archive}: ${message}`, cause === undefined ? { path: archive } : { path: archive, cause });
}

function unsupported(archive: string, message: string): IsolateError {
  return new IsolateError('ERR_UNSUPPORTED', `${archive}: ${message}`, { path: archive });
}

function sha256(data: Buffer): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// ---- members: the files of a layout directory or an archive ----

/** A regular file in the archive (links already followed). */
interface Member {
  /** Its name, relative, as found (after links). */
  readonly name: string;
  readonly size: number;
  /** Its bytes, unverified. */
  open(): Readable;
  /** Its first `n` bytes (fewer when it is shorter). */
  head(n: number): Promise<Buffer>;
  /** All its bytes (callers check `size` first). */
  read(): Promise<Buffer>;
}

interface Members {
  /** What the paths in messages start with: the archive's path. */
  readonly label: string;
  /** The regular file `name` (relative, already checked), following links inside the archive; undefined when there is none. */
  get(name: string): Promise<Member | undefined>;
  close(): Promise<void>;
}

/**
 * A member name as used in the archive made canonical: a leading './' and
 * empty or '.' components go. Absolute names and '..' components are
 * refused: nothing we look up may leave the archive.
 */
function memberName(archive: string, raw: unknown, what: string): string {
  if (typeof raw !== 'string' || raw === '') throw bad(archive, `${what}: ${JSON.stringify(raw)} is not a file name`);
  if (raw.startsWith('/')) throw bad(archive, `${what}: ${JSON.stringify(raw)} is an absolute name`);
  if (raw.includes('\0')) throw bad(archive, `${what}: ${JSON.stringify(raw)} contains a NUL`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(archive, `${what}: ${JSON.stringify(raw)} climbs out of the archive with '..'`);
  return parts.join('/');
}

/** A layout directory: members are its files; symlinks may not lead out of it. */
async function dirMembers(dir: string): Promise<Members> {
  const root = await realpath(dir);
  return {
    label: dir,
    async get(name) {
      let real: string;
      let st;
      try {
        real = await realpath(join(root, name));
        st = await stat(real);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw fromSystemError('ERR_BAD_IMAGE', `${dir}: cannot read ${name}`, err);
      }
      if (!real.startsWith(`${root}/`)) throw bad(dir, `${name} is a link that leads out of the layout (to ${real})`);
      if (!st.isFile()) throw bad(dir, `${name} is not a regular file`);
      return fileMember(name, real, 0, st.size);
    },
    async close() {},
  };
}

/** `size` bytes of `file` from `offset`, as a Member. */
function fileMember(name: string, file: string, offset: number, size: number): Member {
  const readAt = async (n: number): Promise<Buffer> => {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  };
  return {
    name,
    size,
    // createReadStream's `end` is inclusive, and with end < start it would throw.
    open: () => (size === 0 ? Readable.from([]) : createReadStream(file, { start: offset, end: offset + size - 1 })),
    head: (n) => readAt(Math.min(n, size)),
    read: () => (offset === 0 ? readFile(file) : readAt(size)),
  };
}

type TarEntry = { kind: 'file'; offset: number; size: number } | { kind: 'dir' } | { kind: 'symlink' | 'hardlink'; target: string };

/** Entry types that may appear in an image archive; anything else (devices, FIFOs) is refused. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Indexes a tar without extracting it: name → where its data is.
 *
 * node-tar's Parser is a state machine that never reports file offsets, so
 * we feed it ourselves: one 512-byte block at a time while it expects a
 * header, which makes the block just fed the header of any entry it emits
 * (checked by decoding that block again with the entry's pax data: same
 * checksum, path and type), so the entry's data starts right after it.
 * Headers are also what pax and GNU long-name records are made of, and
 * those are fed block by block from the file too. The data of a member the
 * parser hands us is fed as zeros of its block-padded length: the parser
 * only passes it on to the entry, which we drain, so indexing reads the
 * headers and not the layers.
 */
async function indexTar(file: string, label: string): Promise<Map<string, TarEntry>> {
  const fh = await open(file, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const entries = new Map<string, TarEntry>();
    const zeros = Buffer.alloc(1 << 20);
    let pos = 0; // offset of the next byte to feed
    let headerAt = -1; // offset of the header block being fed, -1 while feeding data
    let block: Buffer = Buffer.alloc(0);
    let current: ReadEntry | undefined;
    let failure: unknown;
    let eof = false;

    const onEntry = (e: ReadEntry): void => {
      e.resume(); // drain: its data are our zeros
      current = e;
      if (failure !== undefined) return;
      try {
        const again = headerAt < 0 ? undefined : new Header(block, 0, e.extended, e.globalExtended);
        if (!again || again.cksum !== e.header.cksum || again.path !== e.header.path || again.type !== e.header.type) {
          throw new IsolateError('ERR_BAD_IMAGE', `${label}: cannot place tar entry ${JSON.stringify(e.path)} in the file (node-tar emitted it out of step)`, { path: label });
        }
        const name = memberName(label, e.path, 'tar entry');
        if (FILE_TYPES.has(e.type)) {
          const offset = headerAt + 512;
          if (offset + e.size > fileSize) throw bad(label, `tar entry ${name} is cut off (the archive ends ${offset + e.size - fileSize} bytes short)`);
          if (entries.has(name)) throw bad(label, `tar entry ${name} appears twice`);
          entries.set(name, { kind: 'file', offset, size: e.size });
        } else if (e.type === 'Directory') {
          if (name !== '' && entries.get(name)?.kind !== 'dir' && entries.has(name)) throw bad(label, `tar entry ${name} appears twice`);
          if (name !== '') entries.set(name, { kind: 'dir' });
        } else if (e.type === 'SymbolicLink' || e.type === 'Link') {
          if (entries.has(name)) throw bad(label, `tar entry ${name} appears twice`);
          entries.set(name, { kind: e.type === 'Link' ? 'hardlink' : 'symlink', target: e.linkpath ?? '' });
        } else {
          throw bad(label, `tar entry ${name} is a ${e.type}; an image archive holds only files, directories and links`);
        }
      } catch (err) {
        failure = err;
      }
    };
    const parser = new Parser({ strict: true, zstd: false, onReadEntry: onEntry });
    parser.on('error', (err: unknown) => {
      failure ??= bad(label, `not a valid tar archive: ${(err as Error).message}`, err);
    });
    parser.on('eof', () => {
      eof = true;
    });

    const write = (chunk: Buffer): void => {
      try {
        parser.write(chunk);
      } catch (err) {
        failure ??= bad(label, `not a valid tar archive: ${(err as Error).message}`, err);
      }
    };
    let buf = Buffer.alloc(0);
    let bufAt = 0;
    while (!eof && failure === undefined) {
      if (current && current.blockRemain > 0) {
        headerAt = -1;
        const n = Math.min(current.blockRemain, zeros.length);
        write(zeros.subarray(0, n));
        pos += n;
        continue;
      }
      if (pos + 512 > fileSize) break; // no end-of-archive blocks: GNU tar accepts that too
      if (pos < bufAt || pos + 512 > bufAt + buf.length) {
        // A fresh buffer each time: the parser may still hold the last one.
        buf = Buffer.alloc(Math.min(64 << 10, fileSize - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        buf = buf.subarray(0, bytesRead - (bytesRead % 512));
        bufAt = pos;
        if (buf.length === 0) break;
      }
      block = buf.subarray(pos - bufAt, pos - bufAt + 512);
      headerAt = pos;
      write(block);
      pos += 512;
    }
    if (failure === undefined) parser.end();
    if (failure !== undefined) throw failure;
    if (entries.size === 0) throw bad(label, 'not a tar archive (no entries)');
    return entries;
  } finally {
    await fh.close();
  }
}

/** A tar (indexed by indexTar) as Members; `prefix` when the layout is wrapped in one top-level directory. */
function tarMembers(file: string, label: string, entries: Map<string, TarEntry>, cleanup: () => Promise<void>): Members {
  let prefix = '';
  const top = new Set([...entries.keys()].map((n) => n.split('/')[0]!));
  const atRoot = (n: string) => entries.has(n);
  if (!atRoot('index.json') && !atRoot('manifest.json') && !atRoot('oci-layout') && top.size === 1) {
    const only = [...top][0]!;
    if (entries.get(only)?.kind !== 'file') prefix = `${only}/`;
  }
  const resolve = (name: string, hops: number): Member | undefined => {
    const e = entries.get(name);
    if (!e) return undefined;
    if (e.kind === 'file') return fileMember(name, file, e.offset, e.size);
    if (e.kind === 'dir') throw bad(label, `${name} is a directory, not a file`);
    if (hops >= MAX_LINKS) throw bad(label, `${name}: too many links`);
    // A symlink is relative to its directory; a hard link names a member.
    if (e.kind === 'symlink' && e.target.startsWith('/')) throw bad(label, `${name} is a link to an absolute path (${e.target})`);
    const target = e.kind === 'symlink' ? posix.join(posix.dirname(name), e.target) : e.target;
    return resolve(memberName(label, target, `link ${name}`), hops + 1);
  };
  let closed = false;
  return {
    label,
    async get(name) {
      return resolve(prefix + name, 0);
    },
    async close() {
      if (closed) return;
      closed = true;
      await cleanup();
    },
  };
}

/** The first bytes of a file. */
async function fileHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const startsWith = (buf: Buffer, magic: Buffer) => buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);

/**
 * An archive file as Members. A gzip-compressed one (`docker save | gzip`,
 * which `docker load` takes) cannot be read at offsets: it is decompressed
 * once into a private temp directory that close() removes.
 */
async function archiveMembers(path: string): Promise<Members> {
  const head = await fileHead(path, 8);
  if (startsWith(head, ZSTD_MAGIC) || startsWith(head, XZ_MAGIC) || startsWith(head, BZIP2_MAGIC)) {
    throw unsupported(path, 'a zstd, xz or bzip2 compressed archive is not supported: decompress it first (gzip is)');
  }
  if (!startsWith(head, GZIP_MAGIC)) return tarMembers(path, path, await indexTar(path, path), async () => {});
  const dir = await mkdtemp(join(tmpdir(), 'isolate-kit-archive-'));
  const drop = () => rm(dir, { recursive: true, force: true });
  try {
    const plain = join(dir, 'archive.tar');
    try {
      await pipeline(createReadStream(path), createGunzip(), createWriteStream(plain, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw bad(path, `corrupt gzip data: ${(err as Error).message}`, err);
      throw fromSystemError('ERR_BAD_IMAGE', `${path}: cannot decompress into ${dir}`, err);
    }
    return tarMembers(plain, path, await indexTar(plain, path), drop);
  } catch (err) {
    await drop();
    throw err;
  }
}

// ---- JSON and descriptors ----

async function needMember(members: Members, name: string, what: string): Promise<Member> {
  const m = await members.get(name);
  if (!m) throw bad(members.label, `${what} is missing`);
  return m;
}

function parseJson(archive: string, bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(archive, `${what} is not valid JSON: ${(err as Error).message}`, err);
  }
}

async function readJsonMember(members: Members, m: Member, what: string): Promise<{ bytes: Buffer; value: unknown }> {
  if (m.size > MAX_JSON) throw bad(members.label, `${what} is ${m.size} bytes; more than ${MAX_JSON} is not a plausible JSON document here`);
  const bytes = await m.read();
  return { bytes, value: parseJson(members.label, bytes, what) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations: Record<string, string>;
  platform: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined;
}

/** A content descriptor, checked: media type, a well-formed sha256 digest, a byte count. */
function descriptor(archive: string, v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw bad(archive, `${what} is not a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw bad(archive, `${what} has no mediaType`);
  digestHex(v.digest, `${archive}: ${what}.digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw bad(archive, `${what}.size ${JSON.stringify(v.size)} is not a byte count`);
  const annotations: Record<string, string> = {};
  if (v.annotations !== undefined) {
    if (!isObject(v.annotations)) throw bad(archive, `${what}.annotations is not an object`);
    for (const [k, val] of Object.entries(v.annotations)) {
      if (typeof val !== 'string') throw bad(archive, `${what}.annotations[${JSON.stringify(k)}] is not a string`);
      annotations[k] = val;
    }
  }
  return { mediaType: v.mediaType, digest: v.digest as Digest, size: v.size, annotations, platform: isObject(v.platform) ? v.platform : undefined };
}

/** The blob a descriptor points at: present, of the size it says. */
async function blobMember(members: Members, d: Descriptor, what: string): Promise<Member> {
  const hex = digestHex(d.digest, `${members.label}: ${what}.digest`);
  const m = await members.get(`blobs/sha256/${hex}`);
  if (!m) throw bad(members.label, `${what}: blob ${d.digest} is missing (no blobs/sha256/${hex})`);
  if (m.size !== d.size) throw bad(members.label, `${what}: blob ${d.digest} is ${m.size} bytes, but its descriptor says ${d.size}`);
  return m;
}

/** A JSON blob, read and checked against its digest. */
async function readJsonBlob(members: Members, d: Descriptor, what: string): Promise<{ bytes: Buffer; value: unknown }> {
  const m = await blobMember(members, d, what);
  const { bytes, value } = await readJsonMember(members, m, `${what} (blob ${d.digest})`);
  const actual = sha256(bytes);
  if (actual !== d.digest) throw bad(members.label, `${what}: blob ${d.digest} does not match its digest (its bytes hash to ${actual})`);
  return { bytes, value };
}

/**
 * Streams `src` on, failing (ERR_BAD_IMAGE) at its end unless it was
 * exactly `size` bytes hashing to `digest`: a consumer never takes a
 * tampered layer for a good one, even one that does not check.
 */
function verifying(archive: string, src: Readable, digest: Digest, size: number, what: string): Readable {
  const hash = createHash('sha256');
  let n = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (n !== size) cb(bad(archive, `${what}: blob ${digest} ended after ${n} of ${size} bytes`));
      else if (actual !== digest) cb(bad(archive, `${what}: blob ${digest} does not match its digest (its bytes hash to ${actual})`));
      else cb();
    },
  });
  // pipeline() forwards a read error to `check` and destroys `src` when the consumer stops early.
  pipeline(src, check).catch(() => {});
  return check;
}

/** rootfs.diff_ids of an image config, checked: one well-formed digest per layer. */
function diffIds(archive: string, config: unknown, layers: number, what: string): Digest[] {
  if (!isObject(config)) throw bad(archive, `${what} is not a JSON object`);
  if (typeof config.os === 'string' && config.os !== 'linux') throw unsupported(archive, `${what}: the image is for ${config.os}, not linux`);
  const rootfs = config.rootfs;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw bad(archive, `${what} has no rootfs.diff_ids`);
  ids.forEach((id, i) => digestHex(id, `${archive}: ${what} rootfs.diff_ids[${i}]`));
  if (ids.length !== layers) throw bad(archive, `${what} lists ${ids.length} rootfs.diff_ids, but the image has ${layers} layer(s)`);
  return ids as Digest[];
}

// ---- OCI image layout ----

/** Node's arch as OCI (GOARCH) names it. */
function hostArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

function platformName(d: Descriptor): string {
  const p = d.platform;
  if (!p) return '(no platform)';
  return [p.os, p.architecture, p.variant].filter((x) => typeof x === 'string' && x !== '').join('/');
}

/**
 * From an index (or docker manifest list), the manifest to run here: the
 * one for linux on this machine's architecture (amd64 on x86-64), or the
 * only image manifest there is. Attestations (platform unknown/unknown, as
 * BuildKit writes them) are not candidates.
 */
function pickManifest(archive: string, list: Descriptor[], what: string): Descriptor {
  const images = list.filter((d) => !(d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown'));
  const match = images.filter((d) => d.platform?.os === 'linux' && d.platform?.architecture === hostArch());
  if (match.length >= 1) return match[0]!;
  if (images.length === 1) return images[0]!;
  throw unsupported(archive, `${what}: no manifest for linux/${hostArch()} among ${images.map(platformName).join(', ') || 'none'}`);
}

function parseIndex(archive: string, value: unknown, what: string): Descriptor[] {
  if (!isObject(value)) throw bad(archive, `${what} is not a JSON object`);
  if (value.schemaVersion !== 2) throw bad(archive, `${what}: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  if (!Array.isArray(value.manifests)) throw bad(archive, `${what} has no manifests array`);
  return value.manifests.map((m, i) => descriptor(archive, m, `${what} manifests[${i}]`));
}

/** Follows nested indexes from `d` to an image manifest's descriptor. */
async function resolveManifest(members: Members, d: Descriptor, what: string, depth: number): Promise<{ d: Descriptor; what: string }> {
  if (MANIFEST_TYPES.has(d.mediaType)) return { d, what };
  if (!INDEX_TYPES.has(d.mediaType)) throw unsupported(members.label, `${what} (${d.digest}): media type ${d.mediaType} is not an image manifest or index`);
  if (depth >= MAX_INDEX_DEPTH) throw bad(members.label, `${what}: indexes nested deeper than ${MAX_INDEX_DEPTH}`);
  const { value } = await readJsonBlob(members, d, what);
  const inner = `index ${d.digest}`;
  checkSelfType(members.label, value, d, inner);
  const picked = pickManifest(members.label, parseIndex(members.label, value, inner), inner);
  return resolveManifest(members, picked, `${inner} → ${picked.digest}`, depth + 1);
}

/** A manifest or index that states its own media type must agree with the descriptor that led to it. */
function checkSelfType(archive: string, value: unknown, d: Descriptor, what: string): void {
  if (isObject(value) && value.mediaType !== undefined && value.mediaType !== d.mediaType) {
    throw bad(archive, `${what} says it is ${JSON.stringify(value.mediaType)}, but its descriptor says ${d.mediaType}`);
  }
}

/** A layer descriptor as a SourceLayer: a supported media type, the blob present with the right size. */
async function ociLayer(members: Members, d: Descriptor, what: string): Promise<SourceLayer> {
  if (!LAYER_TYPES.has(d.mediaType)) {
    const why = /zstd/.test(d.mediaType) ? 'zstd-compressed layers are not supported' : `media type ${d.mediaType} is not a layer we can unpack`;
    throw unsupported(members.label, `${what} (${d.digest}): ${why}`);
  }
  const m = await blobMember(members, d, what);
  return { digest: d.digest, mediaType: d.mediaType, size: d.size, open: () => verifying(members.label, m.open(), d.digest, d.size, what) };
}

async function ociImage(members: Members, d: Descriptor, what: string): Promise<SourceImage> {
  const label = members.label;
  const { bytes: manifest, value } = await readJsonBlob(members, d, what);
  const mWhat = `manifest ${d.digest}`;
  if (!isObject(value)) throw bad(label, `${mWhat} is not a JSON object`);
  checkSelfType(label, value, d, mWhat);
  if (value.schemaVersion !== 2) throw bad(label, `${mWhat}: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  if (typeof value.artifactType === 'string') throw unsupported(label, `${mWhat} is an artifact (${value.artifactType}), not a container image`);
  const configD = descriptor(label, value.config, `${mWhat} config`);
  if (!CONFIG_TYPES.has(configD.mediaType)) throw unsupported(label, `${mWhat}: config media type ${configD.mediaType} is not a container image's`);
  if (!Array.isArray(value.layers)) throw bad(label, `${mWhat} has no layers array`);
  const layerDs = value.layers.map((l, i) => descriptor(label, l, `${mWhat} layers[${i}]`));
  const { bytes: config, value: configValue } = await readJsonBlob(members, configD, `${mWhat} config`);
  diffIds(label, configValue, layerDs.length, `config ${configD.digest}`);
  const layers: SourceLayer[] = [];
  for (const [i, l] of layerDs.entries()) layers.push(await ociLayer(members, l, `${mWhat} layers[${i}]`));
  return { tags: [], config, configDigest: configD.digest, manifest, manifestDigest: d.digest, layers };
}

/** The name an index entry gives its image: containerd's full name, else the OCI ref name, kept as written. */
function refName(d: Descriptor): string | undefined {
  return d.annotations[ANNOTATION_CONTAINERD_NAME] || d.annotations[ANNOTATION_REF_NAME] || undefined;
}

async function readOci(members: Members): Promise<SourceImage[]> {
  const label = members.label;
  const { value: layout } = await readJsonMember(members, await needMember(members, 'oci-layout', 'oci-layout'), 'oci-layout');
  const version = isObject(layout) ? layout.imageLayoutVersion : undefined;
  if (typeof version !== 'string') throw bad(label, 'oci-layout has no imageLayoutVersion');
  if (!/^1\.\d+\.\d+$/.test(version)) throw unsupported(label, `oci-layout: image layout version ${version} is not supported (1.x is)`);
  const { value: index } = await readJsonMember(members, await needMember(members, 'index.json', 'index.json'), 'index.json');
  const byManifest = new Map<Digest, SourceImage>();
  for (const [i, top] of parseIndex(label, index, 'index.json').entries()) {
    const { d, what } = await resolveManifest(members, top, `index.json manifests[${i}]`, 0);
    let img = byManifest.get(d.digest);
    if (!img) {
      img = await ociImage(members, d, what);
      byManifest.set(d.digest, img);
    }
    const name = refName(top);
    if (name !== undefined && !img.tags.includes(name)) img.tags.push(name);
  }
  return [...byManifest.values()];
}

// ---- docker save ----

interface DockerEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseDockerManifest(archive: string, value: unknown): DockerEntry[] {
  if (!Array.isArray(value)) throw bad(archive, 'manifest.json is not a JSON array');
  return value.map((e, i) => {
    const what = `manifest.json [${i}]`;
    if (!isObject(e)) throw bad(archive, `${what} is not an object`);
    if (typeof e.Config !== 'string') throw bad(archive, `${what} has no Config`);
    const tags = e.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw bad(archive, `${what}.RepoTags is not a list of names`);
    if (!Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) throw bad(archive, `${what}.Layers is not a list of file names`);
    return { Config: e.Config, RepoTags: tags as string[], Layers: e.Layers as string[] };
  });
}

/** The digest a blob's name states: blobs/sha256/<hex> (Docker 25) or <hex>.json (a classic config). */
function digestInName(name: string, json: boolean): Digest | undefined {
  const m = (json ? /^(?:blobs\/sha256\/([0-9a-f]{64})|([0-9a-f]{64})\.json)$/ : /^blobs\/sha256\/([0-9a-f]{64})$/).exec(name);
  return m ? `sha256:${m[1] ?? m[2]}` : undefined;
}

/** Names `repositories` gives the image whose top layer sits in directory `topDir` (classic archives without RepoTags). */
function tagsFromRepositories(repositories: unknown, topDir: string): string[] {
  const out: string[] = [];
  if (!isObject(repositories)) return out;
  for (const [repo, tags] of Object.entries(repositories)) {
    if (!isObject(tags)) continue;
    for (const [tag, id] of Object.entries(tags)) if (id === topDir) out.push(`${repo}:${tag}`);
  }
  return out;
}

/**
 * A docker save layer. Classic archives store them uncompressed, so the
 * blob digest is the config's diff_id: we take that and check it as the
 * bytes stream (docker load checks the same). A layer named by its digest
 * (blobs/sha256/<hex>) is checked against that; a gzip one under another
 * name is hashed here, as nothing else states its digest.
 */
async function dockerLayer(members: Members, rawName: string, diffId: Digest, what: string): Promise<SourceLayer> {
  const label = members.label;
  const name = memberName(label, rawName, what);
  const m = await members.get(name);
  if (!m) throw bad(label, `${what}: ${name} is missing`);
  const head = await m.head(8);
  if (startsWith(head, ZSTD_MAGIC)) throw unsupported(label, `${what} (${name}): zstd-compressed layers are not supported`);
  const gzip = startsWith(head, GZIP_MAGIC);
  let digest = digestInName(name, false) ?? (gzip ? undefined : diffId);
  if (digest === undefined) {
    const hash = createHash('sha256');
    for await (const chunk of m.open()) hash.update(chunk as Buffer);
    digest = `sha256:${hash.digest('hex')}`;
  }
  const d = digest;
  return { digest: d, mediaType: gzip ? MEDIA_DOCKER_LAYER_GZIP : MEDIA_DOCKER_LAYER, size: m.size, open: () => verifying(label, m.open(), d, m.size, `${what} (${name})`) };
}

async function readDockerManifest(members: Members): Promise<DockerEntry[]> {
  const { value } = await readJsonMember(members, await needMember(members, 'manifest.json', 'manifest.json'), 'manifest.json');
  return parseDockerManifest(members.label, value);
}

async function readDocker(members: Members): Promise<SourceImage[]> {
  const label = members.label;
  const entries = await readDockerManifest(members);
  const repoMember = await members.get('repositories');
  const repositories = repoMember ? (await readJsonMember(members, repoMember, 'repositories')).value : undefined;
  const out: SourceImage[] = [];
  for (const [i, e] of entries.entries()) {
    const what = `manifest.json [${i}]`;
    const configName = memberName(label, e.Config, `${what}.Config`);
    const cm = await members.get(configName);
    if (!cm) throw bad(label, `${what}.Config: ${configName} is missing`);
    const { bytes: config, value: configValue } = await readJsonMember(members, cm, `config ${configName}`);
    const configDigest = sha256(config);
    const named = digestInName(configName, true);
    if (named && named !== configDigest) throw bad(label, `config ${configName} does not match its name (its bytes hash to ${configDigest})`);
    const ids = diffIds(label, configValue, e.Layers.length, `config ${configName}`);
    const layers: SourceLayer[] = [];
    for (const [j, l] of e.Layers.entries()) layers.push(await dockerLayer(members, l, ids[j]!, `${what}.Layers[${j}]`));
    const top = e.Layers.length ? posix.dirname(memberName(label, e.Layers[e.Layers.length - 1], `${what}.Layers`)) : '';
    const tags = e.RepoTags.length ? [...e.RepoTags] : tagsFromRepositories(repositories, top);
    out.push({ tags, config, configDigest, manifest: null, manifestDigest: null, layers });
  }
  return out;
}

/**
 * Docker 25 writes an OCI layout and, for docker load, manifest.json. The
 * layout is read (it has the media types and manifests); the names come
 * from manifest.json's RepoTags, full references like 'busybox:latest',
 * where index.json may only say 'latest'.
 */
async function applyRepoTags(members: Members, images: SourceImage[]): Promise<void> {
  const entries = await readDockerManifest(members);
  for (const [i, e] of entries.entries()) {
    if (!e.RepoTags.length) continue;
    const name = memberName(members.label, e.Config, `manifest.json [${i}].Config`);
    let digest = digestInName(name, true);
    if (!digest) {
      const m = await members.get(name);
      if (!m) throw bad(members.label, `manifest.json [${i}].Config: ${name} is missing`);
      digest = sha256((await readJsonMember(members, m, `config ${name}`)).bytes);
    }
    for (const img of images) if (img.configDigest === digest) img.tags = [...e.RepoTags];
  }
}

// ---- the entry point ----

/**
 * The images in an OCI image layout (directory or tar) or a `docker save`
 * tar (also gzip-compressed), checked as described at the top of this file.
 * Call close() when done with the layers' streams.
 */
export async function readImageArchive(path: string): Promise<ImageArchive> {
  if (typeof path !== 'string' || path === '') throw invalidOption('path', 'the path of an image archive or OCI layout', path);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fromSystemError('ERR_INVALID_OPTION', `Cannot read the image archive ${path}`, err, { option: 'path', path });
  }
  if (!st.isDirectory() && !st.isFile()) throw new IsolateError('ERR_INVALID_OPTION', `${path} is neither a directory (OCI layout) nor a file (tar)`, { option: 'path', path });
  const members = st.isDirectory() ? await dirMembers(path) : await archiveMembers(path);
  try {
    const has = async (n: string) => (await members.get(n)) !== undefined;
    const [oci, index, docker] = [await has('oci-layout'), await has('index.json'), await has('manifest.json')];
    let images: SourceImage[];
    if (oci || index) {
      images = await readOci(members);
      if (docker) await applyRepoTags(members, images);
    } else if (docker) {
      images = await readDocker(members);
    } else {
      throw bad(path, 'neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)');
    }
    if (images.length === 0) throw bad(path, 'holds no image');
    return { images, close: () => members.close() };
  } catch (err) {
    await members.close();
    throw err;
  }
}
