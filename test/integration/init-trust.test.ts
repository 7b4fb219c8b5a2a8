/**
 * What the Node process takes from a container's init on the control
 * socket (csrc/addon.cc DrainCtrl): only an fd that came as the writable
 * layer, one HOLD, records that fit the container's state, a bounded number
 * per turn of the event loop, fds it did not ask for closed off the loop,
 * and only netlink sockets counted as such. init has every capability, so
 * most of this is defence in depth against a compromised one, played here
 * by test/native/hostile_init.c; a full fd table needs no compromise.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../helpers/leaks';
import { needContainers, skipUnless } from '../helpers/caps';
import { runFixture } from '../fixtures/procs';

describe("Container: what the Node process trusts from init's control socket", function () {
  before(function () {
    needContainers(this);
  });

  it("should fail a layered root's start with EMFILE when its writable layer's fd cannot reach Node, closing nothing of Node's", async function () {
    const probe = spawnSync('prlimit', ['--nofile=256:256', 'true']);
    skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
    this.timeout(60_000);
    // The kernel drops the fd (MSG_CTRUNC) but the record came: it used to
    // reach JS with init's a = 0, so diff() read Node's fd 0 (or another
    // container's layer that landed there) and destroy() closed it.
    const f = runFixture('init-trust', ['hold-fd-full'], ['prlimit', '--nofile=256:256']);
    const got = JSON.parse(await f.line(/"attempts"/, 50_000)) as {
      attempts: Record<string, unknown>[];
      diff: unknown[];
      fd0Before: string;
      fd0After: string;
      fdsBefore: number;
      fdsAfter: number;
      zombies: number;
    };
    expect(await f.exited, f.stderr()).to.equal(0);
    expect(got.attempts.length).to.equal(4);
    for (const a of got.attempts) {
      expect(a, JSON.stringify(a)).to.deep.include({ code: 'ERR_SETUP_FAILED', errnoCode: 'EMFILE', diffError: 'ERR_STATE' });
      expect(a.message).to.match(/^Cannot start the container: its writable layer's fd from init was dropped: recvmsg: EMFILE \(too many open files\)/);
      expect(a.state).to.equal('stopped');
    }
    expect(got.diff, 'a start with fds free has its own, empty layer').to.deep.equal([]);
    expect(got.fd0After, "Node's fd 0").to.equal(got.fd0Before);
    expect(got.fdsAfter, 'fds left open').to.equal(got.fdsBefore);
    expect(got.zombies).to.equal(0);
  });

  describe('with a compromised init (test/native/hostile_init.c)', function () {
    let dir: string;
    before(function () {
      this.timeout(30_000);
      skipUnless(this, spawnSync('gcc', ['--version']).status === 0 ? null : 'no gcc to build test/native/hostile_init.c');
      dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
      const src = join(__dirname, '..', '..', '..', 'test', 'native', 'hostile_init.c');
      execFileSync('gcc', ['-std=gnu11', '-O1', '-Wall', '-Wextra', `-DMODE_FILE="${join(dir, 'mode')}"`, '-o', join(dir, 'isolate-kit-init'), src]);
      symlinkSync(join(__dirname, '..', '..', '..', 'build', 'Release', 'isolate_kit.node'), join(dir, 'isolate_kit.node'));
    });
    after(function () {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** The fixture's JSON line for `mode`, with the hostile init. */
    async function hostile(mode: string): Promise<Record<string, unknown>> {
      const f = runFixture('init-trust', [mode, dir], ['env', `ISOLATE_KIT_NATIVE_DIR=${dir}`, 'ISOLATE_KIT_NO_ZYGOTE=1']);
      const line = await f.line(/^\{/, 30_000);
      expect(await f.exited, f.stderr()).to.equal(0);
      return JSON.parse(line) as Record<string, unknown>;
    }

    it('should never take an fd number from init: a HOLD without an fd fails a layered start and closes nothing', async function () {
      this.timeout(40_000);
      // It used to closeSync() the number on the second HOLD: EBADF thrown
      // out of the native callback ended Node, or another container's pidfd went.
      const got = await hostile('hold-nofd');
      expect(got.start).to.deep.include({ code: 'ERR_SETUP_FAILED' });
      expect((got.start as { message: string }).message).to.match(/came without the layer/);
      expect(got.plainStart, 'a HOLD is no record of a container without a layered root').to.deep.equal({ ok: true });
      expect(got.victimOpen, 'the number init named is still our file').to.equal(true);
    });

    it('should take the first HOLD only, closing the fd of any later one', async function () {
      this.timeout(40_000);
      const got = await hostile('hold-twice');
      expect(got.diff).to.deep.equal([{ kind: 'A', path: '/x' }]);
      expect(got).to.include({ heldA: 1, heldB: 0, heldAAfterDestroy: 0 });
    });

    for (const mode of ['flood', 'flood:ready']) {
      it(`should keep the event loop running through a flood of ${mode === 'flood' ? 'FAIL' : 'READY'} records, none of which reaches JS after the start`, async function () {
        this.timeout(40_000);
        // Records were read until none were left, a JS call each: the loop
        // stalled for seconds (a 1 s timeout settled at 4.4 s).
        const got = await hostile(mode);
        expect(got.maxGap, 'longest gap between 10 ms ticks (ms)').to.be.below(250);
        expect(got).to.include({ errors: 0, starts: 1 });
      });
    }

    it('should close an fd that came with a record off the event loop (a lingering socket)', async function () {
      this.timeout(40_000);
      // A TCP socket with unsent data and SO_LINGER {1, 3}: its close used
      // to take 3 s on the main thread.
      const got = await hostile('linger');
      expect(got.maxGap, 'longest gap between 10 ms ticks (ms)').to.be.below(500);
    });

    it('should count only netlink sockets in the netlink set, not the caller\'s files init put there', async function () {
      this.timeout(40_000);
      // 16 entries of our stdout (a pipe) and a Unix socket of ours, open for
      // our life: four such containers used to deny netlink to every later one.
      const got = await hostile('poison');
      expect(got.orphans).to.equal(0);
    });
  });
});
