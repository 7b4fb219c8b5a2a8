import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/** Stable error codes: match on these, never on messages. See docs/errors.md. */
export type IsolateErrorCode =
  /** An option, path or value was rejected before anything was created. */
  | 'ERR_INVALID_OPTION'
  /** This kernel, host or build cannot do what was asked. */
  | 'ERR_UNSUPPORTED'
  /** The caller lacks a privilege the operation needs (e.g. root for namespaces). */
  | 'ERR_PERMISSION'
  /** A setup step failed inside the new container; `step` names it. */
  | 'ERR_SETUP_FAILED'
  /** The command could not be started inside the container (not found, not executable). */
  | 'ERR_EXEC_FAILED'
  /** An image, layer or tarball is malformed or hostile. */
  | 'ERR_BAD_IMAGE'
  /** The call does not fit the object's state (e.g. spawn() after destroy()). */
  | 'ERR_STATE'
  /** The native addon is missing or failed in a way that is not the container's fault. */
  | 'ERR_NATIVE'
  /** The operation was cancelled through an AbortSignal. */
  | 'ERR_ABORTED';

export interface IsolateErrorDetails {
  /** The setup step that failed, as the plan describes it, e.g. "bind /nope on /data". */
  step?: string;
  /** Index of that step in the container's plan. */
  stepIndex?: number;
  /** The system call that failed, e.g. "mount". */
  syscall?: string;
  /** The path involved, where there is one. */
  path?: string;
  /** errno of the failed call (positive, as in C). */
  errno?: number;
  /** errno's name, e.g. "ENOENT". */
  errnoCode?: string;
  /** The option that was rejected, e.g. "mounts[0].source". */
  option?: string;
  cause?: unknown;
}

const brand = Symbol.for('isolate-kit.IsolateError');

const DETAIL_KEYS = ['step', 'stepIndex', 'syscall', 'path', 'errno', 'errnoCode', 'option'] as const;

/** An IsolateError as JSON: an Error's own JSON would be `{}`. */
export interface IsolateErrorJson extends Omit<IsolateErrorDetails, 'cause'> {
  name: 'IsolateError';
  code: IsolateErrorCode;
  message: string;
}

/** The one error class isolate-kit throws; `code` says what kind of failure it is. */
export class IsolateError extends Error {
  readonly code: IsolateErrorCode;
  // `declare`: absent fields stay absent instead of being defined as undefined.
  declare step?: string;
  declare stepIndex?: number;
  declare syscall?: string;
  declare path?: string;
  declare errno?: number;
  declare errnoCode?: string;
  declare option?: string;

  constructor(code: IsolateErrorCode, message: string, details: IsolateErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    for (const key of DETAIL_KEYS) {
      if (details[key] !== undefined) (this as Record<string, unknown>)[key] = details[key];
    }
  }

  /** Its code, message and details (not `cause`), e.g. for logs or a RunResult sent elsewhere. */
  toJSON(): IsolateErrorJson {
    const out: IsolateErrorJson = { name: 'IsolateError', code: this.code, message: this.message };
    for (const key of DETAIL_KEYS) {
      if (this[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = this[key];
    }
    return out;
  }
}
Object.defineProperty(IsolateError.prototype, 'name', { value: 'IsolateError', enumerable: false });
Object.defineProperty(IsolateError.prototype, brand, { value: true, enumerable: false });

/** True for an IsolateError, also one from another copy of the module or realm. */
export function isIsolateError(value: unknown): value is IsolateError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

let errnoMap: Map<number, [string, string]> | undefined;
let errnoNames: Map<number, string> | undefined;
const extraTexts: Record<string, string> = { ENOEXEC: 'exec format error', ECHILD: 'no child processes', ESRCH: 'no such process' };

/** [name, text] of an errno (positive), e.g. [ 'ENOENT', 'no such file or directory' ]. */
export function describeErrno(errno: number): [string, string] {
  errnoMap ??= getSystemErrorMap();
  const known = errnoMap.get(-errno);
  if (known) return known;
  // libuv names only the errnos it uses; os.constants has the rest (ENOEXEC…).
  errnoNames ??= new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
  const name = errnoNames.get(errno);
  return name ? [name, extraTexts[name] ?? `errno ${errno}`] : [`E${errno}`, `error ${errno}`];
}

/** Throws ERR_INVALID_OPTION in execa's wording: "Expected `x` to be …, got `v` (type)". */
export function invalidOption(option: string, expected: string, value: unknown, extra?: string): IsolateError {
  return new IsolateError(
    'ERR_INVALID_OPTION',
    `Expected the \`${option}\` option to be ${expected}, got ${showValue(value)}${extra ? `: ${extra}` : ''}`,
    { option },
  );
}

/**
 * Throws ERR_INVALID_OPTION for the first key of `value` not in `allowed`
 * ("Unknown <where> option `<prefix><key>` (misspelled?); known: …").
 */
export function checkKeys(where: string, value: object, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new IsolateError('ERR_INVALID_OPTION', `Unknown ${where} option \`${prefix}${key}\` (misspelled?); known: ${allowed.join(', ')}`, {
        option: prefix + key,
      });
    }
  }
}

/** A value as code would write it (JSON, but NaN, Infinity and bigints as themselves). */
function literal(value: unknown, depth = 0): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value) && depth < 3) return `[${value.map((v) => literal(v, depth + 1)).join(',')}]`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `value` (type) for messages, shortened. */
export function showValue(value: unknown): string {
  let text = literal(value);
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${text}\` (${type})`;
}

/** Wraps a Node/addon system error (with errno/code/syscall) as an IsolateError. */
export function fromSystemError(code: IsolateErrorCode, what: string, err: unknown, extra: IsolateErrorDetails = {}): IsolateError {
  const e = err as NodeJS.ErrnoException;
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
  const [name, text] = errno !== undefined ? describeErrno(errno) : [e?.code ?? 'UNKNOWN', e?.message ?? String(err)];
  return new IsolateError(code, `${what}: ${e?.syscall ? `${e.syscall}: ` : ''}${name} (${text})${exhaustionHint(name)}`, {
    syscall: e?.syscall,
    path: e?.path,
    errno,
    errnoCode: name,
    cause: err,
    ...extra,
  });
}

/**
 * What to do about a full fd table, the one failure a caller meets only at
 * scale (hundreds of containers started at once), said where it happens.
 */
function exhaustionHint(name: string): string {
  if (name === 'ENFILE') return ': the system\'s file table is full (fs.file-max)';
  if (name !== 'EMFILE') return '';
  let limit = '';
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft) limit = ` (${soft})`;
  } catch {
    // No /proc: the hint goes without the number.
  }
  return `: this process has as many open files as its limit allows${limit}; each running container holds about 4 (7 with a cgroup) while it runs, so raise the limit (ulimit -n) or start fewer at once`;
}
