/**
 * listContainers() and `isolate-kit ps`: real containers, found from /proc
 * as another process sees them; a payload that passes itself off as a
 * container, or writes escape sequences into its command line, changes
 * nothing but its own row.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Container, listContainers, type ContainerInfo } from '../../lib';
import { needCgroups, needContainers } from '../helpers/caps';
import { waitFor } from '../fixtures/procs';

/** Runs python3 again from a memfd named `isolate-kit-init`, as `spoof`, and names itself `isolate-kit-ini`. */
const SPOOF = `
import os, sys
fd = os.memfd_create('isolate-kit-init', 0)
with open(sys.executable, 'rb') as f:
    os.write(fd, f.read())
os.execv('/proc/self/fd/%d' % fd, ['spoof', '-c', 'open("/proc/self/comm", "w").write("isolate-kit-ini"); import time; time.sleep(100)'])
`;

/** The one child of `pid`. */
function childOf(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  expect(kids).to.have.length(1);
  return Number(kids[0]);
}

const MAIN = join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

function cli(args: string[], as?: { uid: number; gid: number }): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: '/', ...as });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function listed(pid: number): ContainerInfo | undefined {
  return listContainers().find((c) => c.pid === pid);
}

/** Waits until the container has `processes` and its main process has exec'd `argv0` (before, it shows init's command line). */
async function running(c: Container, processes: number, argv0 = 'sh'): Promise<ContainerInfo> {
  let info: ContainerInfo | undefined;
  const ok = await waitFor(() => {
    info = listed(c.pid!);
    return info?.processes === processes && info.command?.[0] === argv0;
  }, 10_000);
  expect(ok, `container ${c.pid} with ${processes} processes: ${JSON.stringify(info)}`).to.equal(true);
  return info!;
}

