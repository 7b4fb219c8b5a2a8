/**
 * Images: build one from a directory, run it with its config as defaults,
 * change it in a container, commit the change as a new layer, and export the
 * result as a `docker save` archive that docker and podman load.
 *
 *   sudo npm run example:images       (needs root and a static busybox: apt install busybox-static)
 *
 * Everything goes into a temporary store that is removed at the end.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, ImageStore, Layer } from '../lib';

async function main(): Promise<void> {
  if (!existsSync('/bin/busybox')) throw new Error('This example needs /bin/busybox (Debian: apt install busybox-static)');
  const dir = mkdtempSync(join(tmpdir(), 'isolate-kit-example-'));
  try {
    // 1. A base layer from a directory: a static busybox is a whole userland.
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'cat', 'echo', 'ls']) symlinkSync('busybox', join(rootfs, 'bin', applet));
    writeFileSync(join(rootfs, 'motd'), 'hello from the base layer\n');
    const store = new ImageStore({ root: join(dir, 'store') });
    const base = await Layer.fromDirectory(rootfs, { store });
    const image = await store.createImage([base], { config: { Env: ['PATH=/bin'], Cmd: ['cat', '/motd'] }, tag: 'example:1' });
    console.log(`image ${image.id.slice(7, 19)} (${image.tags.join(', ')}), layer ${base.diffId.slice(0, 19)}…`);

    // 2. Run it: no command given, so its Cmd runs.
    console.log((await Container.run([], { image })).stdout.trim());

    // 3. Change it in a container, see what changed, commit the change.
    const c = new Container({ image, user: { uid: 0 } });
    await c.run(['sh', '-c', 'echo "hello from a commit" > /motd; echo new > /added']);
    console.log('diff:', c.diff().map((x) => `${x.kind} ${x.path}`).join(', '));
    const layer = await c.commit({ store });
    await c.destroy();
    const next = await store.createImage([...image.layers, layer], { config: image.config.config ?? {}, tag: 'example:2' });
    console.log((await Container.run([], { image: next })).stdout.trim());

    // 4. Out as a docker save archive (or { format: 'oci' } for an OCI layout tar).
    const out = join(dir, 'example-2.tar');
    await store.exportImage('example:2', out, { format: 'docker' });
    console.log(`exported ${out} (docker load -i / podman load -i read it)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
