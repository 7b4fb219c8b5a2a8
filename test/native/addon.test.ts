/**
 * Contract tests of the native side (in the spirit of node-pty's): what the
 * payload inherits from the Node process (nothing: fds 0-2 only, default
 * signal dispositions, an empty mask), argument checks of every addon
 * function, and errno values travelling unchanged from init to JS.
 */
import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, IsolateError, Namespace } from '../../lib';
import { CONTAINER_ID, NativeEvent, native, nativeForSpawn, type NativeHandle } from '../../lib/native';
import { CAP_SYS_RESOURCE, holdsHostCapability } from '../../lib/host-caps';
import { Op, PLAN_F_PIDNS, PLAN_MAGIC, PLAN_VERSION, PlanBuilder } from '../../lib/plan';
import { needContainers } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { containerTracker, killFixture, runFixture, type Fixture } from '../fixtures/procs';

type Event = [event: number, id: number, a: number, b: number, c: number];

/** Spawns init directly with `plan`; resolves with every callback until init's exit. */
function rawSpawn(flags: number, plan: Buffer, onReady?: (h: NativeHandle) => void): Promise<Event[]> {
  return new Promise((resolve) => {
    const events: Event[] = [];
    let handle: NativeHandle | undefined;
    const r = nativeForSpawn().spawn(flags, plan, [-2, -2, -2], (event, id, a, b, c) => {
      events.push([event, id, a, b, c]);
      if (event === NativeEvent.Ready && handle) onReady?.(handle);
      if (event === NativeEvent.InitExit) resolve(events);
    });
    handle = r.handle;
    expect(r.pid).to.be.a('number');
    expect(r.stdio).to.deep.equal([-1, -1, -1]);
  });
}

function header(length: number, opCount: number, opsOffset = 32, magic = PLAN_MAGIC, version = PLAN_VERSION): Buffer {
  const b = Buffer.alloc(length);
  b.writeUInt32LE(magic, 0);
  b.writeUInt32LE(version, 4);
  b.writeUInt32LE(length, 8);
  b.writeUInt32LE(opCount, 12);
  b.writeUInt32LE(opsOffset, 16);
  return b;
}

const FAIL = NativeEvent.Fail;
const EXIT = NativeEvent.InitExit;
const CLD_EXITED = 1;
const CLD_KILLED = 2;
const SC_PLAN = 1;
const SC_NS_CHECK = 2;
const SC_READ = 24;

