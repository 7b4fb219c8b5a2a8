/**
 * Quickstart: run untrusted code in a sandbox, under limits, and read the result.
 *
 *   sudo npm run example:quickstart        (creating namespaces needs root)
 *
 * Each Container.run() creates a container (own pid, mount, network, ipc, uts
 * and cgroup namespaces; the host root read-only; a private /tmp; user nobody;
 * no network), runs one command in it, collects its output and destroys it.
 */
import { Container, isIsolateError, type RunResult } from '../lib';

/** The RunResult fields most callers look at. */
function show(title: string, r: RunResult): void {
  console.log(`\n## ${title}`);
  const { status, exitCode, signal, stdout, stderr, wallTimeMs, cpuTimeMs, timedOut } = r;
  console.log({ status, exitCode, signal, stdout, stderr, wallTimeMs, cpuTimeMs, timedOut });
}

async function main(): Promise<void> {
  // 1. A program that reads its input from stdin.
  const sum = await Container.run(['python3', '-c', 'import sys; print(sum(int(x) for x in sys.stdin.read().split()))'], {
    input: '1 2 3 4\n',
    timeout: '2s', // wall clock, then the whole sandbox is killed
    maxOutput: '1M', // per stream, then the whole sandbox is killed
  });
  show('python3 sums its input', sum);

  // 2. What the sandbox looks like from inside.
  const inside = await Container.run(['sh', '-c', 'id; hostname; echo "pid $$, HOME=$HOME"; touch /etc/x; ls /sys/class/net'], {
    timeout: '2s',
  });
  show('a look around', inside);

  // 3. A failure mode: an endless loop is killed at the timeout.
  const loop = await Container.run(['sh', '-c', 'echo working; while :; do :; done'], { timeout: 500 });
  show('an endless loop, timeout 500 ms', loop);

  // 4. Quotas: the sandbox's own cgroup. A memory hog is OOM-killed inside it
  //    (status 'oom'); CPU time and peak memory are the whole sandbox's.
  const hog = await Container.run(['python3', '-c', 'x = bytearray(512 * 2**20)'], {
    cgroup: { memory: '64M', pids: 16, cpus: 0.5 },
    timeout: '5s',
  });
  show('a 512 MiB allocation under a 64 MiB cgroup', hog);
  console.log({ oomKilled: hog.oomKilled, limit: hog.limit, memoryPeakBytes: hog.memoryPeakBytes });

  // 5. A command that cannot start: status 'error', and `error` says why.
  const missing = await Container.run(['no-such-program'], { timeout: '2s' });
  show('a missing program', missing);
  console.log('error:', missing.error);

  // 6. Bad input rejects (or throws, from constructors) before anything is created.
  try {
    await Container.run(['true'], { timeout: '2 weeks' });
  } catch (err) {
    if (!isIsolateError(err)) throw err;
    console.log(`\n## a bad option\n${err.code} (option ${err.option}): ${err.message}`);
  }
}

main().catch((err: unknown) => {
  // e.g. ERR_PERMISSION when not run as root, ERR_NATIVE when the addon is not built.
  console.error(isIsolateError(err) ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
});
