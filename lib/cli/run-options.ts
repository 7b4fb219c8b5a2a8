/**
 * `isolate-kit run` options → ContainerOptions. The CLI only splits the
 * strings; the library validates the values, so the CLI and the API accept
 * and reject exactly the same things. Errors from the library name their
 * option in API terms (`mounts[1].source`); `attribute()` maps that back to
 * the argument the user typed.
 */
import type { ContainerOptions } from '../container';
import { IsolateError, isIsolateError } from '../errors';
import type { MountSpec } from '../filesystem';
import type { RlimitOptions, RlimitValue } from '../process-options';
import { parseDuration, parseSize } from '../units';
import { UsageError, allValues, hasFlag, lastValue, type GivenOption, type OptionSpec, type ParsedArgs } from './args';

export const RUN_OPTIONS: readonly OptionSpec[] = [
  { name: 'hostname', value: 'NAME' },
  { name: 'bind', value: 'SRC:DST[:ro|:rw]' },
  { name: 'tmpfs', value: 'DST[:SIZE]' },
  { name: 'env', value: 'K=V' },
  { name: 'cwd', value: 'DIR' },
  { name: 'user', value: 'UID[:GID]' },
  { name: 'timeout', value: 'DURATION' },
  { name: 'max-output', value: 'SIZE' },
  { name: 'net', value: 'none|host' },
  { name: 'cap', value: 'CAP' },
  { name: 'rlimit', value: 'NAME=SOFT[:HARD]' },
  { name: 'json' },
  { name: 'interactive', short: 'i' },
  { name: 'help', short: 'h' },
  // Declared so that they fail with "not supported yet" rather than "unknown option".
  { name: 'memory', value: 'SIZE' },
  { name: 'cpus', value: 'N' },
  { name: 'pids', value: 'N' },
  { name: 'image', value: 'REF' },
];

/** Options the design promises but the library cannot honour yet, and the reason. */
const NOT_YET: Readonly<Record<string, string>> = {
  memory: 'cgroup limits are not implemented yet',
  cpus: 'cgroup limits are not implemented yet',
  pids: 'cgroup limits are not implemented yet',
  image: 'images and layered root filesystems are not implemented yet; the container sees the host root read-only',
};

export interface RunPlan {
  command: string[];
  container: ContainerOptions;
  /** Milliseconds; undefined for none. */
  timeoutMs: number | undefined;
  /** Bytes per stream; undefined: unlimited when streaming, the library's 16M with --json. */
  maxOutput: number | undefined;
  json: boolean;
  interactive: boolean;
  /** Maps a library error's `option` to the argument the user typed. */
  attribute: (option: string | undefined) => string | undefined;
}

function valueError(given: GivenOption, message: string): IsolateError {
  return new IsolateError('ERR_INVALID_OPTION', `${given.text}: ${message}`, { option: `--${given.name}` });
}

/** --bind SRC:DST[:ro|:rw]; rw by default, as docker -v. */
function parseBind(given: GivenOption): MountSpec {
  const parts = given.value.split(':');
  let readonly = false;
  if (parts.length === 3) {
    const mode = parts.pop();
    if (mode !== 'ro' && mode !== 'rw') throw valueError(given, `expected SRC:DST[:ro|:rw], got mode "${mode}"`);
    readonly = mode === 'ro';
  }
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw valueError(given, 'expected SRC:DST[:ro|:rw] (paths containing ":" cannot be bound from the command line)');
  }
  return { type: 'bind', source: parts[0]!, target: parts[1]!, readonly };
}

/** --tmpfs DST[:SIZE]. */
function parseTmpfs(given: GivenOption): MountSpec {
  const parts = given.value.split(':');
  if (parts.length > 2 || parts[0] === '' || parts[1] === '') throw valueError(given, 'expected DST[:SIZE], e.g. /scratch:128M');
  return parts.length === 2 ? { type: 'tmpfs', target: parts[0]!, size: parts[1]! } : { type: 'tmpfs', target: parts[0]! };
}

/** --user UID[:GID]: numbers only; names would be looked up in which /etc/passwd? */
function parseUser(given: GivenOption): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(given.value);
  if (!m) throw valueError(given, 'expected a numeric UID[:GID], e.g. 1000 or 1000:1000');
  return m[2] === undefined ? { uid: Number(m[1]) } : { uid: Number(m[1]), gid: Number(m[2]) };
}

/** One rlimit number: digits or 'unlimited'; anything else goes to the library as is, which says what it expects. */
function rlimitNumber(s: string): number | 'unlimited' {
  if (s === 'unlimited') return s;
  return /^\d+$/.test(s) ? Number(s) : (s as unknown as number);
}