describe('listContainers() and isolate-kit ps', function () {
  this.timeout(60_000);
  before(function () {
    needContainers(this);
  });

  it('should list a running container: its init, owner, processes, namespaces, own group and memory', async function () {
    needCgroups(this);
    const before = Date.now();
    const c = new Container({ cgroup: { memory: '64M' } });
    c.spawn(['sh', '-c', 'sleep 100 & wait']);
    try {
      const info = await running(c, 3);
      expect(info.owner.pid).to.equal(process.pid);
      expect(info.owner.command).to.deep.equal(readFileSync('/proc/self/cmdline', 'utf8').replace(/\0$/, '').split('\0'));
      expect(info.command).to.deep.equal(['sh', '-c', 'sleep 100 & wait']);
      expect(info.namespaces).to.deep.equal(['pid', 'net', 'ipc', 'mnt', 'uts', 'cgroup']);
      expect(c.cgroup!.paths).to.include(info.cgroup);
      expect(info.memoryBytes).to.be.a('number').and.above(0);
      // Clock ticks: within a tick (10 ms) and the rounding of boot time (1 s).
      expect(info.startedAt.getTime()).to.be.within(before - 1100, Date.now() + 10);
    } finally {
      await c.destroy();
    }
    expect(listed(c.pid!)).to.equal(undefined);
  });

  it('should list one without a pid namespace or a group of its own, counting what its payload forked', async function () {
    const c = new Container({ namespaces: ['mnt', 'uts'] });
    c.spawn(['sh', '-c', 'sleep 100 & sleep 100 & wait']);
    try {
      const info = await running(c, 4);
      expect(info.namespaces).to.deep.equal(['mnt', 'uts']);
      expect(info.cgroup).to.equal(null);
      expect(info.memoryBytes).to.equal(null);
    } finally {
      await c.destroy();
    }
  });

  it('should list a container started empty with no command, and one per container', async function () {
    const a = new Container();
    const b = new Container();
    await a.start();
    await b.start();
    try {
      const mine = listContainers().filter((x) => x.owner.pid === process.pid);
      expect(mine.map((x) => x.pid)).to.have.members([a.pid, b.pid]);
      for (const x of mine) {
        expect(x.command).to.equal(null);
        expect(x.processes).to.equal(1);
      }
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });

  it('should not take a payload that passes for init, nor a host process named so, for a container', async function () {
    // Inside: a copy of python3 run from a memfd named as init's, renamed
    // as init names itself: all a name and a program can tell, it is an
    // init; but it has a container's init above it: one of that one's.
    const c = new Container();
    c.spawn(['python3', '-c', SPOOF]);
    // Outside: the name only.
    const host = spawn('sh', ['-c', 'printf isolate-kit-ini > /proc/self/comm; sleep 100; :'], { stdio: 'ignore' });
    const hostGone = new Promise((r) => host.once('exit', r));
    try {
      const info = await running(c, 2, 'spoof');
      const spoof = childOf(c.pid!);
      expect(await waitFor(() => readComm(spoof) === 'isolate-kit-ini', 10_000)).to.equal(true);
      expect(readlinkSync(`/proc/${spoof}/exe`)).to.match(/^\/memfd:isolate-kit-init/);
      expect(await waitFor(() => readComm(host.pid!) === 'isolate-kit-ini', 10_000)).to.equal(true);
      const pids = listContainers().map((x) => x.pid);
      expect(pids).to.include(c.pid);
      expect(pids).to.not.include(spoof);
      expect(pids).to.not.include(host.pid);
      expect(info.processes).to.equal(2);
    } finally {
      host.kill('SIGKILL');
      await hostGone;
      await c.destroy();
    }
  });

  it('should print a row per container, its command escaped, and JSON with --json', async function () {
    const hostile = '\u001b]0;owned\u0007\u001b[2J\u202e';
    const c = new Container();
    c.spawn(['sh', '-c', 'sleep 100; exit', hostile]);
    try {
      await running(c, 3);
      const r = cli(['ps']);
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^PID +OWNER +UP +PROCS +MEMORY +NAMESPACES +COMMAND$/);
      const row = lines.find((l) => l.startsWith(`${c.pid} `));
      expect(row, r.stdout).to.be.a('string');
      expect(row).to.match(new RegExp(`^${c.pid} +${process.pid} +\\d+s +3 +- +pid,net,ipc,mnt,uts,cgroup +sh -c 'sleep 100; exit' `));
      expect(row).to.include("'\\x1b]0;owned\\x07\\x1b[2J\\u202e'");
      // Nothing a terminal would act on, anywhere in the output.
      expect(r.stdout).to.not.match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      const json = cli(['ps', '--json']);
      expect(json.code, json.stderr).to.equal(0);
      const list = JSON.parse(json.stdout) as { pid: number; command: string[]; startedAt: string }[];
      const mine = list.find((x) => x.pid === c.pid)!;
      expect(mine.command).to.deep.equal(['sh', '-c', 'sleep 100; exit', hostile]);
      expect(new Date(mine.startedAt).toISOString()).to.equal(mine.startedAt);
    } finally {
      await c.destroy();
    }
  });

  it('should list root\'s containers to an unprivileged user, as far as it may look', async function () {
    const c = new Container();
    c.spawn(['sleep', '100']);
    try {
      await running(c, 2, 'sleep');
      const r = cli(['ps', '--json'], { uid: 65534, gid: 65534 });
      expect(r.code, r.stderr).to.equal(0);
      const mine = (JSON.parse(r.stdout) as ContainerInfo[]).find((x) => x.pid === c.pid);
      expect(mine, r.stdout).to.not.equal(undefined);
      expect(mine!.command).to.deep.equal(['sleep', '100']);
      // init is not dumpable: another user may not read its namespaces.
      expect(mine!.namespaces).to.equal(null);
      expect(cli(['ps'], { uid: 65534, gid: 65534 }).stdout).to.match(new RegExp(`^${c.pid} .* \\? +sleep 100$`, 'm'));
    } finally {
      await c.destroy();
    }
  });

  it('should refuse arguments and show its help', function () {
    const bad = cli(['ps', 'all']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^isolate-kit: ps takes no arguments, got "all"\nUsage: isolate-kit ps/);
    expect(cli(['ps', '--all']).code).to.equal(2);
    const help = cli(['help', 'ps']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: isolate-kit ps \[--json\]/);
    expect(cli(['--help']).stdout).to.include('ps [--json]');
  });
});

function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
