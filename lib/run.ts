/**
 * Container.run(): one command, its output collected under limits, one
 * result with the same fields whatever happened (execa's result shape).
 */
import { IsolateError, invalidOption } from './errors';
import type { ContainerProcess } from './process';
import { parseDuration, parseSize, type Duration, type Size } from './units';

/** How a run ended. */
export type RunStatus = 'ok' | 'nonzero' | 'signaled' | 'timeout' | 'output-limit' | 'oom' | 'error';

/** The limit that ended a run: wall-clock `timeout`, `cpuTime`, `maxOutput`, or the cgroup's memory. */
export type RunLimitHit = 'timeout' | 'cpuTime' | 'maxOutput' | 'memory';

export interface RunResult<Output extends string | Buffer = string> {
  /**
   * 'ok' exit 0; 'nonzero' other exit codes; 'signaled' killed by a signal;
   * 'timeout' the `timeout` passed and the sandbox was killed; 'output-limit'
   * stdout or stderr passed `maxOutput` and the sandbox was killed; 'oom'
   * it failed after the OOM killer ended a process in the sandbox's cgroup;
   * 'error' the command could not start (see `error`). 'timeout' covers
   * `cpuTime` too: `limit` says which.
   */
  status: RunStatus;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Output, decoded with `encoding` (a Buffer for 'buffer'), at most `maxOutput` bytes. */
  stdout: Output;
  stderr: Output;
  /**
   * The stream is not all there: it passed `maxOutput`, or a process other
   * than the command (one that outlived it, or one it passed the pipe to)
   * still held it open after the command exited, when the run ended
   * anyway: 250 ms after the sandbox ended, or at the run's `timeout`,
   * or 250 ms after the command's exit when a limit or an abort killed it.
   */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** From exec of the command to its exit. */
  wallTimeMs: number;
  /**
   * User + system CPU time. With a cgroup, for the container's main command:
   * every process in the sandbox (the cgroup's count); otherwise the command
   * and the descendants it waited for (getrusage). null if unknown.
   */
  cpuTimeMs: number | null;
  /**
   * Peak memory. With a cgroup, for the main command: the sandbox's peak
   * (memory.peak / max_usage_in_bytes, page cache included); otherwise the
   * peak RSS of the largest single process (getrusage). null if unknown.
   */
  memoryPeakBytes: number | null;
  /** The OOM killer ended a process in the sandbox's cgroup during the run (always false without a cgroup). */
  oomKilled: boolean;
  /** A wall-clock `timeout` or the `cpuTime` limit ended it (see `limit`). */
  timedOut: boolean;
  /** Which limit ended the run, or null. */
  limit: RunLimitHit | null;
  /** Why the command could not start, when status is 'error'. */
  error?: IsolateError;
  command: string[];
}

/** Limits and input of a run. */
export interface RunLimits {
  /** Wall-clock limit; the whole sandbox is killed when it passes (status 'timeout'). @default none */
  timeout?: Duration;
  /**
   * CPU-time limit on the sandbox's cgroup (every process in it, all CPUs
   * summed); past it the sandbox is killed (status 'timeout', limit
   * 'cpuTime'). Needs a cgroup: Container.run() makes one when none is given.
   * @default none
   */
  cpuTime?: Duration;
  /** Bytes kept per stream; past it the sandbox is killed (status 'output-limit'). @default '16M' */
  maxOutput?: Size;
  /** Written to stdin, which is then closed. @default stdin is /dev/null */
  input?: string | Buffer | Uint8Array;
  /** 'utf8' (default) and other Buffer encodings give strings; 'buffer' gives Buffers. */
  encoding?: BufferEncoding | 'buffer';
  /** Aborting kills the sandbox and rejects with ERR_ABORTED. */
  signal?: AbortSignal;
}

export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * How long a run still reads its output pipes once its command has exited
 * (or failed to start) and its sandbox has ended. What the command wrote is
 * in the pipes by then; whoever holds them open longer (a survivor without
 * a pid namespace, a process it passed the pipe to, in another container or
 * on the host) must not keep the run from settling.
 */
export const PIPE_GRACE_MS = 250;

export interface ResolvedLimits {
  timeout: number | undefined;
  cpuTime: number | undefined;
  maxOutput: number;
  input: Buffer | undefined;
  encoding: BufferEncoding | 'buffer';
  signal: AbortSignal | undefined;
}

export const RUN_LIMIT_KEYS = ['timeout', 'cpuTime', 'maxOutput', 'input', 'encoding', 'signal'] as const;

