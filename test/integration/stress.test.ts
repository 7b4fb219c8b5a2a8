/**
 * Many containers in a row and side by side: every one succeeds and nothing
 * accumulates — fds, child processes, host mounts, threads, /proc entries.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Container, type RunResult } from '../../lib';
import { native } from '../../lib/native';
import { needContainers } from '../helpers/caps';
import { childProcesses, hostMounts } from '../helpers/leaks';
import { waitFor } from '../fixtures/procs';

/**
 * Our open fds with what they point to. The addon keeps a small pool of
 * fresh network namespaces, each used once: those fds are replaced as
 * containers take them, so they count by kind, not by number.
 */
function fds(): string[] {
  return native()
    .openFds()
    .map((fd) => {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        target = '?';
      }
      return target.startsWith('net:') ? 'netns (pool)' : `${fd} ${target}`;
    })
    .sort();
}

/** Host /proc entries that descend from this process (any depth, zombies included). */
function descendants(): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        // the zygote is resident: one per Node process, not per container
        let comm = '';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          /* gone meanwhile */
        }
        if (comm !== 'isolate-kit-zyg') out.push(pid);
        break;
      }
    }
  }
  return out;
}

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

interface Snapshot {
  fds: string[];
  children: number[];
  descendants: number[];
  mounts: string[];
  threads: number;
}

function snapshot(): Snapshot {
  return { fds: fds(), children: childProcesses().sort(), descendants: descendants().sort(), mounts: hostMounts(), threads: threads() };
}

async function settled(before: Snapshot): Promise<Snapshot> {
  let now = snapshot();
  await waitFor(() => {
    now = snapshot();
    return JSON.stringify(now) === JSON.stringify(before);
  }, 2000);
  return now;
}

describe('Container under load', function () {
  this.timeout(120_000);

  before(async function () {
    needContainers(this);
    // Warm-up: the addon's process-wide fds (init memfd, /dev/null, own
    // pidfd) and its pool of prepared network namespaces exist from here on.
    for (let i = 0; i < 3; i++) await Container.run(['true']);
    await new Promise((r) => setTimeout(r, 100));
  });

  it('should run 1,000 containers one after another, leaving every count as it was', async function () {
    const before = snapshot();
    const bad: RunResult[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = await Container.run(['true']);
      if (r.status !== 'ok') bad.push(r);
    }
    expect(bad.map((r) => `${r.status} ${r.error?.message ?? ''}`)).to.deep.equal([]);
    const after = await settled(before);
    expect(after.fds, 'open fds').to.deep.equal(before.fds);
    expect(after.children, 'child processes').to.deep.equal(before.children);
    expect(after.descendants, '/proc entries of processes under us').to.deep.equal([]);
    expect(after.mounts, 'host mount table').to.deep.equal(before.mounts);
    expect(after.threads, 'threads of this process').to.equal(before.threads);
  });

  it('should run 50 containers with 8 in flight at once, each in its own namespaces', async function () {
    const before = snapshot();
    const results: RunResult[] = [];
    let next = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const worker = async () => {
      while (next < 50) {
        const i = next++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          results[i] = await Container.run(['sh', '-c', `echo $$ ${i}; hostname`], { timeout: 30_000 });
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(maxInFlight).to.equal(8);
    expect(results).to.have.length(50);
    results.forEach((r, i) => {
      expect(r.status, `run ${i}: ${r.error?.message ?? r.stderr}`).to.equal('ok');
      expect(r.stdout, `run ${i}`).to.equal(`2 ${i}\nisolate-kit\n`);
    });
    const after = await settled(before);
    expect(after.fds).to.deep.equal(before.fds);
    expect(after.children).to.deep.equal(before.children);
    expect(after.descendants).to.deep.equal([]);
    expect(after.mounts).to.deep.equal(before.mounts);
  });

  it('should keep 8 started containers apart while each runs several commands', async function () {
    const before = snapshot();
    const containers = Array.from({ length: 8 }, () => new Container());
    try {
      await Promise.all(containers.map((c) => c.start()));
      await Promise.all(containers.map((c, i) => c.run(['sh', '-c', `echo ${i} > /tmp/id`])));
      const seen = await Promise.all(
        containers.map(async (c) => {
          const out: string[] = [];
          for (let k = 0; k < 5; k++) out.push((await c.run(['cat', '/tmp/id'])).stdout.trim());
          return out;
        }),
      );
      seen.forEach((out, i) => expect(out).to.deep.equal(Array(5).fill(String(i))));
    } finally {
      await Promise.all(containers.map((c) => c.destroy()));
    }
    const after = await settled(before);
    expect(after.fds).to.deep.equal(before.fds);
    expect(after.descendants).to.deep.equal([]);
  });
});
