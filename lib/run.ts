/**
 * Container.run(): one command, its output collected under limits, one
 * result with the same fields whatever happened (execa's result shape).
 */
import { IsolateError, invalidOption } from './errors';
import type { ContainerProcess } from './process';
import { parseDuration, parseSize, type Duration, type Size } from './units';

/** How a run ended. */
export type RunStatus = 'ok' | 'nonzero' | 'signaled' | 'timeout' | 'output-limit' | 'error';

export interface RunResult<Output extends string | Buffer = string> {
  /**
   * 'ok' exit 0; 'nonzero' other exit codes; 'signaled' killed by a signal;
   * 'timeout' the `timeout` passed and the sandbox was killed; 'output-limit'
   * stdout or stderr passed `maxOutput` and the sandbox was killed; 'error'
   * the command could not start (see `error`).
   */
  status: RunStatus;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Output, decoded with `encoding` (a Buffer for 'buffer'), at most `maxOutput` bytes. */
  stdout: Output;
  stderr: Output;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** From exec of the command to its exit. */
  wallTimeMs: number;
  /** User + system CPU of the command and the descendants it waited for; null if unknown. */
  cpuTimeMs: number | null;
  /** Peak RSS of the largest single process (getrusage); null if unknown. */
  memoryPeakBytes: number | null;
  /** Killed for memory (needs a cgroup memory limit; always false without one). */
  oomKilled: boolean;
  timedOut: boolean;
  /** Why the command could not start, when status is 'error'. */
  error?: IsolateError;
  command: string[];
}

/** Limits and input of a run. */
export interface RunLimits {
  /** Wall-clock limit; the whole sandbox is killed when it passes (status 'timeout'). @default none */
  timeout?: Duration;
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

export interface ResolvedLimits {
  timeout: number | undefined;
  maxOutput: number;
  input: Buffer | undefined;
  encoding: BufferEncoding | 'buffer';
  signal: AbortSignal | undefined;
}

export const RUN_LIMIT_KEYS = ['timeout', 'maxOutput', 'input', 'encoding', 'signal'] as const;

/** Validates the run limits. */
export function resolveLimits(o: RunLimits): ResolvedLimits {
  const timeout = o.timeout === undefined ? undefined : parseDuration('timeout', o.timeout);
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
  return { timeout, maxOutput, input, encoding, signal: o.signal };
}

/** How a finished process's run ended, given which limit (if any) killed it. */
export function runStatus(proc: ContainerProcess, timedOut: boolean, outputLimit: boolean): RunStatus {
  if (proc.error) return 'error';
  if (timedOut) return 'timeout';
  if (outputLimit) return 'output-limit';
  if (proc.signalCode) return 'signaled';
  return proc.exitCode === 0 ? 'ok' : 'nonzero';
}

/** Kills what a run started: the whole sandbox, or the process group of an exec'd command. */
export type RunKiller = () => void;

/** Collects a started process into a RunResult under the limits. */
export function collect(proc: ContainerProcess, limits: ResolvedLimits, kill: RunKiller): Promise<RunResult<string | Buffer>> {
  return new Promise((resolve, reject) => {
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const size = { stdout: 0, stderr: 0 };
    const truncated = { stdout: false, stderr: false };
    let timedOut = false;
    let outputLimit = false;
    let aborted = false;
    let killed = false;
    const killOnce = () => {
      if (!killed) {
        killed = true;
        kill();
      }
    };

    for (const name of ['stdout', 'stderr'] as const) {
      const stream = proc[name];
      if (!stream) continue;
      stream.on('data', (chunk: Buffer) => {
        const room = limits.maxOutput - size[name];
        if (chunk.length > room) {
          if (room > 0) out[name].push(chunk.subarray(0, room));
          size[name] = limits.maxOutput;
          truncated[name] = true;
          if (!outputLimit && !timedOut) outputLimit = true;
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
            if (!outputLimit) timedOut = true;
            killOnce();
          }, limits.timeout);
    const onAbort = () => {
      aborted = true;
      killOnce();
    };
    limits.signal?.addEventListener('abort', onAbort, { once: true });

    proc.once('close', () => {
      if (timer) clearTimeout(timer);
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
      const status = runStatus(proc, timedOut, outputLimit);
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
        oomKilled: false,
        timedOut,
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
