/**
 * A container's options against the kernel: whatever `new Container()`
 * takes starts (the payload may still fail on its own: a tiny stack or fd
 * limit is the caller's to give), and whatever it refuses is an
 * IsolateError naming the option. Options are drawn at random (a fixed
 * seed, so a failure repeats; ISOLATE_KIT_FUZZ_SEED and
 * ISOLATE_KIT_FUZZ_CASES to look further) from values at and past every
 * bound. It found a bind of a directory on a file (and the reverse), a
 * tmpfs on a file and a name longer than the kernel's NAME_MAX, all taken
 * and then failing in init; they are refused up front now.
 *
 * Left out of the draw: a `cwd` that does not exist or is a file inside
 * the container's own tmpfs mounts, which fails at start by design
 * (ERR_SETUP_FAILED at `chdir`, docs/api.md); on the read-only root such a
 * `cwd` is drawn, and refused up front.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import { expect } from 'chai';
import { Container, IsolateError, type ContainerOptions, type RunResult } from '../../lib';
import { STRLEN_MAX, execStringsBytes } from '../fixtures/exec-strings';
import { needContainers } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { CAP_SYS_RESOURCE, holdsHostCapability } from '../../lib/host-caps';
import { fuzzSettings, generator, show } from '../helpers/random';
import { DEFAULT_PATH } from '../../lib/process-options';
import { MOUNTS_MAX, stagingDir } from '../../lib/filesystem';

const RLIMITS = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime', 'files'];

/** A path under /tmp of `bytes` bytes, in names of 200. */
function longTarget(bytes: number): string {
  return `/tmp/${Array.from({ length: 30 }, () => 'n'.repeat(200)).join('/')}`.slice(0, bytes).replace(/\/$/, 'm');
}

function optionsFrom(random: () => number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const maybe = (p = 0.5) => random() < p;
  const numbers = [0, 1, 2, 16, 1024, 4096, 65536, 1_048_576, 1_048_577, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, 1.5, 'unlimited', Infinity, NaN];
  const rlimit = () => (maybe(0.6) ? pick(numbers) : maybe() ? [pick(numbers), pick(numbers)] : { soft: pick(numbers), hard: pick(numbers) });
  const o: Record<string, unknown> = {};
  if (maybe(0.2)) o.hostname = pick(['a', 'x'.repeat(64), 'x'.repeat(65), '-a', 'a-', 'a..b', 'a.b', 'héllo', '', 'a b', 'UPPER', '1', 'a_b']);
  if (maybe(0.2)) {
    const env: Record<string, unknown> = {};
    for (let i = 0; i < 3; i++) env[pick(['A', 'B', '', 'A=B', 'A\0', 'PATH', 'é', '1A', 'A B', '_'])] = pick(['v', '', null, undefined, 'a\0b', 'x'.repeat(4096), 'é', 5, 'x'.repeat(STRLEN_MAX - 3), 'x'.repeat(STRLEN_MAX - 2)]);
    o.env = env;
  }
  if (maybe(0.15)) o.cwd = pick(['/', '/tmp', 'tmp', '/proc', '/dev', '/tmp/../', '//', '/tmp/\0', '', `/tmp/${'x'.repeat(256)}`, '/nonexistent-isolate-kit-cwd', '/etc/hostname', '/etc/hostname/x', '/etc', '/mnt']);
  if (maybe(0.2)) {
    o.user = pick([{ uid: 0 }, { uid: 65534 }, { uid: 4294967294 }, { uid: 4294967295 }, { uid: -1 }, { uid: 1.5 }, { uid: 1000, gid: 0 }, { uid: 1000, groups: [1, 2, 3] }, { uid: 1000, groups: [4294967295] }, { uid: 1000, groups: [1, 1] }, { uid: 1000, gids: [] }]);
  }
  if (maybe(0.15)) o.capabilities = pick([['net_bind_service'], ['CAP_SYS_ADMIN'], ['cap_bogus'], ['ALL'], [''], ['cap_sys_admin', 'CAP_SYS_ADMIN'], ['cap_checkpoint_restore'], ['cap_bpf'], ['cap_41']]);
  if (maybe(0.3)) {
    const r: Record<string, unknown> = {};
    for (let i = 0; i < 2; i++) r[pick(RLIMITS)] = rlimit();
    o.rlimits = r;
  }
  if (maybe(0.4)) {
    const mount = () =>
      maybe()
        ? {
            type: 'tmpfs',
            target: pick(['/tmp/a', '/tmp/a/b', '/mnt', '/etc', '/etc/passwd', '/dev/x', '/dev/shm/x', '/run/x', '/tmp/../etc', '/sys/fs/cgroup', '/dev', '/tmp/a\nb', `/tmp/${'x'.repeat(255)}`, `/tmp/${'x'.repeat(256)}`, longTarget(4091), longTarget(4092), longTarget(4096)]),
            ...(maybe(0.3) ? { size: pick(['1', '1K', '4K', '64M', 2 ** 50, 0]) } : {}),
            ...(maybe(0.2) ? { inodes: pick([0, 1, 2, 2 ** 31 - 1, 2 ** 31]) } : {}),
            ...(maybe(0.2) ? { mode: pick([0, 0o755, 0o7777, 0o17777, -1]) } : {}),
          }
        : {
            type: 'bind',
            source: pick(['/etc', '/etc/hostname', '/dev/null', '/proc/self', '/usr/bin', '/bin', '/nonexistent-isolate-kit-path', '']),
            target: pick(['/tmp/b', '/tmp/b/c', '/mnt', '/etc/passwd', '/etc', '/usr/lib', '/dev/shm/b', '/run/b']),
            ...(maybe(0.3) ? { readonly: pick([true, false, 'yes']) } : {}),
            ...(maybe(0.2) ? { recursive: pick([true, false]) } : {}),
          };
    o.mounts = maybe(0.7) ? [mount()] : [mount(), mount()];
  }
  if (maybe(0.15)) o.namespaces = pick([[], ['pid'], ['mnt'], ['net'], ['uts'], ['ipc'], ['cgroup'], ['user'], ['pid', 'pid'], ['bogus'], ['pid', 'mnt']]);
  if (maybe(0.1)) o.network = pick(['host', 'none', 'bogus']);
  if (maybe(0.1)) o.noNewPrivileges = pick([false, true, 0]);
  if (maybe(0.1)) o.seccomp = pick(['unconfined', 'default', null]);
  if (maybe(0.1)) o.readonlyRootfs = pick([true, false, 'no']);
  return o;
}

