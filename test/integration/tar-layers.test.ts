/**
 * Layer tars in and out: packLayer() writes a directory in overlayfs's format
 * as a deterministic OCI layer tar, extractLayer() reads one back (plain or
 * gzip) with everything intact, and a hostile tar is refused naming the
 * entry, with nothing written outside the destination.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  createReadStream,
  existsSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { Header, Parser, Pax, type HeaderData, type ReadEntry } from 'tar';
import { IsolateError } from '../../lib';
import type { ExtractOptions, ExtractResult, Progress } from '../../lib/image/contracts';
import { DEFAULT_EXTRACT_LIMITS, extractLayer } from '../../lib/image/tar-read';
import { packLayer, packToFile, type PackOptions } from '../../lib/image/tar-write';
import { inLowers } from '../../lib/image/diff';
import { readImageFile } from '../../lib/image/run-config';
import { native } from '../../lib/native';
import { isRoot, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { fuzzSettings, generator } from '../helpers/random';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const OPAQUE = 'trusted.overlay.opaque';
/** A file the '/etc' symlink cases would create if they escaped. */
const ETC_CANARY = '/etc/isolate-kit-tar-test-pwned';
const MiB = 1 << 20;

// ---- crafting tars ----

interface Crafted {
  path: string;
  type?: HeaderData['type'];
  data?: Buffer | string;
  /** The header's size when it should differ from data's. */
  size?: number;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmaj?: number;
  devmin?: number;
}

/** A tar of exactly these entries (headers by node-tar's Header, pax when a field needs it); `end`: the two zero blocks. */
function tarOf(entries: Crafted[], end = true): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    const h: HeaderData = {
      path: e.path,
      type: e.type ?? 'File',
      size: e.size ?? data.length,
      mode: e.mode ?? 0o644,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      linkpath: e.linkpath,
      devmaj: e.devmaj ?? 0,
      devmin: e.devmin ?? 0,
    };
    const block = Buffer.alloc(512);
    if (new Header(h).encode(block)) out.push(new Pax(h).encode());
    out.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** The bytes as a stream of `size`-byte chunks. */
function streamOf(buf: Buffer, size = 64 << 10): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

/** Entry names and types of a tar, in order (node-tar's parser). */
async function listTar(buf: Buffer): Promise<{ path: string; type: string; mode: number | undefined; linkpath: string | undefined }[]> {
  const out: { path: string; type: string; mode: number | undefined; linkpath: string | undefined }[] = [];
  const p = new Parser({ strict: true });
  p.on('entry', (e: ReadEntry) => {
    out.push({ path: e.path, type: e.type, mode: e.mode, linkpath: e.linkpath });
    e.resume();
  });
  await new Promise<void>((resolve, reject) => {
    p.on('error', reject);
    p.on('end', resolve);
    p.end(buf);
  });
  return out;
}

/** A Writable gathering what is written. */
function collector(): { out: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  return { out, bytes: () => Buffer.concat(parts) };
}

async function packToBuffer(dir: string, opts?: Parameters<typeof packLayer>[2]): Promise<{ tar: Buffer; diffId: string; size: number }> {
  const c = collector();
  const r = await packLayer(dir, c.out, opts);
  return { tar: c.bytes(), ...r };
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

// ---- trees ----

interface Snap {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  rdev: number;
  content?: string;
  target?: string;
  opaque?: string;
  /** For a file with several links: the first of its paths (sorted). */
  inode?: string;
}

/** Everything packLayer records about each path under dir (root excluded), hardlinks as groups. */
function snapshot(dir: string): Record<string, Snap> {
  const out: Record<string, Snap> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      const s: Snap = { type: '', mode: st.mode, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), rdev: st.rdev };
      if (st.isDirectory()) {
        s.type = 'dir';
        const x = native().lgetxattr(p, OPAQUE);
        if (x) s.opaque = x.toString();
      } else if (st.isFile()) {
        s.type = 'file';
        s.content = createHash('sha256').update(readFileSync(p)).digest('hex');
        if (st.nlink > 1) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, r);
          s.inode = inodes.get(st.ino);
        }
      } else if (st.isSymbolicLink()) {
        s.type = 'symlink';
        s.target = readlinkSync(p);
        s.mtime = Math.floor(st.mtimeMs / 1000);
      } else if (st.isFIFO()) s.type = 'fifo';
      else if (st.isCharacterDevice()) s.type = 'chr';
      else if (st.isBlockDevice()) s.type = 'blk';
      out[r] = s;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

const LONG_DIR = `long/${'d'.repeat(120)}`;
const LONG_FILE = `${LONG_DIR}/${'f'.repeat(200)}`;
const UNICODE = 'ünïcødé-文件';

