/**
 * Writes a layer directory (overlayfs's format) as an uncompressed OCI layer
 * tar, deterministically: the same tree gives the same bytes, so the same
 * diffId. Entries are in byte order of their tar names (directories as
 * 'etc/', before their contents), without './'; only mode (with
 * setuid/setgid/sticky), uid, gid, whole-second mtime, symlink targets and
 * device numbers are recorded (no atime/ctime, user or group names, xattrs).
 *
 * overlayfs → OCI: a 0/0 character device (whiteout) becomes an empty file
 * `.wh.NAME` (mode 0, the device's owner and mtime); a directory with
 * trusted.overlay.opaque=y is followed by an empty `DIR/.wh..wh..opq`
 * (mode 0, 0/0, the directory's mtime). The second and later paths of a
 * regular file with several links become Link entries to the first path
 * written. Sockets are skipped (tar has no type for them).
 *
 * Limits: the import's (ExtractLimits, DEFAULT_EXTRACT_LIMITS), checked
 * from each entry's lstat before its header or data is written. The tree
 * may be a payload's writable layer: a sparse file there takes a few
 * blocks of tmpfs but its full length in a tar (zeros), so without them a
 * 1 MiB layer could fill the store's disk before the import refused it.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Writable } from 'node:stream';
import { Header, Pax, type HeaderData } from 'tar';
import { IsolateError, checkKeys, invalidOption, showValue } from '../errors';
import { fdPath, openDirIn, openRoot } from './beneath';
import { isOpaque, isWhiteout } from './overlay-format';
import type { ExtractLimits, PackResult } from './contracts';
import { checkLimits } from './extract-options';

export interface PackOptions {
  /** End `out` when the tar is written, and wait until it has flushed ('finish'). @default true (as stream.pipe) */
  end?: boolean;
  /** Stops packing: rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  /**
   * Leaves out the entries it returns true for; a directory goes with its
   * contents. `rel` is relative to `dir`, as in the tar without the
   * directory slash ('etc', 'etc/passwd'); `st` its lstat.
   */
  exclude?: (rel: string, st: Stats) => boolean;
  /**
   * Caps on the tar, as the import's (a layer packed within them is one the
   * import takes): bytes of one file (its length: a sparse file counts in
   * full), of all files, and entries. Beyond one: ERR_BAD_IMAGE naming the
   * path, before its header is written. @default DEFAULT_EXTRACT_LIMITS
   */
  limits?: Partial<ExtractLimits>;
}

/** Buffers at least this big go to `out` as they are; smaller ones are gathered first. */
const DIRECT = 64 << 10;
const GATHER = 256 << 10;
/** File data is read in pieces of this size (a multiple of 512). */
const READ_CHUNK = 1 << 20;
/**
 * Files up to this size are read with synchronous calls, as are lstat and
 * readlink: through the thread pool each call costs ~40 µs of hand-off on a
 * small VM, several times the call itself. The event loop is released
 * whenever `out` needs draining and between big files' chunks.
 */
const SMALL_FILE = 256 << 10;
const OPTION_KEYS = ['end', 'signal', 'exclude', 'limits'];
/** lstat calls between two turns of the event loop when listing a directory. */
const LSTAT_BATCH = 1024;
/** Directories deeper than this are refused: the walk holds an fd per level. */
const MAX_DEPTH = 1000;

/** Writes `dir` (overlayfs format) to `out` as a deterministic OCI layer tar; returns its diffId and size. */
export async function packLayer(dir: string, out: Writable, opts?: PackOptions): Promise<PackResult> {
  const { end, signal, exclude, limits } = checkOptions(opts);
  if (out === null || typeof out !== 'object' || typeof (out as Partial<Writable>).write !== 'function') {
    throw invalidOption('out', 'a writable stream', out);
  }
  const root = await checkDir(dir);
  if (signal?.aborted) throw aborted(signal);
  const sink = new TarSink(out, signal);
  try {
    await new Packer(root, sink, signal, exclude, limits).run();
    await sink.push(Buffer.alloc(1024)); // end-of-archive: two zero blocks
    await sink.flush();
    if (end) await sink.end();
  } finally {
    sink.close();
  }
  return { diffId: `sha256:${sink.hash.digest('hex')}`, size: sink.size };
}

