/**
 * Quotas on a long-lived sandbox, watched and steered from Node: a spinner
 * under half a CPU, stats() while it works, pause() and resume(), a memory
 * hog killed by the OOM killer (the 'oom' event, status 'oom'), the limit
 * raised live with update() so the same program then fits, and a fork bomb
 * stopped at its pids limit.
 *
 *   sudo npm run example:quotas        (creating namespaces and cgroups needs root)
 *
 * The same calls work on cgroup v2 and on v1/hybrid hosts (CGroup.version()
 * says which this is); docs/cgroups.md has what each limit means on each.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CGroup, Container } from '../lib';

const MiB = 1024 * 1024;

/** A program that allocates and touches `mib` MiB, then says so. */
const hog = (mib: number) => ['python3', '-c', `b = bytearray(${mib} << 20); print('got ${mib} MiB')`];

/** Forks children that sleep until one fork fails, and says how many it got. */
const FORK_BOMB = `
import os, time
n = 0
try:
    for _ in range(100):
        if os.fork() == 0:
            time.sleep(10)
            os._exit(0)
        n += 1
except OSError as e:
    print(f'started {n} children, then fork(): {e.strerror}')
`;

async function main(): Promise<void> {
  console.log(`cgroup v${CGroup.version()} host`);
  await using c = new Container({ cgroup: { memory: '48M', cpus: 0.5, pids: 32 } });
  c.on('oom', (kills) => console.log(`  event 'oom': the OOM killer ended a process (${kills} so far)`));
  await c.start();

  // 1. A spinner gets half a CPU: usage grows at ~0.5 s per second; the rest is throttled.
  const spinner = c.exec(['sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
  const before = c.stats().cpu.usageUsec;
  await sleep(1000);
  const used = (c.stats().cpu.usageUsec - before) / 1e6;
  console.log(`\n## cpus: 0.5\n  a spinner used ${used.toFixed(2)} s of CPU in 1 s (throttled for ${((c.stats().cpu.throttledUsec ?? 0) / 1e6).toFixed(2)} s so far)`);

  // 2. Frozen, it uses none; thawed, it goes on.
  await c.pause();
  const frozenAt = c.stats().cpu.usageUsec;
  await sleep(300);
  console.log(`\n## pause()\n  state ${c.state}; CPU used while paused: ${c.stats().cpu.usageUsec - frozenAt} µs`);
  c.resume();
  console.log(`  resume(): state ${c.state}`);
  spinner.kill();

  // 3. 64 MiB does not fit in 48M: the kernel's OOM killer ends it.
  console.log('\n## memory: 48M, a program that wants 64 MiB');
  const heard = new Promise((resolve) => c.once('oom', resolve));
  const oom = await c.run(hog(64), { timeout: '10s' });
  await Promise.race([heard, sleep(2000)]); // the event may come a moment after the run's end
  console.log(`  status ${oom.status}, oomKilled ${oom.oomKilled}, signal ${oom.signal}`);

  // 4. Raised live: the same program now fits.
  c.update({ memory: '128M' });
  const fits = await c.run(hog(64), { timeout: '10s' });
  console.log(`\n## update({ memory: '128M' }), the same program\n  status ${fits.status}: ${fits.stdout.trim()}; limit now ${Number(c.cgroup!.limits.memory?.max) / MiB} MiB`);

  // 5. A fork bomb stops at pids: 32 (its children are killed with it when the run ends).
  const bomb = await c.run(['python3', '-c', FORK_BOMB], { timeout: '10s' });
  console.log(`\n## pids: 32, a program that forks 100 children\n  ${bomb.stdout.trim()} (pids peak ${c.stats().pids?.peak ?? 'n/a'})`);

  const s = c.stats();
  console.log(`\n## final stats()\n  cpu ${(s.cpu.usageUsec / 1e6).toFixed(2)} s, memory peak ${s.memory.peak === null ? 'n/a' : `${Math.round(s.memory.peak / MiB)} MiB`}, OOM kills ${s.memory.oomKills}`);
} // `await using`: the container is destroyed here, its cgroup removed

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
