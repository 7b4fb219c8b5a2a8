/**
 * Container.run() and container.run(): one command to its end, its output
 * collected under limits, one RunResult whatever happened.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CGroup, Container, IsolateError, type RunResult } from '../../lib';
import { needCgroups, needContainers } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { childrenOf, markerProcesses, parentOf, processState, sleepMarker, waitFor } from '../fixtures/procs';

const MiB = 1024 * 1024;

function sh(script: string, options: Parameters<typeof Container.run>[1] = {}): Promise<RunResult> {
  return Container.run(['sh', '-c', script], { timeout: 20_000, ...options });
}

/** The nested children every grandchild test starts: two in the background and an orphan (double fork). */
function children(marker: string): string {
  return `sleep ${marker} & sleep ${marker} & (sleep ${marker} &) ;`;
}

describe('Container.run()', function () {
  before(function () {
    needContainers(this);
  });

  describe('status', function () {
    it("should report 'ok' for exit 0, with every field of the result", async function () {
      const r = await Container.run(['true']);
      expect(r).to.include({
        status: 'ok',
        exitCode: 0,
        signal: null,
        stdout: '',
        stderr: '',
        stdoutTruncated: false,
        stderrTruncated: false,
        oomKilled: false,
        timedOut: false,
        limit: null,
      });
      expect(r.command).to.deep.equal(['true']);
      expect(r.error).to.equal(undefined);
      expect(r.wallTimeMs).to.be.a('number').and.at.least(0);
      expect(r.cpuTimeMs).to.be.a('number').and.at.least(0);
      expect(r.memoryPeakBytes).to.be.a('number').and.above(0);
      expect(Object.keys(r).sort()).to.deep.equal(
        ['command', 'cpuTimeMs', 'exitCode', 'limit', 'memoryPeakBytes', 'oomKilled', 'signal', 'status', 'stderr', 'stderrTruncated', 'stdout', 'stdoutTruncated', 'timedOut', 'wallTimeMs'].sort(),
      );
    });

    it("should report 'nonzero' with the exit code", async function () {
      const r = await sh('exit 3');
      expect(r).to.include({ status: 'nonzero', exitCode: 3, signal: null, timedOut: false });
      expect((await sh('exit 255')).exitCode).to.equal(255);
      expect((await Container.run(['false'])).exitCode).to.equal(1);
    });

    it("should report 'signaled' with the signal name and a null exit code", async function () {
      expect(await sh('kill -KILL $$')).to.include({ status: 'signaled', exitCode: null, signal: 'SIGKILL' });
      expect(await sh('kill -SEGV $$')).to.include({ status: 'signaled', exitCode: null, signal: 'SIGSEGV' });
      expect(await sh('kill -TERM $$')).to.include({ status: 'signaled', exitCode: null, signal: 'SIGTERM' });
    });

    it('should copy the command into the result', async function () {
      const cmd = ['sh', '-c', 'exit 0', 'arg0'];
      const r = await Container.run(cmd);
      cmd.push('changed');
      expect(r.command).to.deep.equal(['sh', '-c', 'exit 0', 'arg0']);
    });
  });

  describe('output', function () {
    it('should collect stdout and stderr separately as strings', async function () {
      const r = await sh('printf out1; printf err1 >&2; printf out2; printf err2 >&2');
      expect(r.stdout).to.equal('out1out2');
      expect(r.stderr).to.equal('err1err2');
    });

    it("should return Buffers with encoding 'buffer', byte for byte", async function () {
      const r = await Container.run(['sh', '-c', "printf '\\377\\000\\001\\n'; printf '\\200' >&2"], { encoding: 'buffer' });
      expect(Buffer.isBuffer(r.stdout)).to.equal(true);
      expect([...r.stdout]).to.deep.equal([255, 0, 1, 10]);
      expect([...r.stderr]).to.deep.equal([128]);
    });

    it('should decode with other Buffer encodings', async function () {
      expect((await Container.run(['sh', '-c', "printf '\\377\\001'"], { encoding: 'hex' })).stdout).to.equal('ff01');
      expect((await Container.run(['sh', '-c', "printf '\\351'"], { encoding: 'latin1' })).stdout).to.equal('é');
      expect((await Container.run(['printf', 'hi'], { encoding: 'base64' })).stdout).to.equal('aGk=');
    });

    it('should not split multi-byte UTF-8 characters across chunks', async function () {
      // 300,000 two-byte characters arrive in many pipe-sized chunks.
      const r = await Container.run(['python3', '-c', "import sys; sys.stdout.write('é' * 300000)"], { env: { PYTHONIOENCODING: 'utf-8' } });
      expect(r.status).to.equal('ok');
      expect(r.stdout.length).to.equal(300_000);
      expect(r.stdout).to.equal('é'.repeat(300_000));
    });
  });

  describe('input', function () {
    it('should write `input` to stdin and close it', async function () {
      expect((await Container.run(['cat'], { input: 'hello\n' })).stdout).to.equal('hello\n');
      expect((await Container.run(['wc', '-c'], { input: Buffer.from('abc') })).stdout.trim()).to.equal('3');
      expect((await Container.run(['wc', '-c'], { input: new Uint8Array([1, 2, 3, 4]) })).stdout.trim()).to.equal('4');
      expect((await Container.run(['wc', '-c'], { input: new Uint8Array(new ArrayBuffer(16), 4, 5) })).stdout.trim()).to.equal('5');
    });

    it('should pass 4 MiB of binary input through intact while reading the output', async function () {
      const input = randomBytes(4 * MiB);
      const r = await Container.run(['cat'], { input, encoding: 'buffer' });
      expect(r.status).to.equal('ok');
      expect(r.stdout.length).to.equal(input.length);
      expect(r.stdout.equals(input)).to.equal(true);
    });

    it("should give an empty, closed stdin for input ''", async function () {
      const r = await sh('cat | wc -c; stat -L -c %F /proc/self/fd/0', { input: '' });
      expect(r.stdout).to.equal('0\nfifo\n');
    });

    it('should make stdin /dev/null without `input`', async function () {
      const r = await sh('cat | wc -c; stat -L -c %t,%T /proc/self/fd/0; readlink /proc/self/fd/0');
      expect(r.stdout).to.equal('0\n1,3\n/dev/null\n');
    });

    it('should not fail when the payload exits without reading its input', async function () {
      const r = await Container.run(['true'], { input: randomBytes(4 * MiB) });
      expect(r.status).to.equal('ok');
    });
  });

  describe('maxOutput', function () {
    it('should keep output of exactly maxOutput bytes whole', async function () {
      const r = await sh('head -c 1000 /dev/zero; head -c 1000 /dev/zero >&2', { maxOutput: 1000 });
      expect(r).to.include({ status: 'ok', stdoutTruncated: false, stderrTruncated: false });
      expect(r.stdout.length).to.equal(1000);
      expect(r.stderr.length).to.equal(1000);
    });

    it("should truncate stdout past maxOutput and kill the sandbox: status 'output-limit'", async function () {
      const r = await Container.run(['yes'], { maxOutput: '64k' });
      expect(r).to.include({ status: 'output-limit', stdoutTruncated: true, stderrTruncated: false, timedOut: false });
      expect(r.stdout.length).to.equal(64 * 1024);
      expect(r.stdout).to.equal('y\n'.repeat(32 * 1024));
      expect(r.signal).to.equal('SIGKILL');
      expect(r.exitCode).to.equal(null);
    });

    it('should truncate at one byte past the limit even when the payload exits by itself', async function () {
      const r = await sh('head -c 1001 /dev/zero', { maxOutput: 1000 });
      expect(r).to.include({ status: 'output-limit', stdoutTruncated: true });
      expect(r.stdout.length).to.equal(1000);
    });

    it('should truncate stderr separately', async function () {
      const r = await sh('echo fine; yes err >&2', { maxOutput: 100 });
      expect(r).to.include({ status: 'output-limit', stdoutTruncated: false, stderrTruncated: true, stdout: 'fine\n' });
      expect(r.stderr).to.equal('err\n'.repeat(25));
    });

    it('should count bytes, not characters, and keep Buffers exact', async function () {
      const r = await Container.run(['sh', '-c', "yes 'é' | head -c 100000"], { maxOutput: 11, encoding: 'buffer' });
      expect(r.status).to.equal('output-limit');
      expect(r.stdout.length).to.equal(11);
      expect(r.stdout.equals(Buffer.from('é\né\né\né\n').subarray(0, 11))).to.equal(true);
    });

    it('should treat maxOutput 0 as "no output allowed"', async function () {
      expect((await Container.run(['true'], { maxOutput: 0 })).status).to.equal('ok');
      const r = await Container.run(['echo', 'x'], { maxOutput: 0 });
      expect(r).to.include({ status: 'output-limit', stdout: '', stdoutTruncated: true });
    });
  });

  describe('large output', function () {
    this.timeout(120_000);

    it('should stream 64 MiB of stdout and 64 MiB of stderr from spawn() without deadlock', async function () {
      const c = new Container();
      try {
        const p = c.spawn(['sh', '-c', 'head -c 64M /dev/zero & head -c 64M /dev/zero >&2; wait']);
        const counts = { stdout: 0, stderr: 0 };
        p.stdout!.on('data', (d: Buffer) => (counts.stdout += d.length));
        p.stderr!.on('data', (d: Buffer) => (counts.stderr += d.length));
        const { exitCode, signalCode } = await p.wait();
        expect(exitCode).to.equal(0);
        expect(signalCode).to.equal(null);
        expect(counts).to.deep.equal({ stdout: 64 * MiB, stderr: 64 * MiB });
      } finally {
        await c.destroy();
      }
    });

    it("should collect 64 MiB on both streams at once with maxOutput '128M'", async function () {
      const r = await Container.run(['sh', '-c', 'head -c 64M /dev/zero & head -c 64M /dev/zero >&2; wait'], {
        maxOutput: '128M',
        encoding: 'buffer',
      });
      expect(r).to.include({ status: 'ok', stdoutTruncated: false, stderrTruncated: false });
      expect(r.stdout.length).to.equal(64 * MiB);
      expect(r.stderr.length).to.equal(64 * MiB);
      expect(r.stdout.every((b) => b === 0)).to.equal(true);
    });

    it('should stop at the default maxOutput of 16 MiB', async function () {
      const r = await Container.run(['head', '-c', '17M', '/dev/zero'], { encoding: 'buffer' });
      expect(r).to.include({ status: 'output-limit', stdoutTruncated: true });
      expect(r.stdout.length).to.equal(16 * MiB);
    });
  });

  describe('timeout', function () {
    it("should kill the sandbox after `timeout`: status 'timeout', timedOut true", async function () {
      const r = await Container.run(['sleep', '1000'], { timeout: 200 });
      expect(r).to.include({ status: 'timeout', timedOut: true, exitCode: null, signal: 'SIGKILL', stdoutTruncated: false });
      expect(r.wallTimeMs).to.be.below(10_000);
    });

    it('should accept a duration string', async function () {
      const r = await Container.run(['sleep', '1000'], { timeout: '0.2s' });
      expect(r.status).to.equal('timeout');
    });

    it('should keep the output written before the timeout', async function () {
      const r = await sh('echo before; echo err >&2; sleep 1000', { timeout: 300 });
      expect(r).to.include({ status: 'timeout', stdout: 'before\n', stderr: 'err\n' });
    });

    it('should not time out a command that ends in time', async function () {
      const r = await Container.run(['true'], { timeout: 5000 });
      expect(r).to.include({ status: 'ok', timedOut: false });
    });

    it('should kill the grandchildren too, also those in a new session, leaving nothing on the host', async function () {
      const marker = sleepMarker();
      const run = sh(`${children(marker)} setsid sleep ${marker} & echo started; wait`, { timeout: 1500 });
      const started = await waitFor(() => markerProcesses(marker).length === 4, 1400);
      const r = await run;
      expect(started, 'all four grandchildren ran before the timeout').to.equal(true);
      expect(r).to.include({ status: 'timeout', timedOut: true, stdout: 'started\n' });
      expect(markerProcesses(marker), 'payload processes left on the host').to.deep.equal([]);
    });
  });

  describe('signal (AbortSignal)', function () {
    it('should kill the sandbox and reject with ERR_ABORTED when aborted', async function () {
      const marker = sleepMarker();
      const ac = new AbortController();
      const run = sh(`${children(marker)} wait`, { signal: ac.signal });
      expect(await waitFor(() => markerProcesses(marker).length === 3, 5000), 'payload started').to.equal(true);
      const reason = new Error('enough');
      ac.abort(reason);
      const err = (await run.then(
        () => null,
        (e: unknown) => e,
      )) as IsolateError;
      expect(err).to.be.instanceOf(IsolateError);
      expect(err.code).to.equal('ERR_ABORTED');
      expect(err.message).to.equal(`Run of \`sh -c ${children(marker)} wait\` was aborted`);
      expect(err.cause).to.equal(reason);
      expect(markerProcesses(marker), 'payload processes left on the host').to.deep.equal([]);
    });

    it('should reject an already-aborted signal before starting anything', async function () {
      const reason = new Error('too late');
      const err = (await Container.run(['sleep', '1'], { signal: AbortSignal.abort(reason) }).then(
        () => null,
        (e: unknown) => e,
      )) as IsolateError;
      expect(err.code).to.equal('ERR_ABORTED');
      expect(err.message).to.equal('Run of `sleep 1` was aborted before it started');
      expect(err.cause).to.equal(reason);
      const c = new Container();
      await c.run(['true'], { signal: AbortSignal.abort() }).catch(() => {});
      expect(c.state).to.equal('created');
      expect(c.pid).to.equal(undefined);
    });

    it('should ignore an abort after the run finished', async function () {
      const ac = new AbortController();
      const r = await Container.run(['true'], { signal: ac.signal });
      ac.abort();
      expect(r.status).to.equal('ok');
    });
  });

  describe('measurements', function () {
    it('should measure wall time from exec to exit', async function () {
      const r = await Container.run(['sleep', '0.3']);
      expect(r.status).to.equal('ok');
      expect(r.wallTimeMs).to.be.at.least(100).and.below(10_000);
    });

    it('should measure CPU time of the command', async function () {
      const r = await Container.run(['python3', '-c', 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.25: pass']);
      expect(r.status).to.equal('ok');
      expect(r.cpuTimeMs).to.be.at.least(100);
      // CPU of the command and the children it waited for
      const kids = await sh('python3 -c "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.25: pass"; true');
      expect(kids.cpuTimeMs).to.be.at.least(100);
    });

    it('should measure the peak memory of a process touching 64 MiB', async function () {
      const r = await Container.run(['python3', '-c', "b = b'x' * (64 << 20)"]);
      expect(r.status).to.equal('ok');
      expect(r.memoryPeakBytes).to.be.at.least(64 * MiB);
      const small = await Container.run(['true']);
      expect(small.memoryPeakBytes).to.be.below(64 * MiB);
    });
  });

  describe('per-run options', function () {
    it('should apply the container env, cwd and user, and let each run override them', async function () {
      const c = new Container({ env: { A: '1', B: '2' }, cwd: '/tmp', user: { uid: 1000, gid: 1000 } });
      try {
        await c.start();
        const script = 'echo $A $B $C; pwd; id -u; id -g';
        expect((await c.run(['sh', '-c', script])).stdout).to.equal('1 2\n/tmp\n1000\n1000\n');
        const over = await c.run(['sh', '-c', script], { env: { B: '3', C: '4' }, cwd: '/', user: { uid: 1001 } });
        expect(over.stdout).to.equal('1 3 4\n/\n1001\n1001\n');
        const removed = await c.run(['sh', '-c', 'echo ${A-unset}'], { env: { A: null } });
        expect(removed.stdout).to.equal('unset\n');
        // the next run sees the container's settings again
        expect((await c.run(['sh', '-c', script])).stdout).to.equal('1 2\n/tmp\n1000\n1000\n');
      } finally {
        await c.destroy();
      }
    });

    it('should apply env, cwd and user given to Container.run()', async function () {
      const r = await Container.run(['sh', '-c', 'echo $X; pwd; id -u'], { env: { X: 'y' }, cwd: '/etc', user: { uid: 123 } });
      expect(r.stdout).to.equal('y\n/etc\n123\n');
    });
  });
});

describe('Container#run()', function () {
  before(function () {
    needContainers(this);
  });

  it('should make the command the main process of a new container, which then stops', async function () {
    const c = new Container();
    try {
      const r = await c.run(['sh', '-c', 'echo $$']);
      expect(r.stdout).to.equal('2\n');
      await waitFor(() => c.state === 'stopped', 2000);
      expect(c.state).to.equal('stopped');
      const err = await c.run(['true']).then(
        () => null,
        (e: IsolateError) => e,
      );
      expect(err?.code).to.equal('ERR_STATE');
      expect(err?.message).to.equal('Cannot spawn in a container that is stopped');
    } finally {
      await c.destroy();
    }
  });

  it('should report every status for commands exec\'d into a running container, which keeps running', async function () {
    const c = new Container();
    try {
      await c.start();
      expect((await c.run(['true'])).status).to.equal('ok');
      expect(await c.run(['sh', '-c', 'exit 4'])).to.include({ status: 'nonzero', exitCode: 4 });
      expect(await c.run(['sh', '-c', 'kill -USR1 $$'])).to.include({ status: 'signaled', signal: 'SIGUSR1' });
      expect(await c.run(['yes'], { maxOutput: 10 })).to.include({ status: 'output-limit', stdout: 'y\ny\ny\ny\ny\n' });
      expect(await c.run(['sleep', '1000'], { timeout: 100 })).to.include({ status: 'timeout', signal: 'SIGKILL' });
      expect(await c.run(['cat'], { input: 'x' })).to.include({ status: 'ok', stdout: 'x' });
      expect(c.state).to.equal('running');
      expect((await c.run(['echo', 'still here'])).stdout).to.equal('still here\n');
    } finally {
      await c.destroy();
    }
  });

  // init starts exec'd processes without waiting for their exec, and learns
  // of it (or of why not) from each one's pipe: many at once must each get
  // their own answer, in order (started, then ended).
  it('should answer 120 commands exec\'d at once, each with its own result, failures included', async function () {
    const c = new Container();
    try {
      await c.start();
      const runs = Array.from({ length: 120 }, (_, i) =>
        i % 3 === 0
          ? c.run(['sh', '-c', `echo ${i}; exit ${i % 7}`])
          : i % 3 === 1
            ? c.run(['true'])
            : c.run(['/no/such/program', String(i)]),
      );
      const results = await Promise.all(runs);
      results.forEach((r, i) => {
        if (i % 3 === 0) expect(r, `run ${i}`).to.include({ stdout: `${i}\n`, exitCode: i % 7 });
        else if (i % 3 === 1) expect(r, `run ${i}`).to.include({ status: 'ok' });
        else expect(r.error, `run ${i}`).to.include({ code: 'ERR_EXEC_FAILED', syscall: 'execve', errnoCode: 'ENOENT' });
      });
      expect(c.state).to.equal('running');
    } finally {
      await c.destroy();
    }
  });

  // What init has not read of the control socket fills its send buffer:
  // exec() once threw EAGAIN in a burst (and a kill was lost). Requests now
  // wait in order, a kill behind the spawn it is for.
  it('should take 400 exec()s issued in one tick, more than the socket holds, in order, a kill right after its spawn included', async function () {
    const c = new Container();
    try {
      await c.start();
      // init stopped (from outside, as root may), so that its queue fills whatever this machine's speed.
      process.kill(c.pid!, 'SIGSTOP');
      const procs = Array.from({ length: 400 }, (_, i) => c.exec(i % 2 ? ['true'] : ['/no/such/program'], { stdio: 'ignore' }));
      const last = c.exec(['sleep', '1000'], { stdio: 'ignore' });
      expect(last.kill('SIGKILL')).to.equal(true);
      process.kill(c.pid!, 'SIGCONT');
      const settled = (p: (typeof procs)[number]) =>
        new Promise<string>((resolve) => {
          p.once('error', (e) => resolve((e as IsolateError).code));
          p.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`));
        });
      const lastEnd = within(settled(last), 10_000);
      const results = await Promise.all(procs.map(settled));
      results.forEach((r, i) => expect(r, `exec ${i}`).to.equal(i % 2 ? 'exit 0' : 'ERR_EXEC_FAILED'));
      expect(await lastEnd).to.equal('exit SIGKILL');
      expect(c.state).to.equal('running');
    } finally {
      await c.destroy();
    }
  });

  it('should kill the grandchildren of an exec\'d command in its process group on timeout', async function () {
    const c = new Container();
    const marker = sleepMarker();
    try {
      await c.start();
      const run = c.run(['sh', '-c', `${children(marker)} echo started; wait`], { timeout: 1500 });
      expect(await waitFor(() => markerProcesses(marker).length === 3, 1400)).to.equal(true);
      const r = await run;
      expect(r).to.include({ status: 'timeout', stdout: 'started\n' });
      // Killed, each gone once the kernel next runs it: past the timeout the
      // run no longer waits for its pipes' holders, so a loaded machine may
      // settle it first (seen once in a full run).
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the grandchildren are gone').to.equal(true);
      expect(c.state).to.equal('running');
    } finally {
      await c.destroy();
    }
  });

  it('should end a timed-out exec\'d run and kill all it started, even a child in a new session', async function () {
    // The exec'd run is killed with its process group only: a child that called
    // setsid() survives, keeps the stdout pipe open, and the run never settles.
    this.timeout(15_000);
    const c = new Container();
    const marker = sleepMarker();
    try {
      await c.start();
      const run = c.run(['sh', '-c', `setsid sleep ${marker} & echo started; wait`], { timeout: 500 });
      const settled = await Promise.race([run.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      expect(settled, 'the run resolved within 5 s of a 0.5 s timeout').to.equal(true);
      expect((await run).status).to.equal('timeout');
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'processes of the run left in the container').to.equal(true);
    } finally {
      await c.destroy();
    }
  });

  it('should abort an exec\'d run, leaving the container running', async function () {
    const c = new Container();
    const marker = sleepMarker();
    try {
      await c.start();
      const ac = new AbortController();
      const run = c.run(['sh', '-c', `${children(marker)} wait`], { signal: ac.signal });
      expect(await waitFor(() => markerProcesses(marker).length === 3, 5000)).to.equal(true);
      ac.abort();
      const err = await run.then(
        () => null,
        (e: IsolateError) => e,
      );
      expect(err?.code).to.equal('ERR_ABORTED');
      expect(markerProcesses(marker)).to.deep.equal([]);
      expect(c.state).to.equal('running');
    } finally {
      await c.destroy();
    }
  });
  it("should settle an aborted exec'd run without a timeout though a process that left its tree and group holds stdout", async function () {
    // Aborted before the command's exit, the run waited for every holder of
    // its pipes, and with no timeout and the container running on, one that
    // escaped the kill (orphaned and in a session of its own) held it forever.
    const c = new Container();
    const marker = sleepMarker();
    try {
      await c.start();
      const ac = new AbortController();
      const run = c.run(['sh', '-c', `(setsid sleep ${marker} &); echo started; sleep ${marker}`], { signal: ac.signal });
      // Orphaned to init and already `sleep`: before its exec the orphan is
      // still setsid(1), which may not have left the shell's group yet, and
      // the kill took it along (a flake of the test, not of the kill).
      const orphaned = () => markerProcesses(marker).some((p) => parentOf(p) === c.pid && readComm(p) === 'sleep');
      expect(await waitFor(() => markerProcesses(marker).length === 2 && orphaned(), 5000), 'one sleep orphaned to init').to.equal(true);
      ac.abort();
      const r = await within(run.catch((e: IsolateError) => e), 5000);
      expect(r, 'the run settled').to.not.equal('pending');
      expect((r as IsolateError).code).to.equal('ERR_ABORTED');
      expect(markerProcesses(marker), 'the escaped one lives on in the container').to.have.lengthOf(1);
      expect(c.state).to.equal('running');
    } finally {
      await c.destroy();
    }
  });
});

/** Resolves with the run's result, or with 'pending' if it has not settled within `ms`. */
function readComm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

function within<T>(run: Promise<T>, ms: number): Promise<T | 'pending'> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([run, new Promise<'pending'>((r) => (t = setTimeout(() => r('pending'), ms)))]).finally(() => clearTimeout(t));
}

describe('run() against a payload that keeps its run from settling', function () {
  this.timeout(30_000);
  before(function () {
    needContainers(this);
  });

  // A process left behind by an earlier exec'd run, of the uid the next runs
  // get (nobody), SIGSTOPs every process it may: the child init is starting
  // is one from its drop to that uid to its exec. init once waited for that
  // exec in clone(CLONE_VFORK), reading nothing else, not the kill of a
  // timeout, and the container was lost; it now goes on at once and learns
  // of the exec from a pipe. A PATH of many missing directories before /bin
  // makes that window long enough to be hit.
  it("should time out an exec'd run whose child a leftover process stopped before its exec, and keep the container", async function () {
    this.timeout(90_000);
    // The stopper does not always catch the child inside the window (after
    // its exec, the kill works as usual): a few tries, each of which must end.
    let held = false;
    for (let attempt = 0; attempt < 6 && !held; attempt++) {
      const c = new Container();
      try {
        await c.start();
        const left = await c.run(['sh', '-c', 'setsid sh -c "sleep 0.3; while :; do kill -STOP -1; done" </dev/null >/dev/null 2>&1 & echo $!'], { timeout: 5000 });
        expect(left).to.include({ status: 'ok' });
        await new Promise((r) => setTimeout(r, 600));
        const PATH = [...Array.from({ length: 5000 }, (_, i) => `/nonexistent/${i}`), '/bin'].join(':');
        const run = c.run(['echo', 'held'], { timeout: 1000, env: { PATH } });
        // The child stopped before its exec still has init's name.
        const initPid = c.pid!;
        const stoppedBeforeExec = () =>
          childrenOf(initPid).some((k) => processState(k) === 'T' && readComm(k) === 'isolate-kit-ini');
        held = await waitFor(stoppedBeforeExec, 1800);
        // Bounds far from the 1 s this takes, for a loaded machine: the point is that it ends.
        const r = await within(run, 8000);
        expect(r, 'the run settled within 8 s of its 1 s timeout').to.not.equal('pending');
        if (!held) continue;
        expect(r).to.include({ status: 'timeout', timedOut: true, limit: 'timeout', exitCode: null, signal: 'SIGKILL', stdout: '' });
        // init carried out the kill: the container runs on, for the next run too.
        expect(c.state).to.equal('running');
        const stopper = Number(left.stdout.trim());
        // As root, whom the stopper (nobody) cannot stop.
        const after = await c.run(['sh', '-c', `kill -KILL ${stopper}; echo after`], { timeout: 5000, user: { uid: 0, gid: 0 } });
        expect(after).to.include({ status: 'ok', stdout: 'after\n' });
      } finally {
        await c.destroy();
      }
    }
    expect(held, 'a child stopped before its exec, in one of 6 tries').to.equal(true);
  });

  // Without a pid namespace nothing ends the container's processes when init
  // exits: init kills the process groups it started, the main process's too.
  it("should read what an exec'd command left writing until it is done, and cut it at the run's timeout, not calling that a timeout", async function () {
    const c = new Container({});
    await c.start();
    try {
      // A background writer that finishes within the timeout: all of it, as child_process would.
      const done = await c.run(['sh', '-c', '(sleep 0.5; echo late) & echo early'], { timeout: 10_000 });
      expect(done).to.include({ status: 'ok', stdout: 'early\nlate\n', stdoutTruncated: false });
      // One that holds stdout past the timeout: settles at it, status the command's own.
      const t0 = Date.now();
      const held = await within(c.run(['sh', '-c', 'sleep 20 & echo early'], { timeout: 1000 }), 8000);
      expect(held, 'the run settled at its timeout').to.not.equal('pending');
      expect(held).to.include({ status: 'ok', exitCode: 0, timedOut: false, stdout: 'early\n', stdoutTruncated: true });
      expect(Date.now() - t0, 'at the timeout, not when the holder ends (20 s)').to.be.below(8000);
      // No timeout, aborted after the exit: the holder is not waited for either.
      const ac = new AbortController();
      const aborted = c.run(['sh', '-c', 'sleep 20 & echo early'], { signal: ac.signal }).catch((e: unknown) => e);
      setTimeout(() => ac.abort(), 300);
      const err = await within(aborted, 8000);
      expect(err, 'the aborted run settled').to.not.equal('pending');
      expect(err).to.be.instanceOf(IsolateError).and.include({ code: 'ERR_ABORTED' });
    } finally {
      await c.destroy();
    }
  });

  it('should end the main command\'s background children without a pid namespace, and settle at its exit', async function () {
    const marker = sleepMarker();
    const c = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'] });
    try {
      const r = await within(c.run(['sh', '-c', `sleep ${marker} & echo bg; exit 0`], { timeout: 20_000 }), 10_000);
      expect(r, 'the run settled at its exit, not at the timeout').to.not.equal('pending');
      expect(r).to.include({ status: 'ok', exitCode: 0, timedOut: false, stdout: 'bg\n', stdoutTruncated: false });
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the background child outlived the container').to.equal(true);
    } finally {
      await c.destroy();
    }
  });

  // Without a pid namespace, init's death takes nothing along. destroy()
  // and stop()'s kill only SIGKILLed init, and the payload's parent-death
  // signal, set before its drop to nobody, had been cleared by that drop:
  // the main command and exec'd ones ran on, on the host (a review).
  it('should end every process without a pid namespace at destroy() and at stop()\'s kill, as nobody, exec\'d ones and their groups too', async function () {
    const namespaces = ['mnt', 'net', 'ipc', 'uts'] as const;
    for (const end of ['destroy', 'stop'] as const) {
      const markers = [sleepMarker(), sleepMarker(), sleepMarker(), sleepMarker()];
      // TERM ignored, so that stop() has to kill.
      const c = new Container({ namespaces: [...namespaces] });
      try {
        c.spawn(['sh', '-c', `trap "" TERM; sleep ${markers[0]} & sleep ${markers[1]}`]); // the main process
        c.spawn(['sh', '-c', `trap "" TERM; sleep ${markers[2]} & exec sleep ${markers[3]}`]);
        expect(await waitFor(() => markers.every((m) => markerProcesses(m).length === 1), 5000), `${end}: all four sleep`).to.equal(true);
        expect(c.state).to.equal('running');
        const uid = readFileSync(`/proc/${markerProcesses(markers[1]!)[0]}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1];
        expect(uid).to.equal('65534');
        if (end === 'destroy') await c.destroy();
        else await c.stop({ timeout: 200 });
        expect(await waitFor(() => markers.every((m) => markerProcesses(m).length === 0), 3000), `${end}: every sleep ended`).to.equal(true);
      } finally {
        await c.destroy();
        for (const m of markers) for (const pid of markerProcesses(m)) process.kill(pid, 'SIGKILL');
      }
    }
  });

  // The end goes to init as a signal, read before any request: a request
  // waited behind a burst of exec()s (each one started first), a second
  // later the fallback killed init, and its children's children ran on (a
  // review, with 3,000).
  it('should end a container without a pid namespace at destroy() before the exec()s still queued, and every process it has', async function () {
    this.timeout(60_000);
    const marker = sleepMarker();
    const c = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'] });
    try {
      await c.start();
      const first = c.exec(['sh', '-c', `sleep ${marker}; true`], { stdio: 'ignore' });
      await new Promise<void>((r) => first.once('spawn', () => r()));
      process.kill(c.pid!, 'SIGSTOP'); // so that the requests pile up whatever this machine's speed
      let started = 0;
      for (let i = 0; i < 1000; i++) c.exec(['true'], { stdio: 'ignore' }).on('spawn', () => started++).on('error', () => {});
      const destroyed = c.destroy();
      process.kill(c.pid!, 'SIGCONT');
      await destroyed;
      // Hundreds were in the socket ahead of a request; the signal comes first.
      expect(started, 'exec()s started after destroy()').to.be.below(100);
      expect(await waitFor(() => markerProcesses(marker).length === 0, 5000), 'the sleep ended').to.equal(true);
    } finally {
      await c.destroy();
      for (const pid of markerProcesses(marker)) process.kill(pid, 'SIGKILL');
    }
  });

  // stop()'s SIGTERM reaches init at once; a spawn still on its way started
  // after it, never got it, and held the stop up to its timeout.
  it("should refuse exec()s that reach init once stop() has begun (ERR_STATE), and stop without waiting out the timeout", async function () {
    this.timeout(60_000);
    const marker = sleepMarker();
    const c = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'] });
    try {
      await c.start();
      // One that takes half a second to go once told, so that init is still waiting for it when the spawns come.
      const slow = c.exec(['sh', '-c', 'trap "sleep 0.5; exit 0" TERM; sleep 1000 & wait'], { stdio: 'ignore' });
      await new Promise<void>((r) => slow.once('spawn', () => r()));
      await new Promise((r) => setTimeout(r, 100));
      process.kill(c.pid!, 'SIGSTOP');
      const procs = Array.from({ length: 20 }, () => c.exec(['sleep', marker], { stdio: 'ignore' }));
      const ends = procs.map((p) => new Promise<string>((resolve) => {
        p.once('error', (e) => resolve((e as IsolateError).code));
        p.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`));
      }));
      const t0 = Date.now();
      const stopped = c.stop({ timeout: 30_000 });
      process.kill(c.pid!, 'SIGCONT');
      await stopped;
      expect(Date.now() - t0, 'stopped well before its 30 s timeout').to.be.below(15_000);
      // Refused, or (init had read it before it stopped) started in time for the SIGTERM.
      const results = await Promise.all(ends);
      for (const r of results) expect(r).to.be.oneOf(['ERR_STATE', 'exit SIGTERM']);
      expect(results).to.include('ERR_STATE');
      expect(markerProcesses(marker)).to.deep.equal([]);
    } finally {
      await c.destroy();
      for (const pid of markerProcesses(marker)) process.kill(pid, 'SIGKILL');
    }
  });

  // A stop signal forwarded to a main process that handles it (SIGHUP to
  // reload) leaves the container running: it must still start processes.
  it('should still start exec()s after a SIGHUP or SIGINT its main process handled', async function () {
    for (const namespaces of [undefined, ['mnt', 'net', 'ipc', 'uts'] as const]) {
      const c = new Container(namespaces ? { namespaces: [...namespaces] } : {});
      try {
        const main = c.spawn(['sh', '-c', 'trap "echo got" HUP INT; while :; do sleep 0.05; done']);
        await new Promise<void>((r) => main.once('spawn', () => r()));
        await new Promise((r) => setTimeout(r, 200)); // the trap is set
        for (const sig of ['SIGHUP', 'SIGINT'] as const) {
          process.kill(c.pid!, sig); // to init, which forwards it
          await new Promise((r) => setTimeout(r, 200));
          expect(c.state).to.equal('running');
          expect(await c.run(['echo', 'ok']), `${sig}, ${namespaces ? 'no pid namespace' : 'default'}`).to.include({ status: 'ok', stdout: 'ok\n' });
        }
      } finally {
        await c.destroy();
      }
    }
  });

  it("should leave the other containers of a group the caller shares alone when one without a pid namespace is destroyed", async function () {
    needCgroups(this);
    const cg = new CGroup({ pids: 64 }).create();
    const marker = sleepMarker();
    const a = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'], cgroup: cg });
    const b = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'], cgroup: cg });
    try {
      await a.start();
      await b.start();
      b.exec(['sleep', marker], { stdio: 'ignore' });
      expect(await waitFor(() => markerProcesses(marker).length === 1, 5000)).to.equal(true);
      await a.destroy();
      await new Promise((r) => setTimeout(r, 300));
      expect(b.state).to.equal('running');
      expect(markerProcesses(marker).length, "b's sleep").to.equal(1);
    } finally {
      await a.destroy();
      await b.destroy();
      await cg.destroy();
    }
  });

  it('should settle at the exit without a pid namespace when a child out of its session holds stdout, saying it was cut', async function () {
    const marker = sleepMarker();
    const c = new Container({ namespaces: ['mnt', 'net', 'ipc', 'uts'] });
    try {
      const t0 = Date.now();
      const r = await within(c.run(['sh', '-c', `setsid sleep ${marker} & sleep 0.2; echo done; exit 3`], { timeout: 20_000 }), 10_000);
      expect(r, 'the run settled soon after its exit').to.not.equal('pending');
      expect(r).to.include({ status: 'nonzero', exitCode: 3, timedOut: false, limit: null, stdout: 'done\n', stdoutTruncated: true, stderrTruncated: true });
      expect(Date.now() - t0, 'soon after the exit, not at the timeout (20 s)').to.be.below(10_000);
    } finally {
      await c.destroy();
      // No pid namespace, no cgroup: a process that left the session is the
      // caller's to end (docs/security.md); ours here.
      for (const pid of markerProcesses(marker)) process.kill(pid, 'SIGKILL');
      await waitFor(() => markerProcesses(marker).length === 0, 2000);
    }
  });

  // The payload passes its stdout and stderr to a process in another
  // container (a shared directory, a Unix socket, SCM_RIGHTS) and exits 0:
  // the pipes stay open after its container has ended.
  it('should settle a run whose command passed its pipes out, with its own exit status', async function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    chmodSync(dir, 0o777);
    const mounts = [{ type: 'bind' as const, source: dir, target: '/tmp/shared', readonly: false }];
    let holder: Container | undefined;
    let giver: Container | undefined;
    try {
      holder = new Container({ mounts });
      giver = new Container({ mounts });
      const hold = holder.spawn(['python3', '-c', `import socket, time
l = socket.socket(socket.AF_UNIX); l.bind('/tmp/shared/s'); l.listen(4); print('bound', flush=True)
kept = []
while True:
    c, _ = l.accept(); kept.append(socket.recv_fds(c, 1, 4))
`], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve) => hold.stdout!.once('data', () => resolve()));
      const t0 = Date.now();
      const run = giver.run(['python3', '-c', `import socket
s = socket.socket(socket.AF_UNIX); s.connect('/tmp/shared/s'); print('given', flush=True)
socket.send_fds(s, [b'x'], [1, 2])
`], { timeout: 20_000 });
      const r = await within(run, 10_000);
      expect(r, 'the run settled while another container holds its pipes').to.not.equal('pending');
      expect(r).to.include({ status: 'ok', exitCode: 0, signal: null, timedOut: false, limit: null, stdout: 'given\n', stdoutTruncated: true, stderrTruncated: true });
      expect(Date.now() - t0, 'settled soon after the exit, not at the timeout (20 s)').to.be.below(10_000);
      expect(giver.state).to.equal('stopped');
    } finally {
      await giver?.destroy();
      await holder?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
