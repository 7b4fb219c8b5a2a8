/**
 * `isolate-kit run`: one container, one command, the command's status as
 * ours. Output streams live (nothing buffered, nothing re-encoded): to a
 * terminal through the inherited fd, otherwise through pipes of the
 * command's own that we copy out (see runStreaming); --json collects it.
 * Cgroup options give the container its own cgroup, which --cpu-time and the
 * 'oom' status read.
 */
import { existsSync } from 'node:fs';
import { Container, type StdioOption } from '../container';
import type { ContainerProcess } from '../process';
import { collect, resolveLimits, runStatus, watchCpuTime, withCgroupFigures, type RunLimitHit, type RunResult } from '../run';
import { UsageError, hasFlag, parseArgs } from './args';
import { finalStats } from './cgroup-meter';
import { EXIT, exitStatus, failedResultJson, resultJson, type Outcome } from './exit';
import { RUN_USAGE } from './help';
import { IsolateError } from '../errors';
import type { Image } from '../image/image';
import { ImageStore } from '../image/store';
import { RUN_OPTIONS, containerOptions, describeError, planRun, type RunPlan } from './run-options';

/** Signals a terminal or a supervisor sends to stop us; each one goes to the container instead. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Forwards our signals to every process in the container, so Ctrl-C or a
 * supervisor's SIGTERM reach the payload (which runs in its own session and
 * never sees the terminal's signals) and we still outlive it to clean up.
 * The first signal is the payload's to handle; a second one kills the
 * container. Returns the function that stops forwarding.
 */
function forwardSignals(container: Container): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    container.kill(received === 1 ? signal : 'SIGKILL');
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  return () => {
    for (const s of FORWARDED) process.off(s, onSignal);
  };
}

/** Copies a pipe to our stream, killing the container once more than `max` bytes came. */
function forwardCapped(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, max: number, onLimit: () => void): void {
  let seen = 0;
  from.on('data', (chunk: Buffer) => {
    const room = max - seen;
    if (chunk.length > room) {
      if (room > 0) to.write(chunk.subarray(0, room));
      seen = max;
      onLimit();
      return;
    }
    seen += chunk.length;
    to.write(chunk);
  });
}

/**
 * --image: an existing path is an archive or layout to import (it must hold
 * one image); anything else names an image already in the store.
 */
async function runImage(ref: string, storeRoot: string | undefined): Promise<Image> {
  const store = storeRoot === undefined ? ImageStore.default() : new ImageStore({ root: storeRoot });
  if (!existsSync(ref)) return store.image(ref);
  const images = await store.importImage(ref);
  if (images.length !== 1) {
    throw new IsolateError('ERR_INVALID_OPTION', `${ref} holds ${images.length} images; import it with \`isolate-kit image import\` and name one`, { option: 'image' });
  }
  return images[0]!;
}

/**
 * Streams the payload's output live and waits for its end. A terminal is
 * passed as it is. A pipe or file of ours is not: the command gets pipes of
 * its own, which it may reopen by name (`/dev/stdout`) as any user, and we
 * copy them out (writes to pipes and files are synchronous in Node: the
 * command waits for our reader, nothing piles up here). Ours, handed over,
 * could not be reopened by another user (init leaves a caller's fd as it
 * is: docs/security.md), and --max-output must count what goes by.
 */
function runStreaming(container: Container, plan: RunPlan): Promise<Outcome> {
  const max = plan.maxOutput ?? Infinity;
  const through = (tty: boolean | undefined): StdioOption => (plan.maxOutput === undefined && tty ? 'inherit' : 'pipe');
  const proc: ContainerProcess = container.spawn(plan.command, {
    stdio: [plan.interactive ? 'inherit' : 'ignore', through(process.stdout.isTTY), through(process.stderr.isTTY)],
  });
  const meter = container._runMeter();
  return new Promise((resolve) => {
    // The first limit to fire is the one reported; the kill is the same for all.
    let limit: RunLimitHit | null = null;
    let killed = false;
    const kill = (hit: RunLimitHit) => {
      limit ??= hit;
      if (!killed) {
        killed = true;
        container.kill('SIGKILL');
      }
    };
    if (proc.stdout) forwardCapped(proc.stdout, process.stdout, max, () => kill('maxOutput'));
    if (proc.stderr) forwardCapped(proc.stderr, process.stderr, max, () => kill('maxOutput'));
    const timer = plan.timeoutMs === undefined ? undefined : setTimeout(() => kill('timeout'), plan.timeoutMs);
    // planRun() gives the container a cgroup whenever --cpu-time is given, so the meter is there.
    const stopCpuWatch = plan.cpuTimeMs !== undefined && meter ? watchCpuTime(meter, plan.cpuTimeMs, () => kill('cpuTime')) : undefined;
    // The error is read from proc.error at 'close'; this listener only marks it handled.
    proc.on('error', () => {});
    proc.once('close', () => {
      if (timer) clearTimeout(timer);
      stopCpuWatch?.();
      const status = runStatus(proc, limit);
      resolve({ status, limit, exitCode: proc.exitCode, signal: proc.signalCode, error: proc.error });
    });
  });
}

