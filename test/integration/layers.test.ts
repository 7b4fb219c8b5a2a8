/**
 * Layered roots on a real overlayfs: read-only directories under a writable
 * layer in a size-limited tmpfs. The union honours whiteouts and opaque
 * directories, writes land in the writable layer only, a full writable layer
 * says ENOSPC inside, stacks deeper than mount(2)'s one-page option string
 * mount, and nothing is left on the host afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Container, IsolateError, LayerStack, type RunResult } from '../../lib';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

const BUSYBOX = '/bin/busybox';
const ROOT = { uid: 0, gid: 0 };

/** A base layer: a static busybox and its applet links (no libc needed). */
function makeBase(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'dd', 'mount', 'stat', 'find', 'sort', 'wc', 'rm', 'mkdir', 'touch']) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
}

/** sha256 over every entry of a tree (path, kind, mode, contents or link or device). */
function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = join(rel, name);
      const st = lstatSync(join(dir, p));
      h.update(`${p}\0${st.mode}\0${st.rdev}\0`);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) h.update(readlinkSync(join(dir, p)));
      else if (st.isFile()) h.update(readFileSync(join(dir, p)));
    }
  };
  walk('');
  return h.digest('hex');
}

function run(stack: LayerStack, script: string, extra: object = {}): Promise<RunResult<string>> {
  return Container.run(['/bin/sh', '-c', script], { rootfs: stack, env: { PATH: '/bin' }, user: ROOT, ...extra });
}

