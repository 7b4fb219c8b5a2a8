/**
 * init as PID 1: it forwards termination and job-control signals to the main
 * payload, exits with the payload's status, reaps orphans, and cannot be
 * killed from inside.
 */
import { expect } from 'chai';
import { Container, type ContainerProcess } from '../../lib';
import { needContainers } from '../helpers/caps';
import { containerTracker, waitForOutput } from '../fixtures/procs';

const TRAPPED = ['TERM', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'WINCH'] as const;

/** A shell that prints the name of each trapped signal it gets; it exits on `exitOn`. */
function trapper(exitOn: string): string[] {
  const traps = TRAPPED.map((s) => (s === exitOn ? `trap 'echo ${s}; exit 0' ${s}` : `trap 'echo ${s}' ${s}`)).join('; ');
  return ['sh', '-c', `${traps}; echo ready; while :; do sleep 0.02; done`];
}

function collect(p: ContainerProcess): () => string {
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr?.resume();
  return () => out;
}

describe('Signals and init', function () {
  const { track, cleanup } = containerTracker();
  before(function () {
    needContainers(this);
  });
  afterEach(cleanup);

  describe('forwarding to the main process', function () {
    for (const sig of ['TERM', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2'] as const) {
      it(`should deliver SIG${sig} sent with process.kill() to the main payload`, async function () {
        const c = track(new Container());
        const p = c.spawn(trapper(sig));
        const out = collect(p);
        await waitForOutput(p.stdout!, /ready/);
        expect(p.kill(`SIG${sig}`)).to.equal(true);
        expect(await p.wait()).to.deep.equal({ exitCode: 0, signalCode: null });
        expect(out()).to.equal(`ready\n${sig}\n`);
      });
    }

    it('should forward SIGWINCH and SIGCONT without ending anything', async function () {
      const c = track(new Container());
      const p = c.spawn(['sh', '-c', "trap 'echo WINCH' WINCH; trap 'echo CONT' CONT; trap 'echo TERM; exit 0' TERM; echo ready; while :; do sleep 0.02; done"]);
      const out = collect(p);
      await waitForOutput(p.stdout!, /ready/);
      const winch = waitForOutput(p.stdout!, /WINCH/);
      p.kill('SIGWINCH');
      await winch;
      const cont = waitForOutput(p.stdout!, /CONT/);
      p.kill('SIGCONT');
      await cont;
      p.kill('SIGTERM');
      expect(await p.wait()).to.deep.equal({ exitCode: 0, signalCode: null });
      expect(out()).to.equal('ready\nWINCH\nCONT\nTERM\n');
    });

    it('should deliver several signals in turn to a payload that keeps running', async function () {
      const c = track(new Container());
      const p = c.spawn(trapper('TERM'));
      const out = collect(p);
      await waitForOutput(p.stdout!, /ready/);
      for (const sig of ['USR1', 'HUP', 'USR2', 'INT', 'QUIT']) {
        const seen = waitForOutput(p.stdout!, new RegExp(sig));
        p.kill(`SIG${sig}` as NodeJS.Signals);
        await seen;
      }
      p.kill('SIGTERM');
      await p.wait();
      expect(out()).to.equal('ready\nUSR1\nHUP\nUSR2\nINT\nQUIT\nTERM\n');
    });

    it('should signal an exec\'d process directly', async function () {
      const c = track(new Container());
      await c.start();
      const p = c.exec(trapper('USR2'));
      const out = collect(p);
      await waitForOutput(p.stdout!, /ready/);
      p.kill('SIGHUP');
      await waitForOutput(p.stdout!, /HUP/);
      p.kill('SIGUSR2');
      expect(await p.wait()).to.deep.equal({ exitCode: 0, signalCode: null });
      expect(out()).to.equal('ready\nHUP\nUSR2\n');
    });
  });

  describe('exit status', function () {
    it("should end with the payload's exit code", async function () {
      const r = await Container.run(['sh', '-c', 'exit 3']);
      expect(r).to.include({ status: 'nonzero', exitCode: 3, signal: null });
      const c = track(new Container());
      const p = c.spawn(['sh', '-c', 'exit 3'], { stdio: 'ignore' });
      const exit = new Promise<unknown[]>((res) => c.once('exit', (...a) => res(a)));
      expect(await p.wait()).to.deep.equal({ exitCode: 3, signalCode: null });
      expect(await exit).to.deep.equal([3, null]);
    });

    it("should report a payload killed by a signal as that signal", async function () {
      const r = await Container.run(['sh', '-c', 'kill -TERM $$; sleep 1']);
      expect(r).to.include({ status: 'signaled', exitCode: null, signal: 'SIGTERM' });
      const c = track(new Container());
      const p = c.spawn(['sleep', '1000'], { stdio: 'ignore' });
      await new Promise<void>((res) => p.once('spawn', () => res()));
      p.kill('SIGTERM');
      expect(await p.wait()).to.deep.equal({ exitCode: null, signalCode: 'SIGTERM' });
      expect(p.kill('SIGTERM')).to.equal(false);
    });

    it('should report a payload that exits with 128+n as an exit code, not a signal', async function () {
      const r = await Container.run(['sh', '-c', 'exit 143']);
      expect(r).to.include({ status: 'nonzero', exitCode: 143, signal: null });
    });
  });

  describe('reaping', function () {
    it('should reap orphans: no zombie stays in the container', async function () {
      const r = await Container.run([
        'sh',
        '-c',
        // five orphans re-parented to init (double fork), each exiting after 0.1 s
        'for i in 1 2 3 4 5; do (sleep 0.1 & echo $! >> /tmp/orphans) ; done; ' +
          'ppids=""; for p in $(cat /tmp/orphans); do ppids="$ppids$(cut -d" " -f4 /proc/$p/stat) "; done; echo "ppids $ppids"; ' +
          'sleep 0.6; ' +
          'left=0; for p in $(cat /tmp/orphans); do [ -e /proc/$p ] && left=$((left+1)); done; echo "left $left"; ' +
          'echo "zombies $(ps -eo stat= | grep -c Z)"; ' +
          'echo "states $(cat /proc/[0-9]*/stat | cut -d" " -f3 | sort | uniq | tr "\\n" " ")"',
      ]);
      expect(r.status, r.stderr).to.equal('ok');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).to.equal('ppids 1 1 1 1 1 ');
      expect(lines[1]).to.equal('left 0');
      expect(lines[2]).to.equal('zombies 0');
      expect(lines[3]).to.not.include('Z');
    });

    it('should reap orphans of exec\'d processes in a started container', async function () {
      const c = track(new Container());
      await c.start();
      const first = await c.run(['sh', '-c', '(sleep 0.1 &); (sleep 0.1 &); echo done']);
      expect(first.stdout).to.equal('done\n');
      await new Promise((res) => setTimeout(res, 400));
      const r = await c.run(['sh', '-c', 'ps -eo stat=,args= | grep -v "ps -eo" ; true']);
      expect(r.stdout).to.not.match(/^Z/m);
      expect(r.stdout).to.not.include('sleep');
    });
  });

  describe('init is immune to the payload', function () {
    it('should ignore kill -9 1 and kill -TERM 1 from a root payload that ignores TERM', async function () {
      const r = await Container.run(['sh', '-c', 'trap "" TERM; kill -9 1; echo "kill9 $?"; kill -TERM 1; kill -STOP 1; sleep 0.2; echo alive; exit 5'], {
        user: { uid: 0, gid: 0 },
      });
      expect(r.stdout).to.equal('kill9 0\nalive\n');
      expect(r).to.include({ status: 'nonzero', exitCode: 5, signal: null });
    });

    it('should keep running exec\'d processes when a root process inside sends SIGKILL to init', async function () {
      const c = track(new Container({ user: { uid: 0, gid: 0 } }));
      await c.start();
      const pid = c.pid;
      const r = await c.run(['sh', '-c', 'kill -KILL 1; kill -SEGV 1; kill -STOP 1; sleep 0.1; echo ok']);
      expect(r.stdout).to.equal('ok\n');
      expect(c.state).to.equal('running');
      expect(c.pid).to.equal(pid);
      expect((await c.run(['cat', '/proc/1/status'])).stdout).to.match(/^State:\s+[SR]/m); // alive: sleeping, or busy answering
    });

    it('should not let the default user (nobody) signal init at all', async function () {
      const r = await Container.run(['sh', '-c', 'kill -TERM 1 2>&1; echo "status $?"; sleep 0.1; echo alive']);
      expect(r.stdout).to.match(/status 1\nalive\n$/);
      expect(r.status).to.equal('ok');
    });
  });
});
