/**
 * Failures inside the container come back named: which step, which system
 * call, which errno. And a failure leaves nothing behind (the root hook
 * checks every test).
 */
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, IsolateError, type ContainerProcess, type RunResult } from '../../lib';
import { needContainers } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { containerTracker } from '../fixtures/procs';

const MISSING = '/nonexistent-isolate-kit-cmd';

function failed(r: RunResult): IsolateError {
  expect(r.status).to.equal('error');
  expect(r.error).to.be.instanceOf(IsolateError);
  expect(r).to.include({ exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false });
  return r.error!;
}

/** The events of a process, as they come. */
function events(p: ContainerProcess): Promise<string[]> {
  const log: string[] = [];
  return new Promise((resolve) => {
    p.on('spawn', () => log.push('spawn'));
    p.on('exit', (code, sig) => log.push(`exit ${code} ${sig}`));
    p.on('error', (e) => log.push(`error ${e.code}`));
    p.on('close', (code, sig) => {
      log.push(`close ${code} ${sig}`);
      resolve(log);
    });
  });
}

describe('Container failures', function () {
  const { track, cleanup } = containerTracker();
  let dir: string;

  before(function () {
    needContainers(this);
  });
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  });
  afterEach(async function () {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('exec', function () {
    it('should report a missing command as ERR_EXEC_FAILED, ENOENT, step "exec …"', async function () {
      const e = failed(await Container.run([MISSING, 'arg']));
      expect(e.code).to.equal('ERR_EXEC_FAILED');
      expect(e.message).to.equal(`Cannot run \`${MISSING}\` in the container: execve: ENOENT (no such file or directory)`);
      expect(e).to.include({ step: `exec ${MISSING}`, syscall: 'execve', errno: 2, errnoCode: 'ENOENT', path: MISSING });
      expect(e.stepIndex).to.be.a('number');
    });

    it('should search PATH and report a command found nowhere as ENOENT', async function () {
      const e = failed(await Container.run(['no-such-isolate-kit-command']));
      expect(e).to.include({ code: 'ERR_EXEC_FAILED', step: 'exec no-such-isolate-kit-command', errnoCode: 'ENOENT' });
      const empty = failed(await Container.run(['ls'], { env: { PATH: '/nonexistent' } }));
      expect(empty).to.include({ code: 'ERR_EXEC_FAILED', errnoCode: 'ENOENT' });
    });

    it('should report a file that is not executable as EACCES', async function () {
      const e = failed(await Container.run(['/etc/passwd']));
      expect(e.code).to.equal('ERR_EXEC_FAILED');
      expect(e.message).to.equal('Cannot run `/etc/passwd` in the container: execve: EACCES (permission denied)');
      expect(e).to.include({ step: 'exec /etc/passwd', syscall: 'execve', errno: 13, errnoCode: 'EACCES' });
      expect(failed(await Container.run(['/tmp'])).errnoCode).to.equal('EACCES');
    });

    it('should report EACCES, not ENOENT, for a non-executable file found on PATH before a miss', async function () {
      mkdirSync(join(dir, 'bin'));
      writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\necho tool\n');
      chmodSync(join(dir, 'bin', 'tool'), 0o644);
      const mounts = [{ type: 'bind' as const, source: join(dir, 'bin'), target: '/tmp/bin', readonly: true }];
      const e = failed(await Container.run(['tool'], { mounts, env: { PATH: '/tmp/bin:/usr/bin' } }));
      expect(e).to.include({ code: 'ERR_EXEC_FAILED', step: 'exec tool', errnoCode: 'EACCES' });
      chmodSync(join(dir, 'bin', 'tool'), 0o755);
      const ok = await Container.run(['tool'], { mounts, env: { PATH: '/tmp/bin:/usr/bin' } });
      expect(ok).to.include({ status: 'ok', stdout: 'tool\n' });
    });

    it('should keep a started container running after an exec fails in it', async function () {
      const c = track(new Container());
      await c.start();
      const e = failed(await c.run([MISSING]));
      expect(e).to.include({ code: 'ERR_EXEC_FAILED', errnoCode: 'ENOENT' });
      expect(c.state).to.equal('running');
      expect((await c.run(['echo', 'fine'])).stdout).to.equal('fine\n');
      await c.destroy();
    });
  });

  /**
   * A container binding `src` (made a file or a directory, as `target` is),
   * whose source then changes kind: the options were right when checked,
   * and the bind fails in init.
   */
  function swappedBind(kind: 'file' | 'dir'): { c: Container; src: string; target: string } {
    const src = join(dir, 'src');
    const target = kind === 'dir' ? '/etc' : '/etc/hostname';
    if (kind === 'dir') mkdirSync(src);
    else writeFileSync(src, 'x');
    const c = track(new Container({ mounts: [{ type: 'bind', source: src, target }] }));
    rmSync(src, { recursive: true });
    if (kind === 'dir') writeFileSync(src, 'x');
    else mkdirSync(src);
    return { c, src, target };
  }

  describe('setup', function () {
    // Under /tmp (the container's own tmpfs) it is not looked for up front: something inside could have made it.
    it("should report a cwd that does not exist in a tmpfs as ERR_SETUP_FAILED at 'chdir /tmp/nope'", async function () {
      const e = failed(await Container.run(['true'], { cwd: '/tmp/nope' }));
      expect(e.code).to.equal('ERR_SETUP_FAILED');
      expect(e.message).to.equal('Container setup failed at `chdir /tmp/nope`: chdir: ENOENT (no such file or directory)');
      expect(e).to.include({ step: 'chdir /tmp/nope', syscall: 'chdir', errno: 2, errnoCode: 'ENOENT', path: '/tmp/nope' });
    });

    it('should report a per-run cwd that does not exist the same way, in a started container', async function () {
      const c = track(new Container());
      await c.start();
      const e = failed(await c.run(['true'], { cwd: '/tmp/none/here' }));
      expect(e).to.include({ code: 'ERR_SETUP_FAILED', step: 'chdir /tmp/none/here', syscall: 'chdir', errnoCode: 'ENOENT' });
      expect(c.state).to.equal('running');
      await c.destroy();
    });

    // A bind of a file on a directory (or the reverse) is refused up front
    // (test/unit/options.test.ts); one whose source changes kind between the
    // check and the start still fails in init, at the bind.
    it("should report a bind whose source became a file after the check as ERR_SETUP_FAILED naming 'bind SRC on DST'", async function () {
      const { c, src } = swappedBind('dir');
      const e = failed(await c.run(['true']));
      expect(e.code).to.equal('ERR_SETUP_FAILED');
      expect(e.step).to.equal(`bind ${src} on /etc`);
      expect(e.path).to.equal('/etc');
      expect(e.syscall).to.equal('move_mount');
      expect(e.errnoCode).to.match(/^E[A-Z]+$/);
      expect(e.message).to.equal(`Container setup failed at \`bind ${src} on /etc\`: move_mount: ${e.errnoCode} (${e.message.split('(').pop()}`);
      await c.destroy();
    });

    it('should report a bind whose source became a directory after the check the same way', async function () {
      const { c, src } = swappedBind('file');
      const e = failed(await c.run(['true']));
      expect(e).to.include({ code: 'ERR_SETUP_FAILED', step: `bind ${src} on /etc/hostname`, syscall: 'move_mount' });
      await c.destroy();
    });

    it("should reject start() and emit the container's 'error' on a setup failure", async function () {
      const { c, src: file } = swappedBind('dir');
      const emitted: IsolateError[] = [];
      c.on('error', (e) => emitted.push(e));
      const exit = new Promise<void>((r) => c.once('exit', () => r()));
      const err = await c.start().then(
        () => null,
        (e: IsolateError) => e,
      );
      expect(err?.code).to.equal('ERR_SETUP_FAILED');
      expect(err?.step).to.equal(`bind ${file} on /etc`);
      expect(emitted).to.deep.equal([err]);
      await exit;
      expect(c.state).to.equal('stopped');
      await c.destroy();
    });
  });

  describe('ContainerProcess on failure', function () {
    it("should emit 'error' then 'close' (no 'spawn', no 'exit') when the main process cannot exec", async function () {
      const c = track(new Container());
      const exit = new Promise<void>((r) => c.once('exit', () => r()));
      const p = c.spawn([MISSING]);
      const log = await events(p);
      expect(log).to.deep.equal(['error ERR_EXEC_FAILED', 'close null null']);
      expect(p.error?.errnoCode).to.equal('ENOENT');
      expect([p.pid, p.exitCode, p.signalCode]).to.deep.equal([undefined, null, null]);
      await exit;
      expect(c.state).to.equal('stopped');
      await c.destroy();
    });

    it("should emit 'error' then 'close' for an exec'd process, the container going on", async function () {
      const c = track(new Container());
      await c.start();
      const log = await events(c.exec(['true'], { cwd: '/tmp/nope' }));
      expect(log).to.deep.equal(['error ERR_SETUP_FAILED', 'close null null']);
      expect(c.state).to.equal('running');
      await c.destroy();
    });

    it("should emit 'error' then 'close' on the main process when container setup fails", async function () {
      const { c } = swappedBind('file');
      const containerErrors: string[] = [];
      c.on('error', (e) => containerErrors.push(e.code));
      const log = await events(c.spawn(['true']));
      expect(log).to.deep.equal(['error ERR_SETUP_FAILED', 'close null null']);
      expect(containerErrors).to.deep.equal(['ERR_SETUP_FAILED']);
      await c.destroy();
    });

    it('should throw synchronously, creating nothing, for a stdio fd that is not open', async function () {
      const c = track(new Container());
      let err: IsolateError | undefined;
      try {
        c.spawn(['true'], { stdio: [9999, 'pipe', 'pipe'] });
      } catch (e) {
        err = e as IsolateError;
      }
      expect(err).to.be.instanceOf(IsolateError);
      expect(err!.code).to.equal('ERR_INVALID_OPTION');
      expect(err!.message).to.equal('stdio[0]: fd 9999 is not open in this process');
      expect(c.state).to.equal('created');
      await c.start();
      expect(() => c.exec(['true'], { stdio: ['ignore', 9999, 'ignore'] })).to.throw(IsolateError, /stdio\[1\]: fd 9999 is not open/);
      expect(c.state).to.equal('running');
      await c.destroy();
    });
  });
});