describe('Native addon', function () {
  const { track, cleanup } = containerTracker();
  before(function () {
    needContainers(this);
  });
  afterEach(cleanup);

  describe('what the payload inherits', function () {
    it('should leave only fds 0, 1 and 2 open in the payload', async function () {
      const r = await Container.run(['ls', '/proc/self/fd']);
      // 3 is the directory ls itself opened to list /proc/self/fd
      expect(r.stdout).to.equal('0\n1\n2\n3\n');
      const long = await Container.run(['ls', '-l', '/proc/self/fd']);
      const fds = long.stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes(' -> '))
        .map((l) => l.split(' -> ')[0]!.split(' ').pop());
      expect(fds).to.deep.equal(['0', '1', '2', '3']);
      expect(long.stdout).to.match(/ 0 -> \/dev\/null\n/);
      expect(long.stdout).to.match(/ 1 -> pipe:\[\d+\]\n/);
      expect(long.stdout).to.match(/ 3 -> \/proc\/\d+\/fd\n/);
    });

    it("should leave only fds 0, 1 and 2 open in exec'd processes, with input piped", async function () {
      const c = track(new Container());
      await c.start();
      expect((await c.run(['ls', '/proc/self/fd'])).stdout).to.equal('0\n1\n2\n3\n');
      const piped = await c.run(['sh', '-c', 'ls /proc/self/fd; cat > /dev/null'], { input: 'x' });
      // the shell's ls sees its own fds 0-2 and its directory fd; the shell may keep one spare
      expect(piped.stdout.trim().split('\n').map(Number).filter((fd) => fd > 3)).to.deep.equal([]);
    });

    it('should pass nothing but the three stdio fds, whatever stdio is', async function () {
      const c = track(new Container());
      const p = c.spawn(['sh', '-c', 'ls /proc/self/fd >&2'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let out = '';
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await p.wait();
      expect(out).to.equal('0\n1\n2\n3\n');
    });

    it('should let the default user reopen its stdout and stderr as /dev/stdout and /dev/stderr', async function () {
      // The pipes are created by the (root) Node process with mode 0600: a
      // payload running as nobody gets EACCES opening /proc/self/fd/1, so
      // `echo x > /dev/stdout` or `tee /dev/stderr` fail (Docker has the same
      // problem with -u; chowning the payload's pipe ends to its user fixes it).
      const r = await Container.run(['sh', '-c', 'echo out > /dev/stdout; echo err > /dev/stderr']);
      expect(r.stderr).to.equal('err\n');
      expect(r.stdout).to.equal('out\n');
      const root = await Container.run(['sh', '-c', 'echo out > /dev/stdout'], { user: { uid: 0 } });
      expect(root.stdout).to.equal('out\n');
      // exec'd into a started container, and with only some fds pipes (init
      // gives only those to the payload: security.md).
      const c = track(new Container());
      await c.start();
      const e = await c.run(['sh', '-c', 'echo out > /dev/stdout; echo err > /dev/stderr']);
      expect(e).to.include({ stdout: 'out\n', stderr: 'err\n' });
      const p = c.spawn(['sh', '-c', 'echo out > /dev/stdout'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      expect(await p.wait()).to.deep.equal({ exitCode: 0, signalCode: null });
      expect(out).to.equal('out\n');
    });

    it('should reset the signal mask and every disposition (Node ignores SIGPIPE; the payload must not)', async function () {
      const host = readFileSync('/proc/self/status', 'utf8');
      const hostIgn = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)/m.exec(host)![1]}`);
      expect(hostIgn & (1n << BigInt(constants.signals.SIGPIPE - 1)), 'Node ignores SIGPIPE').to.not.equal(0n);
      const r = await Container.run(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
      expect(r.stdout).to.equal('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
      const c = track(new Container());
      await c.start();
      const e = await c.run(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
      expect(e.stdout).to.equal('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    });

    it('should let the payload die of SIGPIPE', async function () {
      // With SIGPIPE ignored, yes would get EPIPE and exit 1 instead of dying with 128+13.
      const r = await Container.run(['sh', '-c', '(yes; echo "yes: $?" >&2) | head -c 1 > /dev/null']);
      expect(r.stderr).to.equal('yes: 141\n');
    });

    it('should start the payload with the umask 022 and no controlling terminal', async function () {
      const r = await Container.run(['sh', '-c', 'umask; tty; true']);
      expect(r.stdout).to.equal('0022\nnot a tty\n');
    });
  });

  describe('argument checks', function () {
    it('should throw TypeError "Usage: …" from the module functions', function () {
      const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
      const usage = (fn: () => unknown, text: string) => expect(fn).to.throw(TypeError, text);
      usage(() => n.spawn!(), 'Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])');
      usage(() => n.spawn!('0', Buffer.alloc(32), [-2, -2, -2], () => {}), 'Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])');
      usage(() => n.spawn!(0, 'plan', [-2, -2, -2], () => {}), 'Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])');
      usage(() => n.spawn!(0, Buffer.alloc(32), 'pipe', () => {}), 'Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])');
      usage(() => n.spawn!(0, Buffer.alloc(32), [-2, -2, -2]), 'Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])');
      usage(() => n.loadInit!(), 'Usage: loadInit(path)');
      usage(() => n.loadInit!(5), 'Usage: loadInit(path)');
      usage(() => n.probeUnshare!(), 'Usage: probeUnshare(flags)');
      usage(() => n.probeUnshare!('pid'), 'Usage: probeUnshare(flags)');
    });

    it('should throw TypeError "Usage: …" from the container handle\'s methods', async function () {
      const c = track(new Container());
      await c.start();
      const h = (c as unknown as { handle: Record<string, (...a: unknown[]) => unknown> }).handle;
      const usage = (fn: () => unknown, text: string) => expect(fn).to.throw(TypeError, text);
      usage(() => h.signal!(), 'Usage: signal(sig)');
      usage(() => h.signal!('SIGTERM'), 'Usage: signal(sig)');
      usage(() => h.signal!(1.5), 'Usage: signal(sig)');
      usage(() => h.signalProcess!(1, 9), 'Usage: signalProcess(id, sig, tree)');
      usage(() => h.signalProcess!(-1, 9, false), 'Usage: signalProcess(id, sig, tree)');
      usage(() => h.signalProcess!(1, 9, 'yes'), 'Usage: signalProcess(id, sig, tree)');
      usage(() => h.killNamespace!(), 'Usage: killNamespace(spareInit)');
      usage(() => h.killNamespace!(1), 'Usage: killNamespace(spareInit)');
      usage(() => h.killTree!(), 'Usage: killTree(pid)');
      usage(() => h.killTree!(1), 'Usage: killTree(pid)');
      usage(() => h.killTree!('2'), 'Usage: killTree(pid)');
      usage(() => h.spawnProcess!(), 'Usage: spawnProcess(id, plan, stdio)');
      usage(() => h.spawnProcess!(1, 'plan', [-2, -2, -2]), 'Usage: spawnProcess(id, plan, stdio)');
      usage(() => h.spawnProcess!(1, Buffer.alloc(0), 'ignore'), 'Usage: spawnProcess(id, plan, stdio)');
      usage(() => (h.constructor as unknown as () => unknown)(), 'Usage: new ContainerHandle()');
      expect(() => h.signal!.call({}, 9)).to.throw(TypeError, 'Illegal invocation');
      // still a working container
      expect((await c.run(['echo', 'ok'])).stdout).to.equal('ok\n');
    });

    it('should answer the probes', function () {
      const n = native();
      expect(n.probeUnshare(0x20000000)).to.equal(0);
      expect(n.probeUnshare(0x00020000)).to.equal(0);
      expect(n.probeUnshare(0x1)).to.equal(constants.errno.EINVAL);
      const seccomp = n.libseccomp();
      expect(seccomp === null || typeof seccomp === 'string').to.equal(true);
      const landlock = n.landlockAbi();
      expect(Number.isInteger(landlock) && landlock !== 0, String(landlock)).to.equal(true);
      const fds = n.openFds();
      expect(fds.slice(0, 3)).to.deep.equal([0, 1, 2]);
      expect(fds.every((fd) => existsSync(`/proc/self/fd/${fd}`))).to.equal(true);
    });

    it('should keep a ContainerHandle made from JS inert: no method crashes the process', async function () {
      const f: Fixture = runFixture('addon-contract', ['inert-handle']);
      try {
        const code = await f.exited;
        const steps = f.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(steps.map((s) => s.step ?? 'done'), `stderr: ${f.stderr().slice(0, 300)}; exit ${code}`).to.deep.equal([
          'signal',
          'signalProcess',
          'killNamespace',
          'killTree',
          'spawnProcess',
          'unref',
          'ref',
          'close',
          'done',
        ]);
        expect(code).to.equal(0);
      } finally {
        await killFixture(f);
      }
    });
  });

  describe('errno round-trip', function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    async function setupError(options: Parameters<typeof Container.run>[1], cmd = ['true']): Promise<IsolateError> {
      const r = await Container.run(cmd, options);
      expect(r.status).to.equal('error');
      return r.error!;
    }

    const cases: [string, () => Promise<IsolateError>, string, string, string][] = [
      // (On the read-only root these are refused before the start now; in the container's tmpfs mounts they reach init.)
      ['a missing cwd', () => setupError({ cwd: '/tmp/nope' }), 'ENOENT', 'chdir', 'chdir /tmp/nope'],
      ['a cwd that is a file', () => setupError({ cwd: '/dev/null' }), 'ENOTDIR', 'chdir', 'chdir /dev/null'],
      ['a cwd nobody may enter', () => setupError({ cwd: '/root' }), 'EACCES', 'chdir', 'chdir /root'],
      // (A name over 255 bytes, ENAMETOOLONG, is refused before the start now.)
      [
        'a cwd through a symlink loop',
        () => {
          chmodSync(dir, 0o755); // nobody may enter it (a mkdtemp directory is 0700)
          symlinkSync('loop', join(dir, 'loop'));
          return setupError({ cwd: '/tmp/d/loop/x', mounts: [{ type: 'bind', source: dir, target: '/tmp/d' }] });
        },
        'ELOOP',
        'chdir',
        'chdir /tmp/d/loop/x',
      ],
      ['a missing program', () => setupError({}, ['/nope']), 'ENOENT', 'execve', 'exec /nope'],
      ['a directory as program', () => setupError({}, ['/etc']), 'EACCES', 'execve', 'exec /etc'],
    ];
    for (const [title, run, code, syscall, step] of cases) {
      it(`should report ${code} for ${title}`, async function () {
        const e = await run();
        expect(e).to.include({ errnoCode: code, syscall, step });
        expect(e.errno).to.equal((constants.errno as Record<string, number>)[code]);
        expect(e.message).to.include(`${syscall}: ${code} (`);
      });
    }

    // A nofile init could not set is refused up front: above fs.nr_open
    // (EPERM whatever the capabilities) and, without CAP_SYS_RESOURCE (this
    // host's root lacks it), above this process's own hard limit
    // (lib/process-options.ts). The EPERM that comes back through the plan
    // when the kernel's bound drops after the check is tried in the
    // throwaway VM (options-kernel.test.ts), as fs.nr_open is machine-wide.
    it('should refuse up front a nofile init could not set', function () {
      const most = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
      expect(() => new Container({ rlimits: { nofile: most + 1 } }))
        .to.throw(IsolateError, /^Expected the `rlimits.nofile` option to be a limit of at most \d+ \(the kernel's fs.nr_open/)
        .with.property('code', 'ERR_INVALID_OPTION');
      if (!holdsHostCapability(CAP_SYS_RESOURCE)) {
        expect(() => new Container({ rlimits: { nofile: most } }))
          .to.throw(IsolateError, /^Expected the `rlimits.nofile` option to be a hard limit not above this process's own \(\d+\)/)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
    });

    it('should report ELOOP for a program that is a symlink loop', async function () {
      mkdirSync(join(dir, 'bin'));
      symlinkSync('loop', join(dir, 'bin', 'loop'));
      const e = await setupError({ mounts: [{ type: 'bind', source: join(dir, 'bin'), target: '/tmp/bin' }] }, ['/tmp/bin/loop']);
      expect(e).to.include({ code: 'ERR_EXEC_FAILED', errnoCode: 'ELOOP', errno: constants.errno.ELOOP });
    });

    it('should pass init\'s failure records through unchanged: step index, syscall number, errno', async function () {
      const flags = new Namespace().cloneFlags();
      // too short for a header: E2BIG while reading the plan
      expect(await rawSpawn(flags, Buffer.from('garbage'))).to.deep.equal([
        [FAIL, CONTAINER_ID, 0, SC_READ, constants.errno.E2BIG],
        [EXIT, 0, CLD_EXITED, 125, 0],
      ]);
      // a header with the wrong magic: EPROTO
      expect(await rawSpawn(flags, header(32, 0, 32, 0x12345678))).to.deep.equal([
        [FAIL, CONTAINER_ID, 0, SC_READ, constants.errno.EPROTO],
        [EXIT, 0, CLD_EXITED, 125, 0],
      ]);
      // ops not 8-aligned: EPROTO
      expect(await rawSpawn(flags, header(36 + 48, 1, 36))).to.deep.equal([
        [FAIL, CONTAINER_ID, 0, SC_READ, constants.errno.EPROTO],
        [EXIT, 0, CLD_EXITED, 125, 0],
      ]);
      // an unknown op type at index 2: the plan check names op 2, EINVAL
      const b = new PlanBuilder();
      b.add(Op.Loopback, { description: 'lo' });
      b.add(Op.Loopback, { description: 'lo' });
      b.add(99 as Op, { description: 'bogus' });
      expect(await rawSpawn(flags, b.build())).to.deep.equal([
        [FAIL, CONTAINER_ID, 2, SC_PLAN, constants.errno.EINVAL],
        [EXIT, 0, CLD_EXITED, 125, 0],
      ]);
    });

    it('should refuse filesystem steps when init shares the host mount namespace (EPERM), touching nothing', async function () {
      const target = join(dir, 'must-not-exist');
      const b = new PlanBuilder();
      b.flags = PLAN_F_PIDNS;
      b.add(Op.Hostname, { description: 'hostname' }, { str: ['x'] });
      b.add(Op.Mkdir, { description: `mkdir ${target}` }, { str: [undefined, target], num: [0o755] });
      const pidOnly = new Namespace(['pid', 'uts']).cloneFlags();
      expect(await rawSpawn(pidOnly, b.build())).to.deep.equal([
        [FAIL, CONTAINER_ID, 1, SC_NS_CHECK, constants.errno.EPERM],
        [EXIT, 0, CLD_EXITED, 125, 0],
      ]);
      expect(existsSync(target)).to.equal(false);
    });

    it('should report a container that is ready, then killed through its handle, as killed by SIGKILL', async function () {
      const b = new PlanBuilder();
      b.flags = PLAN_F_PIDNS;
      const events = await rawSpawn(new Namespace(['pid']).cloneFlags(), b.build(), (h) => {
        expect(h.signalProcess(CONTAINER_ID, 0, false)).to.equal(0);
        expect(h.signal(9)).to.equal(0);
      });
      expect(events).to.deep.equal([
        [NativeEvent.Ready, CONTAINER_ID, 1, 0, 0],
        [EXIT, 0, CLD_KILLED, 9, 0],
      ]);
    });
  });

  describe('worker_threads', function () {
    it('should run containers from a worker_thread after the main thread loaded the addon', async function () {
      // A nan addon declared with NODE_MODULE is not context-aware: once the
      // main thread loaded it, require() in a worker fails with "Module did
      // not self-register".
      const f = runFixture('addon-contract', ['worker']);
      try {
        const code = await f.exited;
        const steps = f.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(steps[0]).to.deep.equal({ step: 'main', status: 'ok' });
        expect(steps[1], f.stderr().slice(0, 300)).to.deep.equal({ step: 'worker', status: 'ok', stdout: 'from worker\n' });
        expect(code).to.equal(0);
      } finally {
        await killFixture(f);
      }
    });
  });
});
