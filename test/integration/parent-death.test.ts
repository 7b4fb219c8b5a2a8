/**
 * No daemon means the sandbox must not outlive the Node process (or thread)
 * that owns it: SIGKILL, a normal exit that skips destroy(), or a
 * worker_thread ending must take every process of the sandbox along,
 * nested and re-parented children included.
 *
 * The Node owner runs test/fixtures/hold-container.ts under a subreaper
 * (test/fixtures/procs.ts), because this machine's PID 1 does not reap the
 * orphaned init: without it a dead init would stay a zombie.
 */
import { expect } from 'chai';
import { needContainers } from '../helpers/caps';
import { exists, killFixture, markerProcesses, processState, runFixture, sleepMarker, waitFor, type Fixture } from '../fixtures/procs';

interface Held {
  nodePid: number;
  inits: number[];
}

function describeLeft(marker: string, inits: number[]): string {
  const left = markerProcesses(marker).map((p) => `${p} (${processState(p)})`);
  const initsLeft = inits.filter(exists).map((p) => `${p} (${processState(p)})`);
  return `payload processes left: [${left.join(', ')}], inits left: [${initsLeft.join(', ')}]`;
}

async function sandboxGone(marker: string, inits: number[], ms: number): Promise<void> {
  const gone = await waitFor(() => markerProcesses(marker).length === 0 && inits.every((p) => !exists(p)), ms);
  expect(gone, describeLeft(marker, inits)).to.equal(true);
}

describe('Container when its owner dies', function () {
  before(function () {
    needContainers(this);
  });

  let fixture: Fixture | undefined;
  let held: Held | undefined;

  afterEach(async function () {
    if (fixture) await killFixture(fixture, held?.nodePid);
    fixture = undefined;
    held = undefined;
  });

  async function start(mode: string, marker: string): Promise<Held> {
    fixture = runFixture('hold-container', [mode, `marker=${marker}`]);
    held = (await fixture.firstJson) as unknown as Held;
    expect(held.inits).to.have.length.at.least(1);
    return held;
  }

  it('should kill every process of the sandbox within 1 s of a SIGKILL to the Node process', async function () {
    const marker = sleepMarker();
    const { nodePid, inits } = await start('hold', marker);
    // Two containers, each: two background sleeps, an orphaned one, one in its own session.
    // ("ready" can come before the children have exec'd sleep)
    expect(await waitFor(() => markerProcesses(marker).length === 8, 2000), `payload processes before: ${markerProcesses(marker).length}`).to.equal(true);
    expect(inits.every(exists)).to.equal(true);
    process.kill(nodePid, 'SIGKILL');
    await sandboxGone(marker, inits, 1000);
    expect(await fixture!.exited).to.equal(128 + 9);
  });

  it('should kill every process of the sandbox when the Node process exits without destroy()', async function () {
    const marker = sleepMarker();
    const { nodePid, inits } = await start('exit', marker);
    expect(await waitFor(() => !exists(nodePid), 5000), 'the Node process exits').to.equal(true);
    await sandboxGone(marker, inits, 1000);
    expect(await fixture!.exited).to.equal(0);
  });

  it('should kill the containers of a worker_thread when the thread ends', async function () {
    const marker = sleepMarker();
    // The fixture's worker reports once its four payload processes run; the
    // main thread terminates it at once, so they may be gone by now.
    const { nodePid, inits } = await start('worker', marker);
    // The thread ends (terminate()); whatever else happens, its sandbox must go.
    await Promise.race([fixture!.line(/worker-exit/, 10_000).catch(() => ''), waitFor(() => !exists(nodePid), 10_000)]);
    await sandboxGone(marker, inits, 1000);
  });

  it('should keep the Node process alive when a worker_thread that owns a running container ends', async function () {
    // Observed: the process aborts in node::CheckedUvLoopClose ("uv_loop_close()
    // while having open handles"): the addon leaves the container's two
    // uv_poll handles open on the worker's loop (no environment cleanup hook).
    const marker = sleepMarker();
    const { inits } = await start('worker', marker);
    const code = await fixture!.exited;
    expect(fixture!.lines.some((l) => l.includes('still-alive')), `stdout ${JSON.stringify(fixture!.lines)}, stderr ${fixture!.stderr().slice(0, 400)}`).to.equal(true);
    expect(code).to.equal(0);
    await sandboxGone(marker, inits, 1000);
  });
});
