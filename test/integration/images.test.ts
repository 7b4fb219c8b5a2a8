/**
 * The image store on a real kernel: layers content-addressed and shared,
 * imports safe to run at once, images whose config gives a container its
 * defaults, commit() and diff() of a container's writable layer, export →
 * import round trips that keep every digest, and gc().
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { expect } from 'chai';
import { Container, ImageStore, IsolateError, Layer, LayerStack } from '../../lib';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { runFixture } from '../fixtures/procs';
import { packToFile } from '../../lib/image/tar-write';
import { _leasedLayers } from '../../lib/layer-leases';

const BUSYBOX = '/bin/busybox';
const ROOT = { uid: 0, gid: 0 };
const MiB = 1024 * 1024;

function sha256File(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

/** A base rootfs: static busybox and its applets, an /etc/passwd with a named user. */
function makeBase(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  for (const a of ['sh', 'ls', 'cat', 'echo', 'id', 'pwd', 'env', 'rm', 'mkdir', 'touch', 'sleep']) symlinkSync('busybox', join(dir, 'bin', a));
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app:/home/app:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\napp:x:2345:\nstaff:x:50:\n');
  mkdirSync(join(dir, 'srv', 'app'), { recursive: true });
  writeFileSync(join(dir, 'srv', 'app', 'hello'), 'hello from the base\n');
  writeFileSync(join(dir, 'doomed'), 'to be deleted\n');
}

