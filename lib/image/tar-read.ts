/**
 * Streams a layer tar (plain or gzip) into an empty directory in overlayfs's
 * format, computing its digests on the way. The tar is untrusted: the policy
 * below is the product (also in docs/images.md, "Importing a layer tar: what
 * is checked"). Any violation rejects with ERR_BAD_IMAGE naming the entry;
 * the caller then deletes `dest`. Nothing is ever written outside `dest`.
 *
 * Names. A leading './' is stripped (`tar -C dir .` writes it), as are empty
 * and '.' components ('a//b', 'a/./b'). Rejected: a leading '/', any '..'
 * component, a NUL. './' alone is the layer root: only a directory entry may
 * name it, and it sets the root's mode, owner and mtime.
 *
 * Parents. Every parent component must be a directory this tar created (we
 * track what we created in a tree, so nothing on disk is trusted or
 * followed). One that is missing is created 0755 root:root, as Docker does
 * for tars without parent entries; one that exists as anything else (a
 * symlink, a file, a whiteout) is refused.
 *
 * Entries. Later entries replace earlier ones at the same path (a directory
 * replaced by a non-directory goes with its contents; a directory entry over
 * a directory only updates its metadata). Files are opened O_CREAT|O_EXCL|
 * O_NOFOLLOW after whatever was there is removed, so a write can never be
 * redirected. Symlink targets are stored as given (absolute targets are
 * normal: they resolve inside the container) and never followed here.
 * Hardlinks must name a regular file this tar already created. FIFOs are
 * made; devices only with `allowDevices`. Extended attributes in pax headers
 * (SCHILY.xattr.*, e.g. security.capability) are dropped by node-tar's parser
 * and not restored: file capabilities do not survive import. Non-UTF-8 names
 * are decoded by node-tar as UTF-8, with U+FFFD for bad bytes.
 *
 * OCI whiteouts: `d/.wh.NAME` becomes the 0/0 character device `d/NAME`
 * unless this layer has its own `d/NAME` (a whiteout only hides lower
 * layers); `d/.wh..wh..opq` sets trusted.overlay.opaque=y on `d`; other
 * `.wh..wh.*` names are AUFS housekeeping and skipped, as Docker does.
 *
 * Limits (ExtractLimits, DEFAULT_EXTRACT_LIMITS): entry count, bytes of one
 * entry, bytes of all entries, checked from each header before its data is
 * written. Headers, padding and data after the end-of-archive marker may
 * total at most 16 MiB plus 16 KiB per entry, which stops gzip bombs of
 * zeros and pax-header floods that would never create a file.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants as fsc,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  unlinkSync,
  writevSync,
} from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { IsolateError, fromSystemError, invalidOption, isIsolateError } from '../errors';
import { native } from '../native';
import type { ExtractOptions, ExtractResult } from './contracts';
import { checkDest, checkOptions, type Checked } from './extract-options';
import { markOpaque } from './overlay-format';

export { DEFAULT_EXTRACT_LIMITS } from './extract-options';

/** Progress is reported after at least this many more input bytes. */
const PROGRESS_EVERY = 1 << 20;
/** File data is written in batches of about this size (fewer syscalls than one per chunk). */
const WRITE_BATCH = 1 << 20;
/**
 * Files up to this size are gathered and written with synchronous calls, as
 * are all metadata calls: through the thread pool each call costs ~40 µs of
 * hand-off on a small VM, several times the call itself, and a small file
 * takes six. The event loop is still released at every input chunk.
 */
const SMALL_FILE = 256 << 10;
/** Small input chunks are gathered to this size for gunzip, which is 2-3x faster on big writes. */
const GUNZIP_BATCH = 1 << 20;
/** The parser is fed at most this much at once, so the overhead check lags by little. */
const FEED_SLICE = 1 << 20;
/** Bytes of headers, padding and trailing data every layer may have, plus per entry. */
const OVERHEAD_BASE = 16 << 20;
const OVERHEAD_PER_ENTRY = 16 << 10;
/** Largest pax or GNU long-name header we read (node-tar's default too). */
const MAX_META = 1 << 20;

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** Entry types that carry only metadata about a tape or another entry: skipped. */
const METADATA_TYPES = new Set(['V', 'A', 'I']);