/** Validates the run limits. */
export function resolveLimits(o: RunLimits): ResolvedLimits {
  const timeout = o.timeout === undefined ? undefined : parseDuration('timeout', o.timeout);
  const cpuTime = o.cpuTime === undefined ? undefined : parseDuration('cpuTime', o.cpuTime);
  let maxOutput = DEFAULT_MAX_OUTPUT;
  if (o.maxOutput !== undefined) {
    maxOutput = (o.maxOutput as unknown) === Infinity ? Number.MAX_SAFE_INTEGER : parseSize('maxOutput', o.maxOutput);
  }
  let input: Buffer | undefined;
  if (o.input !== undefined) {
    if (typeof o.input === 'string') input = Buffer.from(o.input);
    else if (o.input instanceof Uint8Array) input = Buffer.from(o.input.buffer, o.input.byteOffset, o.input.byteLength);
    else throw invalidOption('input', 'a string, Buffer or Uint8Array', o.input);
  }
  const encoding = o.encoding ?? 'utf8';
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw invalidOption('encoding', "a Buffer encoding or 'buffer'", encoding);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', o.signal);
  return { timeout, cpuTime, maxOutput, input, encoding, signal: o.signal };
}

/** How a finished process's run ended, given which limit (if any) killed it. */
export function runStatus(proc: ContainerProcess, limit: RunLimitHit | null): RunStatus {
  if (proc.error) return 'error';
  if (limit === 'timeout' || limit === 'cpuTime') return 'timeout';
  if (limit === 'maxOutput') return 'output-limit';
  if (limit === 'memory') return 'oom';
  if (proc.signalCode) return 'signaled';
  return proc.exitCode === 0 ? 'ok' : 'nonzero';
}

/** What a cgroup tells a run (Container passes it when the sandbox has one). */
export interface RunMeter {
  /** CPU µs the sandbox has used so far. */
  cpuUsageUsec(): number;
  /** OOM kills in the sandbox so far. */
  oomKills(): number;
  /** The most CPUs the sandbox can use at once (bounds how fast cpuTime can pass); asked only with a cpuTime limit. */
  parallelism(): number;
}

/**
 * Calls `onExceeded` once the sandbox has used `budgetMs` of CPU time from
 * now. It cannot use CPU faster than `parallelism` CPUs, so it looks again
 * when the rest of the budget could at the earliest be spent, not on a tick.
 * Returns the function that stops it.
 */
export function watchCpuTime(meter: RunMeter, budgetMs: number, onExceeded: () => void): () => void {
  const base = meter.cpuUsageUsec();
  const cpus = meter.parallelism();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const used = (meter.cpuUsageUsec() - base) / 1000;
    if (used >= budgetMs) {
      timer = undefined;
      onExceeded();
      return;
    }
    timer = setTimeout(check, Math.max(1, (budgetMs - used) / cpus));
  };
  timer = setTimeout(check, Math.max(1, budgetMs / cpus));
  return () => clearTimeout(timer);
}

/**
 * A run's result given the sandbox's own figures, for a container's main
 * command: the cgroup's CPU time and peak, and 'oom' when the command failed
 * after an OOM kill.
 */
export function withCgroupFigures<T extends RunResult<string | Buffer>>(r: T, f: { cpuUsageUsec: number; memoryPeak: number | null; oomKills: number }): T {
  r.cpuTimeMs = round3(f.cpuUsageUsec / 1000);
  if (f.memoryPeak !== null) r.memoryPeakBytes = f.memoryPeak;
  if (f.oomKills > 0) {
    r.oomKilled = true;
    if (r.limit === null && (r.status === 'signaled' || r.status === 'nonzero')) {
      r.limit = 'memory';
      r.status = 'oom';
    }
  }
  return r;
}

/** Kills what a run started: the whole sandbox, or the process group of an exec'd command. */
export type RunKiller = () => void;

/**
 * Collects a started process into a RunResult under the limits.
 * `sandboxEnd`: for a command exec'd into a running container, its end; a
 * main command's sandbox ends with it.
 */
