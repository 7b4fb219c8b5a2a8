/**
 * Exit statuses of the CLI. They follow timeout(1) and docker run, so
 * scripts written for those read ours the same way; docs/cli.md has the table.
 */
import { constants } from 'node:os';
import { isIsolateError, type IsolateError, type IsolateErrorJson } from '../errors';
import type { RunLimitHit, RunResult, RunStatus } from '../run';

export const EXIT = {
  OK: 0,
  /** probe: the addon cannot load. */
  FAILURE: 1,
  /** The command line is malformed (unknown command or option, missing value). */
  USAGE: 2,
  /** --timeout or --cpu-time passed, or --max-output was exceeded; the container was killed. */
  LIMIT: 124,
  /** isolate-kit itself failed: an option value was rejected or is not supported yet, or setup failed. */
  ISOLATE: 125,
  /** The command exists but cannot be executed (EACCES, ENOEXEC, ...). */
  CANNOT_EXECUTE: 126,
  /** The command was not found. */
  NOT_FOUND: 127,
  /** Killed by signal n: 128 + n, as shells report it. */
  SIGNAL_BASE: 128,
} as const;

/** The part of a RunResult that decides the exit status. */
export interface Outcome {
  status: RunStatus;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The limit that ended it: tells --timeout from --cpu-time (both 'timeout'), for the message. */
  limit: RunLimitHit | null;
  error?: IsolateError | undefined;
}

/** Exit status for an error that stopped the command from running. */
export function errorExitStatus(err: unknown): number {
  const e = err as Partial<IsolateError> | undefined;
  if (e?.code !== 'ERR_EXEC_FAILED') return EXIT.ISOLATE;
  // Not found anywhere on the way to the file: 127, as a shell says; found but refused: 126.
  return e.errnoCode === 'ENOENT' || e.errnoCode === 'ENOTDIR' ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
}

/** The payload's status as the CLI's exit status. */
export function exitStatus(o: Outcome): number {
  switch (o.status) {
    case 'ok':
    case 'nonzero':
      return o.exitCode ?? EXIT.ISOLATE;
    // Out of memory: the payload's own status, as docker run reports it (137 for the OOM killer's SIGKILL).
    case 'oom':
    case 'signaled': {
      if (o.signal === null) return o.exitCode ?? EXIT.ISOLATE;
      const n = (constants.signals as Record<string, number>)[o.signal];
      return n === undefined ? EXIT.ISOLATE : EXIT.SIGNAL_BASE + n;
    }
    case 'timeout':
    case 'output-limit':
      return EXIT.LIMIT;
    case 'error':
      return errorExitStatus(o.error);
  }
}

/** An error as --json prints it: an IsolateError's own JSON, or the code ERR_INTERNAL for anything else. */
export type ErrorJson = Omit<IsolateErrorJson, 'name' | 'code'> & { code: string };

export function errorJson(err: unknown): ErrorJson {
  if (isIsolateError(err)) {
    const { name: _name, ...rest } = err.toJSON();
    return rest;
  }
  return { code: 'ERR_INTERNAL', message: String((err as Error)?.message ?? err) };
}

/** A RunResult as printed by --json: the same fields, with `error` made printable. */
export type RunResultJson = Omit<RunResult<string>, 'error'> & { error?: ErrorJson };

export function resultJson(r: RunResult<string>): RunResultJson {
  const { error, ...rest } = r;
  return error === undefined ? rest : { ...rest, error: errorJson(error) };
}

/** The RunResult --json prints when the command never started (bad option value, setup failure before spawn). */
export function failedResultJson(command: readonly string[], err: unknown): RunResultJson {
  return {
    status: 'error',
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    wallTimeMs: 0,
    cpuTimeMs: null,
    memoryPeakBytes: null,
    oomKilled: false,
    timedOut: false,
    limit: null,
    command: [...command],
    error: errorJson(err),
  };
}