/** What this extraction created, so paths are checked against it, never against the disk. */
interface DirNode {
  kind: 'dir';
  children: Map<string, TreeNode>;
  /** Set by a directory entry; applied at the end, since creating children changes it. */
  mtime?: Date;
}
interface LeafNode {
  kind: 'file' | 'other';
}
type TreeNode = DirNode | LeafNode;
const FILE: LeafNode = { kind: 'file' };
const OTHER: LeafNode = { kind: 'other' };

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** Extracts the layer tar `input` (plain or gzip) into the empty directory `dest`; see the policy above. */
export async function extractLayer(input: Readable, dest: string, opts?: ExtractOptions): Promise<ExtractResult> {
  const checked = checkOptions(opts);
  if (input === null || typeof input !== 'object' || typeof (input as Partial<Readable>)[Symbol.asyncIterator] !== 'function') {
    throw invalidOption('input', "a readable stream of the layer's bytes", input);
  }
  const root = await checkDest(dest);
  return new Extraction(root, checked).run(input);
}

/** `"name"` for messages: quoted, control characters escaped. */
function q(name: string): string {
  return JSON.stringify(name);
}

function bad(entry: string, why: string): IsolateError {
  return new IsolateError('ERR_BAD_IMAGE', `Layer entry ${q(entry)} ${why}`, { path: entry });
}

/** node-tar's complaint about input in which it found no entry. */
function isUnrecognized(err: Error & { tarCode?: string }): boolean {
  return err.tarCode === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(err.message);
}

/** A chunk of the input as a Buffer (no copy). */
function bytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw invalidOption('input', 'a stream of bytes (Buffers), not text or objects', chunk);
}

/** Writes all of `bufs` at the file's current position. */
async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  let left = 0;
  for (const b of bufs) left += b.length;
  while (left > 0) {
    const { bytesWritten } = bufs.length === 1 ? await fh.write(bufs[0]) : await fh.writev(bufs);
    left -= bytesWritten;
    if (left === 0) return;
    // A short write (rare for regular files): drop what was written and go on.
    let skip = bytesWritten;
    while (skip >= bufs[0].length) skip -= bufs.shift()!.length;
    bufs[0] = bufs[0].subarray(skip);
  }
}

function writeAllSync(fd: number, bufs: Buffer[]): void {
  let left = 0;
  for (const b of bufs) left += b.length;
  while (left > 0) {
    let n = writevSync(fd, bufs);
    left -= n;
    while (n > 0 && n >= bufs[0].length) n -= bufs.shift()!.length;
    if (n > 0) bufs[0] = bufs[0].subarray(n);
  }
}

/** glibc's makedev() for the kernel's 12-bit major, 20-bit minor device numbers. */
function makedev(major: number, minor: number): number {
  return (minor & 0xff) + major * 0x100 + (minor - (minor & 0xff)) * 0x1000;
}

/** One extraction: the input pump, the parser, and the entries applied one at a time. */
class Extraction {
  private readonly root: DirNode = { kind: 'dir', children: new Map() };
  /** Aborted on the first failure: every wait below gives up then. */
  private readonly stop = new AbortController();
  private error: unknown = undefined;
  /** Entries are applied in order, each after the previous one finished. */
  private chain: Promise<void> = Promise.resolve();
  private readonly parser: Parser;
  private input: Readable | undefined;
  private gunzip: Gunzip | undefined;
  private readonly inHash = createHash('sha256');
  /** sha256 of the uncompressed stream; null while it is the input itself. */
  private outHash: Hash | null = null;
  private compression: 'gzip' | 'none' = 'none';
  private size = 0;
  private usize = 0;
  private reported = 0;
  /** The first bytes of the uncompressed stream, held until there are 4 to check. */
  private uhead: Buffer | null = Buffer.alloc(0);
  private entries = 0;
  private dataBytes = 0;
  /** Bytes of the uncompressed stream accounted for by entries (header + padded data). */
  private explained = 0;
  private lastName: string | undefined;
  private eof = false;

  constructor(
    private readonly dest: string,
    private readonly opts: Checked,
  ) {
    // strict: every node-tar warning (bad checksum, truncation, not a tar) is
    // an 'error'. zstd/brotli false: the parser must not decompress anything
    // itself (we do, to hash the uncompressed bytes).
    this.parser = new Parser({ strict: true, zstd: false, brotli: false, maxMetaEntrySize: MAX_META });
    this.parser.on('entry', (entry: ReadEntry) => this.onEntry(entry));
    this.parser.on('ignoredEntry', (entry: ReadEntry) => this.onIgnored(entry));
    this.parser.on('eof', () => {
      this.eof = true;
    });
    this.parser.on('error', (err: Error & { tarCode?: string; entry?: ReadEntry }) => {
      // A tar of only the end-of-archive marker is an empty layer, as commit()
      // of an unchanged container writes and as Docker and OCI allow; node-tar
      // calls an archive without one entry unrecognized.
      if (this.eof && this.entries === 0 && isUnrecognized(err)) return;
      this.fail(this.tarError(err));
    });
  }

