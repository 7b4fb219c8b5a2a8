/**
 * `isolate-kit image …` and `run --image` end to end: an image made with the
 * library, exported, imported by the CLI into another store, listed, run by
 * name and straight from its archive, exported for docker, removed, and the
 * store collected. Plus a hostile archive leaving the store as it was.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ImageStore, IsolateError, Layer } from '../../lib';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

const MAIN = join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const BUSYBOX = '/bin/busybox';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('isolate-kit image and run --image', function () {
  this.timeout(120_000);
  let tmp: string;
  let archive: string;

  before(async function () {
    needContainers(this);
    skipUnless(this, existsSync(BUSYBOX) ? null : `${BUSYBOX} is missing (Debian: apt-get install busybox-static)`);
    tmp = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    const rootfs = join(tmp, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    for (const a of ['sh', 'cat', 'echo']) symlinkSync('busybox', join(rootfs, 'bin', a));
    writeFileSync(join(rootfs, 'motd'), 'hello from the image\n');
    const made = new ImageStore({ root: join(tmp, 'made') });
    const layer = await Layer.fromDirectory(rootfs, { store: made });
    await made.createImage([layer], { config: { Env: ['PATH=/bin'], Cmd: ['cat', '/motd'] }, tag: 'demo:1' });
    archive = join(tmp, 'demo-oci.tar');
    await made.exportImage('demo:1', archive);
  });

  after(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('should import, list, run, export, remove and collect', function () {
    const store = join(tmp, 'cli-store');
    const imp = cli(['image', 'import', archive, '--store', store, '--tag', 'again']);
    expect(imp.stderr).to.equal('');
    expect(imp.code).to.equal(0);
    expect(imp.stdout).to.match(/^imported [0-9a-f]{12} again:latest demo:1\n$/);

    const ls = cli(['image', 'ls', '--store', store, '--json']);
    const list = JSON.parse(ls.stdout) as { tags: string[]; layers: string[] }[];
    expect(list).to.have.length(1);
    expect(list[0]!.tags).to.deep.equal(['again:latest', 'demo:1']);

    const byName = cli(['run', '--image', 'demo:1', '--store', store]);
    expect(byName.stdout).to.equal('hello from the image\n');
    expect(byName.code).to.equal(0);
    const withCmd = cli(['run', '--image', 'again', '--store', store, '--', 'echo', 'given']);
    expect(withCmd.stdout).to.equal('given\n');

    const out = join(tmp, 'demo-docker.tar');
    expect(cli(['image', 'export', 'demo:1', out, '--format', 'docker', '--store', store]).code).to.equal(0);
    expect(existsSync(out)).to.equal(true);

    expect(cli(['image', 'rm', 'again', 'demo:1', '--store', store]).code).to.equal(0);
    expect(JSON.parse(cli(['image', 'ls', '--store', store, '--json']).stdout)).to.deep.equal([]);
    const gc = JSON.parse(cli(['image', 'gc', '--store', store, '--json', '--grace', '0']).stdout) as { layers: string[] };
    expect(gc.layers).to.have.length(1);
    expect(readdirSync(join(store, 'layers'))).to.deep.equal([]);
  });

  it('should run an archive straight away with run --image TAR', function () {
    const store = join(tmp, 'direct-store');
    const r = cli(['run', '--image', archive, '--store', store, '--upper-size', '1M']);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('hello from the image\n');
  });

  it('should exit 1 naming what is wrong, and 2 for a malformed command line', function () {
    const store = join(tmp, 'err-store');
    const missing = cli(['image', 'import', join(tmp, 'nope.tar'), '--store', store]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/^isolate-kit: .*nope\.tar/);
    expect(cli(['image', 'rm', 'nothing', '--store', store]).stderr).to.match(/No image nothing/);
    expect(cli(['image', 'frobnicate']).code).to.equal(2);
    expect(cli(['image', 'ls', '--tag', 'x']).code).to.equal(2);
  });

  it('should leave the store as it was after a hostile archive', async function () {
    // An OCI layout whose layer tries to write ../../escaped, built by hand
    // with python's tarfile (a tool independent of ours).
    const bad = join(tmp, 'bad');
    const py = `
import tarfile, io, json, hashlib, os
root = ${JSON.stringify(bad)}
os.makedirs(root + '/blobs/sha256')
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(root + '/blobs/sha256/' + h, 'wb').write(data)
    return 'sha256:' + h, len(data)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
    data = b'pwned\\n'
    info = tarfile.TarInfo('../../escaped'); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
layer = buf.getvalue()
ld, ls = blob(layer)
cfg = json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': [ld]}, 'config': {}}).encode()
cd, cs = blob(cfg)
man = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
  'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': cs},
  'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': ld, 'size': ls}]}).encode()
md, ms = blob(man)
open(root + '/oci-layout', 'w').write('{"imageLayoutVersion":"1.0.0"}')
open(root + '/index.json', 'w').write(json.dumps({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md, 'size': ms, 'annotations': {'org.opencontainers.image.ref.name': 'bad:1'}}]}))
`;
    const made = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    expect(made.status, made.stderr).to.equal(0);
    const root = join(tmp, 'hostile-store');
    const store = new ImageStore({ root });
    const err = await store.importImage(bad).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(IsolateError);
    expect((err as IsolateError).code).to.equal('ERR_BAD_IMAGE');
    expect((err as IsolateError).message).to.include('../../escaped');
    expect(readdirSync(join(root, 'layers'))).to.deep.equal([]);
    // (but this process's mark, kept while it lives: ImageStore.gc)
    expect(readdirSync(join(root, 'tmp')).filter((n) => !n.endsWith('.owner'))).to.deep.equal([]);
    expect(store.images()).to.deep.equal([]);
    expect(existsSync(join(root, 'escaped'))).to.equal(false);
    expect(existsSync(join(tmp, 'escaped'))).to.equal(false);
    // The CLI says the same, exit 1.
    const r = cli(['image', 'import', bad, '--store', root]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('../../escaped');
  });
});
