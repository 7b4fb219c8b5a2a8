import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { IsolateError } from './errors';

/** Events of a ContainerProcess, in Node's order: 'spawn' (or 'error'), 'exit', then 'close'. */
export interface ContainerProcessEvents {
  /** The command was exec'd inside the container. */
  spawn: () => void;
  /** It ended: exactly one of exitCode and signalCode is non-null. */
  exit: (exitCode: number | null, signalCode: NodeJS.Signals | null) => void;
  /** It could not start (setup or exec failed), or the container went away first. */
  error: (err: IsolateError) => void;
  /** After 'exit' (or 'error'), once its stdout and stderr are closed. */
  close: (exitCode: number | null, signalCode: NodeJS.Signals | null) => void;
}

/** CPU and memory of a finished process and the descendants it waited for (getrusage). */
export interface ProcessUsage {
  /** User + system CPU time. */
  cpuTimeMs: number;
  userTimeMs: number;
  systemTimeMs: number;
  /** Peak resident set of the largest single process; null when it was killed with its container (no figure of its own came back). */
  maxRssBytes: number | null;
}

/** Sends a signal on behalf of a ContainerProcess; returns false when nothing was signalled. */
export type Signaller = (signal: number, tree: boolean) => boolean;

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** Signal number of a name or number, or ERR_INVALID_OPTION naming it. */
export function checkSignal(signal: unknown): number {
  const n = typeof signal === 'string' || typeof signal === 'number' ? signalNumber(signal) : undefined;
  if (n === undefined) {
    throw new IsolateError('ERR_INVALID_OPTION', `Unknown signal: ${String(signal)}`, { option: 'signal' });
  }
  return n;
}

/** Signal number of a name ('SIGTERM', 'TERM') or number; undefined when unknown. */
export function signalNumber(signal: NodeJS.Signals | number | string): number | undefined {
  if (typeof signal === 'number') return Number.isInteger(signal) && signal >= 0 && signal < 65 ? signal : undefined;
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  return (osConstants.signals as Record<string, number>)[name];
}

/** Name of a signal number. */
export function signalName(n: number): NodeJS.Signals {
  return signalNames.get(n) ?? (`SIG${n}` as NodeJS.Signals);
}

/**
 * A process inside a container: a ChildProcess-like handle with Node
 * streams for its stdio. Get one from `container.spawn()`.
 */
export class ContainerProcess extends EventEmitter<ContainerProcessEvents> {
  /** The container's number for this process. */
  readonly id: number;
  readonly command: readonly string[];
  /** Its pid inside the container's pid namespace, once spawned. */
  pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** Set when it could not start. */
  error: IsolateError | undefined;
  /** Resource use, once it exited. */
  usage: ProcessUsage | undefined;
  /** When it was exec'd and when it ended: CLOCK_MONOTONIC in ms (process.hrtime's clock), as init saw it. */
  spawnedAt: number | undefined;
  exitedAt: number | undefined;

  private readonly signaller: Signaller;
  private ended = false;
  private openStreams = 0;
  private closed = false;

  /** @internal */
  constructor(id: number, command: readonly string[], fds: readonly number[], signaller: Signaller) {
    super();
    this.id = id;
    this.command = command;
    this.signaller = signaller;
    this.stdin = fds[0]! >= 0 ? new Socket({ fd: fds[0]!, readable: false, writable: true }) : null;
    this.stdout = fds[1]! >= 0 ? this.track(new Socket({ fd: fds[1]!, readable: true, writable: false })) : null;
    this.stderr = fds[2]! >= 0 ? this.track(new Socket({ fd: fds[2]!, readable: true, writable: false })) : null;
    // A payload that exits without reading its stdin must not crash us with EPIPE.
    this.stdin?.on('error', () => {});
  }

  /** True once the command was exec'd. */
  get spawned(): boolean {
    return this.pid !== undefined;
  }

  /**
   * Sends a signal (default SIGTERM). SIGKILL of a container's main process
   * ends the whole container. Returns false when the process is gone.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.ended) return false;
    return this.signaller(checkSignal(signal), false);
  }

  /**
   * Signals the process and every process descended from it (default
   * SIGKILL; for SIGKILL they are all stopped first, so none slips away by
   * forking). A descendant whose parent already exited belongs to the
   * container and ends with it.
   */
  killTree(signal: NodeJS.Signals | number = 'SIGKILL'): boolean {
    if (this.ended) return false;
    return this.signaller(checkSignal(signal), true);
  }

  /** Resolves with { exitCode, signalCode } after 'close'; rejects on 'error'. */
  wait(): Promise<{ exitCode: number | null; signalCode: NodeJS.Signals | null }> {
    if (this.closed) {
      return this.error ? Promise.reject(this.error) : Promise.resolve({ exitCode: this.exitCode, signalCode: this.signalCode });
    }
    return new Promise((resolve, reject) => {
      this.once('close', () => (this.error ? reject(this.error) : resolve({ exitCode: this.exitCode, signalCode: this.signalCode })));
    });
  }

  private track(s: Socket): Socket {
    this.openStreams++;
    s.once('close', () => {
      this.openStreams--;
      this.maybeClose();
    });
    return s;
  }

  /**
   * Output nobody reads would keep the pipes (and so 'close') open forever
   * once the process is gone: drain it, as Node's ChildProcess does.
   */
  private flushUnread(): void {
    for (const s of [this.stdout, this.stderr]) {
      if (s && !s.destroyed && s.readableFlowing === null && s.listenerCount('data') === 0 && s.listenerCount('readable') === 0) {
        s.resume();
      }
    }
  }

  private maybeClose(): void {
    if (this.ended && this.openStreams === 0 && !this.closed) {
      this.closed = true;
      this.emit('close', this.exitCode, this.signalCode);
    }
  }

  /** @internal init exec'd the command. */
  _ready(pid: number, at: number): void {
    if (this.ended) return;
    this.pid = pid;
    this.spawnedAt = at;
    this.emit('spawn');
  }

  /** @internal it could not start. */
  _fail(err: IsolateError): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    this.exitedAt = Number(process.hrtime.bigint()) / 1e6;
    this.stdin?.destroy();
    this.emit('error', err);
    this.flushUnread();
    this.maybeClose();
  }

  /** @internal it ended with a wait status (or exitCode/signal already decoded). */
  _exit(exitCode: number | null, signal: number | null, usage: ProcessUsage | undefined, at: number): void {
    if (this.ended) return;
    this.ended = true;
    this.exitedAt = at;
    this.exitCode = exitCode;
    this.signalCode = signal === null ? null : signalName(signal);
    this.usage = usage;
    this.stdin?.destroy();
    this.emit('exit', this.exitCode, this.signalCode);
    this.flushUnread();
    this.maybeClose();
  }

  /** @internal true once it exited or failed. */
  get _ended(): boolean {
    return this.ended;
  }
}

/** Decodes a wait(2) status into [exitCode, signal]. */
export function decodeWaitStatus(status: number): [number | null, number | null] {
  if ((status & 0x7f) === 0) return [(status >> 8) & 0xff, null];
  return [null, status & 0x7f];
}