describe('LayerStack on overlayfs', function () {
  this.timeout(60_000);
  let tmp: string;
  let base: string;
  let mid: string;
  let top: string;

  before(function () {
    needContainers(this);
    skipUnless(this, existsSync(BUSYBOX) ? null : `${BUSYBOX} is missing (Debian: apt-get install busybox-static)`);
    const fsTypes = readFileSync('/proc/filesystems', 'utf8');
    skipUnless(this, /\toverlay\n/.test(fsTypes) ? null : 'this kernel has no overlayfs');
    tmp = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    base = join(tmp, 'base');
    mid = join(tmp, 'mid');
    top = join(tmp, 'top');
    makeBase(base);
    writeFileSync(join(base, 'a'), 'base a\n');
    writeFileSync(join(base, 'b'), 'base b\n');
    mkdirSync(join(base, 'etc/conf.d'), { recursive: true });
    writeFileSync(join(base, 'etc/conf.d/old'), 'old\n');
    writeFileSync(join(base, 'etc/keep'), 'keep\n');
    mkdirSync(join(mid, 'etc/conf.d'), { recursive: true });
    // mid: deletes /a (a whiteout: a 0/0 character device), replaces
    // /etc/conf.d wholesale (an opaque directory), adds /c.
    expect(spawnSync('mknod', [join(mid, 'a'), 'c', '0', '0']).status).to.equal(0);
    const opaque = spawnSync('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(mid, 'etc/conf.d'))}, 'trusted.overlay.opaque', b'y')`]);
    expect(opaque.status, opaque.stderr.toString()).to.equal(0);
    writeFileSync(join(mid, 'etc/conf.d/new'), 'new\n');
    writeFileSync(join(mid, 'c'), 'mid c\n');
    // top: changes /b.
    mkdirSync(top);
    writeFileSync(join(top, 'b'), 'top b\n');
  });

  after(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('should show the union of three layers, honouring whiteouts and opaque directories', async function () {
    const r = await run(LayerStack.fromDirectories([base, mid, top]), 'cat /b /c /etc/keep; ls /etc/conf.d; ls /a 2>&1; true');
    expect(r.stderr).to.equal('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 4)).to.deep.equal(['top b', 'mid c', 'keep', 'new']);
    expect(lines[4]).to.match(/No such file/);
  });

  it('should write to the writable layer only, leaving every layer byte-identical', async function () {
    const before = [base, mid, top].map(treeDigest);
    const r = await run(
      LayerStack.fromDirectories([base, mid, top]),
      'echo changed > /b && echo new > /d && rm /c && rm -r /etc/conf.d && mkdir -p /x/y && touch /bin/added && cat /b /d && ls /etc',
    );
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal('ok');
    expect(r.stdout.trim().split('\n')).to.deep.equal(['changed', 'new', 'keep']);
    expect([base, mid, top].map(treeDigest)).to.deep.equal(before);
    // A new container starts from the layers again: the writes went with the last one.
    const again = await run(LayerStack.fromDirectories([base, mid, top]), 'cat /b; ls /d 2>&1; true');
    expect(again.stdout).to.match(/^top b\n.*No such file/s);
  });

  it('should make the kernel filesystems\' mount points in the writable layer when the layers lack them', async function () {
    expect(existsSync(join(base, 'proc'))).to.equal(false);
    const r = await run(LayerStack.fromDirectories([base]), 'cat /proc/self/comm; ls -d /dev/null /tmp /sys');
    expect(r.stderr).to.equal('');
    expect(r.stdout.trim().split('\n')).to.deep.equal(['cat', '/dev/null', '/sys', '/tmp']);
    expect(existsSync(join(base, 'proc'))).to.equal(false);
  });

  it('should fail a write past upperSize with ENOSPC inside, and touch nothing on the host', async function () {
    const before = treeDigest(base);
    const r = await run(LayerStack.fromDirectories([base], { upperSize: '1M' }), 'dd if=/dev/zero of=/big bs=64k count=64 2>&1; echo rc=$?');
    expect(r.stdout).to.match(/No space left on device/);
    expect(r.stdout).to.match(/rc=1/);
    expect(treeDigest(base)).to.equal(before);
  });

  it('should bound the writable layer\'s inodes: one per KiB of upperSize, at least 1024', async function () {
    // Empty files take no page of the tmpfs: without an inode count a 1 MiB
    // layer held 200,000 of them (kernel memory, and entries for diff()).
    const count = async (upperSize: string) => {
      const r = await run(
        LayerStack.fromDirectories([base], { upperSize }),
        '/bin/busybox df -i / | /bin/busybox tail -1; mkdir /many && cd /many && i=0; while [ $i -lt 20000 ]; do echo -n > f$i || break; i=$((i+1)); done; echo made=$i',
      );
      expect(r.stderr).to.match(/No space left on device/);
      expect(r.stdout, JSON.stringify(r)).to.match(/made=/);
      return { total: Number(r.stdout.trim().split(/\s+/)[1]), made: Number(/made=(\d+)/.exec(r.stdout)![1]) };
    };
    const small = await count('64K');
    expect(small.total).to.equal(1024);
    expect(small.made).to.be.within(900, 1023);
    const big = await count('8M');
    expect(big.total).to.equal(8192);
    expect(big.made).to.be.within(8000, 8191);
  });

  it('should keep the writable layer on disk in upperDir, for the next container too', async function () {
    const upperDir = join(tmp, 'persist');
    mkdirSync(upperDir, { mode: 0o700 });
    const before = [base, mid, top].map(treeDigest);
    const stack = LayerStack.fromDirectories([base, mid, top], { upperDir });
    expect(stack.upperDir).to.equal(upperDir);
    const first = await run(stack, 'echo kept > /kept && rm /c');
    expect(first.stderr).to.equal('');
    // On the host, in the layer's own format: the file, and a whiteout for /c.
    expect(readFileSync(join(upperDir, 'upper', 'kept'), 'utf8')).to.equal('kept\n');
    expect(lstatSync(join(upperDir, 'upper', 'c')).isCharacterDevice()).to.equal(true);
    const second = await run(stack, 'cat /kept; ls /c 2>&1; true');
    expect(second.stdout).to.match(/^kept\n.*No such file/s);
    expect([base, mid, top].map(treeDigest)).to.deep.equal(before);
  });

  // The layer lands on the host's disk as the payload wrote it: a uid-0
  // payload's setuid-root program there is a way to root for whoever can
  // reach it (nosuid holds only inside the container).
  it("should refuse an upperDir other users can enter or that is not this user's", async function () {
    const open = join(tmp, 'open-upper');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    expect(() => LayerStack.fromDirectories([base], { upperDir: open })).to.throw(IsolateError, /must belong to this process's user \(uid 0\) and be closed to others \(mode 0700; it is 0755, owner 0\)/);
    chmodSync(open, 0o700);
    chownSync(open, 65534, 65534);
    expect(() => LayerStack.fromDirectories([base], { upperDir: open })).to.throw(IsolateError, /owner 65534/);
    chownSync(open, 0, 0);
    // Closed, it takes the payload's setuid file, which no other user can reach.
    const stack = LayerStack.fromDirectories([base], { upperDir: open });
    const r = await run(stack, 'busybox cp /bin/busybox /suid && busybox chmod 4755 /suid');
    expect(r.status, r.stderr).to.equal('ok');
    expect(lstatSync(join(open, 'upper', 'suid')).mode & 0o4000).to.equal(0o4000);
    expect(lstatSync(open).mode & 0o777).to.equal(0o700);
  });

  it('should refuse upperDir with upperSize, inside a layer, or missing', function () {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as IsolateError;
      }
      throw new Error('no error');
    };
    expect(err(() => LayerStack.fromDirectories([base], { upperDir: tmp, upperSize: '1M' })).option).to.equal('upperSize');
    expect(err(() => LayerStack.fromDirectories([base], { upperDir: join(base, 'bin') })).message).to.match(/lies inside a layer/);
    expect(err(() => LayerStack.fromDirectories([base], { upperDir: join(tmp, 'nope') })).message).to.match(/nope \(upperDir\) does not exist/);
  });

  it('should mount a stack of 120 layers (past the one page mount(2) options may fill)', async function () {
    const deep = join(tmp, 'deep');
    const dirs = [base];
    for (let i = 0; i < 119; i++) {
      const d = join(deep, `layer-number-${String(i).padStart(3, '0')}-with-a-long-name-like-a-store-path`);
      mkdirSync(join(d, 'layers'), { recursive: true });
      writeFileSync(join(d, 'layers', `f${i}`), '');
      dirs.push(d);
    }
    expect(dirs.join(':').length).to.be.above(4096);
    const r = await run(LayerStack.fromDirectories(dirs), 'ls /layers | wc -l');
    expect(r.stderr).to.equal('');
    expect(r.stdout.trim()).to.equal('119');
  });

  it('should keep a layered root read-only with readonlyRootfs, and writable by default', async function () {
    const stack = LayerStack.fromDirectories([base, mid, top]);
    const ro = await run(stack, '(echo x > /y) 2>&1; echo x > /tmp/y && echo tmp-ok', { readonlyRootfs: true });
    expect(ro.stdout).to.match(/Read-only file system/);
    expect(ro.stdout).to.match(/tmp-ok/);
    const rw = await run(stack, 'echo x > /y && cat /y');
    expect(rw.stdout).to.equal('x\n');
    expect(stack.readonly).to.equal(false);
  });

  it('should leave no mount and no writable layer on the host', async function () {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    const c = new Container({ rootfs: LayerStack.fromDirectories([base, top]), env: { PATH: '/bin' } });
    await c.start();
    // The union is mounted in the container's mount namespace only.
    expect(readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8')).to.match(/ \/ .* - overlay /);
    await c.destroy();
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.equal(mounts);
    for (const d of ['/mnt', '/media', '/srv', '/opt']) {
      if (existsSync(d)) expect(readdirSync(d).filter((n) => ['upper', 'work', 'root'].includes(n)), d).to.deep.equal([]);
    }
  });

  describe("a hostile image's symbolic links where the container mounts", function () {
    // A layer that is `base` plus `name -> target`: the image an attacker
    // publishes. Mount targets are resolved inside the new root, as the
    // container itself would resolve them, so no link reaches the host
    // (init's view before pivot_root) and none leads onto the root itself.
    const withLink = (name: string, target: string): string => {
      const dir = mkdtempSync(join(tmp, 'link-'));
      mkdirSync(join(dir, name, '..'), { recursive: true });
      symlinkSync(target, join(dir, name));
      return dir;
    };
    const hostRootNames = () => readdirSync('/').sort();

    it('should refuse a kernel mount point or a mount target that links to the root, absolutely or by ..', async function () {
      const before = hostRootNames();
      const cases: [string, string, object][] = [
        ...['proc', 'dev', 'sys', 'tmp', 'run'].flatMap((m): [string, string, object][] => [
          [m, '/', {}],
          [m, '../../..', {}],
        ]),
        ['scratch', '/', { mounts: [{ type: 'tmpfs', target: '/scratch' }] }],
        ['data', '..', { mounts: [{ type: 'bind', source: base, target: '/data' }] }],
        ['run', '/', { readonlyRootfs: true }],
      ];
      for (const [name, target, extra] of cases) {
        // Run as nobody too: the image, not the payload, is the attacker here.
        const r = await run(LayerStack.fromDirectories([base, withLink(name, target)]), 'ls /.. /../etc/shadow', { user: undefined, ...extra });
        const what = `${name} -> ${target}`;
        expect(r.status, what).to.equal('error');
        expect(r.error?.code, what).to.equal('ERR_SETUP_FAILED');
        const kernelFs = ['proc', 'dev', 'sys'].includes(name);
        expect(r.error?.message, what).to.match(kernelFs ? /resolved inside the container's root, goes through a symbolic link/ : /resolved inside the container's root, is the root itself/);
        expect(r.stdout, what).to.equal('');
      }
      expect(hostRootNames()).to.deep.equal(before);
    });

    it('should make nothing on the host through a link to a host directory', async function () {
      const hostDir = mkdtempSync(join(tmp, 'host-'));
      // /dev leads to a directory of the host: its device nodes, /dev/pts
      // and /dev/shm were made there (init runs as root, before pivot_root).
      const dev = await run(LayerStack.fromDirectories([base, withLink('dev', hostDir)]), 'true');
      expect(dev.status).to.equal('error');
      expect(dev.error?.message).to.match(/mount tmpfs on \/dev.*open: ELOOP/);
      // A caller's mount target below a link: the mount point was made on the host.
      const data = await run(LayerStack.fromDirectories([base, withLink('data', hostDir)]), 'true', {
        mounts: [{ type: 'tmpfs', target: '/data/out' }],
      });
      expect(data.status).to.equal('error');
      expect(readdirSync(hostDir)).to.deep.equal([]);
    });

    it('should mount /proc, /sys and /dev on the image\'s own directories only, so that no link sends their masks elsewhere', async function () {
      // The review's image: /proc led the proc mount to /X, then, with procfs
      // on /X (its `self` a link of its own), led the masks to /D, where they
      // found nothing and were skipped: /X/sys/kernel/core_pattern was
      // writable by a uid-0 payload without capabilities.
      const evil = mkdtempSync(join(tmp, 'proc-'));
      mkdirSync(join(evil, 'X/a/b'), { recursive: true });
      symlinkSync('a/b', join(evil, 'X/self'));
      symlinkSync('.', join(evil, 'X/D'));
      mkdirSync(join(evil, 'D'));
      symlinkSync('/X/self', join(evil, 'D/self'));
      symlinkSync('/X/self/../../D', join(evil, 'proc'));
      // /sys led to /S through /tmp/l, which the /tmp tmpfs then covered, leaving /sys/firmware unmasked.
      const sys = mkdtempSync(join(tmp, 'sys-'));
      mkdirSync(join(sys, 'S'));
      mkdirSync(join(sys, 'tmp'));
      symlinkSync('/S', join(sys, 'tmp/l'));
      symlinkSync('/tmp/l', join(sys, 'sys'));
      // Any link at all, even to a directory of the image.
      const plain = mkdtempSync(join(tmp, 'dev-'));
      mkdirSync(join(plain, 'realdev'));
      symlinkSync('realdev', join(plain, 'dev'));
      for (const [layer, step] of [
        [evil, 'mount proc on /proc'],
        [sys, 'mount sysfs on /sys'],
        [plain, 'mount tmpfs on /dev'],
      ] as const) {
        const r = await run(LayerStack.fromDirectories([base, layer]), 'cat /proc/self/mountinfo; echo x >> /X/sys/kernel/core_pattern');
        expect(r.status, step).to.equal('error');
        expect(r.error?.message, step).to.include(`Container setup failed at \`${step}\``).and.match(/goes through a symbolic link/);
        expect(r.stdout, step).to.equal('');
      }
    });

    it('should refuse a /sys that an earlier payload made a link in a kept upperDir', async function () {
      // With the host's network a container has no sysfs of its own: its /sys
      // is a directory of the writable layer, which a payload may replace.
      const upperDir = join(tmp, 'kept-sys');
      mkdirSync(upperDir, { mode: 0o700 });
      const first = await run(LayerStack.fromDirectories([base], { upperDir }), 'rm -rf /sys && mkdir -p /Y && busybox ln -s /Y /sys', { network: 'host' });
      expect(first.stderr).to.equal('');
      expect(first.status).to.equal('ok');
      const next = await run(LayerStack.fromDirectories([base], { upperDir }), 'ls /Y/firmware');
      expect(next.status).to.equal('error');
      expect(next.error?.message).to.include('Container setup failed at `mount sysfs on /sys`').and.match(/goes through a symbolic link/);
    });

    it("should follow an image's links inside its own root, and leave / with nothing above it", async function () {
      const layer = withLink('tmp', '/var/tmp');
      mkdirSync(join(layer, 'var/tmp'), { recursive: true });
      mkdirSync(join(layer, 'srv/data'), { recursive: true });
      symlinkSync('../srv/data', join(layer, 'data'));
      const r = await run(
        LayerStack.fromDirectories([base, layer]),
        // /tmp's tmpfs is on /var/tmp, the caller's tmpfs on /srv/data/x; "/.." is "/".
        'echo hi > /tmp/f && cat /var/tmp/f && stat -f -c %T /var/tmp /srv/data/x && stat -c %d:%i / /.. && ls /..',
        { mounts: [{ type: 'tmpfs', target: '/data/x' }] },
      );
      expect(r.stderr).to.equal('');
      const lines = r.stdout.trim().split('\n');
      expect(lines.slice(0, 3)).to.deep.equal(['hi', 'tmpfs', 'tmpfs']);
      expect(lines[3]).to.equal(lines[4]);
      expect(lines.slice(5).sort()).to.deep.equal(readdirSync(join(base)).concat(readdirSync(layer)).filter((n, i, a) => a.indexOf(n) === i).concat(['dev', 'proc', 'run', 'sys']).sort());
    });
  });

  describe('bad input, refused before anything is made', function () {
    const refuses = (fn: () => unknown, option: string, message: RegExp) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(IsolateError);
      expect((err as IsolateError).code).to.equal('ERR_INVALID_OPTION');
      expect((err as IsolateError).option).to.equal(option);
      expect((err as IsolateError).message).to.match(message);
    };

    it('should name a layer that does not exist, or is not a directory', function () {
      refuses(() => LayerStack.fromDirectories([base, join(tmp, 'nope')]), 'layers[1]', /nope \(layers\[1\]\) does not exist/);
      refuses(() => LayerStack.fromDirectories([join(base, 'a')]), 'layers[0]', /is not a directory/);
    });

    it('should refuse an empty stack, paths overlayfs cannot take, and bad options', function () {
      refuses(() => LayerStack.fromDirectories([]), 'layers', /non-empty array/);
      const colon = join(tmp, 'a:b');
      mkdirSync(colon, { recursive: true });
      refuses(() => LayerStack.fromDirectories([colon]), 'layers[0]', /cannot take a path with ':'/);
      refuses(() => LayerStack.fromDirectories([base], { upperSize: 'lots' }), 'upperSize', /upperSize/);
      refuses(() => LayerStack.fromDirectories([base], { upperSize: 1024 }), 'upperSize', /at least 64K/);
      refuses(() => LayerStack.fromDirectories([base], { size: 1 } as never), 'size', /Unknown LayerStack option `size`/);
    });

    // As on the host root: the kind of what the image has at a mount
    // target. Before, each started, and failed in init at its step.
    it("should refuse a mount target of the wrong kind in the image's layers, as the union shows them", async function () {
      const stack = LayerStack.fromDirectories([base, mid, top]);
      const cases: [string, object, RegExp][] = [
        // /b is a file (in base, changed in top): a directory on it, a tmpfs on it, something below it.
        ['a directory on a file', { type: 'bind', source: tmp, target: '/b' }, /^Bind source .* is a directory, but its target \/b is not a directory in the image's root; bind a directory on a directory/],
        ['a tmpfs on a file', { type: 'tmpfs', target: '/b' }, /^Mount target \/b \(mounts\[0\]\.target\) is not a directory in the image's root; a tmpfs needs one$/],
        ['a target below a file', { type: 'tmpfs', target: '/etc/keep/x' }, /^Mount target \/etc\/keep\/x \(mounts\[0\]\.target\) cannot be made in the image's root: \/etc\/keep is not a directory there$/],
        // /etc is a directory: a file on it.
        ['a file on a directory', { type: 'bind', source: join(base, 'a'), target: '/etc' }, /is not a directory, but its target \/etc is a directory in the image's root/],
        // /c is mid's file; base's /etc/conf.d/old is hidden by mid's opaque conf.d, so it is not there to block.
        ['a target below a file of a middle layer', { type: 'tmpfs', target: '/c/d' }, /\/c is not a directory there/],
      ];
      for (const [what, mount, message] of cases) {
        try {
          refuses(() => new Container({ rootfs: stack, mounts: [mount as never] }), 'mounts[0].target', message);
        } catch (err) {
          throw new Error(`${what}: ${(err as Error).message}`);
        }
      }
      // A cwd, likewise, before anything ran (the image's WorkingDir is not checked: Docker makes a missing one).
      refuses(() => new Container({ rootfs: stack, cwd: '/a' }), 'cwd', /^Working directory \/a \(cwd\) does not exist in the image's root/);
      refuses(() => new Container({ rootfs: stack, cwd: '/b' }), 'cwd', /^Working directory \/b \(cwd\) is not a directory in the image's root/);
      expect(new Container({ rootfs: stack, cwd: '/etc/conf.d' }).state).to.equal('created');
      // What the union does not show is made by init, of the mount's kind:
      // /a (a whiteout in mid) and conf.d/old (below an opaque directory) are gone, /new is not there.
      const r = await run(stack, 'stat -c %F /a /etc/conf.d/old /new /etc/keep', {
        mounts: [
          { type: 'tmpfs', target: '/a' },
          { type: 'bind', source: tmp, target: '/etc/conf.d/old' },
          { type: 'tmpfs', target: '/new/x' },
          { type: 'bind', source: join(base, 'b'), target: '/etc/keep' },
        ],
      });
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('directory\ndirectory\ndirectory\nregular file\n');
    });
  });
});