/** --rlimit NAME=SOFT[:HARD]; SOFT alone sets both, as setrlimit users expect from `ulimit -n`. */
function parseRlimit(given: GivenOption): [string, RlimitValue] {
  const m = /^([a-z]+)=([^:]+)(?::([^:]+))?$/.exec(given.value);
  if (!m) throw valueError(given, 'expected NAME=SOFT[:HARD], e.g. nofile=256 or nofile=256:1024');
  const soft = rlimitNumber(m[2]!);
  return [m[1]!, m[3] === undefined ? soft : [soft, rlimitNumber(m[3])]];
}

/** Builds what `run` needs; throws UsageError (exit 2) or IsolateError (exit 125). */
export function planRun(parsed: ParsedArgs, hostEnv: NodeJS.ProcessEnv): RunPlan {
  if (parsed.operands.length === 0) throw new UsageError('missing the command to run', 'run');
  for (const o of parsed.options) {
    const why = NOT_YET[o.name];
    if (why) throw new IsolateError('ERR_UNSUPPORTED', `--${o.name} is not supported yet: ${why}`, { option: `--${o.name}` });
  }

  const container: ContainerOptions = {};
  // Arguments by the API option they became, so library errors can name what the user typed.
  const mountArgs: GivenOption[] = [];
  const capArgs: GivenOption[] = [];
  const envArgs = new Map<string, GivenOption>();
  const rlimitArgs = new Map<string, GivenOption>();
  const single = new Map<string, GivenOption>();

  const hostname = lastValue(parsed, 'hostname');
  if (hostname) {
    container.hostname = hostname.value;
    single.set('hostname', hostname);
  }
  const mounts: MountSpec[] = [];
  for (const o of parsed.options) {
    if (o.name !== 'bind' && o.name !== 'tmpfs') continue;
    mounts.push(o.name === 'bind' ? parseBind(o) : parseTmpfs(o));
    mountArgs.push(o);
  }
  if (mounts.length) container.mounts = mounts;

  const env: Record<string, string> = {};
  for (const o of allValues(parsed, 'env')) {
    const eq = o.value.indexOf('=');
    const name = eq < 0 ? o.value : o.value.slice(0, eq);
    envArgs.set(name, o);
    if (eq >= 0) env[name] = o.value.slice(eq + 1);
    else if (hostEnv[name] !== undefined) env[name] = hostEnv[name]!; // unset on the host: left unset, as docker -e
  }
  if (envArgs.size) container.env = env;

  const cwd = lastValue(parsed, 'cwd');
  if (cwd) {
    container.cwd = cwd.value;
    single.set('cwd', cwd);
  }
  const user = lastValue(parsed, 'user');
  if (user) {
    container.user = parseUser(user);
    single.set('user', user);
  }
  const net = lastValue(parsed, 'net');
  if (net) {
    if (net.value !== 'none' && net.value !== 'host') throw valueError(net, 'expected none or host');
    container.network = net.value;
  }
  const caps = allValues(parsed, 'cap');
  if (caps.length) {
    container.capabilities = caps.map((c) => c.value);
    capArgs.push(...caps);
  }
  const rlimits: Record<string, RlimitValue> = {};
  for (const o of allValues(parsed, 'rlimit')) {
    const [name, value] = parseRlimit(o);
    rlimits[name] = value;
    rlimitArgs.set(name, o);
  }
  if (rlimitArgs.size) container.rlimits = rlimits as RlimitOptions;

  const timeout = lastValue(parsed, 'timeout');
  const maxOutput = lastValue(parsed, 'max-output');

  const attribute = (option: string | undefined): string | undefined => {
    if (option === undefined) return undefined;
    const indexed = /^(mounts|capabilities)\[(\d+)\]/.exec(option);
    if (indexed) return (indexed[1] === 'mounts' ? mountArgs : capArgs)[Number(indexed[2])]?.text;
    const rlimit = /^rlimits\.(\w+)/.exec(option);
    if (rlimit) return rlimitArgs.get(rlimit[1]!)?.text;
    if (option.startsWith('env.')) return envArgs.get(option.slice(4))?.text;
    if (option === 'env name') return '--env';
    return single.get(option.split('.')[0]!)?.text;
  };

  return {
    command: parsed.operands,
    container,
    // The library's parsers, named after the CLI option so their messages say --timeout, not timeout.
    timeoutMs: timeout ? parseDuration('--timeout', timeout.value) : undefined,
    maxOutput: maxOutput ? parseSize('--max-output', maxOutput.value) : undefined,
    json: hasFlag(parsed, 'json'),
    interactive: hasFlag(parsed, 'interactive'),
    attribute,
  };
}

/** `isolate-kit: <message>` text of an error, naming the argument behind a library option. */
export function describeError(err: unknown, attribute?: RunPlan['attribute']): string {
  if (!isIsolateError(err)) return err instanceof Error ? err.message : String(err);
  const arg = attribute?.(err.option);
  return arg ? `${arg}: ${err.message}` : err.message;
}
