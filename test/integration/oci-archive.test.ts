/**
 * Image archives against independent tools. umoci builds an OCI layout from
 * a tiny rootfs and skopeo turns it into a `docker save` tar: the reader
 * must find the same image in the layout, in tars of it and in the docker
 * tar. What the writer makes (OCI directory, OCI tar, docker tar) must be
 * accepted by umoci, skopeo and podman, with the same digests, and unpack
 * to the same files. Broken and hostile archives (built by hand here) are
 * refused with the right code and a message naming the culprit.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { Header } from 'tar';
import { IsolateError } from '../../lib/errors';
import type { ExportImageSpec, SourceImage } from '../../lib/image/contracts';
import { readImageArchive, writeImageArchive } from '../../lib/image/oci';
import { archiveMembers, dirMembers, gunzipCapped, inflateCap } from '../../lib/image/archive-members';
import { needContainers, skipUnless } from '../helpers/caps';
import { Container, ImageStore } from '../../lib';
import { ownerId } from '../../lib/cgroup/owner';
import { TEMP_PREFIX } from '../helpers/leaks';

const BUSYBOX = '/bin/busybox';
const HOST_ARCH = process.arch === 'x64' ? 'amd64' : process.arch;

function missingTool(...names: string[]): string | null {
  for (const n of names) {
    if (spawnSync('sh', ['-c', `command -v ${n}`]).status !== 0) return `${n} is not installed (Debian: apt-get install ${n})`;
  }
  return null;
}

/** Runs a tool; its stdout, or a failure showing its stderr. */
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}${r.error ?? ''}`).to.equal(0);
  return r.stdout;
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function digestOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

function diffIds(img: SourceImage): string[] {
  return (JSON.parse(img.config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

/** The promise's rejection, which must be an IsolateError with `code` and a message matching `message`. */
async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<IsolateError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a rejection').to.be.instanceOf(IsolateError);
  expect((err as IsolateError).code, (err as Error).message).to.equal(code);
  expect((err as IsolateError).message).to.match(message);
  return err as IsolateError;
}

interface TarItem {
  name: string;
  body?: Buffer | string;
  type?: 'File' | 'Directory' | 'SymbolicLink';
  linkpath?: string;
}

/** A tar of `items`, headers by node-tar (so names can be as hostile as a test needs). */
function makeTar(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const body = Buffer.from(it.body ?? '');
    const block = Buffer.alloc(512);
    new Header({ path: it.name, type: it.type ?? 'File', size: body.length, mode: 0o644, mtime: new Date(0), linkpath: it.linkpath }).encode(block);
    parts.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
}

function blob(content: Buffer | string | object): Blob {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
  return { digest: sha256(bytes), size: bytes.length, bytes };
}

/** The pieces of a one-layer image, to be broken by a test and written with writeLayout(). */
function imageParts(opts: { layerType?: string; configType?: string; diffIds?: number } = {}) {
  const layer = blob(makeTar([{ name: 'hello.txt', body: 'hi\n' }]));
  const config = blob({
    architecture: HOST_ARCH,
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: Array(opts.diffIds ?? 1).fill(layer.digest) },
  });
  const manifest = blob({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: opts.configType ?? 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: opts.layerType ?? 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
  });
  const desc = (tag: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: manifest.digest,
    size: manifest.size,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  return { layer, config, manifest, desc, index: { schemaVersion: 2, manifests: [desc('v1')] } as { schemaVersion: number; manifests: object[] } };
}

/** An OCI layout directory by hand: oci-layout, index.json (object or raw text), blobs. */
function writeLayout(dir: string, index: object | string, blobs: Blob[]): string {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), typeof index === 'string' ? index : JSON.stringify(index));
  for (const b of blobs) writeFileSync(join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.bytes);
  return dir;
}

describe('Image archives: OCI layouts and docker save', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  /** A fresh path in the suite's temp dir. */
  const fresh = (name: string) => join(tmp, `${n++}-${name}`);

  before(function () {
    tmp = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  });

  after(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe('with umoci and skopeo', function () {
    let layout: string; // umoci's OCI layout, tag 'latest'
    let bundle: string; // what it was built from
    let dockerTar: string; // skopeo's docker-archive of it
    let ociImage: SourceImage;
    let specs: ExportImageSpec[]; // the image read from `layout`, its blobs in files
    const closers: (() => Promise<void>)[] = [];

    before(async function () {
      skipUnless(this, missingTool('umoci', 'skopeo'));
      skipUnless(this, existsSync(BUSYBOX) ? null : `${BUSYBOX} is missing (Debian: apt-get install busybox-static)`);
      layout = join(tmp, 'umoci-layout');
      bundle = join(tmp, 'umoci-bundle');
      tool('umoci', ['init', '--layout', layout]);
      tool('umoci', ['new', '--image', `${layout}:latest`]);
      tool('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
      mkdirSync(join(bundle, 'rootfs', 'bin'));
      copyFileSync(BUSYBOX, join(bundle, 'rootfs', 'bin', 'busybox'));
      symlinkSync('busybox', join(bundle, 'rootfs', 'bin', 'sh'));
      mkdirSync(join(bundle, 'rootfs', 'etc'));
      writeFileSync(join(bundle, 'rootfs', 'etc', 'greeting'), 'hello from umoci\n');
      tool('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
      dockerTar = join(tmp, 'skopeo-docker.tar');
      tool('skopeo', ['copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${dockerTar}:busybox:latest`]);

      const archive = await readImageArchive(layout);
      closers.push(() => archive.close());
      ociImage = archive.images[0]!;
      const blobs = join(tmp, 'blobs');
      mkdirSync(blobs);
      const layers: ExportImageSpec['layers'] = [];
      for (const [i, l] of ociImage.layers.entries()) {
        const path = join(blobs, l.digest.slice(7));
        await pipeline(l.open(), createWriteStream(path));
        layers.push({ digest: l.digest, diffId: diffIds(ociImage)[i]!, mediaType: l.mediaType, size: l.size, path });
      }
      specs = [{ tags: ['busybox:latest'], config: ociImage.config, layers }];
    });

    after(async function () {
      for (const c of closers) await c();
    });

    /** The rootfs umoci unpacks from image `ref` has the files the original bundle had. */
    function expectSameRootfs(ref: string): void {
      const out = fresh('unpacked');
      tool('umoci', ['unpack', '--image', ref, out]);
      expect(readFileSync(join(out, 'rootfs', 'etc', 'greeting'), 'utf8')).to.equal('hello from umoci\n');
      expect(sha256(readFileSync(join(out, 'rootfs', 'bin', 'busybox')))).to.equal(sha256(readFileSync(BUSYBOX)));
      rmSync(out, { recursive: true, force: true });
    }

    it("should read umoci's layout: the tag, the layers, each layer hashing to its digest", async function () {
      const archive = await readImageArchive(layout);
      try {
        expect(archive.images).to.have.length(1);
        const img = archive.images[0]!;
        expect(img.tags).to.deep.equal(['latest']);
        const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
        expect(img.manifestDigest).to.equal(index.manifests[0]!.digest);
        expect(sha256(img.manifest!)).to.equal(img.manifestDigest);
        expect(sha256(img.config)).to.equal(img.configDigest);
        expect(img.layers).to.have.length(diffIds(img).length).and.to.have.length.above(0);
        for (const l of img.layers) {
          expect(l.mediaType).to.equal('application/vnd.oci.image.layer.v1.tar+gzip');
          expect(await digestOf(l.open())).to.deep.equal({ digest: l.digest, size: l.size });
        }
      } finally {
        await archive.close();
      }
    });

    it("should import umoci's layout and skopeo's docker-archive into a store, and run them in a Container", async function () {
      needContainers(this);
      const store = new ImageStore({ root: fresh('store') });
      const [fromOci] = await store.importImage(layout);
      const [fromDocker] = await store.importImage(dockerTar);
      // The same image: one ID, one set of layers, both names.
      expect(fromDocker!.id).to.equal(fromOci!.id);
      expect(store.images()).to.have.length(1);
      // skopeo names it as Docker does; 'busybox' finds it all the same.
      expect(store.image(fromOci!.id).tags).to.deep.equal(['docker.io/library/busybox:latest', 'latest']);
      for (const ref of ['latest', 'busybox']) {
        const r = await Container.run(['/bin/sh', '-c', 'cat /etc/greeting'], { image: store.image(ref) });
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.equal('hello from umoci\n');
      }
      // And back out: umoci unpacks our export of what we imported to the same files.
      const out = fresh('reexport');
      await store.exportImage('busybox', out, { tar: false });
      expectSameRootfs(`${out}:busybox:latest`);
    });

    it('should read the same image from tars of the layout (./ names; wrapped in a directory; pax and GNU long names)', async function () {
      const flat = fresh('layout.tar');
      tool('tar', ['-C', layout, '-cf', flat, '.']);
      const wrapped = fresh('wrapped.tar');
      tool('tar', ['-C', tmp, '-cf', wrapped, 'umoci-layout']);
      // A wrapping directory name past ustar's 100 bytes: pax records, GNU 'L' records before each header.
      const long = join(tmp, 'l'.repeat(120));
      tool('cp', ['-r', layout, long]);
      const tars = [flat, wrapped];
      for (const format of ['posix', 'gnu']) {
        const t = fresh(`${format}.tar`);
        tool('tar', [`--format=${format}`, '-C', tmp, '-cf', t, 'l'.repeat(120)]);
        tars.push(t);
      }
      rmSync(long, { recursive: true });
      for (const t of tars) {
        const archive = await readImageArchive(t);
        try {
          const img = archive.images[0]!;
          expect(img.tags).to.deep.equal(['latest']);
          expect(img.manifestDigest).to.equal(ociImage.manifestDigest);
          expect(img.layers.map((l) => [l.digest, l.size])).to.deep.equal(ociImage.layers.map((l) => [l.digest, l.size]));
          for (const l of img.layers) expect((await digestOf(l.open())).digest).to.equal(l.digest);
        } finally {
          await archive.close();
        }
      }
    });

    it("should read skopeo's docker-archive (also gzipped) with the same diff_ids, each layer.tar hashing to its diff_id", async function () {
      const gz = fresh('docker.tar.gz');
      writeFileSync(gz, gzipSync(readFileSync(dockerTar)));
      const tempsBefore = readdirSync(tmpdir()).filter((x) => x.startsWith('isolate-kit-archive-'));
      for (const t of [dockerTar, gz]) {
        const archive = await readImageArchive(t);
        try {
          const img = archive.images[0]!;
          expect(img.tags).to.deep.equal(['docker.io/library/busybox:latest']);
          expect(img.manifest).to.equal(null);
          expect(img.configDigest).to.equal(ociImage.configDigest);
          expect(diffIds(img)).to.deep.equal(diffIds(ociImage));
          expect(img.layers.map((l) => l.digest)).to.deep.equal(diffIds(ociImage));
          for (const l of img.layers) {
            expect(l.mediaType).to.equal('application/vnd.docker.image.rootfs.diff.tar');
            expect(await digestOf(l.open())).to.deep.equal({ digest: l.digest, size: l.size });
          }
        } finally {
          await archive.close();
        }
      }
      // The gzip archive was decompressed into a temp dir; close() took it away.
      expect(readdirSync(tmpdir()).filter((x) => x.startsWith('isolate-kit-archive-'))).to.deep.equal(tempsBefore);
    });

    it('should write an OCI layout directory that umoci and skopeo read with the same digests, unpacking to the same files', async function () {
      const out = fresh('oci-out');
      await writeImageArchive(out, specs, { format: 'oci', tar: false });
      expect(tool('umoci', ['ls', '--layout', out]).trim().split('\n')).to.deep.equal(['busybox:latest']);
      const info = JSON.parse(tool('skopeo', ['inspect', `oci:${out}:busybox:latest`])) as { Layers: string[] };
      expect(info.Layers).to.deep.equal(ociImage.layers.map((l) => l.digest));
      const config = JSON.parse(tool('skopeo', ['inspect', '--config', `oci:${out}:busybox:latest`])) as { rootfs: { diff_ids: string[] } };
      expect(config.rootfs.diff_ids).to.deep.equal(diffIds(ociImage));
      expectSameRootfs(`${out}:busybox:latest`);
      // And it reads back as written.
      const back = await readImageArchive(out);
      try {
        expect(back.images[0]!.tags).to.deep.equal(['busybox:latest']);
        expect(back.images[0]!.configDigest).to.equal(ociImage.configDigest);
        expect(back.images[0]!.layers.map((l) => l.digest)).to.deep.equal(ociImage.layers.map((l) => l.digest));
      } finally {
        await back.close();
      }
    });

    it('should write an OCI layout tar that skopeo reads as an oci-archive, and that unpacks to the same files', async function () {
      const out = fresh('oci-out.tar');
      await writeImageArchive(out, specs, { format: 'oci', tar: true });
      const info = JSON.parse(tool('skopeo', ['inspect', `oci-archive:${out}:busybox:latest`])) as { Layers: string[] };
      expect(info.Layers).to.deep.equal(ociImage.layers.map((l) => l.digest));
      const dir = fresh('oci-out-extracted');
      mkdirSync(dir);
      tool('tar', ['-C', dir, '-xf', out]);
      expect(tool('umoci', ['ls', '--layout', dir]).trim()).to.equal('busybox:latest');
      expectSameRootfs(`${dir}:busybox:latest`);
      const back = await readImageArchive(out);
      try {
        expect(back.images[0]!.manifestDigest).to.equal(sha256(readFileSync(join(dir, 'blobs', 'sha256', back.images[0]!.manifestDigest!.slice(7)))));
        expect(back.images[0]!.layers.map((l) => l.digest)).to.deep.equal(ociImage.layers.map((l) => l.digest));
      } finally {
        await back.close();
      }
    });

    it('should write a docker save tar (layers gunzipped) that skopeo reads with the same diff_ids, and that unpacks to the same files', async function () {
      const out = fresh('docker-out.tar');
      await writeImageArchive(out, specs, { format: 'docker', tar: true });
      const manifest = JSON.parse(spawnSync('tar', ['-xOf', out, 'manifest.json'], { encoding: 'utf8' }).stdout) as { Config: string; RepoTags: string[]; Layers: string[] }[];
      expect(manifest).to.deep.equal([
        { Config: `${ociImage.configDigest.slice(7)}.json`, RepoTags: ['busybox:latest'], Layers: diffIds(ociImage).map((d) => `${d.slice(7)}/layer.tar`) },
      ]);
      const info = JSON.parse(tool('skopeo', ['inspect', `docker-archive:${out}`])) as { Layers: string[] };
      expect(info.Layers).to.deep.equal(diffIds(ociImage));
      expect(JSON.parse(spawnSync('tar', ['-xOf', out, 'repositories'], { encoding: 'utf8' }).stdout)).to.deep.equal({ busybox: { latest: diffIds(ociImage).at(-1)!.slice(7) } });
      const converted = fresh('from-docker');
      tool('skopeo', ['copy', '--quiet', `docker-archive:${out}`, `oci:${converted}:x`]);
      expectSameRootfs(`${converted}:x`);
      const back = await readImageArchive(out);
      try {
        const img = back.images[0]!;
        expect(img.tags).to.deep.equal(['busybox:latest']);
        expect(img.layers.map((l) => l.digest)).to.deep.equal(diffIds(ociImage));
        for (const l of img.layers) expect((await digestOf(l.open())).digest).to.equal(l.digest);
      } finally {
        await back.close();
      }
    });

    it('should write two images sharing their layers with each layer once, and one image named twice as one', async function () {
      const config = JSON.parse(ociImage.config.toString()) as { config?: Record<string, unknown> };
      config.config = { ...config.config, Labels: { second: 'yes' } };
      const second = { ...specs[0]!, tags: ['second:2'], config: Buffer.from(JSON.stringify(config)) };
      const again = { ...specs[0]!, tags: ['busybox:again'] };
      const out = fresh('two.tar');
      await writeImageArchive(out, [specs[0]!, second, again], { format: 'docker', tar: true });
      const names = tool('tar', ['-tf', out]).trim().split('\n');
      expect(names.filter((x) => x.endsWith('/layer.tar'))).to.have.length(ociImage.layers.length);
      const info = JSON.parse(tool('skopeo', ['inspect', '--config', `docker-archive:${out}:second:2`])) as { config: { Labels: Record<string, string> } };
      expect(info.config.Labels).to.deep.equal({ second: 'yes' });
      const back = await readImageArchive(out);
      try {
        expect(back.images.map((i) => i.tags)).to.deep.equal([['busybox:latest', 'busybox:again'], ['second:2']]);
        expect(back.images[1]!.layers.map((l) => l.digest)).to.deep.equal(diffIds(ociImage));
      } finally {
        await back.close();
      }
      const oci = fresh('two-oci');
      await writeImageArchive(oci, [specs[0]!, second, again], { format: 'oci', tar: false });
      expect(tool('umoci', ['ls', '--layout', oci]).trim().split('\n').sort()).to.deep.equal(['busybox:again', 'busybox:latest', 'second:2']);
      expect(readdirSync(join(oci, 'blobs', 'sha256'))).to.have.length(ociImage.layers.length + 4); // + 2 configs, 2 manifests
    });

    it('should write archives podman loads (docker and OCI tar)', async function () {
      skipUnless(this, missingTool('podman'));
      const storage = fresh('podman');
      // vfs: no overlay mounts on the host; a private root: nothing shared with the machine's podman.
      const podman = (...args: string[]) => tool('podman', ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs', ...args]);
      try {
        for (const format of ['docker', 'oci'] as const) {
          const out = fresh(`podman-${format}.tar`);
          await writeImageArchive(out, [{ ...specs[0]!, tags: [`podman-${format}:1`] }], { format, tar: true });
          expect(podman('load', '-q', '-i', out)).to.match(new RegExp(`podman-${format}:1`));
          const inspect = JSON.parse(podman('image', 'inspect', `podman-${format}:1`)) as { Id: string; RootFS: { Layers: string[] } }[];
          expect(`sha256:${inspect[0]!.Id}`).to.equal(ociImage.configDigest);
          expect(inspect[0]!.RootFS.Layers).to.deep.equal(diffIds(ociImage));
        }
      } finally {
        rmSync(storage, { recursive: true, force: true });
      }
    });

    it('should read an OCI layout with a docker manifest.json (Docker 25) taking the names from RepoTags', async function () {
      const out = fresh('docker25');
      await writeImageArchive(out, specs, { format: 'oci', tar: false });
      const layers = ociImage.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`);
      writeFileSync(join(out, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${ociImage.configDigest.slice(7)}`, RepoTags: ['example.com/x:1', 'x:2'], Layers: layers }]));
      const archive = await readImageArchive(out);
      try {
        expect(archive.images[0]!.tags).to.deep.equal(['example.com/x:1', 'x:2']);
        expect(archive.images[0]!.layers[0]!.mediaType).to.equal('application/vnd.oci.image.layer.v1.tar+gzip');
      } finally {
        await archive.close();
      }
    });

    it('should refuse to replace an existing destination, and leave nothing when a blob does not match its digest', async function () {
      const out = fresh('exists.tar');
      writeFileSync(out, 'mine');
      await rejects(writeImageArchive(out, specs, { format: 'oci', tar: true }), 'ERR_INVALID_OPTION', /already exists/);
      expect(readFileSync(out, 'utf8')).to.equal('mine');
      await rejects(writeImageArchive(fresh('dir'), specs, { format: 'docker', tar: false }), 'ERR_INVALID_OPTION', /tar/);

      const corrupt = fresh('corrupt-blob');
      const good = readFileSync(specs[0]!.layers[0]!.path);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 1]! ^= 0xff;
      writeFileSync(corrupt, flipped);
      const bad: ExportImageSpec[] = [{ ...specs[0]!, layers: [{ ...specs[0]!.layers[0]!, path: corrupt }] }];
      for (const [format, isTar] of [['oci', false], ['oci', true], ['docker', true]] as const) {
        const dest = fresh(`corrupt-${format}`);
        const err = await rejects(writeImageArchive(dest, bad, { format, tar: isTar }), 'ERR_BAD_IMAGE', /corrupt-blob|gzip/);
        expect(err.message).to.not.equal('');
        expect(existsSync(dest)).to.equal(false);
        expect(readdirSync(tmp).filter((x) => x.includes('.tmp-'))).to.deep.equal([]);
      }
      const wrongIds: ExportImageSpec[] = [{ ...specs[0]!, layers: [{ ...specs[0]!.layers[0]!, diffId: ociImage.layers[0]!.digest }] }];
      await rejects(writeImageArchive(fresh('ids'), wrongIds, { format: 'oci', tar: true }), 'ERR_INVALID_OPTION', /diff_ids/);
    });
  });

  describe('broken and hostile archives', function () {
    // The layout's owner may swap a blob after it was looked at: opened
    // then, a FIFO blocked the read for good (and a libuv thread with it).
    it('should refuse a member swapped for a FIFO or a symlink after the lookup, without blocking', async function () {
      const dir = fresh('swapped');
      mkdirSync(dir);
      writeFileSync(join(dir, 'blob'), 'x'.repeat(100));
      writeFileSync(join(dir, 'secret'), 'host secret');
      const members = await dirMembers(dir);
      for (const swap of [() => spawnSync('mkfifo', [join(dir, 'blob')]), () => symlinkSync(join(dir, 'secret'), join(dir, 'blob'))]) {
        const m = (await members.get('blob'))!;
        expect(m.size).to.equal(100);
        unlinkSync(join(dir, 'blob'));
        swap();
        const read = await m.read().then(
          () => null,
          (e: unknown) => e as IsolateError,
        );
        expect(read, 'read').to.include({ code: 'ERR_BAD_IMAGE', path: 'blob' });
        expect(() => m.open(), 'open').to.throw(IsolateError, /blob changed while the image archive was read/);
        unlinkSync(join(dir, 'blob'));
        writeFileSync(join(dir, 'blob'), 'x'.repeat(100));
      }
      // Grown since: never more than its size then.
      const m = (await members.get('blob'))!;
      appendFileSync(join(dir, 'blob'), 'y'.repeat(1000));
      expect((await m.read()).length).to.equal(100);

      // A directory on the way swapped for a link out (to a file of the same
      // size: its digest would answer whether it hashes to the one asked):
      // the read fails instead of reaching it.
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'sub', 'blob'), 'x'.repeat(100));
      const outside = fresh('outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'blob'), 's'.repeat(100));
      const inSub = (await members.get('sub/blob'))!;
      renameSync(join(dir, 'sub'), join(dir, 'sub.old'));
      symlinkSync(outside, join(dir, 'sub'));
      await rejects(inSub.read(), 'ERR_BAD_IMAGE', /sub\/blob changed while the image archive was read/);
      expect(() => inSub.open(), 'open').to.throw(IsolateError, /changed while/);
      // And the layout itself moved away, a link to elsewhere in its place:
      // reads stay in the directory first opened.
      const moved = `${dir}.moved`;
      renameSync(dir, moved);
      symlinkSync(outside, dir);
      expect((await members.get('blob'))!.size).to.equal(1100);
      expect((await m.read()).toString()).to.equal('x'.repeat(100));
      await members.close();
      unlinkSync(dir);
      renameSync(moved, dir);
    });

    it('should read a tar archive renamed over after it was opened from the file first opened', async function () {
      const p = imageParts();
      const layout = writeLayout(fresh('tar-src'), p.index, [p.layer, p.config, p.manifest]);
      const tarPath = fresh('swap.tar');
      expect(spawnSync('tar', ['-cf', tarPath, '-C', layout, '.']).status).to.equal(0);
      const members = await archiveMembers(tarPath);
      try {
        const layer = (await members.get(`blobs/sha256/${p.layer.digest.slice(7)}`))!;
        // Another file of the same layout, same offsets, other bytes, now at the path.
        const other = Buffer.from(readFileSync(tarPath));
        const at = other.indexOf(p.layer.bytes);
        expect(at).to.be.greaterThan(0);
        other.fill(0x73, at, at + p.layer.size);
        writeFileSync(`${tarPath}.new`, other);
        renameSync(`${tarPath}.new`, tarPath);
        expect((await layer.read()).equals(p.layer.bytes)).to.equal(true);
      } finally {
        await members.close();
      }
    });

    it('should say ERR_INVALID_OPTION for a path that does not exist', async function () {
      const err = await rejects(readImageArchive(join(tmp, 'nope')), 'ERR_INVALID_OPTION', /nope/);
      expect(err.option).to.equal('path');
    });

    it('should read a hand-made layout, choosing this machine\'s platform from a nested index', async function () {
      const p = imageParts();
      const other = blob({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
      const nested = blob({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: other.digest, size: other.size, platform: { os: 'linux', architecture: 'not-this-one' } },
          { ...p.desc('x'), annotations: {}, platform: { os: 'linux', architecture: HOST_ARCH } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: other.digest, size: other.size, platform: { os: 'unknown', architecture: 'unknown' } },
        ],
      });
      const index = {
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: nested.digest, size: nested.size, annotations: { 'org.opencontainers.image.ref.name': 'multi:1' } }],
      };
      // `other` is not written: only the chosen manifest's blobs need to be there.
      const archive = await readImageArchive(writeLayout(fresh('nested'), index, [p.layer, p.config, p.manifest, nested]));
      try {
        expect(archive.images.map((i) => [i.tags, i.manifestDigest])).to.deep.equal([[['multi:1'], p.manifest.digest]]);
      } finally {
        await archive.close();
      }
      // Two names of one manifest: one image with both.
      const twice = { schemaVersion: 2, manifests: [p.desc('a'), p.desc('docker.io/library/b:1')] };
      const both = await readImageArchive(writeLayout(fresh('twice'), twice, [p.layer, p.config, p.manifest]));
      try {
        expect(both.images.map((i) => i.tags)).to.deep.equal([['a', 'docker.io/library/b:1']]);
      } finally {
        await both.close();
      }
    });

    // A small archive listing one nested index or config thousands of times
    // cost minutes to hours of CPU (each entry re-read, hashed, parsed).
    it('should read a blob listed many times once, and refuse an index of more than 1024 entries', async function () {
      const p = imageParts();
      const nested = blob({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...p.desc('x'), annotations: {} }] });
      const entry = (k: number) => ({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: nested.digest, size: nested.size, annotations: { 'org.opencontainers.image.ref.name': `n:${k}` } });
      const many = { schemaVersion: 2, manifests: Array.from({ length: 1024 }, (_, k) => entry(k)) };
      const archive = await readImageArchive(writeLayout(fresh('many'), many, [p.layer, p.config, p.manifest, nested]));
      try {
        expect(archive.images).to.have.length(1);
        expect(archive.images[0]!.tags).to.have.length(1024);
      } finally {
        await archive.close();
      }
      const tooMany = { schemaVersion: 2, manifests: Array.from({ length: 1025 }, (_, k) => entry(k)) };
      await rejects(readImageArchive(writeLayout(fresh('too-many'), tooMany, [p.layer, p.config, p.manifest, nested])), 'ERR_BAD_IMAGE', /index.json lists 1025 manifests; at most 1024 are read/);
    });

    // Before, the images ahead of the bad one were recorded and named (and
    // a name the caller had moved to them) though the import failed.
    it('should record no image and move no name when a later image of the archive is bad', async function () {
      const p = imageParts();
      const layer = blob(makeTar([{ name: 'b.txt', body: 'b\n' }]));
      const config = blob({ architecture: HOST_ARCH, os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } });
      const manifest = blob({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
      });
      const bad = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size, annotations: { 'org.opencontainers.image.ref.name': 'bad:1' } };
      const dir = writeLayout(fresh('partial'), { schemaVersion: 2, manifests: [p.desc('good:1'), bad] }, [p.layer, p.config, p.manifest, layer, config, manifest]);
      const store = new ImageStore({ root: fresh('partial-store') });
      const err = (await store.importImage(dir).then(
        () => null,
        (e: unknown) => e,
      )) as IsolateError;
      expect(err).to.include({ code: 'ERR_BAD_IMAGE' });
      expect(err.message).to.match(/unpacks to .* but the config says sha256:0{64}/);
      expect(store.images()).to.deep.equal([]);
      expect(store.layers()).to.deep.equal([]);
      // Nor a blob (layer tars, the good image's manifest), nor a claim in tmp/.
      expect(readdirSync(join(store.root, 'blobs', 'sha256'))).to.deep.equal([]);
      expect(readdirSync(join(store.root, 'tmp')).filter((n) => !n.endsWith('.owner'))).to.deep.equal([]);

      // What the store had before stays: the good image, imported on its own first.
      const alone = writeLayout(fresh('alone'), p.index, [p.layer, p.config, p.manifest]);
      const [good] = await store.importImage(alone);
      const before = readdirSync(join(store.root, 'blobs', 'sha256')).sort();
      await rejects(store.importImage(dir), 'ERR_BAD_IMAGE', /unpacks to/);
      expect(store.images().map((i) => i.id)).to.deep.equal([good!.id]);
      expect(store.layers().map((l) => l.diffId)).to.deep.equal([p.layer.digest]);
      expect(readdirSync(join(store.root, 'blobs', 'sha256')).sort()).to.deep.equal(before);
    });

    // Another import (here: a claim made while this one runs) may have
    // found a layer this import added, and be about to record an image of
    // it: the failed import leaves what is claimed, and gc() does too,
    // until the claim goes.
    it('should leave what another import claims when it fails, and gc() too until the claim goes', async function () {
      const p = imageParts();
      const config = blob({ architecture: HOST_ARCH, os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } });
      const manifest = blob({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: p.layer.digest, size: p.layer.size }],
      });
      const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size };
      const dir = writeLayout(fresh('claimed'), { schemaVersion: 2, manifests: [desc] }, [p.layer, config, manifest]);
      const store = new ImageStore({ root: fresh('claimed-store') });
      const hex = p.layer.digest.slice(7); // a plain tar: its diff_id is its digest
      const claims = [join(store.root, 'tmp', `${ownerId()}-t-claim-layer-${hex}`), join(store.root, 'tmp', `${ownerId()}-t-claim-blob-${hex}`)];
      let claimed = false;
      const onProgress = () => {
        if (claimed) return;
        claimed = true;
        for (const c of claims) writeFileSync(c, '');
      };
      await rejects(store.importImage(dir, { onProgress }), 'ERR_BAD_IMAGE', /unpacks to/);
      expect(claimed).to.equal(true);
      expect(store.layers().map((l) => l.diffId)).to.deep.equal([p.layer.digest]);
      expect(readdirSync(join(store.root, 'blobs', 'sha256'))).to.deep.equal([hex]); // not the manifest's
      expect((await store.gc({ graceMs: 0 })).layers).to.deep.equal([]);
      expect(existsSync(join(store.root, 'blobs', 'sha256', hex))).to.equal(true);
      for (const c of claims) rmSync(c);
      const report = await store.gc({ graceMs: 0 });
      expect(report.layers).to.deep.equal([p.layer.digest]);
      expect(report.blobs).to.deep.equal([p.layer.digest]);
      expect(readdirSync(join(store.root, 'blobs', 'sha256'))).to.deep.equal([]);
    });

    it('should name a missing blob, and a blob whose size differs from its descriptor', async function () {
      const p = imageParts();
      const missing = writeLayout(fresh('missing'), p.index, [p.config, p.manifest]);
      const err = await rejects(readImageArchive(missing), 'ERR_BAD_IMAGE', new RegExp(`layers\\[0\\]: blob ${p.layer.digest} is missing`));
      expect(err.message).to.contain(missing);

      const grown = writeLayout(fresh('size'), p.index, [p.layer, p.config, p.manifest]);
      appendFileSync(join(grown, 'blobs', 'sha256', p.layer.digest.slice(7)), 'x');
      await rejects(readImageArchive(grown), 'ERR_BAD_IMAGE', new RegExp(`blob ${p.layer.digest} is ${p.layer.size + 1} bytes, but its descriptor says ${p.layer.size}`));

      // The same in a tar of the layout.
      const t = fresh('size.tar');
      tool('tar', ['-C', grown, '-cf', t, '.']);
      await rejects(readImageArchive(t), 'ERR_BAD_IMAGE', new RegExp(`blob ${p.layer.digest} is ${p.layer.size + 1} bytes`));
    });

    it("should refuse digests that are not sha256:<64 hex>, such as one with '../', before using them as paths", async function () {
      const p = imageParts();
      const evil = { schemaVersion: 2, manifests: [{ ...p.desc('x'), digest: 'sha256:../../../../etc/passwd' }] };
      await rejects(readImageArchive(writeLayout(fresh('dotdot'), evil, [])), 'ERR_BAD_IMAGE', /index\.json manifests\[0\]\.digest: "sha256:\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" is not a sha256 digest/);
      const sha512 = { schemaVersion: 2, manifests: [{ ...p.desc('x'), digest: `sha512:${'a'.repeat(128)}` }] };
      await rejects(readImageArchive(writeLayout(fresh('sha512'), sha512, [])), 'ERR_BAD_IMAGE', /is not a sha256 digest/);
    });

    it('should name a blob whose bytes do not match its digest: JSON when read, layers when streamed', async function () {
      const p = imageParts();
      const dir = writeLayout(fresh('tampered'), p.index, [p.layer, p.config, p.manifest]);
      const configFile = join(dir, 'blobs', 'sha256', p.config.digest.slice(7));
      writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('linux', 'LINUX'));
      await rejects(readImageArchive(dir), 'ERR_BAD_IMAGE', new RegExp(`blob ${p.config.digest} does not match its digest`));

      writeFileSync(configFile, p.config.bytes);
      const layerFile = join(dir, 'blobs', 'sha256', p.layer.digest.slice(7));
      writeFileSync(layerFile, readFileSync(layerFile, 'latin1').replace('hi\n', 'ho\n'), 'latin1');
      const archive = await readImageArchive(dir);
      try {
        await rejects(digestOf(archive.images[0]!.layers[0]!.open()), 'ERR_BAD_IMAGE', new RegExp(`blob ${p.layer.digest} does not match its digest`));
      } finally {
        await archive.close();
      }
    });

    it('should name invalid JSON: index.json, a manifest, manifest.json', async function () {
      const p = imageParts();
      await rejects(readImageArchive(writeLayout(fresh('json'), '{"schemaVersion": 2, "manifests": [', [])), 'ERR_BAD_IMAGE', /index\.json is not valid JSON/);
      const notJson = blob('not json');
      const index = { schemaVersion: 2, manifests: [{ ...p.desc('x'), digest: notJson.digest, size: notJson.size }] };
      await rejects(readImageArchive(writeLayout(fresh('json2'), index, [notJson])), 'ERR_BAD_IMAGE', new RegExp(`blob ${notJson.digest}\\) is not valid JSON`));
      const t = fresh('json.tar');
      writeFileSync(t, makeTar([{ name: 'manifest.json', body: '[{"Config": ' }]));
      await rejects(readImageArchive(t), 'ERR_BAD_IMAGE', /manifest\.json is not valid JSON/);
    });

    it("should refuse manifest.json Layers leading out of the archive ('../../etc/passwd', an absolute name, a symlink)", async function () {
      const p = imageParts();
      const docker = (layer: string, extra: TarItem[] = []) => {
        const t = fresh('docker.tar');
        writeFileSync(
          t,
          makeTar([
            { name: 'config.json', body: p.config.bytes },
            { name: 'manifest.json', body: JSON.stringify([{ Config: 'config.json', RepoTags: ['x:1'], Layers: [layer] }]) },
            ...extra,
          ]),
        );
        return t;
      };
      await rejects(readImageArchive(docker('../../etc/passwd')), 'ERR_BAD_IMAGE', /Layers\[0\]: "\.\.\/\.\.\/etc\/passwd" climbs out of the archive/);
      await rejects(readImageArchive(docker('/etc/passwd')), 'ERR_BAD_IMAGE', /Layers\[0\]: "\/etc\/passwd" is an absolute name/);
      await rejects(
        readImageArchive(docker('l/layer.tar', [{ name: 'l/layer.tar', type: 'SymbolicLink', linkpath: '../../etc/passwd' }])),
        'ERR_BAD_IMAGE',
        /link l\/layer\.tar: .* climbs out of the archive/,
      );
      // A good one, with the classic <id>/layer.tar as a symlink (as docker and skopeo write shared layers).
      const ok = await readImageArchive(docker('l/layer.tar', [{ name: 'real.tar', body: p.layer.bytes }, { name: 'l/layer.tar', type: 'SymbolicLink', linkpath: '../real.tar' }]));
      try {
        expect(ok.images[0]!.tags).to.deep.equal(['x:1']);
        expect(ok.images[0]!.layers[0]!.digest).to.equal(p.layer.digest);
        expect((await digestOf(ok.images[0]!.layers[0]!.open())).digest).to.equal(p.layer.digest);
      } finally {
        await ok.close();
      }
    });

    it("should refuse tar members named with '..' or absolute, links out of a layout directory, and a cut-off tar", async function () {
      const p = imageParts();
      for (const name of ['blobs/../../evil', '/index.json']) {
        const t = fresh('names.tar');
        writeFileSync(t, makeTar([{ name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' }, { name, body: 'x' }]));
        await rejects(readImageArchive(t), 'ERR_BAD_IMAGE', new RegExp(`${name.replace(/[./]/g, '\\$&')}.*(climbs out|absolute)`));
      }
      const dir = writeLayout(fresh('symlink-out'), p.index, [p.config, p.manifest]);
      symlinkSync('/etc/passwd', join(dir, 'blobs', 'sha256', p.layer.digest.slice(7)));
      await rejects(readImageArchive(dir), 'ERR_BAD_IMAGE', /is a link that leads out of the layout/);

      const whole = makeTar([
        { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
        { name: 'index.json', body: JSON.stringify(p.index) },
        { name: `blobs/sha256/${p.layer.digest.slice(7)}`, body: p.layer.bytes },
      ]);
      const cut = fresh('cut.tar');
      writeFileSync(cut, whole.subarray(0, whole.length - 1024 - 2048));
      await rejects(readImageArchive(cut), 'ERR_BAD_IMAGE', /is cut off/);
    });

    it('should say ERR_UNSUPPORTED for zstd layers and artifacts that are not images, naming them', async function () {
      const z = imageParts({ layerType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
      await rejects(readImageArchive(writeLayout(fresh('zstd'), z.index, [z.layer, z.config, z.manifest])), 'ERR_UNSUPPORTED', new RegExp(`\\(${z.layer.digest}\\): zstd-compressed layers are not supported`));
      const helm = imageParts({ configType: 'application/vnd.cncf.helm.config.v1+json' });
      await rejects(readImageArchive(writeLayout(fresh('helm'), helm.index, [helm.layer, helm.config, helm.manifest])), 'ERR_UNSUPPORTED', /config media type application\/vnd\.cncf\.helm\.config\.v1\+json is not a container image's/);
    });

    it('should refuse a config whose rootfs.diff_ids do not count the layers', async function () {
      const p = imageParts({ diffIds: 2 });
      await rejects(readImageArchive(writeLayout(fresh('ids'), p.index, [p.layer, p.config, p.manifest])), 'ERR_BAD_IMAGE', /lists 2 rootfs\.diff_ids, but the image has 1 layer/);
    });

    it("should stop inflating a gzip'd archive past its cap (a gzip bomb), leaving nothing", async function () {
      expect(inflateCap(1000)).to.equal(2 ** 30);
      expect(inflateCap(2 ** 30)).to.equal(64 * 2 ** 30);
      expect(inflateCap(20 * 2 ** 20)).to.equal(100 * 20 * 2 ** 20);
      const bomb = fresh('bomb.tar.gz');
      writeFileSync(bomb, gzipSync(Buffer.alloc(8 << 20)));
      const dest = fresh('bomb.tar');
      await rejects(gunzipCapped(bomb, dest, 1 << 20), 'ERR_BAD_IMAGE', /inflates to more than 1048576 bytes/);
      unlinkSync(dest); // the partial file is the caller's (archiveMembers removes its temp dir)
      await gunzipCapped(bomb, fresh('fine.tar'), 16 << 20);
    });

    it('should refuse what is not an image archive at all', async function () {
      const f = fresh('plain.txt');
      writeFileSync(f, 'just text\n'.repeat(100));
      await rejects(readImageArchive(f), 'ERR_BAD_IMAGE', /not a valid tar archive/);
      const d = fresh('empty-dir');
      mkdirSync(d);
      await rejects(readImageArchive(d), 'ERR_BAD_IMAGE', /neither an OCI image layout/);
      unlinkSync(f);
    });
  });
});