export function collect(proc: ContainerProcess, limits: ResolvedLimits, kill: RunKiller, meter?: RunMeter, sandboxEnd?: Promise<unknown>): Promise<RunResult<string | Buffer>> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const size = { stdout: 0, stderr: 0 };
    const truncated = { stdout: false, stderr: false };
    let limit: RunLimitHit | null = null;
    let aborted = false;
    const oomBase = meter ? meter.oomKills() : 0;
    let killed = false;
    const killOnce = () => {
      if (!killed) {
        killed = true;
        kill();
      }
    };

    const ended = { stdout: false, stderr: false };
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = proc[name];
      if (!stream) continue;
      stream.once('end', () => (ended[name] = true));
      stream.on('data', (chunk: Buffer) => {
        const room = limits.maxOutput - size[name];
        if (chunk.length > room) {
          if (room > 0) out[name].push(chunk.subarray(0, room));
          size[name] = limits.maxOutput;
          truncated[name] = true;
          limit ??= 'maxOutput';
          killOnce();
          return;
        }
        out[name].push(chunk);
        size[name] += chunk.length;
      });
    }
    if (proc.stdin) {
      if (limits.input && limits.input.length > 0) proc.stdin.end(limits.input);
      else proc.stdin.end();
    }

    const timer =
      limits.timeout === undefined
        ? undefined
        : setTimeout(() => {
            limit ??= 'timeout';
            killOnce();
          }, limits.timeout);
    const stopCpuWatch =
      limits.cpuTime !== undefined && meter
        ? watchCpuTime(meter, limits.cpuTime, () => {
            limit ??= 'cpuTime';
            killOnce();
          })
        : undefined;
    const onAbort = () => {
      aborted = true;
      killOnce();
      // The command is gone already: whoever still holds its pipes is not waited for.
      if (exited) cutAfter(PIPE_GRACE_MS);
    };
    limits.signal?.addEventListener('abort', onAbort, { once: true });

    // Once the command has exited (init's report), the limits have nothing
    // left to end: a timeout passing while the pipes are still held would
    // call a command that exited in time 'timeout'. Whoever else holds the
    // pipes is read for as long as the run may last: until the sandbox has
    // ended (then PIPE_GRACE_MS more), and no longer than its timeout, nor
    // than PIPE_GRACE_MS after the exit of a command a limit killed. Then
    // they are no longer read (one more poll first, so that what is already
    // in them is read even if the timer came late), and a stream cut so is
    // marked truncated.
    const cuts: NodeJS.Timeout[] = [];
    let closed = false;
    const cutAfter = (ms: number) => {
      if (closed) return;
      cuts.push(
        setTimeout(() => {
          setImmediate(() => {
            for (const name of ['stdout', 'stderr'] as const) {
              const stream = proc[name];
              if (!stream || stream.destroyed || ended[name]) continue;
              truncated[name] = true;
              stream.destroy();
            }
          });
        }, ms),
      );
    };
    let exited = false;
    const onEnded = () => {
      if (exited) return;
      exited = true;
      if (timer) clearTimeout(timer);
      stopCpuWatch?.();
      // Killed for a limit or an abort, the run is over: a process that
      // escaped the kill (orphaned, in a session of its own) and holds the
      // pipes is not waited for, in a container that may run on for hours.
      if (!sandboxEnd || aborted || limit !== null) return cutAfter(PIPE_GRACE_MS);
      if (limits.timeout !== undefined) cutAfter(Math.max(0, startedAt + limits.timeout - performance.now()));
      const ends = () => cutAfter(PIPE_GRACE_MS);
      sandboxEnd.then(ends, ends);
    };
    if (proc._ended) onEnded();
    else {
      proc.once('exit', onEnded);
      proc.once('error', onEnded);
    }

    proc.once('close', () => {
      if (timer) clearTimeout(timer);
      closed = true;
      for (const t of cuts) clearTimeout(t);
      stopCpuWatch?.();
      limits.signal?.removeEventListener('abort', onAbort);
      if (aborted) {
        reject(
          new IsolateError('ERR_ABORTED', `Run of \`${proc.command.join(' ')}\` was aborted`, {
            cause: limits.signal?.reason,
          }),
        );
        return;
      }
      const decode = (name: 'stdout' | 'stderr') => {
        const b = Buffer.concat(out[name]);
        return limits.encoding === 'buffer' ? b : b.toString(limits.encoding);
      };
      const err = proc.error;
      const oomKilled = meter ? meter.oomKills() > oomBase : false;
      if (oomKilled && limit === null && !proc.error && (proc.signalCode || proc.exitCode !== 0)) limit = 'memory';
      const status = runStatus(proc, limit);
      const u = proc.usage;
      const result: RunResult<string | Buffer> = {
        status,
        exitCode: proc.exitCode,
        signal: proc.signalCode,
        stdout: decode('stdout'),
        stderr: decode('stderr'),
        stdoutTruncated: truncated.stdout,
        stderrTruncated: truncated.stderr,
        wallTimeMs:
          proc.spawnedAt !== undefined && proc.exitedAt !== undefined ? round3(proc.exitedAt - proc.spawnedAt) : 0,
        cpuTimeMs: u ? round3(u.cpuTimeMs) : null,
        memoryPeakBytes: u ? u.maxRssBytes : null,
        oomKilled,
        timedOut: limit === 'timeout' || limit === 'cpuTime',
        limit,
        command: [...proc.command],
      };
      if (err) result.error = err;
      resolve(result);
    });
  });
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
