/**
 * The files ("members") of an image archive, for oci-read.ts: an OCI image
 * layout directory, a tar, or a gzip-compressed tar. What the members mean
 * (indexes, manifests, configs, docker save's manifest.json) is oci-read.ts's
 * part; this one finds a member by name and hands out its bytes, unverified.
 * It is separate so that the format code never deals with offsets, links or
 * temp files, and the archive code never with digests or media types.
 *
 * The archive is untrusted: a name is made canonical before it is looked up
 * and may not leave the archive (absolute names and '..' are refused, and so
 * are links out of a layout directory and chains of links that never end).
 * Failures are ERR_BAD_IMAGE (malformed, hostile) or ERR_UNSUPPORTED (a
 * compression other than gzip), naming the archive.
 *
 * A tar is never extracted. It is indexed once: node-tar's Parser decodes
 * the headers while we feed it the file ourselves, so we know where each
 * member's data starts (node-tar does not report offsets). A blob is then a
 * byte range of the file, opened with createReadStream(start, end). See
 * indexTar() for how the offsets are kept exact.
 */
import { closeSync, constants as fsc, createReadStream, createWriteStream, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, posix, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { IsolateError, fromSystemError } from '../errors';
import { fdPath, openDirIn, openRoot } from './beneath';

/** Links followed at most to find a member (they could point at each other). */
const MAX_LINKS = 16;

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const BZIP2_MAGIC = Buffer.from('BZh');

/** ERR_BAD_IMAGE for `archive`: it is malformed or hostile. */
export function bad(archive: string, message: string, cause?: unknown): IsolateError {
  return new IsolateError('ERR_BAD_IMAGE', `${archive}: ${message}`, cause === undefined ? { path: archive } : { path: archive, cause });
}

/** ERR_UNSUPPORTED for `archive`: well-formed, but not something we read. */
export function unsupported(archive: string, message: string): IsolateError {
  return new IsolateError('ERR_UNSUPPORTED', `${archive}: ${message}`, { path: archive });
}

/** A regular file in the archive (links already followed). */
export interface Member {
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

export interface Members {
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
export function memberName(archive: string, raw: unknown, what: string): string {
  if (typeof raw !== 'string' || raw === '') throw bad(archive, `${what}: ${JSON.stringify(raw)} is not a file name`);
  if (raw.startsWith('/')) throw bad(archive, `${what}: ${JSON.stringify(raw)} is an absolute name`);
  if (raw.includes('\0')) throw bad(archive, `${what}: ${JSON.stringify(raw)} contains a NUL`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(archive, `${what}: ${JSON.stringify(raw)} climbs out of the archive with '..'`);
  return parts.join('/');
}

/**
 * A layout directory: members are its files; symlinks may not lead out of
 * it. Its owner may change it while we read (a swapped directory must not
 * lead a read out of it), so the directory is opened once, a member's path
 * is resolved (links followed) only to check and name it, and each read
 * opens it again from that directory's fd one component at a time, never
 * following a link (beneath.ts): a directory on the way swapped for a link
 * since the lookup fails the read instead of reaching another file.
 */
export async function dirMembers(dir: string): Promise<Members> {
  let fd: number;
  try {
    fd = openRoot(dir);
  } catch (err) {
    throw fromSystemError('ERR_BAD_IMAGE', `${dir}: cannot read it`, err);
  }
  let rootFd: number | undefined = fd;
  try {
    return {
      label: dir,
      async get(name) {
        let root: string;
        let real: string;
        let st;
        try {
          // Where the directory opened is now (moved or not), and the member in it.
          root = await realpath(fdPath(fd));
          real = await realpath(join(root, name));
          st = await stat(real);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
          throw fromSystemError('ERR_BAD_IMAGE', `${dir}: cannot read ${name}`, err);
        }
        if (!real.startsWith(`${root}/`)) throw bad(dir, `${name} is a link that leads out of the layout (to ${real})`);
        if (!st.isFile()) throw bad(dir, `${name} is not a regular file`);
        const parts = real.slice(root.length + 1).split('/');
        return fileMember(name, () => openBeneath(fd, parts), 0, st.size);
      },
      async close() {
        if (rootFd !== undefined) closeSync(rootFd);
        rootFd = undefined;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The regular file at `parts` below directory fd `rootFd`, no link followed on the way (O_NONBLOCK: see openMember). */
function openBeneath(rootFd: number, parts: readonly string[]): number {
  const dirs: number[] = [];
  try {
    let at = rootFd;
    for (const part of parts.slice(0, -1)) dirs.push((at = openDirIn(at, part)));
    return openSync(fdPath(at, parts[parts.length - 1]!), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } finally {
    for (const d of dirs) closeSync(d);
  }
}

/**
 * Opens a member's file with `opener`: never through a symlink swapped in
 * since it was looked up, never blocking on a FIFO swapped in (O_NONBLOCK:
 * an open for reading of a FIFO would wait for a writer, and hold a thread
 * of libuv's pool), and only while it is still a regular file that holds
 * the member. The layout's owner can change it between our look and our
 * read; digests catch changed content, this the rest.
 */
function openMember(name: string, opener: () => number, offset: number, size: number): number {
  let fd: number;
  try {
    fd = opener();
  } catch (err) {
    throw fromSystemError('ERR_BAD_IMAGE', `${name} changed while the image archive was read`, err, { path: name });
  }
  const st = fstatSync(fd);
  if (!st.isFile() || st.size < offset + size) {
    closeSync(fd);
    throw new IsolateError('ERR_BAD_IMAGE', `${name} changed while the image archive was read (no longer a regular file of ${size} bytes)`, { path: name });
  }
  return fd;
}

/** `size` bytes from `offset` of the file `opener` opens, as a Member (never more: a file grown since is read no further). */
function fileMember(name: string, opener: () => number, offset: number, size: number): Member {
  const readAt = async (n: number): Promise<Buffer> => {
    const fd = openMember(name, opener, offset, size);
    try {
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const bytesRead = readSync(fd, buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  };
  return {
    name,
    size,
    // createReadStream's `end` is inclusive, and with end < start it would throw.
    open: () => (size === 0 ? Readable.from([]) : createReadStream('', { fd: openMember(name, opener, offset, size), start: offset, end: offset + size - 1 })),
    head: (n) => readAt(Math.min(n, size)),
    read: () => readAt(size),
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

/**
 * A tar (indexed by indexTar) as Members; `prefix` when the layout is
 * wrapped in one top-level directory. `file` names the very file indexed
 * (/proc/self/fd/N of an fd held until close()), so every read is of it.
 */
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
    if (e.kind === 'file') return fileMember(name, () => openSync(file, fsc.O_RDONLY), e.offset, e.size);
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

export const startsWith = (buf: Buffer, magic: Buffer) => buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);

/**
 * The most a gzip'd archive of `compressed` bytes may inflate to on disk:
 * 100 times its size (real image archives inflate 2-5 times; a bomb of
 * zeros, 1000), at least 1 GiB, at most 64 GiB.
 */
export function inflateCap(compressed: number): number {
  return Math.min(64 * 2 ** 30, Math.max(2 ** 30, 100 * compressed));
}

/** gunzip of `src` into the new file `dest`, refusing (ERR_BAD_IMAGE) to write more than `cap` bytes. */
export async function gunzipCapped(src: string, dest: string, cap: number, label = src): Promise<void> {
  let total = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > cap) done(bad(label, `the gzip'd archive inflates to more than ${cap} bytes (a gzip bomb?); decompress it yourself if it is genuine`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(src), createGunzip(), limit, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    if (err instanceof IsolateError) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw bad(label, `corrupt gzip data: ${(err as Error).message}`, err);
    throw fromSystemError('ERR_BAD_IMAGE', `${label}: cannot decompress into ${dirname(dest)}`, err);
  }
}

/**
 * An archive file as Members. A gzip-compressed one (`docker save | gzip`,
 * which `docker load` takes) cannot be read at offsets: it is decompressed
 * once into a private temp directory that close() removes: `scratch` (a
 * path not existing yet; the store gives one in its tmp/, which gc()
 * sweeps after a crash), else one in the system's temp directory.
 *
 * The file is opened once and read only through that fd (as
 * /proc/self/fd/N, which reopens the same file): a path renamed over, or a
 * directory on it swapped, while we read cannot make a later read, or the
 * index, come from another file than the first look.
 */
export async function archiveMembers(path: string, scratch?: string): Promise<Members> {
  const held: number[] = [];
  const hold = (p: string): string => {
    let fd: number;
    try {
      fd = openSync(p, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      throw fromSystemError('ERR_BAD_IMAGE', `${path}: cannot read it`, err);
    }
    held.push(fd);
    if (!fstatSync(fd).isFile()) throw bad(path, 'not a regular file (changed while it was read?)');
    return fdPath(fd);
  };
  const release = () => {
    for (const fd of held.splice(0)) closeSync(fd);
  };
  let dir: string | undefined;
  const drop = async () => {
    release();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    const file = hold(path);
    const head = await fileHead(file, 8);
    if (startsWith(head, ZSTD_MAGIC) || startsWith(head, XZ_MAGIC) || startsWith(head, BZIP2_MAGIC)) {
      throw unsupported(path, 'a zstd, xz or bzip2 compressed archive is not supported: decompress it first (gzip is)');
    }
    if (!startsWith(head, GZIP_MAGIC)) return tarMembers(file, path, await indexTar(file, path), drop);
    if (scratch === undefined) dir = await mkdtemp(join(tmpdir(), 'isolate-kit-archive-'));
    else await mkdir((dir = scratch), { mode: 0o700 });
    const plain = join(dir, 'archive.tar');
    await gunzipCapped(file, plain, inflateCap(fstatSync(held[0]!).size), path);
    const plainFile = hold(plain);
    return tarMembers(plainFile, path, await indexTar(plainFile, path), drop);
  } catch (err) {
    await drop();
    throw err;
  }
}