describe('ImageStore, Layer and images', function () {
  this.timeout(120_000);
  let tmp: string;
  let store: ImageStore;
  let baseDir: string;

  before(function () {
    needContainers(this);
    skipUnless(this, existsSync(BUSYBOX) ? null : `${BUSYBOX} is missing (Debian: apt-get install busybox-static)`);
    tmp = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    store = new ImageStore({ root: join(tmp, 'store') });
    baseDir = join(tmp, 'base');
    makeBase(baseDir);
  });

  after(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // (but this process's mark, which lives as long as it: see ImageStore.gc)
  const tmpLeft = () => readdirSync(join(store.root, 'tmp')).filter((n) => !n.endsWith('.owner'));

  describe('layers', function () {
    it('should make a content-addressed layer from a directory, once', async function () {
      const a = await Layer.fromDirectory(baseDir, { store });
      const b = await Layer.fromDirectory(baseDir, { store });
      expect(a.diffId).to.match(/^sha256:[0-9a-f]{64}$/);
      expect(b.diffId).to.equal(a.diffId);
      expect(store.layers().map((l) => l.diffId)).to.deep.equal([a.diffId]);
      expect(readFileSync(join(a.path, 'srv/app/hello'), 'utf8')).to.equal('hello from the base\n');
      // Its tar is what its name says.
      const out = join(tmp, 'base.tar');
      await a.exportTar(out);
      expect(sha256File(out)).to.equal(a.diffId);
      // Never over an existing file; bad destinations are typed errors.
      const again = await a.exportTar(out).catch((e: unknown) => e);
      expect((again as IsolateError).code).to.equal('ERR_INVALID_OPTION');
      expect((again as IsolateError).message).to.match(/exists; exportTar never overwrites/);
      const nowhere = await a.exportTar(join(tmp, 'no-such-dir', 'x.tar')).catch((e: unknown) => e);
      expect((nowhere as IsolateError).code).to.equal('ERR_SETUP_FAILED');
      expect((nowhere as IsolateError).option).to.equal('dest');
      expect(tmpLeft()).to.deep.equal([]);
    });

    it('should import the same layer from a tar file and a gzip stream, with progress', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const plain = join(tmp, 'again.tar');
      await base.exportTar(plain);
      const gz = join(tmp, 'again.tar.gz');
      await pipeline(createReadStream(plain), createGzip(), createWriteStream(gz));
      const seen: number[] = [];
      const fromFile = await Layer.fromTar(plain, { store, onProgress: (p) => seen.push(p.bytesDone) });
      const fromGzip = await Layer.fromTar(createReadStream(gz), { store });
      expect(fromFile.diffId).to.equal(base.diffId);
      expect(fromGzip.diffId).to.equal(base.diffId);
      expect(seen.at(-1)).to.equal(readFileSync(plain).length);
    });

    it('should let concurrent imports of one layer end with one copy', async function () {
      const src = join(tmp, 'conc');
      mkdirSync(src);
      writeFileSync(join(src, 'big'), Buffer.alloc(4 << 20, 7));
      const tarPath = join(tmp, 'conc.tar');
      await (await Layer.fromDirectory(src, { store })).exportTar(tarPath);
      const layers = await Promise.all([1, 2, 3, 4].map(() => Layer.fromTar(tarPath, { store })));
      expect(new Set(layers.map((l) => l.diffId)).size).to.equal(1);
      expect(readdirSync(join(store.root, 'layers')).filter((n) => n === layers[0]!.diffId.slice(7))).to.have.length(1);
      expect(tmpLeft()).to.deep.equal([]);
    });
  });

  describe('images as containers', function () {
    it("should use the image config's Env, WorkingDir, User, Entrypoint and Cmd as defaults", async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], {
        config: { Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/srv/app', User: 'app:staff', Cmd: ['sh', '-c', 'echo $GREETING; pwd; id -u; id -g'] },
        tag: 'test/app:1',
      });
      expect(store.image('test/app:1').id).to.equal(img.id);
      const r = await Container.run([], { image: img });
      expect(r.stderr).to.equal('');
      expect(r.stdout.trim().split('\n')).to.deep.equal(['hi', '/srv/app', '1234', '50']);
      // A command replaces Cmd; env and user given win over the image's.
      const r2 = await Container.run(['sh', '-c', 'echo $GREETING; id -u'], { image: img, env: { GREETING: 'yo' }, user: ROOT });
      expect(r2.stdout).to.equal('yo\n0\n');
      const withEntry = await store.createImage([base], { config: { Env: ['PATH=/bin'], Entrypoint: ['echo', 'entry'], Cmd: ['default'] } });
      expect((await Container.run([], { image: withEntry })).stdout).to.equal('entry default\n');
      expect((await Container.run(['given'], { image: withEntry })).stdout).to.equal('entry given\n');
    });

    it('should say so when neither the image nor the caller gives a command', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const bare = await store.createImage([base]);
      const err = await Container.run([], { image: bare }).catch((e: unknown) => e);
      expect((err as IsolateError).code).to.equal('ERR_INVALID_OPTION');
      expect((err as IsolateError).message).to.match(/neither Entrypoint nor Cmd/);
    });

    it('should refuse an unknown image by name before anything starts', function () {
      expect(() => new Container({ image: 'no/such:image' })).to.throw(IsolateError, /No image no\/such:image/);
    });
  });

  describe('commit() and diff()', function () {
    it('should list a container\'s changes and commit them as a layer a new container sees', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], { config: { Env: ['PATH=/bin'] } });
      const c = new Container({ image: img, user: ROOT });
      try {
        const r = await c.run(['sh', '-c', 'echo new > /srv/app/new; echo changed > /srv/app/hello; rm /doomed; mkdir -p /var/data; echo x > /var/data/x']);
        expect(r.stderr).to.equal('');
        expect(c.diff()).to.deep.equal([
          { kind: 'D', path: '/doomed' },
          { kind: 'C', path: '/srv' },
          { kind: 'C', path: '/srv/app' },
          { kind: 'C', path: '/srv/app/hello' },
          { kind: 'A', path: '/srv/app/new' },
          { kind: 'A', path: '/var' },
          { kind: 'A', path: '/var/data' },
          { kind: 'A', path: '/var/data/x' },
        ]);
        const layer = await c.commit({ store });
        // The layers as a stack straight away, without an image.
        const quick = await Container.run(['/bin/sh', '-c', 'cat /srv/app/new'], { rootfs: LayerStack.fromLayers([...img.layers, layer]) });
        expect(quick.stdout).to.equal('new\n');
        const next = await store.createImage([...img.layers, layer], { config: img.config.config ?? {}, tag: 'test/committed' });
        const seen = await Container.run(['sh', '-c', 'cat /srv/app/hello /srv/app/new /var/data/x; ls /doomed 2>&1; true'], { image: next });
        expect(seen.stdout).to.match(/^changed\nnew\nx\n.*No such file/s);
        // The layers below are untouched.
        expect(readFileSync(join(base.path, 'srv/app/hello'), 'utf8')).to.equal('hello from the base\n');
      } finally {
        await c.destroy();
      }
      expect(() => c.diff()).to.throw(IsolateError, /destroyed/);
    });

    it('should commit an unchanged container as an empty layer', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], { config: { Env: ['PATH=/bin'] } });
      const c = new Container({ image: img });
      try {
        await c.run(['/bin/true']);
        expect(c.diff()).to.deep.equal([]);
        const layer = await c.commit({ store });
        // sha256 of 1024 zero bytes: Docker's empty layer, the same diff_id.
        expect(layer.diffId).to.equal('sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
        expect(layer.uncompressedSize).to.equal(1024);
        expect(readdirSync(layer.path)).to.deep.equal([]);
        const next = await store.createImage([...img.layers, layer], { config: img.config.config ?? {} });
        const seen = await Container.run(['sh', '-c', 'cat /srv/app/hello'], { image: next });
        expect(seen.stdout).to.equal('hello from the base\n');
      } finally {
        await c.destroy();
      }
    });

    it("should refuse to commit a payload's sparse file past the limits before writing it, leaving nothing in tmp/", async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], { config: { Env: ['PATH=/bin'] } });
      const c = new Container({ image: img, user: ROOT, rootfs: img.stack({ upperSize: '1M' }) });
      const leftInTmp = () => readdirSync(join(store.root, 'tmp')).filter((n) => !n.endsWith('.owner'));
      try {
        // 1 TiB long in a 1 MiB tmpfs: no block is written.
        const r = await c.run(['/bin/busybox', 'sh', '-c', 'busybox truncate -s 1099511627776 /sparse && busybox truncate -s 3M /small']);
        expect(r.status, r.stderr).to.equal('ok');
        const e = (await c.commit({ store }).catch((x: unknown) => x)) as IsolateError;
        expect(e).to.be.instanceOf(IsolateError);
        expect(e).to.include({ code: 'ERR_BAD_IMAGE', path: 'sparse' });
        expect(e.message).to.match(/holds 1099511627776 bytes \(a sparse file of 0 bytes on disk.*limits\.maxEntrySize/);
        expect(leftInTmp()).to.deep.equal([]);
        // Tighter limits from the caller, for the layer as a whole.
        const e2 = (await c.commit({ store, limits: { maxEntrySize: 2 ** 41, maxLayerSize: MiB } }).catch((x: unknown) => x)) as IsolateError;
        expect(e2).to.include({ code: 'ERR_BAD_IMAGE' });
        expect(e2.message).to.match(/limits\.maxLayerSize/);
        expect(leftInTmp()).to.deep.equal([]);
        const e3 = await c.commit({ store, limit: {} } as never).catch((x: unknown) => x as IsolateError);
        expect(e3).to.include({ code: 'ERR_INVALID_OPTION', option: 'limit' });
      } finally {
        await c.destroy();
      }
    });

    it('should list the layers as overlayfs shows them: under a directory a layer replaced by a file, all is new', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const fileDir = join(tmp, 'srv-file');
      mkdirSync(fileDir, { recursive: true });
      writeFileSync(join(fileDir, 'srv'), 'a file now\n');
      const file = await Layer.fromDirectory(fileDir, { store });
      const img = await store.createImage([base, file], { config: { Env: ['PATH=/bin'] } });
      const c = new Container({ image: img, user: ROOT });
      try {
        const r = await c.run(['sh', '-c', 'rm /srv && mkdir -p /srv/app && echo new > /srv/app/hello']);
        expect(r.stderr).to.equal('');
        // The base's /srv/app/hello is hidden by the file: A, not C.
        expect(c.diff()).to.deep.equal([
          { kind: 'C', path: '/srv' },
          { kind: 'A', path: '/srv/app' },
          { kind: 'A', path: '/srv/app/hello' },
        ]);
      } finally {
        await c.destroy();
      }
    });

    it('should bound diff() and commit() of a layer of many empty files', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], { config: { Env: ['PATH=/bin'] } });
      const c = new Container({ image: img, user: ROOT, rootfs: img.stack({ upperSize: '4M' }) });
      try {
        // The tmpfs has 4096 inodes (one per KiB): the loop ends well before 20,000.
        const r = await c.run(['sh', '-c', 'cd /srv && i=0; while [ $i -lt 20000 ]; do echo -n > f$i 2>/dev/null || break; i=$((i+1)); done; echo $i']);
        const made = Number(r.stdout.trim());
        expect(made, JSON.stringify(r)).to.be.within(3900, 4095);
        const all = c.diff();
        expect(all.length).to.equal(made + 1); // and /srv
        expect(all[0]).to.deep.equal({ kind: 'C', path: '/srv' });
        const e = (() => {
          try {
            c.diff({ maxEntries: 100 });
          } catch (err) {
            return err as IsolateError;
          }
          throw new Error('diff() past maxEntries did not throw');
        })();
        expect(e).to.include({ code: 'ERR_BAD_IMAGE' });
        expect(e.message).to.match(/more than 100 entries \(maxEntries\)/);
        expect(() => c.diff({ maxEnties: 5 } as never)).to.throw(IsolateError, /maxEnties/);
        expect(() => c.diff({ maxEntries: -1 })).to.throw(IsolateError, /maxEntries/);
        const e2 = (await c.commit({ store, limits: { maxEntries: 100 } }).catch((x: unknown) => x)) as IsolateError;
        expect(e2).to.include({ code: 'ERR_BAD_IMAGE' });
        expect(e2.message).to.match(/over the limit of 100 \(limits\.maxEntries\)/);
        const layer = await c.commit({ store });
        expect(readdirSync(join(layer.path, 'srv')).length).to.equal(made);
      } finally {
        await c.destroy();
      }
    });

    it('should refuse commit() and diff() with the host root', async function () {
      const c = new Container();
      try {
        expect(() => c.diff()).to.throw(IsolateError, /layered root/);
      } finally {
        await c.destroy();
      }
    });
  });

  describe('hostile image content', function () {
    it('should make device nodes and setuid binaries of an image inert (nodev, nosuid)', async function () {
      const evil = join(tmp, 'evil');
      mkdirSync(evil);
      // A world-writable node of the kernel's memory-like device 1:3 (null:
      // harmless if it did work) and a setuid-root copy of busybox.
      expect(spawnSync('mknod', ['-m', '666', join(evil, 'devnode'), 'c', '1', '3']).status).to.equal(0);
      mkdirSync(join(evil, 'suid'));
      copyFileSync(BUSYBOX, join(evil, 'suid', 'busybox'));
      chmodSync(join(evil, 'suid', 'busybox'), 0o4755);
      // Without allowDevices a device node in a layer is refused, whichever way it comes.
      expect(((await Layer.fromDirectory(evil, { store }).catch((e: unknown) => e)) as IsolateError).code).to.equal('ERR_BAD_IMAGE');
      const packed = join(tmp, 'evil.tar');
      await packToFile(evil, packed);
      const refused = await Layer.fromTar(packed, { store }).catch((e: unknown) => e);
      expect((refused as IsolateError).code).to.equal('ERR_BAD_IMAGE');
      expect((refused as IsolateError).message).to.include('devnode');
      const layer = await Layer.fromTar(packed, { store, allowDevices: true });
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base, layer], { config: { Env: ['PATH=/bin'] } });
      const r = await Container.run(['sh', '-c', '(echo x > /devnode) 2>&1; /suid/busybox id -u'], { image: img });
      expect(r.stdout).to.match(/Permission denied/);
      expect(r.stdout.trim().split('\n').at(-1)).to.equal('65534');
    });
  });

  describe('export and import', function () {
    for (const [format, asTar] of [
      ['oci', true],
      ['oci', false],
      ['docker', true],
    ] as const) {
      it(`should keep every digest through ${format} ${asTar ? 'tar' : 'directory'} export and import`, async function () {
        const base = await Layer.fromDirectory(baseDir, { store });
        const img = await store.createImage([base], { config: { Env: ['PATH=/bin'], Cmd: ['cat', '/srv/app/hello'] }, tag: `test/rt:${format}${asTar ? 'tar' : 'dir'}` });
        const out = join(tmp, `export-${format}-${asTar}`);
        await store.exportImage(`test/rt:${format}${asTar ? 'tar' : 'dir'}`, out, { format, tar: asTar });
        const other = new ImageStore({ root: join(tmp, `store-${format}-${asTar}`) });
        const [back] = await other.importImage(out);
        expect(back!.id).to.equal(img.id);
        expect(back!.layers.map((l) => [l.diffId, l.digest])).to.deep.equal(img.layers.map((l) => [l.diffId, l.digest]));
        expect(back!.tags).to.include(`test/rt:${format}${asTar ? 'tar' : 'dir'}`);
        expect((await Container.run([], { image: back! })).stdout).to.equal('hello from the base\n');
      });
    }
  });

  describe('gc()', function () {
    /** A store of its own with the base layer and a one-file layer (/f) no image need keep. */
    const storeWithLoose = async (name: string, text: string) => {
      const g = new ImageStore({ root: join(tmp, `gc-${name}`) });
      const base = await Layer.fromDirectory(baseDir, { store: g });
      const extra = join(tmp, `extra-${name}`);
      mkdirSync(extra);
      writeFileSync(join(extra, 'f'), text);
      return { g, base, loose: await Layer.fromDirectory(extra, { store: g }) };
    };

    it('should remove what no image refers to, but not a layer a running container uses', async function () {
      const { g, base, loose } = await storeWithLoose('store', 'extra\n');
      await g.createImage([base], { tag: 'keep' });
      const c = new Container({ image: await g.createImage([base, loose]), env: { PATH: '/bin' } });
      await g.removeImage((await g.images()).find((i) => i.tags.length === 0)!.id);
      await c.start();
      try {
        const kept = await g.gc({ graceMs: 0 });
        expect(kept.layers).to.deep.equal([]); // `loose` is mounted by c
      } finally {
        await c.destroy();
      }
      // A layer no image refers to yet is left alone for a while (gc() in another process, between commit and createImage).
      expect((await g.gc()).layers).to.deep.equal([]);
      const removed = await g.gc({ graceMs: 0 });
      expect(removed.layers).to.deep.equal([loose.diffId]);
      expect(g.layers().map((l) => l.diffId)).to.deep.equal([base.diffId]);
      expect(existsSync(loose.blobPath)).to.equal(false);
      expect(existsSync(base.blobPath)).to.equal(true);
    });

    // Found by the nineteenth review: gc() found layers in use in
    // /proc/*/mountinfo only, which a gc() in another pid namespace (a tool
    // in a container sharing the store) does not see: it removed a running
    // container's layer, and the container's next command failed.
    it('should keep a layer a running container uses from a gc() in another pid namespace, and let it go once the container ends', async function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of a pid namespace fails here: ${probe.stderr}`);
      const { g, base, loose } = await storeWithLoose('pidns', 'extra\n');
      const img = await g.createImage([base, loose]);
      const c = new Container({ image: img, env: { PATH: '/bin' } });
      await g.removeImage(img.id);
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const gcElsewhere = () => {
        const code = `new (require(${JSON.stringify(lib)}).ImageStore)({ root: ${JSON.stringify(g.root)} }).gc({ graceMs: 0 }).then((r) => console.log(JSON.stringify(r.layers)))`;
        const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', code], { encoding: 'utf8', timeout: 60_000 });
        expect(r.status, r.stderr).to.equal(0);
        return JSON.parse(r.stdout) as string[];
      };
      await c.start();
      try {
        expect(gcElsewhere(), 'a gc() that cannot see the container').to.deep.equal([]);
        const r = await c.run(['cat', '/f']);
        expect([r.status, r.stdout]).to.deep.equal(['ok', 'extra\n']);
      } finally {
        await c.destroy();
      }
      expect(gcElsewhere().sort()).to.deep.equal([base.diffId, loose.diffId].sort());
      expect(g.layers()).to.deep.equal([]);
    });

    // A start that meets a gc() removing its layer says so, holding nothing.
    it('should refuse to start on a layer a gc() removed, naming it, and hold nothing', async function () {
      const { g, base, loose } = await storeWithLoose('gone', 'gone\n');
      const stack = LayerStack.fromLayers([base, loose]);
      expect((await g.gc({ graceMs: 0 })).layers).to.have.length(2);
      const err = await Container.run(['true'], { rootfs: stack }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(IsolateError);
      expect((err as IsolateError).code).to.equal('ERR_SETUP_FAILED');
      expect((err as IsolateError).message).to.include(base.path);
      expect(_leasedLayers()).to.deep.equal([]);
    });

    // gc()'s open of a layer's fs/ failing for a moment (EMFILE: another
    // thread of a busy process holds the rest of the fd table) was taken
    // for "not there", and the layer went with a container still on it.
    it('should keep a leased layer whose directory gc() cannot open for want of an fd', async function () {
      const probe = spawnSync('prlimit', ['--nofile=128:128', 'true']);
      skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
      const g = new ImageStore({ root: join(tmp, 'gc-emfile') });
      const base = await Layer.fromDirectory(baseDir, { store: g });
      // In a process of its own (see the fixture): it leases the layer as a
      // running container of its own would, fills its fd table and asks.
      const f = runFixture('lease-emfile', [base.path], ['prlimit', '--nofile=128:128']);
      const seen = await f.firstJson;
      expect(await f.exited, f.stderr()).to.equal(0);
      expect(seen.filled, 'fds it took to fill the table').to.be.above(0);
      expect({ kept: seen.kept, removed: seen.removed, there: seen.there }).to.deep.equal({ kept: true, removed: false, there: true });
      // Once it can be opened, an unleased layer goes as before.
      expect((await g.gc({ graceMs: 0 })).layers).to.deep.equal([base.diffId]);
    });

    // diff() and commit() read the layers below the writable one after the
    // container stopped, until destroy(): the lease went at the stop, and a
    // gc() in between removed them (both then failed with Node's ENOENT).
    it('should keep the layers of a stopped container until destroy(), for its diff() and commit()', async function () {
      const g = new ImageStore({ root: join(tmp, 'gc-stopped') });
      const base = await Layer.fromDirectory(baseDir, { store: g });
      const c = new Container({ rootfs: LayerStack.fromLayers([base]), env: { PATH: '/bin' }, user: ROOT });
      try {
        await c.start();
        expect((await c.run(['rm', '/doomed'])).status).to.equal('ok');
        await c.stop();
        expect((await g.gc({ graceMs: 0 })).layers, 'a gc() after the stop').to.deep.equal([]);
        expect(c.diff()).to.deep.equal([{ kind: 'D', path: '/doomed' }]);
        const layer = await c.commit({ store: g });
        expect(layer.diffId).to.match(/^sha256:/);
      } finally {
        await c.destroy();
      }
      expect(_leasedLayers()).to.deep.equal([]);
      expect((await g.gc({ graceMs: 0 })).layers).to.include(base.diffId);
    });

    // An import in another process writes its config blob, then records
    // the image: a gc() between the two took the blob, and the record then
    // pointed at nothing, which broke images() for good.
    it("should leave a young blob no image refers to yet, and list the other images when one's config is gone", async function () {
      const g = new ImageStore({ root: join(tmp, 'gc-blobs') });
      const base = await Layer.fromDirectory(baseDir, { store: g });
      const a = await g.createImage([base], { tag: 'a', config: { Cmd: ['a'] } });
      const b = await g.createImage([base], { tag: 'b', config: { Cmd: ['b'] } });
      const orphan = join(g.root, 'blobs', 'sha256', 'f'.repeat(64));
      writeFileSync(orphan, 'a config an import is about to record');
      expect((await g.gc()).blobs).to.deep.equal([]);
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(orphan, old, old);
      expect((await g.gc()).blobs).to.deep.equal([`sha256:${'f'.repeat(64)}`]);
      // A's config blob lost anyway (by hand): b still lists, a says why.
      rmSync(join(g.root, 'blobs', 'sha256', a.id.slice(7)), { force: true });
      expect(g.images().map((i) => i.id)).to.deep.equal([b.id]);
      expect(() => g.image('a')).to.throw(IsolateError, /config blob cannot be read/);
    });

    // An import that finds a layer in the store already (and drops its own
    // copy) refreshes it: a gc() in another process between that and the
    // image's record must not take an old layer no image referred to.
    it('should give a layer found again by an import its grace again', async function () {
      const g = new ImageStore({ root: join(tmp, 'gc-refresh') });
      const layer = await Layer.fromDirectory(baseDir, { store: g });
      const old = new Date(Date.now() - 3_600_000);
      const json = join(g.root, 'layers', layer.diffId.slice(7), 'layer.json');
      const rec = JSON.parse(readFileSync(json, 'utf8')) as { created: string };
      chmodSync(json, 0o644);
      writeFileSync(json, JSON.stringify({ ...rec, created: old.toISOString() }));
      chmodSync(json, 0o444);
      const files = [json, layer.blobPath];
      for (const f of files) utimesSync(f, old, old);
      const again = await g.importLayer(layer.blobPath);
      expect(again.diffId).to.equal(layer.diffId);
      expect((await g.gc({ graceMs: 60_000 })).layers).to.deep.equal([]);
      for (const f of files) utimesSync(f, old, old);
      expect((await g.gc({ graceMs: 60_000 })).layers).to.deep.equal([layer.diffId]);
      expect(existsSync(layer.blobPath)).to.equal(false);
    });

    it('should sweep only what imports name in tmp/, never anything else there', async function () {
      const g = new ImageStore({ root: join(tmp, 'gc-tmp') });
      writeFileSync(join(g.root, 'tmp', 'not-ours'), 'x');
      writeFileSync(join(g.root, 'tmp', '999999999-1-dead-import'), 'x');
      await g.gc();
      expect(readdirSync(join(g.root, 'tmp'))).to.deep.equal(['not-ours']);
    });

    it("should spare the tmp/ entries of an owner whose name reads as dead here but who holds its mark (another pid namespace)", async function () {
      const g = new ImageStore({ root: join(tmp, 'gc-tmp-mark') });
      const mark = join(g.root, 'tmp', '999999998-1.owner');
      writeFileSync(mark, '');
      writeFileSync(join(g.root, 'tmp', '999999998-1-live-import'), 'x');
      // The owner, as any namespace sees it: a process holding the mark's lock.
      const hold = 'import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_SH); print("held", flush=True); time.sleep(100)';
      const holder = spawn('python3', ['-c', hold, mark], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        await new Promise<void>((res) => holder.stdout!.once('data', () => res()));
        await g.gc();
        expect(readdirSync(join(g.root, 'tmp')).sort()).to.deep.equal(['999999998-1-live-import', '999999998-1.owner']);
      } finally {
        holder.kill('SIGKILL');
        await new Promise((r) => holder.once('close', r));
      }
      // It is gone: its entries and its mark go.
      await g.gc();
      expect(readdirSync(join(g.root, 'tmp'))).to.deep.equal([]);
    });
  });

  // Breaking a dead process's lock directory raced: two waiters could both
  // end up holding it, and a tag() was lost. flock() has no stale state.
  describe('the store lock', function () {
    it('should lose no tag() when processes tag at once, and outlive a holder killed with SIGKILL', async function () {
      const root = join(tmp, 'lock-store');
      const g = new ImageStore({ root });
      const img = await g.createImage([await Layer.fromDirectory(baseDir, { store: g })], { config: { Cmd: ['x'] } });
      const fixture = join(__dirname, '..', 'fixtures', 'store-tagger.js');
      const holder = spawn(process.execPath, [fixture, root, 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((res) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && res()));
      const taggers = [0, 1, 2, 3].map(
        (k) =>
          new Promise<number | null>((res) => {
            spawn(process.execPath, [fixture, root, 'tag', img.id, `p${k}`, '10'], { stdio: 'inherit' }).on('exit', (code) => res(code));
          }),
      );
      await new Promise((res) => setTimeout(res, 200));
      holder.kill('SIGKILL'); // its lock goes with it
      expect(await Promise.all(taggers)).to.deep.equal([0, 0, 0, 0]);
      const names = g.image(img.id).tags;
      for (let k = 0; k < 4; k++) for (let i = 0; i < 10; i++) expect(names, `p${k}-${i}`).to.include(`p${k}-${i}:latest`);
    });
  });

  describe('hostile stores and names', function () {
    // Root's gc() empties tmp/ and blobs/ and trusts layers: a store another
    // user can write (tmp -> their victim) would have it delete their choice.
    it('should refuse a store directory that is a symlink, or that another user owns or can write', function () {
      const open = join(tmp, 'open-store');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      expect(() => new ImageStore({ root: open })).to.throw(IsolateError, /not safe to use: .*open-store belongs to uid 0 with mode 0777/).with.property('code', 'ERR_PERMISSION');
      chmodSync(open, 0o700);
      chownSync(open, 65534, 65534);
      expect(() => new ImageStore({ root: open })).to.throw(IsolateError, /belongs to uid 65534/);
      chownSync(open, 0, 0);
      const victim = join(tmp, 'victim');
      mkdirSync(victim);
      writeFileSync(join(victim, 'keep'), 'keep');
      const linked = join(tmp, 'linked-store');
      mkdirSync(linked, { mode: 0o700 });
      symlinkSync(victim, join(linked, 'tmp'));
      expect(() => new ImageStore({ root: linked })).to.throw(IsolateError, /linked-store\/tmp is a symlink/);
      expect(readdirSync(victim)).to.deep.equal(['keep']);
    });

    // A tag named like an ID (an archive's, say) answered store.image(id).
    it('should refuse names that read as image IDs, and look IDs up only among IDs', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const img = await store.createImage([base], { config: { Cmd: ['x'] } });
      for (const name of [`sha256:${'a'.repeat(64)}`, 'a'.repeat(64), `${'b'.repeat(64)}:1`]) {
        const e = await store.tag(img.id, name).catch((x: unknown) => x as IsolateError);
        expect(e, name).to.include({ code: 'ERR_INVALID_OPTION', option: 'name' });
      }
      expect(() => store.image(`sha256:${'a'.repeat(64)}`)).to.throw(IsolateError, /No image sha256:a+ in/);
      expect(() => store.image('abababababab')).to.throw(IsolateError, /No image with ID prefix abababababab/);
    });

    it('should not remove a dangling symlink, or a file made meanwhile, at exportTar\'s destination', async function () {
      const base = await Layer.fromDirectory(baseDir, { store });
      const dest = join(tmp, 'dangling.tar');
      symlinkSync(join(tmp, 'nowhere'), dest);
      const e = await base.exportTar(dest).catch((x: unknown) => x as IsolateError);
      expect(e).to.include({ code: 'ERR_INVALID_OPTION', option: 'dest' });
      expect(lstatSync(dest).isSymbolicLink()).to.equal(true);
    });
  });
});
