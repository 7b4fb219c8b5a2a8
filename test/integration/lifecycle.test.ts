/**
 * A container's life: states, the processes in it, events in Node's order,
 * stop/kill/destroy, disposal, and unref().
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Container, IsolateError, type ContainerOptions, type ContainerProcess } from '../../lib';
import { cgroupsUnavailable, needContainers, skipUnless } from '../helpers/caps';
import { containerTracker, exists, killFixture, markerProcesses, runFixture, sleepMarker, waitFor, waitForOutput, type Fixture } from '../fixtures/procs';

function spawned(p: ContainerProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (p.spawned) return resolve();
    p.once('spawn', resolve);
    p.once('error', reject);
  });
}

function exited(c: Container): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve) => c.once('exit', (code, sig) => resolve([code, sig])));
}

/** Records the events of a container and its processes in one list. */
function record(c: Container | null, procs: Record<string, ContainerProcess>): string[] {
  const log: string[] = [];
  c?.on('start', () => log.push('container:start'));
  c?.on('exit', (code, sig) => log.push(`container:exit ${code} ${sig}`));
  c?.on('error', (e) => log.push(`container:error ${e.code}`));
  for (const [name, p] of Object.entries(procs)) {
    p.on('spawn', () => log.push(`${name}:spawn`));
    p.on('exit', (code, sig) => {
      expect((code === null) !== (sig === null), `exactly one of exitCode/signalCode: ${code} ${sig}`).to.equal(true);
      log.push(`${name}:exit ${code} ${sig}`);
    });
    p.on('close', (code, sig) => log.push(`${name}:close ${code} ${sig}`));
    p.on('error', (e) => log.push(`${name}:error ${e.code}`));
  }
  return log;
}

function closed(p: ContainerProcess): Promise<void> {
  return new Promise((resolve) => p.once('close', () => resolve()));
}