/** packLayer() into a new file at `path` (created, never overwritten; removed again on failure). */
export async function packToFile(dir: string, path: string, opts?: Omit<PackOptions, 'end'>): Promise<PackResult> {
  if (typeof path !== 'string' || path === '') throw invalidOption('path', 'a file path', path);
  const root = await checkDir(dir); // before the file exists
  const file = resolvePath(path);
  let fh: FileHandle;
  try {
    fh = await open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code !== 'EEXIST') throw err;
    throw new IsolateError('ERR_INVALID_OPTION', `Layer tar ${file} (path) already exists`, { option: 'path', path: file, cause: err });
  }
  const out = fh.createWriteStream(); // closes fh when it closes
  const closed = new Promise<void>((resolve) => out.once('close', resolve));
  try {
    const result = await packLayer(root, out, { ...opts, end: true });
    await closed;
    return result;
  } catch (err) {
    out.destroy();
    await closed;
    await rm(file, { force: true });
    throw err;
  }
}

function checkOptions(opts: unknown): { end: boolean; signal?: AbortSignal; exclude?: PackOptions['exclude']; limits: ExtractLimits } {
  if (opts === undefined) return { end: true, limits: checkLimits('packLayer', undefined) };
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new IsolateError('ERR_INVALID_OPTION', `Expected the packLayer options to be an object, got ${showValue(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  checkKeys('packLayer', o, OPTION_KEYS);
  if (o.end !== undefined && typeof o.end !== 'boolean') throw invalidOption('end', 'a boolean', o.end);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', o.signal);
  if (o.exclude !== undefined && typeof o.exclude !== 'function') throw invalidOption('exclude', 'a function', o.exclude);
  return {
    end: o.end !== false,
    signal: o.signal as AbortSignal | undefined,
    exclude: o.exclude as PackOptions['exclude'],
    limits: checkLimits('packLayer', o.limits),
  };
}

async function checkDir(dir: unknown): Promise<string> {
  if (typeof dir !== 'string' || dir === '') throw invalidOption('dir', 'the path of a layer directory', dir);
  const abs = resolvePath(dir);
  let st: Stats;
  try {
    // stat, not lstat: the root may be reached through a link, such as a
    // container's writable layer at /proc/self/fd/N (commit()).
    st = await stat(abs);
  } catch (err) {
    throw new IsolateError('ERR_INVALID_OPTION', `Layer directory ${abs} (dir) does not exist`, { option: 'dir', path: abs, cause: err });
  }
  if (!st.isDirectory()) throw new IsolateError('ERR_INVALID_OPTION', `Layer directory ${abs} (dir) is not a directory`, { option: 'dir', path: abs });
  return abs;
}

function aborted(signal: AbortSignal): IsolateError {
  return new IsolateError('ERR_ABORTED', 'Packing the layer was aborted', { cause: signal.reason });
}

/** A header block, preceded by a pax header when a field does not fit ustar (long or non-ASCII names, big ids or sizes). */
function headerBytes(h: HeaderData): Buffer {
  const block = Buffer.alloc(512);
  if (!new Header(h).encode(block)) return block;
  const pax = new Pax({ path: h.path, linkpath: h.linkpath, uid: h.uid, gid: h.gid, size: h.size, mtime: h.mtime }).encode();
  return Buffer.concat([pax, block]);
}

function pad512(n: number): number {
  return Math.ceil(n / 512) * 512;
}

/** glibc's major()/minor(). */
function devNumbers(rdev: number): [number, number] {
  const d = BigInt(rdev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return [major, minor];
}

/** `out` with a running sha256, small writes gathered, and backpressure. */
class TarSink {
  readonly hash = createHash('sha256');
  size = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private error: unknown = undefined;
  private readonly onError = (err: unknown) => {
    this.error ??= err;
  };

  constructor(
    private readonly out: Writable,
    private readonly signal: AbortSignal | undefined,
  ) {
    out.on('error', this.onError);
  }

  async push(buf: Buffer): Promise<void> {
    if (buf.length >= DIRECT) {
      await this.flush();
      return this.write(buf);
    }
    this.parts.push(buf);
    this.partBytes += buf.length;
    if (this.partBytes >= GATHER) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    await this.write(buf);
  }

  private check(): void {
    if (this.error !== undefined) throw this.error;
    if (this.signal?.aborted) throw aborted(this.signal);
  }

  private async write(buf: Buffer): Promise<void> {
    this.check();
    this.hash.update(buf);
    this.size += buf.length;
    if (!this.out.write(buf)) await this.until('drain');
  }

  /** Ends `out` and waits for 'finish'. */
  async end(): Promise<void> {
    this.check();
    const finished = this.until('finish');
    this.out.end();
    await finished;
  }

  /** Waits for `event` on out; an error, an early close or the signal reject. */
  private until(event: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const out = this.out;
      const cleanup = () => {
        out.removeListener(event, onEvent);
        out.removeListener('error', onFail);
        out.removeListener('close', onClose);
        this.signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = () => {
        cleanup();
        resolve();
      };
      const onFail = (err: unknown) => {
        cleanup();
        reject(this.error ?? err);
      };
      const onClose = () => onFail(new IsolateError('ERR_STATE', 'The stream the layer tar was written to closed early'));
      const onAbort = () => onFail(aborted(this.signal!));
      out.once(event, onEvent);
      out.once('error', onFail);
      out.once('close', onClose);
      this.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops listening to out (its errors are the caller's again). */
  close(): void {
    this.out.removeListener('error', this.onError);
  }
}

interface Child {
  name: string;
  /** Its name in the tar, for sorting: 'd/' for directories, '.wh.x' for whiteouts. */
  key: Buffer;
  abs: string;
  st: Stats;
}

class Packer {
  /** dev:ino of regular files with several links → the first path written. */
  private readonly links = new Map<string, string>();
  /** Entries written, and bytes of file data, as the import counts them. */
  private entries = 0;
  private dataBytes = 0;

  constructor(
    private readonly root: string,
    private readonly sink: TarSink,
    private readonly signal: AbortSignal | undefined,
    private readonly exclude: PackOptions['exclude'],
    private readonly limits: ExtractLimits,
  ) {}

  /** Writes one entry's header, once it is known to fit the limits (its data, `st`'s length, follows for a file). */
  private async header(h: HeaderData, st?: Stats): Promise<void> {
    const path = h.path!;
    const { maxEntries, maxEntrySize, maxLayerSize } = this.limits;
    if (++this.entries > maxEntries) throw overLimit(path, `is entry number ${this.entries}, over the limit of ${maxEntries} (limits.maxEntries)`);
    const size = h.size ?? 0;
    // A sparse file's holes take no blocks where it is, but a tar holds them as zeros.
    const sparse = st && st.blocks * 512 < size ? ` (a sparse file of ${st.blocks * 512} bytes on disk; a layer tar holds its full length)` : '';
    if (size > maxEntrySize) throw overLimit(path, `holds ${size} bytes${sparse}, over the limit of ${maxEntrySize} per entry (limits.maxEntrySize)`);
    this.dataBytes += size;
    if (this.dataBytes > maxLayerSize) {
      throw overLimit(path, `brings the layer's data to ${this.dataBytes} bytes${sparse}, over the limit of ${maxLayerSize} (limits.maxLayerSize)`);
    }
    await this.sink.push(headerBytes(h));
  }

  async run(): Promise<void> {
    // The root is no entry, but an opaque root still needs its marker.
    // Followed (stat, "/."): the root may be a link to the directory, as /proc/self/fd/N.
    const st = await stat(this.root);
    if (isOpaque(`${this.root}/.`)) await this.header(opaqueMarker('', st));
    const fd = openRoot(this.root);
    try {
      await this.walk(fd, '', 0);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Depth first, children ordered by their tar name's bytes with '/' after a
   * directory's name: that is exactly byte order of the full names, since no
   * name holds '/'.
   *
   * Through directory fds (beneath.ts), never a path below the root: the
   * tree may be a running container's writable layer (commit()), whose
   * payload can swap a directory for a symlink to a host directory between
   * our lstat and our readdir; by path, we (root) would then pack the host's
   * files. A directory is opened with O_NOFOLLOW and checked to be the one
   * lstat saw; a file is opened in its directory's fd with O_NOFOLLOW.
   */
  private async walk(dirFd: number, rel: string, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) throw unsupported(rel.slice(0, -1), `is nested more than ${MAX_DEPTH} directories deep`);
    const children = await this.list(dirFd, rel);
    for (const c of children) {
      if (this.signal?.aborted) throw aborted(this.signal);
      const path = rel + c.name;
      const st = c.st;
      if (this.exclude?.(path, st)) continue;
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: seconds(st) };
      if (st.isDirectory()) {
        const child = this.openDir(dirFd, c, path);
        try {
          await this.header({ ...common, path: `${path}/`, type: 'Directory', size: 0 });
          if (isOpaque(`${fdPath(child)}/.`)) await this.header(opaqueMarker(`${path}/`, st));
          await this.walk(child, `${path}/`, depth + 1);
        } finally {
          closeSync(child);
        }
      } else if (st.isFile()) {
        await this.file(c, path, common);
      } else if (st.isSymbolicLink()) {
        const target = readlinkSync(c.abs, { encoding: 'buffer' });
        const text = target.toString('utf8');
        if (!Buffer.from(text).equals(target)) throw unsupported(path, 'is a symlink whose target is not UTF-8');
        await this.header({ ...common, path, type: 'SymbolicLink', linkpath: text, size: 0 });
      } else if (st.isFIFO()) {
        await this.header({ ...common, path, type: 'FIFO', size: 0 });
      } else if (isWhiteout(st)) {
        await this.header({ ...common, mode: 0, path: rel + c.key.toString('utf8'), type: 'File', size: 0 });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const [devmaj, devmin] = devNumbers(st.rdev);
        const type = st.isCharacterDevice() ? 'CharacterDevice' : 'BlockDevice';
        await this.header({ ...common, path, type, size: 0, devmaj, devmin });
      }
      // Sockets: skipped, as GNU tar and Docker do.
    }
  }

  /** Directory `c` in `dirFd`, the one lstat saw: not a symlink swapped in since. */
  private openDir(dirFd: number, c: Child, path: string): number {
    let fd: number;
    try {
      fd = openDirIn(dirFd, c.name);
    } catch {
      throw changed(path);
    }
    const now = fstatSync(fd);
    if (now.ino !== c.st.ino || now.dev !== c.st.dev) {
      closeSync(fd);
      throw changed(path);
    }
    return fd;
  }

  /** The directory's children, lstat'ed and sorted. */
  private async list(dirFd: number, rel: string): Promise<Child[]> {
    const abs = fdPath(dirFd);
    const names = await readdir(abs, { encoding: 'buffer' });
    for (const raw of names) {
      const name = raw.toString('utf8');
      // node-tar's headers take strings: a name that is not UTF-8 cannot be written faithfully.
      if (!Buffer.from(name).equals(raw)) throw unsupported(rel + name, 'has a name that is not UTF-8');
      if (name.startsWith('.wh.')) throw badName(rel + name);
    }
    const out: Child[] = [];
    for (const raw of names) {
      // A directory of many entries (a payload's 100,000 empty files) must
      // not hold the event loop for the whole of its lstats.
      if (out.length % LSTAT_BATCH === LSTAT_BATCH - 1) await new Promise<void>((resolve) => setImmediate(resolve));
      const name = raw.toString('utf8');
      const st = lstatSync(`${abs}/${name}`);
      let key = raw;
      if (st.isDirectory()) key = Buffer.concat([raw, Buffer.from('/')]);
      else if (isWhiteout(st)) key = Buffer.concat([Buffer.from('.wh.'), raw]);
      out.push({ name, key, abs: `${abs}/${name}`, st });
    }
    return out.sort((a, b) => Buffer.compare(a.key, b.key));
  }

  private async file(c: Child, path: string, common: Pick<HeaderData, 'mode' | 'uid' | 'gid' | 'mtime'>): Promise<void> {
    if (c.st.nlink > 1) {
      // bigint: inode numbers may exceed 2^53 on some filesystems.
      const big = lstatSync(c.abs, { bigint: true });
      const id = `${big.dev}:${big.ino}`;
      const first = this.links.get(id);
      if (first !== undefined) {
        await this.header({ ...common, path, type: 'Link', linkpath: first, size: 0 });
        return;
      }
      this.links.set(id, path);
    }
    const size = c.st.size;
    await this.header({ ...common, path, type: 'File', size }, c.st);
    if (size === 0) return;
    // O_NOFOLLOW: a symlink swapped in since lstat is not read through;
    // O_NONBLOCK: nor does a FIFO swapped in block us.
    const flags = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
    if (size <= SMALL_FILE) {
      const buf = Buffer.alloc(pad512(size)); // zeroed: the padding
      const fd = openSync(c.abs, flags);
      try {
        if (!fstatSync(fd).isFile()) throw changed(path);
        for (let got = 0; got < size; ) {
          const n = readSync(fd, buf, got, size - got, got);
          if (n === 0) throw changed(path); // shrank since lstat
          got += n;
        }
      } finally {
        closeSync(fd);
      }
      return this.sink.push(buf);
    }
    const fh = await open(c.abs, flags);
    try {
      if (!(await fh.stat()).isFile()) throw changed(path);
      for (let pos = 0; pos < size; ) {
        const want = Math.min(size - pos, READ_CHUNK);
        const buf = Buffer.allocUnsafe(pos + want === size ? pad512(want) : want);
        for (let got = 0; got < want; ) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
          if (bytesRead === 0) throw changed(path); // shrank since lstat
          got += bytesRead;
        }
        buf.fill(0, want);
        pos += want;
        await this.sink.push(buf);
      }
    } finally {
      await fh.close();
    }
  }
}

function seconds(st: Stats): Date {
  return new Date(Math.floor(st.mtimeMs / 1000) * 1000);
}

function opaqueMarker(dirPath: string, dirSt: Stats): HeaderData {
  return { path: `${dirPath}.wh..wh..opq`, type: 'File', mode: 0, uid: 0, gid: 0, size: 0, mtime: seconds(dirSt) };
}

function unsupported(path: string, why: string): IsolateError {
  return new IsolateError('ERR_UNSUPPORTED', `Layer path ${JSON.stringify(path)} ${why}; an OCI layer tar cannot hold it`, { path });
}

function badName(path: string): IsolateError {
  return new IsolateError('ERR_BAD_IMAGE', `Layer path ${JSON.stringify(path)} is named like an OCI whiteout; an OCI layer tar cannot hold it`, {
    path,
  });
}

function overLimit(path: string, why: string): IsolateError {
  return new IsolateError('ERR_BAD_IMAGE', `Layer path ${JSON.stringify(path)} ${why}`, { path });
}

function changed(path: string): IsolateError {
  return new IsolateError('ERR_STATE', `Layer file ${JSON.stringify(path)} changed while it was being packed`, { path });
}
