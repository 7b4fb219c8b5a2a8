/**
 * The examples are documentation: each must run as shipped and say what
 * its comments promise. Run as a user runs them (a child Node process on
 * the compiled file), so a change to the API that breaks one fails here.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { needCgroups } from '../helpers/caps';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

/** Runs examples/<name>.js to its end; its exit code and output. */
function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(EXAMPLES, `${name}.js`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples/', function () {
  this.timeout(120_000);

  before(function () {
    needCgroups(this); // judge.ts, quickstart.ts and quotas.ts set limits
  });

  it('quickstart: a run, a look around, a timeout and a bad option', async function () {
    const r = await runExample('quickstart');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("stdout: '10\\n'");
    expect(r.stdout).to.include('uid=65534(nobody)');
    expect(r.stdout).to.match(/status: 'timeout'[\s\S]*timedOut: true/);
    expect(r.stdout).to.include('ERR_INVALID_OPTION (option timeout)');
  });

  it('judge: every verdict it demonstrates', async function () {
    const r = await runExample('judge');
    expect(r.code, r.stderr).to.equal(0);
    for (const verdict of ['=> AC: 4/4 passed', '=> WA: 1/4', '=> TLE: 3/4', '=> RE (exit 1): 3/4', '=> RE (SIGSEGV): 0/4', '=> OLE: 1/4', '=> MLE (peak', '=> SE (ERR_EXEC_FAILED): 0/4']) {
      expect(r.stdout).to.include(verdict);
    }
  });

  it('quotas: a CPU share, pause, an OOM kill and its event, a limit raised live, a fork bomb stopped', async function () {
    const r = await runExample('quotas');
    expect(r.code, r.stderr).to.equal(0);
    const used = Number(/a spinner used ([\d.]+) s of CPU in 1 s/.exec(r.stdout)?.[1]);
    expect(used, r.stdout).to.be.within(0.3, 0.75);
    expect(r.stdout).to.include('CPU used while paused: 0 µs');
    expect(r.stdout).to.include('status oom, oomKilled true');
    // The event comes while the run is still being wound up, before the next section.
    expect(r.stdout).to.match(/## memory: 48M[^#]*event 'oom'[^\n]*\(1 so far\)[^#]*## update/);
    expect(r.stdout).to.include('status ok: got 64 MiB; limit now 128 MiB');
    expect(r.stdout).to.match(/started \d+ children, then fork\(\): Resource temporarily unavailable \(pids peak 32\)/);
  });

  it('images: an image from a directory, a commit, an export', async function () {
    const r = await runExample('images');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('hello from a commit');
    expect(r.stdout).to.match(/diff: .*C \/motd/);
    expect(r.stdout).to.match(/exported .*example-2\.tar/);
  });
});