/** Container.run() must reject with ERR_INVALID_OPTION for `option`, leaving nothing behind (the suite's leak checks). */
async function expectRefused(options: ContainerOptions, argv: string[], option: string): Promise<IsolateError> {
  const c = new Container(options);
  try {
    await c.run(argv);
  } catch (err) {
    expect(err).to.be.instanceOf(IsolateError);
    expect(err).to.include({ code: 'ERR_INVALID_OPTION', option });
    expect(c.state).to.equal('created');
    return err as IsolateError;
  } finally {
    await c.destroy();
  }
  throw new Error(`expected ${option} to be refused`);
}

describe('container options against the kernel', function () {
  this.timeout(300_000);
  before(function () {
    needContainers(this);
  });

  it('should start every container whose options it takes, and refuse the others with an IsolateError naming the option', async function () {
    const { seed, cases } = fuzzSettings(150);
    const random = generator(seed);
    let started = 0;
    let refused = 0;
    for (let i = 0; i < cases; i++) {
      const options = optionsFrom(random);
      const what = `seed ${seed}, case ${i}: ${show(options)}`;
      let c: Container;
      try {
        c = new Container(options as ContainerOptions);
      } catch (err) {
        expect(err, what).to.be.instanceOf(IsolateError);
        const e = err as IsolateError;
        expect(['ERR_INVALID_OPTION', 'ERR_UNSUPPORTED', 'ERR_PERMISSION'], `${what}: ${e.code} ${e.message}`).to.include(e.code);
        expect(e.option, `${what}: ${e.message}`).to.be.a('string');
        refused++;
        continue;
      }
      try {
        let r: RunResult;
        try {
          r = await c.run(['/bin/true'], { timeout: 20_000 });
        } catch (err) {
          // The environment is the process's, checked when it starts (a variable, or all of them, too long for exec).
          expect(err, what).to.be.instanceOf(IsolateError);
          expect((err as IsolateError).option, `${what}: ${(err as IsolateError).message}`).to.match(/^env(\.|$)/);
          expect(c.state).to.equal('created');
          refused++;
          continue;
        }
        // The payload's own failure (a tiny stack, no fds) is the caller's to give; a setup failure is ours.
        expect(r.error?.code, `${what}: ${r.error?.message}`).to.not.equal('ERR_SETUP_FAILED');
        expect(r.status, `${what}: timed out`).to.not.equal('timeout');
        started++;
      } finally {
        await c.destroy();
      }
    }
    expect(started, `started of ${cases}`).to.be.above(cases / 8);
    expect(refused, `refused of ${cases}`).to.be.above(cases / 8);
  });

  // lib/exec-size.ts against the kernel's execve: what it takes, at its
  // bounds exactly, reaches the payload; one byte more is refused up front.
  it('should run a command whose strings are at exec\'s limits exactly, and refuse one byte more before starting anything', async function () {
    // One environment string of MAX_ARG_STRLEN, its NUL counted.
    const one = 'x'.repeat(STRLEN_MAX - 1 - 'B='.length);
    const r = await Container.run(['/bin/sh', '-c', 'echo ${#B}'], { env: { B: one } });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal(`${one.length}\n`);
    await expectRefused({ env: { B: `${one}x` } }, ['/bin/sh', '-c', 'true'], 'env.B');

    // All of them at a quarter of a 1 MiB stack limit (256 KiB): the file
    // name, each string and its NUL, a pointer to each.
    const stack = 1024 * 1024;
    const argv = ['/bin/sh', '-c', 'echo ${#V0} ${#V1} ${#V2}'];
    const env = { V1: 'v'.repeat(100_000), V2: 'u'.repeat(100_000), V0: '' };
    const base = execStringsBytes(argv, { PATH: DEFAULT_PATH, HOME: '/tmp', ...env });
    env.V0 = 'w'.repeat(stack / 4 - base);
    expect(execStringsBytes(argv, { PATH: DEFAULT_PATH, HOME: '/tmp', ...env })).to.equal(stack / 4);
    const at = await Container.run(argv, { env, rlimits: { stack } });
    expect(at.stderr).to.equal('');
    expect(at.stdout).to.equal(`${env.V0.length} 100000 100000\n`);
    const e = await expectRefused({ env: { ...env, V0: `${env.V0}w` }, rlimits: { stack } }, argv, 'env');
    expect(e.message).to.include(`come to ${stack / 4 + 1} bytes`).and.include(`exec takes at most ${stack / 4}`);
    // A larger stack limit takes it.
    const more = await Container.run(argv, { env: { ...env, V0: `${env.V0}w` }, rlimits: { stack: 2 * stack } });
    expect(more.stdout).to.equal(`${env.V0.length + 1} 100000 100000\n`);
  });

  // Where nothing inside could make it (the read-only root, outside the
  // container's tmpfs mounts and `mounts`; a layered root before anything
  // ran), a cwd that is not a directory is refused before anything is made;
  // elsewhere it reaches init, which says what chdir said.
  it('should refuse a cwd that cannot be there, and leave to init one that something inside could make', async function () {
    const refused = (fn: () => unknown, message: RegExp) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).to.be.instanceOf(IsolateError);
      expect(err).to.include({ code: 'ERR_INVALID_OPTION', option: 'cwd' });
      expect((err as Error).message).to.match(message);
    };
    const hint = '; use an existing directory, or one under /tmp or a mount of your own$';
    refused(() => new Container({ cwd: '/nonexistent-isolate-kit-cwd' }), new RegExp(`^Working directory /nonexistent-isolate-kit-cwd \\(cwd\\) does not exist in the container's read-only root${hint}`));
    refused(() => new Container({ cwd: '/etc/passwd' }), new RegExp(`^Working directory /etc/passwd \\(cwd\\) is not a directory in the container's read-only root${hint}`));
    refused(() => new Container({ cwd: '/etc/passwd/x' }), /cannot be there: \/etc\/passwd is not a directory in the container's read-only root/);
    // Without a mount namespace too: the host's own root, as it is now.
    refused(() => new Container({ namespaces: ['pid'], cwd: '/nonexistent-isolate-kit-cwd' }), /does not exist in the host's root, which the container shares \(no 'mnt' namespace\)/);
    const c = new Container();
    try {
      await c.start();
      refused(() => c.exec(['true'], { cwd: '/nonexistent-isolate-kit-cwd' }), /does not exist/);
      // In the container's tmpfs: made by an earlier process, so only init can tell.
      expect((await c.run(['mkdir', '/tmp/made'])).status).to.equal('ok');
      const r = await c.run(['pwd'], { cwd: '/tmp/made' });
      expect(r.stdout).to.equal('/tmp/made\n');
      expect((await c.run(['pwd'], { cwd: '/tmp/never' })).error).to.include({ code: 'ERR_SETUP_FAILED', errnoCode: 'ENOENT' });
    } finally {
      await c.destroy();
    }
    // Inside a mount of the caller's it is not looked for on the host (/mnt/sub is not there, the bind's source has it).
    const src = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      mkdirSync(join(src, 'sub'));
      chmodSync(src, 0o755);
      const m = await Container.run(['pwd'], { cwd: '/mnt/sub', mounts: [{ type: 'bind', source: src, target: '/mnt' }] });
      expect(m.stdout).to.equal('/mnt/sub\n');
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });

  // init reaches a mount target below the root it builds until pivot_root
  // (the staging directory, for the host root): a target that fits PATH_MAX
  // alone but not below it failed at start with ENAMETOOLONG.
  it('should mount a target of the longest length init can reach, and refuse one byte more up front', async function () {
    const room = 4095 - Buffer.byteLength(stagingDir());
    const target = longTarget;
    expect(Buffer.byteLength(target(room))).to.equal(room);
    const r = await Container.run(['/bin/sh', '-c', 'stat -f -c %T "$1"', 'sh', target(room)], { mounts: [{ type: 'tmpfs', target: target(room) }] });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('tmpfs\n');
    let err: unknown;
    try {
      new Container({ mounts: [{ type: 'tmpfs', target: target(room + 1) }] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(IsolateError);
    expect(err).to.include({ code: 'ERR_INVALID_OPTION', option: 'mounts[0].target' });
    expect((err as Error).message).to.include(`a path of at most ${room} bytes (init reaches it below ${stagingDir()}, its setup root`);
  });

  // A plan over a pipe's 64 KiB goes to init in a memfd (csrc/addon.cc,
  // PlanPipe): before, one over 1 MiB was refused, and a plan of more steps
  // than init reads failed inside it as a protocol error.
  it('should take a plan larger than a pipe holds to init, for the main process and an exec\'d one, and MOUNTS_MAX mounts', async function () {
    const env = Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`V${i}`, String(i % 10).repeat(100_000)]));
    const sum = 'n=0; for v in $(env | grep ^V | cut -d= -f2); do n=$((n + ${#v})); done; echo $n';
    const c = new Container({ env, rlimits: { stack: 8 * 1024 * 1024 } });
    try {
      const main = await c.run(['/bin/sh', '-c', sum]);
      expect(main.stderr).to.equal('');
      expect(main.stdout).to.equal('1800000\n');
    } finally {
      await c.destroy();
    }
    const d = new Container({ rlimits: { stack: 8 * 1024 * 1024 } });
    try {
      await d.start();
      const p = await d.run(['/bin/sh', '-c', sum], { env });
      expect(p.stderr).to.equal('');
      expect(p.stdout).to.equal('1800000\n');
    } finally {
      await d.destroy();
    }
    const mounts = Array.from({ length: MOUNTS_MAX }, (_, i) => ({ type: 'tmpfs' as const, target: `/tmp/m${i}`, size: '64K' }));
    const r = await Container.run(['/bin/sh', '-c', 'grep -c " /tmp/m" /proc/self/mounts'], { mounts, cgroup: { memory: '64M' }, env: { BIG: 'b'.repeat(100_000) } });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal(`${MOUNTS_MAX}\n`);
  });

  // What still fails in init is what changed between the check and the
  // start, and it comes back as the kernel said it: here fs.nr_open lowered
  // below a nofile limit that was within it. fs.nr_open is machine-wide, so
  // only in the throwaway VM, where root also holds CAP_SYS_RESOURCE (which
  // a hard limit above this process's own needs).
  it('should report EPERM from init when fs.nr_open drops below a nofile limit after the check', async function () {
    if (process.env.ISOLATE_KIT_VM !== '1' || !holdsHostCapability(CAP_SYS_RESOURCE)) return;
    const nrOpen = '/proc/sys/fs/nr_open';
    const most = Number(readFileSync(nrOpen, 'utf8').trim());
    const c = new Container({ rlimits: { nofile: most } });
    writeFileSync(nrOpen, String(most - 1024));
    try {
      const r = await c.run(['true']);
      expect(r.status).to.equal('error');
      expect(r.error).to.include({ code: 'ERR_SETUP_FAILED', errnoCode: 'EPERM', syscall: 'setrlimit', step: 'set rlimit nofile' });
      expect(r.error!.errno).to.equal(constants.errno.EPERM);
    } finally {
      writeFileSync(nrOpen, String(most));
      await c.destroy();
    }
  });
});