  async run(input: Readable): Promise<ExtractResult> {
    const signal = this.opts.signal;
    if (signal?.aborted) throw aborted(signal);
    const onAbort = () => this.fail(aborted(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.input = input;
    try {
      await this.pump(input);
    } catch (err) {
      this.fail(err);
    }
    // Whatever happened, let the entry being applied finish before returning,
    // so the caller's cleanup of dest does not race our writes.
    await this.chain;
    signal?.removeEventListener('abort', onAbort);
    if (this.error !== undefined) {
      input.destroy();
      throw this.error;
    }
    await this.finishDirectories();
    const digest = `sha256:${this.inHash.digest('hex')}`;
    return {
      diffId: this.outHash ? `sha256:${this.outHash.digest('hex')}` : digest,
      digest,
      size: this.size,
      uncompressedSize: this.usize,
      compression: this.compression,
      entries: this.entries,
    };
  }

  /** Records the first failure and stops everything that waits. */
  private fail(err: unknown): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.stop.abort(err);
    this.gunzip?.destroy();
    this.input?.destroy();
  }

  /** Resolves on `event`, rejects with the failure if one comes first. */
  private wait(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.error !== undefined) return reject(this.error);
      const signal = this.stop.signal;
      const onEvent = () => {
        signal.removeEventListener('abort', onStop);
        resolve();
      };
      const onStop = () => {
        emitter.removeListener(event, onEvent);
        reject(this.error);
      };
      emitter.once(event, onEvent);
      signal.addEventListener('abort', onStop, { once: true });
    });
  }

  private progress(final: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb || (!final && this.size - this.reported < PROGRESS_EVERY)) return;
    this.reported = this.size;
    cb({ bytesDone: this.size, bytesTotal: this.opts.bytesTotal });
  }

  // ---- input side: digest, progress, compression ----

  private async pump(input: Readable): Promise<void> {
    let head: Buffer | null = Buffer.alloc(0); // input bytes until 4 tell the format
    let consumer: Promise<void> | undefined;
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    const toGunzip = async (chunk: Buffer | null) => {
      if (chunk) {
        gathered.push(chunk);
        gatheredBytes += chunk.length;
        if (gatheredBytes < GUNZIP_BATCH) return;
      }
      if (gathered.length === 0) return;
      const buf = gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
      if (!this.gunzip!.write(buf)) await this.wait(this.gunzip!, 'drain');
    };
    for await (const raw of input) {
      if (this.error !== undefined) return;
      let chunk = bytes(raw);
      this.inHash.update(chunk);
      this.size += chunk.length;
      this.progress(false);
      if (head !== null) {
        head = head.length ? Buffer.concat([head, chunk]) : chunk;
        if (head.length < 4) continue;
        chunk = head;
        head = null;
        consumer = this.start(chunk);
      }
      if (this.gunzip) await toGunzip(chunk);
      else await this.feed(chunk);
    }
    if (this.error !== undefined) return;
    this.progress(true);
    if (head !== null) {
      // Under 4 bytes in all: not a tar, which the parser will say.
      consumer = this.start(head);
      if (this.gunzip) await toGunzip(head);
      else await this.feed(head);
    }
    if (this.gunzip) {
      await toGunzip(null);
      if (this.error !== undefined) return;
      this.gunzip.end();
      await consumer;
    }
    await this.endFeed();
  }

  /** Looks at the input's first bytes; for gzip, starts the gunzip and the loop reading from it. */
  private start(head: Buffer): Promise<void> | undefined {
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      throw new IsolateError('ERR_UNSUPPORTED', 'The layer is zstd-compressed; only plain and gzip layers can be imported');
    }
    if (head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
    this.compression = 'gzip';
    this.outHash = createHash('sha256');
    const gunzip = (this.gunzip = createGunzip({ chunkSize: 256 << 10 }));
    const consume = async () => {
      try {
        for await (const chunk of gunzip) {
          if (this.error !== undefined) return;
          try {
            await this.feed(chunk as Buffer);
          } catch (err) {
            return this.fail(err);
          }
        }
      } catch (err) {
        // Only gunzip's own errors get here.
        if (this.error !== undefined) return; // we destroyed it
        throw new IsolateError('ERR_BAD_IMAGE', `The layer's gzip data is corrupt: ${(err as Error).message}`, { cause: err });
      }
    };
    return consume().catch((err) => this.fail(err));
  }

  // ---- uncompressed side: diffId, overhead cap, parser ----

  private async feed(chunk: Buffer): Promise<void> {
    this.outHash?.update(chunk);
    if (this.uhead !== null) {
      this.uhead = this.uhead.length ? Buffer.concat([this.uhead, chunk]) : chunk;
      if (this.uhead.length < 4) return;
      chunk = this.uhead;
      this.uhead = null;
      // node-tar would decompress these itself, behind our hash's back.
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) throw new IsolateError('ERR_BAD_IMAGE', 'The layer is gzip-compressed twice');
      if (chunk[0] === 0x28 && chunk[1] === 0xb5 && chunk[2] === 0x2f && chunk[3] === 0xfd) {
        throw new IsolateError('ERR_BAD_IMAGE', 'The layer is zstd data inside gzip');
      }
    }
    for (let off = 0; off < chunk.length; off += FEED_SLICE) {
      if (this.error !== undefined) return;
      const piece = chunk.length <= FEED_SLICE ? chunk : chunk.subarray(off, off + FEED_SLICE);
      this.usize += piece.length;
      this.checkOverhead();
      // After the end-of-archive marker the rest is only hashed: node-tar
      // would keep appending it to a buffer.
      if (this.eof) continue;
      if (!this.parser.write(piece)) await this.wait(this.parser, 'drain');
    }
  }

  private checkOverhead(): void {
    const allowed = this.explained + OVERHEAD_BASE + OVERHEAD_PER_ENTRY * this.entries;
    if (this.usize <= allowed) return;
    const last = this.lastName === undefined ? 'before any entry' : `after entry ${q(this.lastName)}`;
    throw new IsolateError(
      'ERR_BAD_IMAGE',
      `The layer tar has over ${allowed - this.explained} bytes of headers, padding and trailing data for ${this.entries} entries (${last}): a tar bomb?`,
      this.lastName === undefined ? {} : { path: this.lastName },
    );
  }

  private async endFeed(): Promise<void> {
    if (this.error !== undefined) return;
    if (this.uhead !== null) {
      this.usize += this.uhead.length;
      this.parser.write(this.uhead);
      this.uhead = null;
    }
    if (this.usize === 0 || (!this.eof && this.usize < 512)) {
      throw new IsolateError('ERR_BAD_IMAGE', `The layer is not a tar archive (${this.usize} bytes)`);
    }
    // Without an end-of-archive marker a tar is still whole if it ends on a
    // block boundary (some writers omit the marker; the caller's digest check
    // catches a cut there). Mid-block, it was cut.
    if (!this.eof && this.usize % 512 !== 0) {
      const at = this.lastName === undefined ? '' : ` after entry ${q(this.lastName)}`;
      throw new IsolateError('ERR_BAD_IMAGE', `The layer tar is truncated${at} (${this.usize} bytes, not a whole number of 512-byte blocks)`, {
        ...(this.lastName === undefined ? {} : { path: this.lastName }),
      });
    }
    const done = this.wait(this.parser, 'end');
    this.parser.end();
    await done;
  }

  private tarError(err: Error & { tarCode?: string; entry?: ReadEntry; header?: { path?: string } }): IsolateError {
    if (isUnrecognized(err)) {
      return new IsolateError('ERR_BAD_IMAGE', 'The layer is not a tar archive (nor gzip of one)', { cause: err });
    }
    // A header that fails its checks comes with what it reads (its name may
    // be the damaged part); the last entry admitted is not near it: node-tar
    // parses a whole chunk of headers before their entries reach us.
    const damaged = err.entry === undefined ? err.header?.path || undefined : undefined;
    const name = err.entry?.path ?? damaged ?? this.lastName;
    const at = name === undefined ? '' : damaged !== undefined ? ` at the entry whose header reads ${q(name)}` : ` at entry ${q(name)}`;
    return new IsolateError('ERR_BAD_IMAGE', `The layer tar is corrupt${at}: ${err.message.replace(/^TAR_\w+: /, '')}`, {
      cause: err,
      ...(name === undefined ? {} : { path: name }),
    });
  }

  // ---- entries ----

  /** Counts an entry against the limits, from its header, before any of its data is written. */
  private admit(entry: ReadEntry): void {
    const { limits } = this.opts;
    this.entries++;
    this.lastName = entry.path;
    this.explained += 512 + entry.startBlockSize;
    if (this.entries > limits.maxEntries) {
      throw bad(entry.path, `is entry number ${this.entries}, over the limit of ${limits.maxEntries} (limits.maxEntries)`);
    }
    if (entry.size > limits.maxEntrySize) {
      throw bad(entry.path, `holds ${entry.size} bytes, over the limit of ${limits.maxEntrySize} per entry (limits.maxEntrySize)`);
    }
    // Bodies of every type count, not only regular files': a body we discard
    // still costs the work of reading it.
    this.dataBytes += entry.size;
    if (this.dataBytes > limits.maxLayerSize) {
      throw bad(entry.path, `brings the layer's data to ${this.dataBytes} bytes, over the limit of ${limits.maxLayerSize} (limits.maxLayerSize)`);
    }
  }

  private onEntry(entry: ReadEntry): void {
    if (this.error !== undefined) {
      entry.resume();
      return;
    }
    try {
      this.admit(entry);
    } catch (err) {
      this.fail(err);
      entry.resume();
      return;
    }
    this.chain = this.chain
      .then(() => (this.error === undefined ? this.apply(entry) : undefined))
      .catch((err) => this.fail(this.wrap(err, entry.path)))
      .finally(() => {
        if (!entry.emittedEnd) entry.resume(); // discard what is left
      });
  }

  /** Entries node-tar does not hand out: oversized pax headers, unknown types. */
  private onIgnored(entry: ReadEntry): void {
    if (this.error !== undefined) return;
    try {
      if (entry.meta) throw bad(entry.path, `is a ${entry.type} header over ${MAX_META} bytes`);
      this.admit(entry);
      const code = entry.header.typeKey;
      if (METADATA_TYPES.has(code)) return; // volume label, Solaris ACL, inode metadata: nothing to create
      // Sparse ('S'), multi-volume continuation ('M') and unknown types would
      // silently lose file content.
      throw bad(entry.path, `has type ${q(code)} (${entry.type}), which cannot be extracted`);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Tar name → path components inside the layer, or a rejection naming `entry`. */
  private split(name: string, entry: string, what = 'name'): string[] {
    if (name.includes('\0')) throw bad(entry, `has a NUL byte in its ${what}`);
    if (name.startsWith('/')) throw bad(entry, `has an absolute ${what} ${q(name)}; layer paths are relative`);
    const parts: string[] = [];
    for (const p of name.split('/')) {
      if (p === '' || p === '.') continue;
      if (p === '..') throw bad(entry, `has a '..' component in its ${what} ${q(name)}, which would leave the layer`);
      parts.push(p);
    }
    return parts;
  }

  private abs(parts: string[]): string {
    return parts.length ? `${this.dest}/${parts.join('/')}` : this.dest;
  }

  /** The directory node that holds parts' last component; creates missing parents 0755. */
  private async parentOf(parts: string[], entry: string): Promise<DirNode> {
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const c = parts[i];
      const child = dir.children.get(c);
      if (child === undefined) {
        if (c.startsWith('.wh.')) throw bad(entry, `has a parent directory named like a whiteout (${q(c)})`);
        const abs = this.abs(parts.slice(0, i + 1));
        mkdirSync(abs, 0o755);
        chmodSync(abs, 0o755); // mkdir's mode is cut by the umask
        const node: DirNode = { kind: 'dir', children: new Map() };
        dir.children.set(c, node);
        dir = node;
      } else if (child.kind !== 'dir') {
        throw bad(entry, `has ${q(parts.slice(0, i + 1).join('/'))} as a parent, which this layer made a ${child.kind === 'file' ? 'file' : 'non-directory'}`);
      } else {
        dir = child;
      }
    }
    return dir;
  }

  /** The node at parts, if this layer created one. */
  private lookup(parts: string[]): TreeNode | undefined {
    let node: TreeNode | undefined = this.root;
    for (const p of parts) {
      if (node.kind !== 'dir') return undefined;
      node = node.children.get(p);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /**
   * Removes what an earlier entry put at parent/name (tar semantics: the
   * later entry wins). A directory is kept, and returned, when `keepDir`.
   */
  private async clear(parent: DirNode, name: string, abs: string, keepDir: boolean): Promise<DirNode | undefined> {
    const existing = parent.children.get(name);
    if (existing === undefined) return undefined;
    if (existing.kind === 'dir') {
      if (keepDir) return existing;
      await rm(abs, { recursive: true, force: true }); // rm never follows symlinks inside
    } else {
      unlinkSync(abs);
    }
    parent.children.delete(name);
    return undefined;
  }

  private meta(entry: ReadEntry, defaultMode: number): Meta {
    const name = entry.path;
    const mode = typeof entry.mode === 'number' && Number.isInteger(entry.mode) ? entry.mode & 0o7777 : defaultMode;
    const id = (v: number | undefined, what: string) => {
      if (v === undefined) return 0;
      // 2^32-1 is chown's "leave unchanged".
      if (!Number.isInteger(v) || v < 0 || v >= 0xffffffff) throw bad(name, `has ${what} ${v}, not an id from 0 to 4294967294`);
      return v;
    };
    const mtime = entry.mtime ?? new Date(0);
    if (Number.isNaN(mtime.getTime())) throw bad(name, 'has an invalid mtime');
    return { mode, uid: id(entry.uid, 'uid'), gid: id(entry.gid, 'gid'), mtime };
  }

  private async apply(entry: ReadEntry): Promise<void> {
    const name = entry.path;
    const parts = this.split(name, name);
    const base = parts[parts.length - 1];
    const type = entry.type;
    if (base !== undefined && base.startsWith('.wh.')) {
      entry.resume();
      return this.whiteout(entry, parts);
    }
    const isDir = type === 'Directory' || type === 'GNUDumpDir';
    if (base === undefined && !isDir) throw bad(name, `names the layer root, which only a directory entry may (type ${type})`);
    if (isDir) {
      entry.resume();
      return this.directory(entry, parts);
    }
    switch (type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        return this.file(entry, parts);
      case 'SymbolicLink':
        entry.resume();
        return this.symlink(entry, parts);
      case 'Link':
        entry.resume();
        return this.hardlink(entry, parts);
      case 'FIFO':
      case 'CharacterDevice':
      case 'BlockDevice':
        entry.resume();
        return this.special(entry, parts);
      default:
        throw bad(name, `has type ${type}, which cannot be extracted`);
    }
  }

  private async directory(entry: ReadEntry, parts: string[]): Promise<void> {
    const m = this.meta(entry, 0o755);
    let node: DirNode;
    const abs = this.abs(parts);
    if (parts.length === 0) {
      node = this.root;
    } else {
      const parent = await this.parentOf(parts, entry.path);
      const base = parts[parts.length - 1];
      const kept = await this.clear(parent, base, abs, true);
      if (kept) {
        node = kept;
      } else {
        mkdirSync(abs, 0o700);
        node = { kind: 'dir', children: new Map() };
        parent.children.set(base, node);
      }
    }
    lchownSync(abs, m.uid, m.gid);
    chmodSync(abs, m.mode); // after chown, which clears setgid
    node.mtime = m.mtime;
  }

  private async file(entry: ReadEntry, parts: string[]): Promise<void> {
    const m = this.meta(entry, 0o644);
    const parent = await this.parentOf(parts, entry.path);
    const base = parts[parts.length - 1];
    const abs = this.abs(parts);
    await this.clear(parent, base, abs, false);
    if (entry.size <= SMALL_FILE) {
      const data = await this.gather(entry);
      // O_EXCL|O_NOFOLLOW: even if something raced a symlink in, we write no file but ours.
      const fd = openSync(abs, WRITE_FLAGS, 0o600);
      parent.children.set(base, FILE);
      try {
        writeAllSync(fd, data);
        fchownSync(fd, m.uid, m.gid);
        fchmodSync(fd, m.mode); // after chown, which clears setuid/setgid
        futimesSync(fd, m.mtime, m.mtime);
      } finally {
        closeSync(fd);
      }
      return;
    }
    const fh = await open(abs, WRITE_FLAGS, 0o600);
    parent.children.set(base, FILE);
    try {
      await this.copy(entry, fh);
      await fh.chown(m.uid, m.gid);
      await fh.chmod(m.mode);
      await fh.utimes(m.mtime, m.mtime);
    } finally {
      await fh.close(); // waits for a write still in flight
    }
  }

  /** All of a small entry's data (usually already buffered in it). */
  private gather(entry: ReadEntry): Promise<Buffer[]> {
    const name = entry.path;
    const expected = entry.size;
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let got = 0;
      const signal = this.stop.signal;
      const cleanup = () => {
        signal.removeEventListener('abort', onStop);
        entry.removeListener('data', onData);
        entry.removeListener('end', onEnd);
      };
      const onStop = () => {
        cleanup();
        reject(this.error);
      };
      const onData = (chunk: Buffer) => {
        parts.push(chunk);
        got += chunk.length;
      };
      const onEnd = () => {
        cleanup();
        if (got !== expected) reject(bad(name, `is truncated (${got} of ${expected} bytes)`));
        else resolve(parts);
      };
      signal.addEventListener('abort', onStop, { once: true });
      entry.on('end', onEnd);
      entry.on('data', onData); // last: adding it starts the flow
    });
  }

  /**
   * Streams the entry's data into fh in batches. One batch is written while
   * the next fills; the entry is held back only when a second one is full.
   */
  private copy(entry: ReadEntry, fh: FileHandle): Promise<void> {
    const name = entry.path;
    const expected = entry.size;
    return new Promise<void>((resolve, reject) => {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      let got = 0;
      let queued = 0; // batches handed to `writing` and not yet written
      let paused = false;
      let settled = false;
      let writing: Promise<void> = Promise.resolve();
      const signal = this.stop.signal;
      const done = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onStop);
        entry.removeListener('data', onData);
        entry.removeListener('end', onEnd);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onStop = () => done(this.error);
      const write = () => {
        const bufs = batch;
        batch = [];
        batchBytes = 0;
        if (bufs.length === 0) return writing;
        queued++;
        writing = writing.then(async () => {
          if (!settled) await writeAll(fh, bufs);
          queued--;
          if (paused && !settled) {
            paused = false;
            entry.resume();
          }
        });
        writing.catch(done);
        return writing;
      };
      const onData = (chunk: Buffer) => {
        if (settled) return;
        got += chunk.length;
        if (got > expected) return done(bad(name, 'has more data than its header says'));
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes < WRITE_BATCH) return;
        write();
        if (queued >= 2 && !paused) {
          paused = true;
          entry.pause();
        }
      };
      const onEnd = () => {
        if (got < expected) return done(bad(name, `is truncated (${got} of ${expected} bytes)`));
        write().then(() => done(), done);
      };
      signal.addEventListener('abort', onStop, { once: true });
      entry.on('end', onEnd);
      entry.on('data', onData); // last: adding it starts the flow
    });
  }

  private async symlink(entry: ReadEntry, parts: string[]): Promise<void> {
    const m = this.meta(entry, 0o777);
    const target = entry.linkpath ?? '';
    if (target === '' || target.includes('\0')) throw bad(entry.path, 'is a symlink without a valid target');
    const parent = await this.parentOf(parts, entry.path);
    const base = parts[parts.length - 1];
    const abs = this.abs(parts);
    await this.clear(parent, base, abs, false);
    symlinkSync(target, abs);
    parent.children.set(base, OTHER);
    lchownSync(abs, m.uid, m.gid);
    lutimesSync(abs, m.mtime, m.mtime);
  }

  /** Another name for a regular file this tar created. Its own header's metadata is not applied: the inode has the target's. */
  private async hardlink(entry: ReadEntry, parts: string[]): Promise<void> {
    const name = entry.path;
    const linkpath = entry.linkpath ?? '';
    const target = this.split(linkpath, name, 'link target');
    if (this.lookup(target)?.kind !== 'file') {
      throw bad(name, `is a hardlink to ${q(linkpath)}, which is not a regular file earlier in this layer`);
    }
    if (target.length >= parts.length && parts.every((p, i) => p === target[i])) {
      throw bad(name, `is a hardlink to ${q(linkpath)}, which is itself or inside it`);
    }
    const parent = await this.parentOf(parts, name);
    const base = parts[parts.length - 1];
    const abs = this.abs(parts);
    await this.clear(parent, base, abs, false);
    linkSync(this.abs(target), abs); // link(2) never follows a symlink, and target is a file we made
    parent.children.set(base, FILE);
  }

  /** FIFOs, and character/block devices when allowed. */
  private async special(entry: ReadEntry, parts: string[]): Promise<void> {
    const name = entry.path;
    const m = this.meta(entry, 0o644);
    let mode: number;
    let dev = 0;
    if (entry.type === 'FIFO') {
      mode = S_IFIFO;
    } else {
      const major = entry.header.devmaj;
      const minor = entry.header.devmin;
      const kind = entry.type === 'CharacterDevice' ? 'character' : 'block';
      if (!this.opts.allowDevices) throw bad(name, `is a ${kind} device (${major}:${minor}); devices are refused unless allowDevices is set`);
      if (!Number.isInteger(major) || !Number.isInteger(minor) || major < 0 || minor < 0 || major >= 1 << 12 || minor >= 1 << 20) {
        throw bad(name, `is a ${kind} device with invalid numbers ${major}:${minor}`);
      }
      mode = entry.type === 'CharacterDevice' ? S_IFCHR : S_IFBLK;
      dev = makedev(major, minor);
    }
    const parent = await this.parentOf(parts, name);
    const base = parts[parts.length - 1];
    const abs = this.abs(parts);
    await this.clear(parent, base, abs, false);
    native().mknod(abs, mode | (m.mode & 0o777), dev);
    parent.children.set(base, OTHER);
    lchownSync(abs, m.uid, m.gid);
    chmodSync(abs, m.mode); // the umask cut mknod's mode; chown cleared setgid
    lutimesSync(abs, m.mtime, m.mtime);
  }

  /** OCI whiteouts → overlayfs's: `.wh.NAME` a 0/0 char device, `.wh..wh..opq` an xattr on the directory. */
  private async whiteout(entry: ReadEntry, parts: string[]): Promise<void> {
    const name = entry.path;
    const base = parts[parts.length - 1];
    const dirParts = parts.slice(0, -1);
    if (base === '.wh..wh..opq') {
      await this.parentOf(parts, name);
      markOpaque(this.abs(dirParts));
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // AUFS housekeeping (.wh..wh.plnk, .wh..wh.aufs): not image content
    const hidden = base.slice(4);
    if (hidden === '.' || hidden === '..') throw bad(name, `is a whiteout for ${q(hidden)}`);
    if (hidden === '') throw bad(name, 'is a whiteout without a name');
    const m = this.meta(entry, 0);
    const parent = await this.parentOf(parts, name);
    // This layer's own entry for the name stays: a whiteout hides lower layers only (OCI image spec).
    if (parent.children.has(hidden)) return;
    const abs = this.abs([...dirParts, hidden]);
    native().mknod(abs, S_IFCHR, 0); // mode 0, as overlayfs and Docker make them
    parent.children.set(hidden, OTHER);
    lchownSync(abs, m.uid, m.gid);
    lutimesSync(abs, m.mtime, m.mtime);
  }

  /** Directory mtimes last: creating their contents changed them. */
  private async finishDirectories(): Promise<void> {
    const stack: [DirNode, string][] = [[this.root, this.dest]];
    while (stack.length) {
      const [node, abs] = stack.pop()!;
      for (const [name, child] of node.children) if (child.kind === 'dir') stack.push([child, `${abs}/${name}`]);
      if (node.mtime) lutimesSync(abs, node.mtime, node.mtime);
    }
  }

  /**
   * A system error while applying `name`: input the kernel refuses is a bad
   * image; a missing privilege or filesystem feature says so; host I/O
   * failures (ENOSPC, EIO…) are passed on as Node's own errors.
   */
  private wrap(err: unknown, name: string): unknown {
    if (isIsolateError(err)) return err;
    switch ((err as NodeJS.ErrnoException)?.code) {
      case 'EPERM':
      case 'EACCES':
        return fromSystemError('ERR_PERMISSION', `Cannot extract layer entry ${q(name)} (importing layers needs root)`, err, { path: name });
      case 'ENOTSUP':
      case 'EOPNOTSUPP':
        return fromSystemError('ERR_UNSUPPORTED', `Cannot extract layer entry ${q(name)}: the destination filesystem lacks a feature layers need`, err, {
          path: name,
        });
      case 'ENAMETOOLONG':
      case 'EINVAL':
      case 'EMLINK':
      case 'EOVERFLOW':
      case 'EILSEQ':
      case 'ELOOP':
      case 'ENOTDIR':
      case 'EISDIR':
      case 'EEXIST':
      case 'ENOENT':
        return fromSystemError('ERR_BAD_IMAGE', `Layer entry ${q(name)} cannot be extracted`, err, { path: name });
      default:
        return err;
    }
  }
}

function aborted(signal: AbortSignal): IsolateError {
  return new IsolateError('ERR_ABORTED', 'Layer extraction was aborted', { cause: signal.reason });
}