/**
 * The outcome once the container has stopped: 'oom' when the command failed
 * after the OOM killer ended a process in its cgroup (as Container.run()
 * reports it; the exit status stays the command's own, as docker's does).
 */
async function withOom(container: Container, o: Outcome): Promise<Outcome> {
  if (!container.cgroup) return o;
  await container.destroy(); // the main process is gone; this waits for the cgroup's final figures
  const oomKills = finalStats(container)?.memory.oomKills ?? 0;
  if (oomKills > 0 && o.limit === null && (o.status === 'signaled' || o.status === 'nonzero')) return { ...o, status: 'oom', limit: 'memory' };
  return o;
}

/** Collects the payload's output into a RunResult, as Container.run() does, but with our stdin when -i. */
async function runJson(container: Container, plan: RunPlan): Promise<RunResult<string>> {
  const limits = resolveLimits({ timeout: plan.timeoutMs, cpuTime: plan.cpuTimeMs, maxOutput: plan.maxOutput });
  const proc = container.spawn(plan.command, { stdio: [plan.interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
  const result = (await collect(proc, limits, () => container.kill('SIGKILL'), container._runMeter())) as RunResult<string>;
  // As Container.run() does for a main process: once the container has
  // stopped, CPU time, peak memory and OOM kills come from its cgroup
  // (every process in the sandbox, not only the command).
  await container.destroy();
  const f = finalStats(container);
  return f ? withCgroupFigures(result, { cpuUsageUsec: f.cpu.usageUsec, memoryPeak: f.memory.peak, oomKills: f.memory.oomKills }) : result;
}

function say(message: string): void {
  process.stderr.write(`isolate-kit: ${message}\n`);
}

/** Why the command ended early, for a human reading the terminal. */
function limitMessage(o: Outcome, plan: RunPlan): string | undefined {
  switch (o.limit) {
    case 'timeout':
      return `the --timeout of ${plan.timeoutMs} ms passed; the container was killed`;
    case 'cpuTime':
      return `the container used up its CPU time (${plan.limitArgs.cpuTime}); it was killed`;
    case 'maxOutput':
      return `the output passed --max-output (${plan.maxOutput} bytes); the container was killed`;
    case 'memory': {
      const given = plan.limitArgs.memory ? ` (${plan.limitArgs.memory})` : '';
      return `the container ran out of memory${given}; the OOM killer ended a process in it and the command failed`;
    }
    default:
      return undefined;
  }
}

/** `isolate-kit run ARGS`; resolves with the exit status. Throws UsageError for a malformed command line. */
export async function runCommand(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args, RUN_OPTIONS, { stopAtOperand: true, topic: 'run' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(RUN_USAGE);
    return EXIT.OK;
  }
  const json = hasFlag(parsed, 'json');
  let plan: RunPlan | undefined;
  const fail = (err: unknown): number => {
    say(describeError(err, plan?.attribute));
    if (json) process.stdout.write(`${JSON.stringify(failedResultJson(parsed.operands, err))}\n`);
    return exitStatus({ status: 'error', exitCode: null, signal: null, limit: null, error: err as Outcome['error'] });
  };

  let container: Container;
  try {
    plan = planRun(parsed, process.env);
    const options = containerOptions(plan);
    if (plan.image !== undefined) {
      const image = await runImage(plan.image, plan.store);
      options.image = image;
      if (plan.upperSize !== undefined) options.rootfs = image.stack({ upperSize: plan.upperSize });
    }
    container = new Container(options);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return fail(err);
  }

  const stopForwarding = forwardSignals(container);
  try {
    if (json) {
      const result = await runJson(container, plan);
      const why = result.error ? describeError(result.error, plan.attribute) : limitMessage(result, plan);
      if (why) say(why);
      process.stdout.write(`${JSON.stringify(resultJson(result))}\n`);
      return exitStatus(result);
    }
    const outcome = await withOom(container, await runStreaming(container, plan));
    const why = outcome.error ? describeError(outcome.error, plan.attribute) : limitMessage(outcome, plan);
    if (why) say(why);
    return exitStatus(outcome);
  } catch (err) {
    // spawn() threw: a process option was rejected, or the clone itself failed.
    return fail(err);
  } finally {
    // Never leave a container behind, whatever happened above.
    await container.destroy();
    stopForwarding();
  }
}