/** A layer in overlayfs's format with one of everything packLayer handles. */
function makeTree(dir: string): void {
  const d = (rel: string, mode: number, uid = 0, gid = 0) => {
    mkdirSync(join(dir, rel));
    chownSync(join(dir, rel), uid, gid);
    chmodSync(join(dir, rel), mode);
  };
  const f = (rel: string, data: Buffer | string, mode: number, uid = 0, gid = 0) => {
    writeFileSync(join(dir, rel), data);
    chownSync(join(dir, rel), uid, gid);
    chmodSync(join(dir, rel), mode);
  };
  d('etc', 0o755);
  f('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', 0o644);
  f('etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o640, 0, 42);
  f('etc/empty', '', 0o600);
  f('etc/block', Buffer.alloc(4096, 7), 0o644);
  symlinkSync('/etc/passwd', join(dir, 'etc/abs-link'));
  symlinkSync('../nowhere/at/all', join(dir, 'etc/dangling'));
  native().mknod(join(dir, 'etc/removed'), S_IFCHR, 0); // whiteout
  d('bin', 0o755);
  f('bin/tool', '#!/bin/sh\necho tool\n', 0o4755);
  f('bin/sgid', '#!/bin/sh\n', 0o2755, 0, 50);
  linkSync(join(dir, 'bin/tool'), join(dir, 'bin/tool-hardlink'));
  symlinkSync('tool', join(dir, 'bin/sh'));
  d('tmp', 0o1777);
  d('shared', 0o2775, 1000, 1000);
  d('home', 0o755);
  d('home/user', 0o700, 1000, 1000);
  f('home/user/big', Buffer.concat(Array.from({ length: 3 }, (_, i) => createHash('sha512').update(String(i)).digest()).map((b) => Buffer.alloc(600_000, b))), 0o600, 1000, 1000);
  linkSync(join(dir, 'home/user/big'), join(dir, 'home/user/also-big'));
  d('run', 0o755);
  native().mknod(join(dir, 'run/fifo'), S_IFIFO | 0o600, 0);
  chownSync(join(dir, 'run/fifo'), 7, 7);
  native().mknod(join(dir, 'gone'), S_IFCHR, 0); // whiteout at the root
  d('var', 0o755);
  d('var/cache', 0o755);
  native().lsetxattr(join(dir, 'var/cache'), OPAQUE, Buffer.from('y'));
  f('var/cache/new', 'new\n', 0o644);
  d('var/cache/!first', 0o755); // sorts before '.wh..wh..opq': the marker still comes right after its directory
  mkdirSync(join(dir, LONG_DIR), { recursive: true });
  f(LONG_FILE, 'long name\n', 0o644, 123456789, 987654321);
  f(UNICODE, 'unicode\n', 0o644);
  // mtimes last, deepest first: creating entries changed the directories'.
  const all: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      all.push(r);
      if (lstatSync(join(dir, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  all.sort((a, b) => b.split('/').length - a.split('/').length);
  all.forEach((r, i) => lutimesSync(join(dir, r), 1_500_000_000 + i * 1000, 1_500_000_000 + i * 1000));
}

describe('Layer tars (tar-read, tar-write)', function () {
  this.timeout(60_000);
  let tmp: string;
  let n = 0;

  before(function () {
    skipUnless(this, isRoot() ? null : 'whiteouts, owners and trusted xattrs need root');
    tmp = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  });
  after(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    rmSync(ETC_CANARY, { force: true });
  });

  /** A fresh case directory: `dest` (empty, 0755) and next to it `sentinel` (empty) and `victim` (a file). */
  function newCase(): { dir: string; dest: string; sentinel: string; victim: string } {
    const dir = join(tmp, `case-${++n}`);
    mkdirSync(join(dir, 'dest'), { recursive: true, mode: 0o755 });
    mkdirSync(join(dir, 'sentinel'));
    writeFileSync(join(dir, 'victim'), 'victim\n');
    return { dir, dest: join(dir, 'dest'), sentinel: join(dir, 'sentinel'), victim: join(dir, 'victim') };
  }

  async function extractOk(tar: Buffer, opts?: ExtractOptions): Promise<{ dest: string; result: ExtractResult }> {
    const c = newCase();
    const result = await extractLayer(streamOf(tar), c.dest, opts);
    return { dest: c.dest, result };
  }

  /**
   * Extracting `tar` must fail with `code` (ERR_BAD_IMAGE) and a message
   * naming `entry`, writing nothing outside dest. Returns the error.
   */
  async function expectRefused(tar: Buffer, entry: string | null, opts?: ExtractOptions, code = 'ERR_BAD_IMAGE'): Promise<IsolateError> {
    const c = newCase();
    const err = await extractLayer(streamOf(tar, 7 * 1024), c.dest, opts).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, 'extraction should have been refused').to.be.instanceOf(IsolateError);
    const e = err as IsolateError;
    expect(e.code, e.message).to.equal(code);
    if (entry !== null) {
      expect(e.message).to.contain(JSON.stringify(entry));
      expect(e.path).to.equal(entry);
    }
    expect(readdirSync(c.sentinel), 'sentinel next to dest').to.deep.equal([]);
    expect(readFileSync(c.victim, 'utf8')).to.equal('victim\n');
    expect(statSync(c.victim).nlink, 'victim hardlinked').to.equal(1);
    expect(readdirSync(c.dir).sort()).to.deep.equal(['dest', 'sentinel', 'victim']);
    expect(existsSync(ETC_CANARY), ETC_CANARY).to.equal(false);
    rmSync(c.dest, { recursive: true, force: true }); // the caller's job after a failure
    return e;
  }

  describe('round trip', function () {
    let src: string;
    let packed: { tar: Buffer; diffId: string; size: number };

    before(async function () {
      src = join(tmp, 'src');
      mkdirSync(src);
      makeTree(src);
      packed = await packToBuffer(src);
    });

    it('should extract what packLayer wrote into an identical tree', async function () {
      const { dest, result } = await extractOk(packed.tar);
      expect(snapshot(dest)).to.deep.equal(snapshot(src));
      expect(result).to.deep.equal({
        diffId: packed.diffId,
        digest: packed.diffId,
        size: packed.size,
        uncompressedSize: packed.size,
        compression: 'none',
        entries: (await listTar(packed.tar)).length,
      });
      // spot checks of what the snapshot compares
      expect(lstatSync(join(dest, 'bin/tool')).mode & 0o7777).to.equal(0o4755);
      expect(lstatSync(join(dest, 'shared')).mode & 0o7777).to.equal(0o2775);
      expect(lstatSync(join(dest, 'tmp')).mode & 0o7777).to.equal(0o1777);
      expect(lstatSync(join(dest, 'bin/tool')).ino).to.equal(lstatSync(join(dest, 'bin/tool-hardlink')).ino);
      expect(lstatSync(join(dest, 'home/user/big')).ino).to.equal(lstatSync(join(dest, 'home/user/also-big')).ino);
      expect(readlinkSync(join(dest, 'etc/abs-link'))).to.equal('/etc/passwd');
      const wo = lstatSync(join(dest, 'etc/removed'));
      expect(wo.isCharacterDevice() && wo.rdev === 0 && (wo.mode & 0o7777) === 0).to.equal(true);
      expect(lstatSync(join(dest, 'run/fifo')).isFIFO()).to.equal(true);
      expect(native().lgetxattr(join(dest, 'var/cache'), OPAQUE)?.toString()).to.equal('y');
      expect(lstatSync(join(dest, LONG_FILE)).uid).to.equal(123456789);
    });

    it('should pack the extracted tree to the same bytes (deterministic)', async function () {
      const { dest } = await extractOk(packed.tar);
      const again = await packToBuffer(dest);
      expect(again.diffId).to.equal(packed.diffId);
      expect(again.tar.equals(packed.tar)).to.equal(true);
    });

    it('should write sorted, relative names in OCI format', async function () {
      const entries = await listTar(packed.tar);
      const names = entries.map((e) => e.path);
      expect(names.every((p) => !p.startsWith('/') && !p.startsWith('./'))).to.equal(true);
      const opq = names.indexOf('var/cache/.wh..wh..opq');
      expect(names[opq - 1], 'the opaque marker right after its directory').to.equal('var/cache/');
      const rest = names.filter((p) => !p.endsWith('/.wh..wh..opq'));
      const sorted = [...rest].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(rest).to.deep.equal(sorted);
      for (const [i, p] of names.entries()) {
        const parent = p.replace(/[^/]+\/?$/, '');
        if (parent) expect(names.indexOf(parent), `${parent} before ${p}`).to.be.within(0, i - 1);
      }
      const byName = new Map(entries.map((e) => [e.path, e]));
      expect(byName.get('etc/')?.type).to.equal('Directory');
      expect(byName.get('etc/.wh.removed')).to.include({ type: 'File', mode: 0 });
      expect(byName.get('.wh.gone')).to.include({ type: 'File', mode: 0 });
      expect(byName.get('bin/tool-hardlink')).to.include({ type: 'Link', linkpath: 'bin/tool' });
      expect(byName.get('home/user/also-big')?.type).to.equal('File'); // first in byte order
      expect(byName.get('home/user/big')).to.include({ type: 'Link', linkpath: 'home/user/also-big' });
      expect(byName.get('run/fifo')?.type).to.equal('FIFO');
      expect(byName.get(LONG_FILE)?.type).to.equal('File');
      expect(byName.get(UNICODE)?.type).to.equal('File');
      expect(names).to.not.include('etc/removed');
      expect(packed.tar.subarray(-1024).equals(Buffer.alloc(1024))).to.equal(true);
      expect(packed.size % 512).to.equal(0);
    });

    it('should give the same diffId for gzip input, with the blob digest and size', async function () {
      const gz = gzipSync(packed.tar);
      const { dest, result } = await extractOk(gz);
      expect(result.diffId).to.equal(packed.diffId);
      expect(result.digest).to.equal(sha256(gz)).and.not.equal(packed.diffId);
      expect(result).to.include({ compression: 'gzip', size: gz.length, uncompressedSize: packed.size });
      expect(snapshot(dest)).to.deep.equal(snapshot(src));
    });

    it('should take the whole tar as one chunk', async function () {
      const c = newCase();
      const r = await extractLayer(Readable.from([packed.tar]), c.dest);
      expect(r.diffId).to.equal(packed.diffId);
    });

    it('should report progress up to bytesTotal', async function () {
      const file = join(tmp, 'progress.tar');
      const big = tarOf([{ path: 'a', data: Buffer.alloc(3 * MiB, 1) }, { path: 'b', data: Buffer.alloc(2 * MiB + 5, 2) }]);
      writeFileSync(file, big);
      const events: Progress[] = [];
      const c = newCase();
      await extractLayer(createReadStream(file), c.dest, { bytesTotal: big.length, onProgress: (p) => events.push(p) });
      expect(events.length).to.be.within(3, 10);
      expect(events.at(-1)).to.deep.equal({ bytesDone: big.length, bytesTotal: big.length });
      for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).to.be.at.least(events[i - 1].bytesDone);
    });

    it('should leave out what exclude() says, directories with their contents', async function () {
      const seen: string[] = [];
      const { tar } = await packToBuffer(src, {
        exclude: (rel, st) => {
          seen.push(rel);
          return rel === 'home' || (rel === 'bin/tool' && st.isFile());
        },
      });
      const names = (await listTar(tar)).map((e) => e.path);
      expect(names.some((p) => p.startsWith('home'))).to.equal(false);
      expect(names).to.not.include('bin/tool');
      expect(names).to.include('bin/tool-hardlink'); // now the inode's first path: a File
      expect(seen).to.include.members(['etc', 'etc/passwd', 'var/cache/new']);
      expect(seen.some((p) => p.startsWith('home/'))).to.equal(false);
    });

    it('should write to a new file with packToFile, and never over an existing one', async function () {
      const file = join(tmp, 'layer.tar');
      const r = await packToFile(src, file);
      expect(r.diffId).to.equal(packed.diffId);
      expect(sha256(readFileSync(file))).to.equal(packed.diffId);
      const e = await packToFile(src, file).catch((x: unknown) => x as IsolateError);
      expect(e).to.include({ code: 'ERR_INVALID_OPTION', option: 'path' });
      expect(sha256(readFileSync(file))).to.equal(packed.diffId);
    });

    it('should leave the stream open with end: false', async function () {
      const pt = new PassThrough();
      const parts: Buffer[] = [];
      pt.on('data', (b: Buffer) => parts.push(b));
      const r = await packLayer(src, pt, { end: false });
      expect(pt.writableEnded).to.equal(false);
      pt.end('trailer');
      await once(pt, 'end');
      const all = Buffer.concat(parts);
      expect(sha256(all.subarray(0, r.size))).to.equal(packed.diffId);
      expect(all.subarray(r.size).toString()).to.equal('trailer');
    });
  });

  describe('devices', function () {
    let dir: string;
    before(function () {
      dir = join(tmp, 'devices');
      mkdirSync(join(dir, 'dev'), { recursive: true });
      native().mknod(join(dir, 'dev/null'), S_IFCHR | 0o666, 0x103); // 1:3
      native().mknod(join(dir, 'dev/loop9'), S_IFBLK | 0o660, 7 * 256 + 9);
    });

    it('should refuse devices without allowDevices', async function () {
      const { tar } = await packToBuffer(dir);
      await expectRefused(tar, 'dev/loop9'); // sorted first
      await expectRefused(tarOf([{ path: 'null', type: 'CharacterDevice', devmaj: 1, devmin: 3 }]), 'null');
    });

    it('should make them with allowDevices', async function () {
      const { tar, diffId } = await packToBuffer(dir);
      const { dest } = await extractOk(tar, { allowDevices: true });
      expect(snapshot(dest)).to.deep.equal(snapshot(dir));
      expect(lstatSync(join(dest, 'dev/null')).rdev).to.equal(0x103);
      expect((await packToBuffer(dest)).diffId).to.equal(diffId);
    });
  });

  describe('tar semantics', function () {
    it('should apply a directory entry that comes after its contents, mtime included', async function () {
      const { dest } = await extractOk(
        tarOf([
          { path: 'd/f', data: 'x' },
          { path: 'd/', type: 'Directory', mode: 0o750, uid: 5, mtime: new Date(1_000_000_000_000) },
        ]),
      );
      const st = lstatSync(join(dest, 'd'));
      expect(st.mode & 0o7777).to.equal(0o750);
      expect(st.uid).to.equal(5);
      expect(st.mtimeMs).to.equal(1_000_000_000_000);
    });

    it('should let later entries replace earlier ones', async function () {
      const { dest } = await extractOk(
        tarOf([
          { path: 'd/', type: 'Directory' },
          { path: 'd/f', data: 'old' },
          { path: 'd/', type: 'Directory', mode: 0o700 }, // metadata only: contents stay
          { path: 'e/', type: 'Directory' },
          { path: 'e/inner', data: 'gone' },
          { path: 'e', data: 'now a file' }, // a directory replaced, with its contents
          { path: 'f', data: 'a file' },
          { path: 'f/', type: 'Directory' }, // a file replaced by a directory
          { path: 's', data: 'a file' },
          { path: 's', type: 'SymbolicLink', linkpath: '/etc/passwd' },
          { path: 'h1', data: 'shared' },
          { path: 'h2', type: 'Link', linkpath: 'h1' },
          { path: 'h2', data: 'separate' }, // replaces the link, not the inode's data
        ]),
      );
      expect(readFileSync(join(dest, 'd/f'), 'utf8')).to.equal('old');
      expect(lstatSync(join(dest, 'd')).mode & 0o777).to.equal(0o700);
      expect(readFileSync(join(dest, 'e'), 'utf8')).to.equal('now a file');
      expect(lstatSync(join(dest, 'f')).isDirectory()).to.equal(true);
      expect(readlinkSync(join(dest, 's'))).to.equal('/etc/passwd');
      expect(readFileSync(join(dest, 'h1'), 'utf8')).to.equal('shared');
      expect(readFileSync(join(dest, 'h2'), 'utf8')).to.equal('separate');
    });

    it("should strip './', create missing parents 0755 and apply './' to the root", async function () {
      const { dest } = await extractOk(
        tarOf([
          { path: './', type: 'Directory', mode: 0o700, mtime: new Date(1_200_000_000_000) },
          { path: './x/y/z', data: 'deep' },
          { path: 'a//b/./c', data: 'odd' },
        ]),
      );
      expect(readFileSync(join(dest, 'x/y/z'), 'utf8')).to.equal('deep');
      expect(readFileSync(join(dest, 'a/b/c'), 'utf8')).to.equal('odd');
      expect(lstatSync(join(dest, 'x/y')).mode & 0o7777).to.equal(0o755);
      const root = lstatSync(dest);
      expect(root.mode & 0o7777).to.equal(0o700);
      expect(root.mtimeMs).to.equal(1_200_000_000_000);
    });

    it('should turn OCI whiteouts into overlayfs ones', async function () {
      const { dest } = await extractOk(
        tarOf([
          { path: 'd/', type: 'Directory' },
          { path: 'd/.wh..wh..opq' },
          { path: 'd/.wh.gone', uid: 3, mtime: new Date(1_100_000_000_000) },
          { path: 'own', data: 'mine' },
          { path: '.wh.own' }, // this layer's own entry wins
          { path: '.wh..wh.plnk/', type: 'Directory' }, // AUFS housekeeping: skipped
          { path: 'implicit/.wh..wh..opq' },
        ]),
      );
      expect(native().lgetxattr(join(dest, 'd'), OPAQUE)?.toString()).to.equal('y');
      expect(native().lgetxattr(join(dest, 'implicit'), OPAQUE)?.toString()).to.equal('y');
      const wo = lstatSync(join(dest, 'd/gone'));
      expect(wo.isCharacterDevice()).to.equal(true);
      expect({ rdev: wo.rdev, perm: wo.mode & 0o7777, uid: wo.uid, mtime: wo.mtimeMs }).to.deep.equal({ rdev: 0, perm: 0, uid: 3, mtime: 1_100_000_000_000 });
      expect(readFileSync(join(dest, 'own'), 'utf8')).to.equal('mine');
      expect(readdirSync(dest).sort()).to.deep.equal(['d', 'implicit', 'own']);
      expect(readdirSync(join(dest, 'd'))).to.deep.equal(['gone']);
    });

    it('should read GNU long names and pax headers', async function () {
      const py = spawnSync(
        'python3',
        [
          '-c',
          `
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
    d = tarfile.TarInfo('g'); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    f = tarfile.TarInfo('g/' + 'n' * 200); f.size = 3; f.mode = 0o640; f.uid = 3000000; t.addfile(f, io.BytesIO(b'gnu'))
    l = tarfile.TarInfo('g/l'); l.type = tarfile.SYMTYPE; l.linkname = 'x' * 150; t.addfile(l)
    h = tarfile.TarInfo('g/h' + 'h' * 150); h.type = tarfile.LNKTYPE; h.linkname = 'g/' + 'n' * 200; t.addfile(h)
sys.stdout.buffer.write(buf.getvalue())
`,
        ],
        { maxBuffer: 1 << 20 },
      );
      expect(py.status, py.stderr.toString()).to.equal(0);
      const { dest } = await extractOk(py.stdout);
      const f = join(dest, 'g', 'n'.repeat(200));
      expect(readFileSync(f, 'utf8')).to.equal('gnu');
      expect(lstatSync(f).uid).to.equal(3000000);
      expect(readlinkSync(join(dest, 'g/l'))).to.equal('x'.repeat(150));
      expect(lstatSync(join(dest, 'g', `h${'h'.repeat(150)}`)).ino).to.equal(lstatSync(f).ino);
      // and pax, as node-tar writes it
      const long = `p/${'q'.repeat(200)}/${'r'.repeat(200)}`;
      const pax = tarOf([{ path: long, data: 'pax', uid: 5_000_000, mtime: new Date(-86_400_000) }]);
      const r = await extractOk(pax);
      expect(lstatSync(join(r.dest, long))).to.include({ uid: 5_000_000, mtimeMs: -86_400_000 });
      // a component over NAME_MAX: the kernel's refusal is a bad image too
      const e = await expectRefused(tarOf([{ path: `p/${'q'.repeat(300)}`, data: 'x' }]), `p/${'q'.repeat(300)}`);
      expect(e.errnoCode).to.equal('ENAMETOOLONG');
    });

    it('should take a tar of only the end-of-archive marker as an empty layer', async function () {
      // What commit() of an unchanged container writes, and Docker's empty layer.
      for (const size of [1024, 10240]) {
        const zeros = Buffer.alloc(size);
        const { dest, result } = await extractOk(zeros);
        expect(readdirSync(dest)).to.deep.equal([]);
        expect(result.entries).to.equal(0);
        expect(result.diffId).to.equal(`sha256:${createHash('sha256').update(zeros).digest('hex')}`);
      }
      expect((await extractOk(gzipSync(Buffer.alloc(1024)))).result.entries).to.equal(0);
      // One zero block is no end-of-archive marker: still not a tar.
      await expectRefused(Buffer.alloc(512), null);
    });

    it('should accept a tar without the end-of-archive marker when it ends on a block', async function () {
      const { dest } = await extractOk(tarOf([{ path: 'a', data: 'x' }], false));
      expect(readFileSync(join(dest, 'a'), 'utf8')).to.equal('x');
    });
  });

  describe('hostile tars', function () {
    it("should refuse '..' traversal", async function () {
      await expectRefused(tarOf([{ path: '../sentinel/pwned', data: 'x' }]), '../sentinel/pwned');
      await expectRefused(tarOf([{ path: 'a/../../sentinel/pwned', data: 'x' }]), 'a/../../sentinel/pwned');
      await expectRefused(tarOf([{ path: '..', type: 'Directory' }]), '..');
      await expectRefused(tarOf([{ path: '../sentinel/d/', type: 'Directory' }]), '../sentinel/d/');
      await expectRefused(tarOf([{ path: '../sentinel/l', type: 'SymbolicLink', linkpath: '/' }]), '../sentinel/l');
    });

    it('should refuse absolute names', async function () {
      const c = newCase(); // any absolute path works; this one would hit a sentinel
      await expectRefused(tarOf([{ path: `${c.sentinel}/pwned`, data: 'x' }]), `${c.sentinel}/pwned`);
      await expectRefused(tarOf([{ path: '/etc/isolate-kit-tar-test-pwned', data: 'x' }]), '/etc/isolate-kit-tar-test-pwned');
      await expectRefused(tarOf([{ path: '/', type: 'Directory' }]), '/');
    });

    it('should never write through a symlink', async function () {
      // dest/../sentinel, wherever the case is: an absolute target
      const c = newCase();
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: c.sentinel },
          { path: 'a/pwned', data: 'x' },
        ]),
        'a/pwned',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '/etc' },
          { path: 'a/isolate-kit-tar-test-pwned', data: 'x' },
        ]),
        'a/isolate-kit-tar-test-pwned',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '..' },
          { path: 'a/sentinel/pwned', data: 'x' },
        ]),
        'a/sentinel/pwned',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '../sentinel' },
          { path: 'a/pwned', data: 'x' },
        ]),
        'a/pwned',
      );
      await expectRefused(
        tarOf([
          { path: 'd/', type: 'Directory' },
          { path: 'd/up', type: 'SymbolicLink', linkpath: '../..' },
          { path: 'd/up/sentinel/', type: 'Directory' },
        ]),
        'd/up/sentinel/',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '../sentinel' },
          { path: 'a/fifo', type: 'FIFO' },
        ]),
        'a/fifo',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '../sentinel' },
          { path: 'a/.wh.x' },
        ]),
        'a/.wh.x',
      );
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '../sentinel' },
          { path: 'a/.wh..wh..opq' },
        ]),
        'a/.wh..wh..opq',
      );
      // a symlink replaced by a file is fine: the link itself goes, not its target
      const { dest } = await extractOk(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '../victim' },
          { path: 'a', data: 'mine' },
        ]),
      );
      expect(lstatSync(join(dest, 'a')).isFile()).to.equal(true);
      expect(readFileSync(join(dest, '../victim'), 'utf8')).to.equal('victim\n');
    });

    it('should refuse hardlinks to anything but an earlier regular file of the layer', async function () {
      await expectRefused(tarOf([{ path: 'h', type: 'Link', linkpath: '../victim' }]), 'h');
      await expectRefused(tarOf([{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }]), 'h');
      await expectRefused(tarOf([{ path: 'h', type: 'Link', linkpath: 'missing' }]), 'h');
      await expectRefused(tarOf([{ path: 'h', type: 'Link', linkpath: 'later' }, { path: 'later', data: 'x' }]), 'h');
      await expectRefused(tarOf([{ path: 's', type: 'SymbolicLink', linkpath: '../victim' }, { path: 'h', type: 'Link', linkpath: 's' }]), 'h');
      await expectRefused(tarOf([{ path: 'd/', type: 'Directory' }, { path: 'h', type: 'Link', linkpath: 'd' }]), 'h');
      await expectRefused(tarOf([{ path: 'f', data: 'x' }, { path: 'f', type: 'Link', linkpath: 'f' }]), 'f');
      await expectRefused(
        tarOf([
          { path: 'a', type: 'SymbolicLink', linkpath: '..' },
          { path: 'h', type: 'Link', linkpath: 'a/victim' },
        ]),
        'h',
      );
    });

    it('should refuse an entry over maxEntrySize before writing it', async function () {
      await expectRefused(tarOf([{ path: 'ok', data: Buffer.alloc(1000) }, { path: 'big', data: Buffer.alloc(2000) }]), 'big', {
        limits: { maxEntrySize: 1024 },
      });
    });

    it('should refuse a layer over maxLayerSize', async function () {
      const files = [0, 1, 2].map((i) => ({ path: `f${i}`, data: Buffer.alloc(2000, i) }));
      await expectRefused(tarOf(files), 'f2', { limits: { maxLayerSize: 5000 } });
    });

    it('should refuse a gzip bomb', async function () {
      const bomb = gzipSync(tarOf([{ path: 'zeros', data: Buffer.alloc(50 * MiB) }]), { level: 1 });
      expect(bomb.length).to.be.below(MiB);
      await expectRefused(bomb, 'zeros', { limits: { maxLayerSize: 10 * MiB } });
      // zeros after the end-of-archive marker: nothing to write, but endless to inflate
      const tail = gzipSync(Buffer.concat([tarOf([{ path: 'hello', data: 'hi' }]), Buffer.alloc(64 * MiB)]), { level: 1 });
      const e = await expectRefused(tail, 'hello');
      expect(e.message).to.match(/trailing data/);
    });

    it('should refuse a flood of pax headers that never make an entry', async function () {
      const pax = new Pax({ comment: 'c'.repeat(1000 * 1000) }).encode();
      const flood = gzipSync(Buffer.concat([...Array.from({ length: 20 }, () => pax), Buffer.alloc(1024)]), { level: 1 });
      await expectRefused(flood, null);
    });

    it('should refuse more than maxEntries entries', async function () {
      const files = Array.from({ length: 11 }, (_, i) => ({ path: `f${i}`, data: 'x' }));
      await expectRefused(tarOf(files), 'f10', { limits: { maxEntries: 10 } });
    });

    it('should refuse devices without allowDevices', async function () {
      await expectRefused(tarOf([{ path: 'dev/sda', type: 'BlockDevice', devmaj: 8, devmin: 0 }]), 'dev/sda');
      await expectRefused(tarOf([{ path: 'kmem', type: 'CharacterDevice', devmaj: 1, devmin: 2 }]), 'kmem');
    });

    it('should refuse a truncated tar', async function () {
      const whole = tarOf([
        { path: 'a', data: Buffer.alloc(3000, 1) },
        { path: 'b', data: Buffer.alloc(3000, 2) },
      ]);
      await expectRefused(whole.subarray(0, 512 + 1024), 'a'); // inside a's data, on a block boundary
      await expectRefused(whole.subarray(0, 512 + 3072 + 512 + 700), 'b'); // inside b's data, mid-block
      await expectRefused(whole.subarray(0, 512 + 3072 + 100), 'a'); // inside b's header: after a
      await expectRefused(gzipSync(whole).subarray(0, 60), null); // a cut gzip stream
    });

    it('should name the damaged header, not the first entry, for a corrupt one', async function () {
      const whole = tarOf([
        { path: 'a', data: Buffer.alloc(3000, 1) },
        { path: 'b', data: 'x' },
        { path: 'c', data: 'y' },
      ]);
      // One bit of c's header's name flipped: its checksum fails.
      const bad = Buffer.from(whole);
      const c = 512 + 3072 + 1024;
      expect(bad.subarray(c, c + 1).toString()).to.equal('c');
      bad[c] ^= 1; // 'c' → 'b'
      const e = await expectRefused(bad, 'b');
      expect(e.message).to.equal('The layer tar is corrupt at the entry whose header reads "b": checksum failure');
    });

    it('should extract or refuse (ERR_BAD_IMAGE) every tar damaged at random, writing nothing outside its layer (seeded)', async function () {
      const { seed, cases } = fuzzSettings(150);
      const random = generator(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const base = tarOf([
        { path: 'dir/', type: 'Directory', mode: 0o755 },
        { path: 'dir/a', data: 'hello' },
        { path: 'dir/big', data: Buffer.alloc(3000, 7) },
        { path: 'link', type: 'SymbolicLink', linkpath: 'dir/a' },
        { path: 'hard', type: 'Link', linkpath: 'dir/a' },
        { path: `long/${'n'.repeat(150)}`, data: 'x' }, // a pax header
        { path: '.wh.gone' },
      ]);
      // Header fields (offset, length) and values at and past what a reader must check.
      const fields: [number, number, string[]][] = [
        [0, 100, ['../escape', '/abs', 'dir/../../x', 'dir/a', '', '.', '..', 'link/through', 'hard/x', 'dir/.wh..wh..opq', 'proc/x']],
        [100, 8, ['0007777', '7777777', 'zzzzzzz', '-000001']],
        [108, 8, ['7777777', '-1', '\x80\0\0\0\0\0\0\x01', 'abc']],
        [124, 12, ['77777777777', '00000000000', '00000001000', 'zz', '\x80\0\0\0\0\0\0\0\0\0\0\x10', '\xff'.repeat(12), '-1']],
        [156, 1, ['0', '1', '2', '3', '4', '5', '6', '7', 'g', 'x', 'L', 'K', 'S', 'V', 'M', 'D', 'N', '\0']],
        [157, 100, ['../../etc/passwd', '/etc/passwd', 'dir/a', 'link', 'hard', '', 'nowhere', 'dir', '.']],
        [257, 8, ['ustar\x0000', 'ustar  \0', 'xxxxxxxx']],
        [345, 155, ['..', '/etc', 'a/../..', '']],
      ];
      const headers = (buf: Buffer): number[] => {
        const out: number[] = [];
        for (let off = 0; off + 512 <= buf.length; ) {
          const h = buf.subarray(off, off + 512);
          if (h.every((b) => b === 0)) break;
          out.push(off);
          off += 512 + Math.ceil((parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8) || 0) / 512) * 512;
        }
        return out;
      };
      const fixChecksum = (buf: Buffer, off: number) => {
        buf.fill(0x20, off + 148, off + 156);
        let sum = 0;
        for (let i = 0; i < 512; i++) sum += buf[off + i]!;
        buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 'latin1');
      };
      let extracted = 0;
      for (let i = 0; i < cases; i++) {
        let buf = Buffer.from(base);
        for (let k = 0, ops = 1 + Math.floor(random() * 3); k < ops; k++) {
          const r = random();
          const hs = headers(buf);
          if (r < 0.6 && hs.length > 0) {
            const off = pick(hs);
            const [at, len, values] = pick(fields);
            buf.fill(0, off + at, off + at + len);
            buf.write(pick(values).slice(0, len), off + at, 'latin1');
            if (random() < 0.9) fixChecksum(buf, off);
          } else if (r < 0.8) {
            buf[Math.floor(random() * buf.length)]! ^= 1 << Math.floor(random() * 8);
          } else if (r < 0.9) {
            buf = buf.subarray(0, Math.floor(random() * buf.length));
          } else {
            buf = Buffer.concat([buf, Buffer.from(pick(['garbage', '\0'.repeat(1024), 'x'.repeat(512)]))]);
          }
        }
        const input = random() < 0.2 ? gzipSync(buf) : buf;
        const c = newCase();
        const what = `seed ${seed}, case ${i}`;
        const err = await extractLayer(streamOf(input, pick([512, 4096, 64 << 10])), c.dest).then(
          () => null,
          (e: unknown) => e,
        );
        if (err === null) extracted++;
        else {
          expect(err, `${what}: ${String(err)}`).to.be.instanceOf(IsolateError);
          expect((err as IsolateError).code, `${what}: ${(err as Error).message}`).to.equal('ERR_BAD_IMAGE');
        }
        expect(readdirSync(c.sentinel), `${what}: sentinel next to dest`).to.deep.equal([]);
        expect(readFileSync(c.victim, 'utf8'), what).to.equal('victim\n');
        expect(statSync(c.victim).nlink, `${what}: victim hardlinked`).to.equal(1);
        expect(readdirSync(c.dir).sort(), what).to.deep.equal(['dest', 'sentinel', 'victim']);
        rmSync(c.dir, { recursive: true, force: true });
      }
      // Both sides drawn (a change that made every case one kind would test nothing).
      expect(extracted, `extracted of ${cases}`).to.be.within(cases / 10, cases - cases / 10);
    });

    it('should refuse input that is not a tar', async function () {
      await expectRefused(Buffer.from('just some text, not a tar archive\n'.repeat(100)), null);
      await expectRefused(Buffer.alloc(0), null);
      await expectRefused(createHash('sha512').update('x').digest(), null);
      await expectRefused(Buffer.concat(Array.from({ length: 64 }, (_, i) => createHash('sha512').update(String(i)).digest())), null);
      await expectRefused(gzipSync(gzipSync(tarOf([{ path: 'a', data: 'x' }]))), null);
      const e = await expectRefused(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xff]), null);
      expect(e.message).to.match(/gzip/);
    });

    it('should refuse zstd with ERR_UNSUPPORTED', async function () {
      const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100)]);
      await expectRefused(zstd, null, undefined, 'ERR_UNSUPPORTED');
    });

    it('should refuse entry types that would lose content, and bad names', async function () {
      await expectRefused(tarOf([{ path: 'sparse', type: 'SparseFile', data: 'x' }]), 'sparse');
      await expectRefused(tarOf([{ path: '.', data: 'x' }]), '.');
      await expectRefused(tarOf([{ path: 'd/.wh..', data: '' }]), 'd/.wh..');
      await expectRefused(tarOf([{ path: '.wh.', data: '' }]), '.wh.');
      await expectRefused(tarOf([{ path: '.wh.x/y', data: '' }]), '.wh.x/y');
      await expectRefused(tarOf([{ path: 'f', data: 'x' }, { path: 'f/g', data: 'y' }]), 'f/g');
      await expectRefused(tarOf([{ path: '.wh.f' }, { path: 'f/g', data: 'y' }]), 'f/g');
    });
  });

  // A running container's writable layer changes under commit(): a payload
  // can swap a directory for a symlink to a host directory between the
  // packer's lstat and its readdir. exclude() runs between the two, so it
  // makes the swap at exactly that moment here.
  describe('a tree changing while it is packed', function () {
    function swapTree(): { dir: string; secret: string } {
      const c = newCase();
      const secret = join(c.dir, 'secret');
      mkdirSync(secret, { mode: 0o700 });
      writeFileSync(join(secret, 'token'), 'HOST-ONLY\n', { mode: 0o600 });
      const dir = join(c.dir, 'layer');
      mkdirSync(join(dir, 'w', 'd'), { recursive: true });
      writeFileSync(join(dir, 'w', 'f'), 'f\n');
      return { dir, secret };
    }

    for (const [what, at, swap] of [
      ['a directory swapped for a symlink', 'w/d', (dir: string, secret: string) => {
        rmSync(join(dir, 'w', 'd'), { recursive: true });
        symlinkSync(secret, join(dir, 'w', 'd'));
      }],
      ['a parent directory swapped for a symlink', 'w/f', (dir: string, secret: string) => {
        renameSync(join(dir, 'w'), join(dir, 'old-w'));
        symlinkSync(secret, join(dir, 'w'));
      }],
    ] as const) {
      it(`should never read through ${what}, failing with ERR_STATE or packing only the layer`, async function () {
        const { dir, secret } = swapTree();
        let swapped = false;
        const exclude = (rel: string) => {
          if (rel === at && !swapped) {
            swapped = true;
            swap(dir, secret);
          }
          return false;
        };
        const got = await packToBuffer(dir, { exclude }).then(
          async (r) => listTar(r.tar),
          (e: unknown) => e,
        );
        expect(swapped).to.equal(true);
        if (got instanceof Error) {
          expect(got).to.include({ code: 'ERR_STATE' });
        } else {
          const names = (got as { path: string }[]).map((e) => e.path);
          expect(names.some((n) => n.includes('token')), names.join(' ')).to.equal(false);
        }
      });
    }

    it('should look up an image file and a lower layer without following symlinks in the layer', function () {
      const { dir, secret } = swapTree();
      writeFileSync(join(secret, 'passwd'), 'hostonly:x:4242:4343::/:/bin/sh\n');
      symlinkSync(secret, join(dir, 'etc'));
      const image = { layers: [{ path: dir }] } as unknown as Parameters<typeof readImageFile>[0];
      expect(readImageFile(image, 'etc/passwd')).to.equal(undefined);
      expect(readImageFile(image, 'w/f')).to.equal('f\n');
      // diff(): whether a path of the writable layer exists below.
      expect(inLowers([dir], 'etc/passwd')).to.equal(false);
      expect(inLowers([dir], 'w/f')).to.equal(true);
    });

    it("should look a path up in the layers as overlayfs shows them (diff()'s A or C)", function () {
      const root = join(tmp, 'union');
      const layer = (name: string) => {
        mkdirSync(join(root, name), { recursive: true });
        return join(root, name);
      };
      const low = layer('low');
      mkdirSync(join(low, 'd'));
      writeFileSync(join(low, 'd/x'), 'x');
      writeFileSync(join(low, 'gone'), '');
      const plain = layer('plain'); // d a directory too: the low one shows through
      mkdirSync(join(plain, 'd'));
      const file = layer('file'); // d a file: hides the low directory
      writeFileSync(join(file, 'd'), '');
      const opaque = layer('opaque'); // d opaque: hides it too
      mkdirSync(join(opaque, 'd'));
      native().lsetxattr(join(opaque, 'd'), 'trusted.overlay.opaque', Buffer.from('y'));
      const whiteout = layer('whiteout'); // d and gone deleted
      expect(spawnSync('mknod', [join(whiteout, 'd'), 'c', '0', '0']).status).to.equal(0);
      expect(spawnSync('mknod', [join(whiteout, 'gone'), 'c', '0', '0']).status).to.equal(0);
      expect(inLowers([plain, low], 'd/x')).to.equal(true);
      expect(inLowers([file, low], 'd/x')).to.equal(false);
      expect(inLowers([file, low], 'd')).to.equal(true);
      expect(inLowers([opaque, low], 'd/x')).to.equal(false);
      expect(inLowers([plain, opaque, low], 'd/x')).to.equal(false);
      expect(inLowers([whiteout, low], 'd/x')).to.equal(false);
      expect(inLowers([whiteout, low], 'gone')).to.equal(false);
      expect(inLowers([plain, low], 'gone')).to.equal(true);
    });
  });

  describe('packing limits', function () {
    it('should refuse a sparse file over maxEntrySize from its lstat, before writing its header', async function () {
      const dir = join(tmp, 'sparse');
      mkdirSync(dir);
      writeFileSync(join(dir, 'a'), 'a');
      // 64 GiB long, no block written: what a payload's `truncate -s` makes in a tiny tmpfs.
      writeFileSync(join(dir, 'huge'), '');
      truncateSync(join(dir, 'huge'), 64 * 1024 ** 3);
      writeFileSync(join(dir, 'z'), 'z');
      const c = collector();
      const e = (await packLayer(dir, c.out).catch((x: unknown) => x)) as IsolateError;
      expect(e).to.be.instanceOf(IsolateError);
      expect(e).to.include({ code: 'ERR_BAD_IMAGE', path: 'huge' });
      expect(e.message).to.match(/holds 68719476736 bytes \(a sparse file of 0 bytes on disk; a layer tar holds its full length\), over the limit of 8589934592 per entry \(limits\.maxEntrySize\)/);
      const written = c.bytes();
      expect(written.length, 'no data of the big file').to.be.below(64 * 1024);
      expect(written.includes(Buffer.from('huge'))).to.equal(false);
      rmSync(join(dir, 'huge'));
    });

    it('should apply maxEntrySize, maxLayerSize and maxEntries as the import does', async function () {
      const dir = join(tmp, 'limited');
      mkdirSync(join(dir, 'd'), { recursive: true });
      for (let i = 0; i < 3; i++) writeFileSync(join(dir, 'd', `f${i}`), Buffer.alloc(2000, i));
      const refused = async (limits: PackOptions['limits'], path: string, limit: string) => {
        const e = (await packLayer(dir, collector().out, { limits }).catch((x: unknown) => x)) as IsolateError;
        expect(e, JSON.stringify(limits)).to.include({ code: 'ERR_BAD_IMAGE', path });
        expect(e.message).to.contain(`(limits.${limit})`);
      };
      await refused({ maxEntrySize: 1999 }, 'd/f0', 'maxEntrySize');
      await refused({ maxLayerSize: 5000 }, 'd/f2', 'maxLayerSize');
      await refused({ maxEntries: 3 }, 'd/f2', 'maxEntries'); // d/, d/f0, d/f1, then over
      // At the limits exactly: packed, and the import takes it with the same limits.
      const limits = { maxEntrySize: 2000, maxLayerSize: 6000, maxEntries: 4 };
      const { tar } = await packToBuffer(dir, { limits });
      const { dest } = await extractOk(tar, { limits });
      expect(readdirSync(join(dest, 'd')).sort()).to.deep.equal(['f0', 'f1', 'f2']);
      const bad = await packLayer(dir, collector().out, { limits: { maxEntries: -1 } }).catch((x: unknown) => x as IsolateError);
      expect(bad).to.include({ code: 'ERR_INVALID_OPTION', option: 'limits.maxEntries' });
      const typo = await packLayer(dir, collector().out, { limits: { maxSize: 1 } } as never).catch((x: unknown) => x as IsolateError);
      expect(typo).to.include({ code: 'ERR_INVALID_OPTION', option: 'limits.maxSize' });
    });
  });

  describe('options', function () {
    it('should reject bad options naming them', async function () {
      const c = newCase();
      const cases: [unknown, string][] = [
        [{ limit: {} }, 'limit'],
        [{ limits: { maxEntries: -1 } }, 'limits.maxEntries'],
        [{ limits: { maxSize: 5 } }, 'limits.maxSize'],
        [{ limits: { maxLayerSize: 1.5 } }, 'limits.maxLayerSize'],
        [{ bytesTotal: '5' }, 'bytesTotal'],
        [{ onProgress: true }, 'onProgress'],
        [{ allowDevices: 1 }, 'allowDevices'],
        [{ signal: {} }, 'signal'],
      ];
      for (const [opts, option] of cases) {
        const e = await extractLayer(streamOf(tarOf([])), c.dest, opts as ExtractOptions).catch((x: unknown) => x as IsolateError);
        expect(e, JSON.stringify(opts)).to.include({ code: 'ERR_INVALID_OPTION', option });
      }
      writeFileSync(join(c.dest, 'x'), '');
      const full = await extractLayer(streamOf(tarOf([])), c.dest).catch((x: unknown) => x as IsolateError);
      expect(full).to.include({ code: 'ERR_INVALID_OPTION', option: 'dest' });
      const missing = await extractLayer(streamOf(tarOf([])), join(c.dir, 'nope')).catch((x: unknown) => x as IsolateError);
      expect(missing).to.include({ code: 'ERR_INVALID_OPTION', option: 'dest' });
      const pack = await packLayer(c.dir, collector().out, { ends: true } as never).catch((x: unknown) => x as IsolateError);
      expect(pack).to.include({ code: 'ERR_INVALID_OPTION', option: 'ends' });
      expect(DEFAULT_EXTRACT_LIMITS).to.deep.equal({ maxEntrySize: 8 * 1024 ** 3, maxLayerSize: 32 * 1024 ** 3, maxEntries: 2_000_000 });
    });

    it('should stop with ERR_ABORTED when the signal fires', async function () {
      const tar = tarOf(Array.from({ length: 8 }, (_, i) => ({ path: `f${i}`, data: Buffer.alloc(MiB, i) })));
      const ac = new AbortController();
      const c = newCase();
      const e = await extractLayer(streamOf(tar), c.dest, { signal: ac.signal, onProgress: () => ac.abort() }).catch((x: unknown) => x as IsolateError);
      expect(e).to.include({ code: 'ERR_ABORTED' });
      const c2 = newCase();
      const e2 = await extractLayer(streamOf(tar), c2.dest, { signal: AbortSignal.abort() }).catch((x: unknown) => x as IsolateError);
      expect(e2).to.include({ code: 'ERR_ABORTED' });
    });

    it('should refuse to pack a name OCI reserves for whiteouts', async function () {
      const dir = join(tmp, 'reserved');
      mkdirSync(join(dir, 'd'), { recursive: true });
      writeFileSync(join(dir, 'd/.wh.sneaky'), '');
      const e = await packLayer(dir, collector().out).catch((x: unknown) => x as IsolateError);
      expect(e).to.include({ code: 'ERR_BAD_IMAGE', path: 'd/.wh.sneaky' });
    });
  });
});