describe('Container lifecycle', function () {
  const { track, cleanup } = containerTracker();
  before(function () {
    needContainers(this);
  });
  afterEach(cleanup);

  describe('states', function () {
    it('should go created → running → stopped → destroyed with start(), stop() and destroy()', async function () {
      const c = track(new Container());
      try {
        expect(c.state).to.equal('created');
        expect(c.pid).to.equal(undefined);
        const starting = c.start();
        expect(c.state).to.equal('running');
        await starting;
        expect(c.state).to.equal('running');
        expect(c.pid).to.be.a('number');
        expect(exists(c.pid!)).to.equal(true);
        const initPid = c.pid!;
        await c.stop({ timeout: 2000 });
        expect(c.state).to.equal('stopped');
        expect(c.pid).to.equal(undefined);
        expect(await waitFor(() => !exists(initPid), 1000)).to.equal(true);
        await c.destroy();
        expect(c.state).to.equal('destroyed');
      } finally {
        await c.destroy();
      }
    });

    it('should make a spawn() on a created container its main process, and stop when it exits', async function () {
      const c = track(new Container());
      try {
        const done = exited(c);
        const p = c.spawn(['sh', '-c', 'read x; exit 5'], { stdio: ['pipe', 'ignore', 'ignore'] });
        expect(c.state).to.equal('running');
        await spawned(p);
        expect(p.pid).to.equal(2);
        // an exec'd process joins the main one
        const side = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(side);
        expect(c.state).to.equal('running');
        const sideExit = new Promise<[number | null, string | null]>((r) => side.once('exit', (code, sig) => r([code, sig])));
        p.stdin!.end('go\n');
        expect(await done).to.deep.equal([5, null]);
        expect(c.state).to.equal('stopped');
        expect(p.exitCode).to.equal(5);
        // the container took the other process with it
        expect(await sideExit).to.deep.equal([null, 'SIGKILL']);
      } finally {
        await c.destroy();
      }
    });

    it('should refuse start() twice and exec() before start', async function () {
      const c = track(new Container());
      try {
        expect(() => c.exec(['true'])).to.throw(IsolateError, 'Cannot exec in a container that is created');
        await c.start();
        const err = await c.start().then(
          () => null,
          (e: IsolateError) => e,
        );
        expect(err?.code).to.equal('ERR_STATE');
        expect(err?.message).to.equal('Cannot start a container that is running');
      } finally {
        await c.destroy();
      }
    });
  });

  describe('processes in a started container', function () {
    it('should let exec(), spawn() and run() see each other\'s files in /tmp and each other\'s pids', async function () {
      const c = track(new Container());
      try {
        await c.start();
        const w = await c.run(['sh', '-c', 'echo shared > /tmp/file; echo $$']);
        expect(w.status).to.equal('ok');
        const sleeper = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(sleeper);
        const other = c.spawn(['sh', '-c', `cat /tmp/file; tr "\\0" " " < /proc/${sleeper.pid}/cmdline; echo; kill -0 ${sleeper.pid} && echo signalable; ls /proc | grep -c "^[0-9]"`]);
        let out = '';
        other.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        expect(await other.wait()).to.deep.equal({ exitCode: 0, signalCode: null });
        const [file, cmdline, sig, count] = out.split('\n');
        expect(file).to.equal('shared');
        expect(cmdline).to.equal('sleep 1000 ');
        expect(sig).to.equal('signalable');
        // init, the sleeper, this shell (and ls, grep), nothing of the host
        expect(Number(count)).to.be.within(3, 6);
        expect(Number(w.stdout)).to.be.above(1);
        expect(sleeper.pid).to.not.equal(Number(w.stdout));
        sleeper.kill('SIGKILL');
        await sleeper.wait();
      } finally {
        await c.destroy();
      }
    });
  });

  describe('events', function () {
    it("should emit 'start', then 'spawn', 'exit', 'close' on the main process, then the container's 'exit'", async function () {
      const c = track(new Container());
      try {
        const p = c.spawn(['sh', '-c', 'echo hi; exit 3']);
        const log = record(c, { main: p });
        p.stdout!.resume();
        p.stderr!.resume();
        await Promise.all([exited(c), closed(p)]);
        expect(log.slice(0, 3)).to.deep.equal(['container:start', 'main:spawn', 'main:exit 3 null']);
        expect(log).to.include('main:close 3 null');
        expect(log).to.include('container:exit 3 null');
        expect(log.indexOf('main:close 3 null')).to.be.above(log.indexOf('main:exit 3 null'));
        expect(log).to.have.length(5);
      } finally {
        await c.destroy();
      }
    });

    it("should emit 'start' once for start(), and 'spawn', 'exit', 'close' for each exec'd process", async function () {
      const c = track(new Container());
      try {
        const log = record(c, {});
        await c.start();
        expect(log).to.deep.equal(['container:start']);
        const a = c.exec(['true']);
        const b = c.exec(['sleep', '1000']);
        const procLog = record(null, { a, b });
        await a.wait();
        await spawned(b);
        b.kill('SIGTERM');
        await b.wait();
        expect(procLog.filter((l) => l.startsWith('a:'))).to.deep.equal(['a:spawn', 'a:exit 0 null', 'a:close 0 null']);
        expect(procLog.filter((l) => l.startsWith('b:'))).to.deep.equal(['b:spawn', 'b:exit null SIGTERM', 'b:close null SIGTERM']);
        expect(log).to.deep.equal(['container:start']);
        expect([a.exitCode, a.signalCode, b.exitCode, b.signalCode]).to.deep.equal([0, null, null, 'SIGTERM']);
      } finally {
        await c.destroy();
      }
    });

    it("should report the main process's signal in the container's 'exit' event", async function () {
      const c = track(new Container());
      try {
        const p = c.spawn(['sleep', '1000'], { stdio: 'ignore' });
        const done = exited(c);
        await spawned(p);
        p.kill('SIGTERM');
        const [code, sig] = await done;
        expect([p.exitCode, p.signalCode]).to.deep.equal([null, 'SIGTERM']);
        // ContainerEvents.exit: "its main process's status"
        expect([code, sig]).to.deep.equal([null, 'SIGTERM']);
      } finally {
        await c.destroy();
      }
    });
  });

  describe('stop()', function () {
    it('should send SIGTERM to the main process and resolve when it exits by itself', async function () {
      const c = track(new Container());
      try {
        const p = c.spawn(['sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
        let out = '';
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        await waitForOutput(p.stdout!, /ready/);
        const done = exited(c);
        const t0 = Date.now();
        await c.stop({ timeout: 10_000 });
        expect(Date.now() - t0, 'stopped without waiting for the SIGKILL').to.be.below(5000);
        expect(await done).to.deep.equal([7, null]);
        expect(p.exitCode).to.equal(7);
        await p.wait();
        expect(out).to.equal('ready\ngot TERM\n');
        expect(c.state).to.equal('stopped');
      } finally {
        await c.destroy();
      }
    });

    it('should SIGKILL a payload that ignores SIGTERM, after the timeout', async function () {
      const c = track(new Container());
      try {
        const p = c.spawn(['sh', '-c', 'trap "" TERM; echo ready; sleep 1000']);
        await waitForOutput(p.stdout!, /ready/);
        const done = exited(c);
        // Timers fire in order: this check runs before the 300 ms SIGKILL timer.
        const aliveBeforeTimeout = new Promise<boolean>((r) => setTimeout(() => r(!p._ended), 100));
        await c.stop({ timeout: 300 });
        expect(await aliveBeforeTimeout, 'still running before the timeout').to.equal(true);
        expect(await done).to.deep.equal([null, 'SIGKILL']);
        expect(p.signalCode).to.equal('SIGKILL');
        expect(c.state).to.equal('stopped');
      } finally {
        await c.destroy();
      }
    });

    for (const [title, options, end] of [
      ['', {}, [null, 'SIGKILL']],
      // Its processes killed through the group: init first, or it may exit on its own with 143.
      [' (in a group of its own)', { cgroup: {} }, [null, 'SIGKILL']],
      // Without a pid namespace, init, told to, kills what it started and
      // ends itself with 128+9 (docs/api.md, kill()).
      [' (no pid namespace)', { namespaces: ['mnt', 'ipc', 'uts', 'net'] }, [137, null]],
    ] as const) {
      it(`should SIGTERM every process of a started container, and SIGKILL the ones that stay${title}`, async function () {
        if (title.includes('group')) skipUnless(this, cgroupsUnavailable());
        const c = track(new Container(options as ContainerOptions));
        const marker = sleepMarker();
        try {
          await c.start();
          const polite = c.exec(['sleep', marker], { stdio: 'ignore' });
          const stubborn = c.exec(['sh', '-c', `trap "" TERM; echo ready; sleep ${marker}`]);
          await spawned(polite);
          await waitForOutput(stubborn.stdout!, /ready/);
          const done = exited(c);
          await c.stop({ timeout: 300 });
          expect(polite.signalCode).to.equal('SIGTERM');
          expect(stubborn.signalCode).to.equal('SIGKILL');
          expect(await done).to.deep.equal(end);
          expect(markerProcesses(marker)).to.deep.equal([]);
        } finally {
          await c.destroy();
        }
      });
    }

    it('should end a started container whose processes all exit on SIGTERM with 128+15', async function () {
      const c = track(new Container());
      try {
        await c.start();
        const p = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(p);
        const done = exited(c);
        await c.stop({ timeout: 10_000 });
        expect(p.signalCode).to.equal('SIGTERM');
        expect(await done).to.deep.equal([143, null]);
      } finally {
        await c.destroy();
      }
    });

    it('should resolve at once on a container that is not running', async function () {
      const c = track(new Container());
      await c.stop();
      expect(c.state).to.equal('created');
      await c.destroy();
      await c.stop();
      expect(c.state).to.equal('destroyed');
    });
  });

  describe('Node as PID 1', function () {
    // Without a pid namespace, what outlives init goes to the reaper of
    // Node's own namespace; where that is Node, nothing reaps it (the
    // nineteenth review): said once, as a process warning.
    it('should warn once that a container without a pid namespace leaves what outlives init unreaped', function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of a pid namespace fails here: ${probe.stderr}`);
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const code = `const { Container } = require(${JSON.stringify(lib)});
        process.on('warning', (w) => console.log('warning ' + w.code));
        (async () => {
          await Container.run(['true']); // a pid namespace: nothing to say
          for (let i = 0; i < 2; i++) await Container.run(['true'], { namespaces: ['mnt', 'uts', 'ipc', 'net'] });
          console.log('pid ' + process.pid);
        })();`;
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', code], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout.trim().split('\n'), r.stderr).to.deep.equal(['warning ISOLATE_KIT_NO_REAPER', 'pid 1']);
    });
  });

  describe('destroy()', function () {
    it('should work on a created container, and twice', async function () {
      const c = track(new Container());
      await c.destroy();
      expect(c.state).to.equal('destroyed');
      await c.destroy();
      expect(c.state).to.equal('destroyed');
    });

    it('should kill a running container with a main process', async function () {
      const c = track(new Container());
      const p = c.spawn(['sleep', '1000'], { stdio: 'ignore' });
      await spawned(p);
      const pid = c.pid!;
      const events: string[] = [];
      c.on('exit', (code, sig) => events.push(`exit ${code} ${sig}`));
      await c.destroy();
      expect(c.state).to.equal('destroyed');
      expect(events).to.deep.equal(['exit null SIGKILL']);
      expect(p.signalCode).to.equal('SIGKILL');
      expect(exists(pid)).to.equal(false);
    });

    it('should kill a started container, and a stopped one is destroyed without fuss', async function () {
      const a = track(new Container());
      await a.start();
      a.exec(['sleep', '1000'], { stdio: 'ignore' });
      await a.destroy();
      expect(a.state).to.equal('destroyed');
      const b = track(new Container());
      await b.run(['true']);
      await waitFor(() => b.state === 'stopped', 1000);
      expect(b.state).to.equal('stopped');
      await b.destroy();
      expect(b.state).to.equal('destroyed');
    });

    it('should hold the mount namespace while the container runs and let it go once init has ended', async function () {
      // The last reference's unmount (and its RCU grace period) happens on a
      // thread of the addon, not inside init's exit: see csrc/mntns_release.h.
      const ourMntFds = () =>
        readdirSync('/proc/self/fd').flatMap((fd) => {
          try {
            const t = readlinkSync(`/proc/self/fd/${fd}`);
            return t.startsWith('mnt:') ? [t] : [];
          } catch {
            return [];
          }
        });
      const own = readlinkSync('/proc/self/ns/mnt');
      const c = track(new Container());
      await c.start();
      const ns = readlinkSync(`/proc/${c.pid}/ns/mnt`);
      expect(ns).to.not.equal(own);
      expect(ourMntFds()).to.include(ns);
      await c.destroy();
      await waitFor(() => !ourMntFds().includes(ns), 2000);
      expect(ourMntFds()).to.not.include(ns);
    });

    it('should let concurrent destroy() calls all resolve', async function () {
      const c = track(new Container());
      await c.start();
      await Promise.all([c.destroy(), c.destroy(), c.destroy()]);
      expect(c.state).to.equal('destroyed');
    });

    it('should destroy a container whose start() is still pending, rejecting start() without blaming setup', async function () {
      // Observed: start() rejects with ERR_SETUP_FAILED "The container ended
      // during setup", though no setup step failed: destroy() interrupted it.
      const c = track(new Container());
      const starting = c.start().then(
        () => null,
        (e: IsolateError) => e,
      );
      await c.destroy();
      expect(c.state).to.equal('destroyed');
      const err = await starting;
      if (err) expect(err.code, `start() rejected with: ${err.message}`).to.be.oneOf(['ERR_STATE', 'ERR_ABORTED']);
    });

    it("should fail a process spawned into a container destroyed before it started with ERR_STATE", async function () {
      const c = track(new Container());
      const starting = c.start().catch(() => {});
      const p = c.spawn(['true']);
      const events: string[] = [];
      p.on('spawn', () => events.push('spawn'));
      p.on('exit', () => events.push('exit'));
      const failed = new Promise<IsolateError | null>((r) => {
        p.once('error', (e) => {
          events.push('error');
          r(e);
        });
        p.once('close', () => {
          events.push('close');
          r(null);
        });
      });
      const closed = new Promise<boolean>((r) => {
        p.once('close', () => r(true));
        setTimeout(() => r(false), 2000);
      });
      await c.destroy();
      await starting;
      const err = await failed;
      expect(await closed, "'close' follows").to.equal(true);
      if (err) {
        expect(err.code).to.equal('ERR_STATE');
        expect(err.message).to.equal('The container ended before the process started');
        expect(events).to.deep.equal(['error', 'close']);
      } else {
        // setup won the race: the process ran and was killed
        expect(events).to.include('close');
      }
    });

    it('should make spawn(), exec(), start() and run() fail with ERR_STATE afterwards', async function () {
      const c = track(new Container());
      await c.start();
      await c.destroy();
      expect(() => c.spawn(['true'])).to.throw(IsolateError, 'Cannot spawn in a container that is destroyed');
      try {
        c.spawn(['true']);
      } catch (e) {
        expect((e as IsolateError).code).to.equal('ERR_STATE');
      }
      expect(() => c.exec(['true'])).to.throw(IsolateError, 'Cannot exec in a container that is destroyed');
      const s = await c.start().then(
        () => null,
        (e: IsolateError) => e,
      );
      expect([s?.code, s?.message]).to.deep.equal(['ERR_STATE', 'Cannot start a container that is destroyed']);
      const r = await c.run(['true']).then(
        () => null,
        (e: IsolateError) => e,
      );
      expect([r?.code, r?.message]).to.deep.equal(['ERR_STATE', 'Cannot spawn in a container that is destroyed']);
      expect(c.kill()).to.equal(false);
    });

    it('should be called by `await using` and Symbol.asyncDispose', async function () {
      let pid: number | undefined;
      let escaped: Container | undefined;
      {
        await using c = track(new Container());
        await c.start();
        pid = c.pid;
        escaped = c;
        expect(exists(pid!)).to.equal(true);
      }
      expect(escaped.state).to.equal('destroyed');
      expect(exists(pid!)).to.equal(false);

      const d = track(new Container());
      await d.start();
      const dpid = d.pid!;
      expect(d[Symbol.asyncDispose]).to.be.a('function');
      await d[Symbol.asyncDispose]();
      expect(d.state).to.equal('destroyed');
      expect(exists(dpid)).to.equal(false);
    });

    it('should dispose with `await using` when the block throws', async function () {
      let c2: Container | undefined;
      const err = await (async () => {
        await using c = track(new Container());
        c2 = c;
        await c.start();
        throw new Error('boom');
      })().then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('boom');
      expect(c2!.state).to.equal('destroyed');
    });
  });

  describe('kill()', function () {
    it('should SIGKILL every process by default and end the container', async function () {
      const c = track(new Container());
      const marker = sleepMarker();
      try {
        await c.start();
        const procs = [c.exec(['sleep', marker], { stdio: 'ignore' }), c.exec(['sh', '-c', `sleep ${marker} & wait`], { stdio: 'ignore' })];
        await Promise.all(procs.map(spawned));
        expect(await waitFor(() => markerProcesses(marker).length === 2, 2000)).to.equal(true);
        const done = exited(c);
        expect(c.kill()).to.equal(true);
        expect(await done).to.deep.equal([null, 'SIGKILL']);
        for (const p of procs) expect(p.signalCode).to.equal('SIGKILL');
        expect(c.state).to.equal('stopped');
        expect(markerProcesses(marker)).to.deep.equal([]);
        expect(c.kill()).to.equal(false);
      } finally {
        await c.destroy();
      }
    });

    it('should deliver other signals to every process, leaving a started container running', async function () {
      const c = track(new Container());
      try {
        await c.start();
        const a = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        const b = c.exec(['sh', '-c', 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.05; done']);
        b.stderr!.resume(); // the shell reports its sleep's death by USR1 there
        await spawned(a);
        await waitForOutput(b.stdout!, /ready/);
        const got = waitForOutput(b.stdout!, /got USR1/);
        expect(c.kill('SIGUSR1')).to.equal(true);
        await got;
        expect(await a.wait()).to.deep.equal({ exitCode: null, signalCode: 'SIGUSR1' });
        expect(c.kill('SIGTERM')).to.equal(true);
        expect(await b.wait()).to.deep.equal({ exitCode: null, signalCode: 'SIGTERM' });
        expect(c.state).to.equal('running');
        expect((await c.run(['echo', 'alive'])).stdout).to.equal('alive\n');
      } finally {
        await c.destroy();
      }
    });
  });

  describe('ContainerProcess', function () {
    it('should kill() an exec\'d process with SIGTERM by default, and return false once it is gone', async function () {
      const c = track(new Container());
      try {
        await c.start();
        const p = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(p);
        expect(p.kill()).to.equal(true);
        expect(await p.wait()).to.deep.equal({ exitCode: null, signalCode: 'SIGTERM' });
        expect(p.kill()).to.equal(false);
        const q = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(q);
        expect(q.kill('SIGKILL')).to.equal(true);
        expect(await q.wait()).to.deep.equal({ exitCode: null, signalCode: 'SIGKILL' });
        expect(() => q.kill('SIGNOPE' as never)).to.not.throw(); // ended: false before the name is checked
        const r = c.exec(['sleep', '1000'], { stdio: 'ignore' });
        await spawned(r);
        expect(() => r.kill('SIGNOPE' as never)).to.throw(IsolateError, 'Unknown signal: SIGNOPE');
        r.kill(9);
        await r.wait();
        expect(c.state).to.equal('running');
      } finally {
        await c.destroy();
      }
    });

    it('should killTree() a process and every process it started', async function () {
      const c = track(new Container());
      const marker = sleepMarker();
      try {
        await c.start();
        const p = c.exec(['sh', '-c', `sleep ${marker} & setsid sleep ${marker} & echo ready; wait`]);
        await waitForOutput(p.stdout!, /ready/);
        // 'ready' can come before the children have exec'd sleep
        expect(await waitFor(() => markerProcesses(marker).length === 2, 2000)).to.equal(true);
        expect(p.killTree('SIGTERM')).to.equal(true);
        expect((await p.wait()).signalCode).to.equal('SIGTERM');
        expect(await waitFor(() => markerProcesses(marker).length === 0, 1000)).to.equal(true);
      } finally {
        await c.destroy();
      }
    });

    it('should resolve wait() after close, also when called late, and reject it on failure', async function () {
      const c = track(new Container());
      try {
        await c.start();
        const p = c.exec(['sh', '-c', 'echo out; exit 2']);
        p.stdout!.resume();
        expect(await p.wait()).to.deep.equal({ exitCode: 2, signalCode: null });
        expect(await p.wait()).to.deep.equal({ exitCode: 2, signalCode: null });
        const bad = c.exec(['/nonexistent-isolate-kit-cmd']);
        const err = await bad.wait().then(
          () => null,
          (e: IsolateError) => e,
        );
        expect(err?.code).to.equal('ERR_EXEC_FAILED');
        const again = await bad.wait().then(
          () => null,
          (e: IsolateError) => e,
        );
        expect(again).to.equal(err);
      } finally {
        await c.destroy();
      }
    });

    it("should emit 'close' and resolve wait() when the caller never reads stdout or stderr", async function () {
      // Node's ChildProcess resumes unread stdio when the child exits (flushStdio),
      // so 'close' always follows 'exit'; unread data here keeps the sockets open.
      const c = track(new Container());
      await c.start();
      const p = c.exec(['sh', '-c', 'echo out; echo err >&2']);
      try {
        const r = await Promise.race([p.wait(), new Promise<string>((res) => setTimeout(() => res('no close within 3 s'), 3000))]);
        expect(r).to.deep.equal({ exitCode: 0, signalCode: null });
      } finally {
        // unread sockets are never closed by the library: close them here
        p.stdout!.destroy();
        p.stderr!.destroy();
      }
    });

    it('should expose command, id, pid and usage', async function () {
      const c = track(new Container());
      try {
        const p = c.spawn(['sh', '-c', 'exit 0'], { stdio: 'ignore' });
        expect(p.command).to.deep.equal(['sh', '-c', 'exit 0']);
        expect(p.pid).to.equal(undefined);
        expect(p.spawned).to.equal(false);
        expect([p.stdin, p.stdout, p.stderr]).to.deep.equal([null, null, null]);
        await p.wait();
        expect(p.pid).to.equal(2);
        expect(p.usage?.cpuTimeMs).to.be.a('number');
        expect(p.usage?.maxRssBytes).to.be.above(0);
        expect(p.exitedAt! >= p.spawnedAt!).to.equal(true);
      } finally {
        await c.destroy();
      }
    });
  });

  describe('unref()', function () {
    let fixture: Fixture | undefined;
    let nodePid: number | undefined;

    afterEach(async function () {
      if (fixture) await killFixture(fixture, nodePid);
      fixture = undefined;
      nodePid = undefined;
    });

    it('should let the event loop exit with containers still running, and the containers die with the process', async function () {
      const marker = sleepMarker();
      fixture = runFixture('hold-container', ['unref', `marker=${marker}`]);
      const held = (await fixture.firstJson) as { nodePid: number; inits: number[] };
      nodePid = held.nodePid;
      // The fixture does nothing after printing: only the unref()'d containers are left.
      const code = await Promise.race([fixture.exited, new Promise<string>((r) => setTimeout(() => r('still running after 10 s'), 10_000))]);
      expect(code, fixture.stderr()).to.equal(0);
      expect(fixture.lines).to.include('{"event":"exit","code":0}');
      expect(markerProcesses(marker)).to.deep.equal([]);
      expect(held.inits.filter(exists)).to.deep.equal([]);
    });
  });
});
