/**
 * `isolate-kit run` options → ContainerOptions. The CLI only splits the
 * strings; the library validates the values, so the CLI and the API accept
 * and reject exactly the same things. Errors from the library name their
 * option in API terms (`mounts[1].source`); `attribute()` maps that back to
 * the argument the user typed.
 */
import { readFileSync } from 'node:fs';
import { CGroup } from '../cgroup/cgroup';
import type { CGroupLimits, SizeOrMax } from '../cgroup/limits';
import type { ContainerOptions } from '../container';
import { IsolateError, isIsolateError } from '../errors';
import type { MountSpec } from '../filesystem';
import type { SeccompProfile } from '../seccomp-profile';
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
  { name: 'seccomp', value: 'unconfined|default|FILE' },
  { name: 'rlimit', value: 'NAME=SOFT[:HARD]' },
  { name: 'memory', value: 'SIZE' },
  { name: 'memory-swap', value: 'SIZE' },
  { name: 'cpus', value: 'N' },
  { name: 'pids', value: 'N' },
  { name: 'cpuset', value: 'LIST' },
  { name: 'cpu-time', value: 'DURATION' },
  { name: 'cgroup-parent', value: 'PATH' },
  { name: 'json' },
  { name: 'interactive', short: 'i' },
  { name: 'help', short: 'h' },
  { name: 'image', value: 'REF|DIR|TAR' },
  { name: 'store', value: 'DIR' },
  { name: 'upper-size', value: 'SIZE' },
];

/** Options the design promises but the library cannot honour yet, and the reason. */
const NOT_YET: Readonly<Record<string, string>> = {};

/** Options that give the container a cgroup (--cpu-time needs one to measure on). */
const CGROUP_OPTIONS = ['memory', 'memory-swap', 'cpus', 'pids', 'cpuset', 'cpu-time', 'cgroup-parent'] as const;

export interface RunPlan {
  command: string[];
  container: ContainerOptions;
  /** Milliseconds; undefined for none. */
  timeoutMs: number | undefined;
  /** Bytes per stream; undefined: unlimited when streaming, the library's 16M with --json. */
  maxOutput: number | undefined;
  /** --cpu-time in milliseconds; undefined for none. */
  cpuTimeMs: number | undefined;
  /** --cgroup-parent: where the container's cgroup goes; undefined for the library's default. */
  cgroupParent: string | undefined;
  /** The arguments behind limits, as typed (e.g. '--memory 64M'), for the messages of the limits they set. */
  limitArgs: { memory: string | undefined; cpuTime: string | undefined };
  json: boolean;
  interactive: boolean;
  /** Maps a library error's `option` to the argument the user typed. */
  attribute: (option: string | undefined) => string | undefined;
  /** --image: a name or ID in the store, or an archive or layout to import first. */
  image: string | undefined;
  /** --store: the image store's directory (default: the library's). */
  store: string | undefined;
  /** --upper-size: the writable layer's size with --image. */
  upperSize: string | undefined;
}

function valueError(given: GivenOption, message: string): IsolateError {
  return new IsolateError('ERR_INVALID_OPTION', `${given.text}: ${message}`, { option: `--${given.name}` });
}

/** --seccomp FILE: a profile in Docker's or the OCI spec's JSON (the library checks what it says). */
function readProfile(given: GivenOption): SeccompProfile {
  let text: string;
  try {
    text = readFileSync(given.value, 'utf8');
  } catch (err) {
    throw valueError(given, `expected unconfined, default or a seccomp profile's file, which cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text) as SeccompProfile;
  } catch (err) {
    throw valueError(given, `the file is not JSON: ${(err as Error).message}`);
  }
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

/**
 * A number when the value is written as one, else the string as typed, for
 * the library to reject with its own message (`--pids lots`, `--cpus 1/2`).
 */
function numeric(s: string): number | string {
  return /^-?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : s;
}

/**
 * --memory-swap, as in docker run: memory plus swap, so the swap on top of
 * --memory is the difference (equal: no swap; `max` or -1: unlimited swap).
 * Docker's meaning rather than "swap alone" because users bring docker's
 * flags along, and misreading this one the other way would allow more swap
 * than they meant.
 */
function memoryWithSwap(memory: GivenOption | undefined, swap: GivenOption): { max: number; swapMax: SizeOrMax } {
  if (!memory) throw valueError(swap, 'needs --memory too: it is the total of memory and swap, as in docker run');
  const max = parseSize('--memory', memory.value);
  if (swap.value === 'max' || swap.value === '-1') return { max, swapMax: 'max' };
  const total = parseSize('--memory-swap', swap.value);
  if (total < max) {
    throw valueError(swap, `must be at least --memory (${memory.value}): it is memory plus swap, as in docker run (equal means no swap)`);
  }
  return { max, swapMax: total - max };
}

/** The cgroup limits of --memory, --memory-swap, --cpus, --pids and --cpuset; `single` learns which argument set which limit. */
function cgroupLimits(parsed: ParsedArgs, single: Map<string, GivenOption>): CGroupLimits {
  const limits: CGroupLimits = {};
  const memory = lastValue(parsed, 'memory');
  const swap = lastValue(parsed, 'memory-swap');
  if (swap) {
    limits.memory = memoryWithSwap(memory, swap);
    single.set('memory.swapMax', swap);
  } else if (memory) {
    limits.memory = memory.value; // the library parses sizes (and 'max')
  }
  if (memory) single.set('memory', memory);
  const cpus = lastValue(parsed, 'cpus');
  if (cpus) {
    limits.cpus = numeric(cpus.value) as number;
    single.set('cpus', cpus);
    single.set('cpu', cpus); // "the cpu controller is not available"
  }
  const pids = lastValue(parsed, 'pids');
  if (pids) {
    limits.pids = numeric(pids.value) as number;
    single.set('pids', pids);
  }
  const cpuset = lastValue(parsed, 'cpuset');
  if (cpuset) {
    limits.cpuset = cpuset.value;
    single.set('cpuset', cpuset);
  }
  return limits;
}

/** Builds what `run` needs; throws UsageError (exit 2) or IsolateError (exit 125). */
export function planRun(parsed: ParsedArgs, hostEnv: NodeJS.ProcessEnv): RunPlan {
  const image = lastValue(parsed, 'image');
  // With an image, its Entrypoint/Cmd can be the command.
  if (parsed.operands.length === 0 && !image) throw new UsageError('missing the command to run', 'run');
  for (const name of ['store', 'upper-size']) {
    const o = lastValue(parsed, name);
    if (o && !image) throw new UsageError(`--${name} goes with --image`, 'run');
  }
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
  if (image) single.set('image', image);

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
  const seccomp = lastValue(parsed, 'seccomp');
  if (seccomp) {
    container.seccomp = seccomp.value === 'unconfined' || seccomp.value === 'default' ? seccomp.value : readProfile(seccomp);
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

  // Any cgroup option gives the container a cgroup; --cpu-time alone gets an accounting-only one.
  if (CGROUP_OPTIONS.some((name) => hasFlag(parsed, name))) container.cgroup = cgroupLimits(parsed, single);
  const cgroupParent = lastValue(parsed, 'cgroup-parent');
  if (cgroupParent) single.set('parent', cgroupParent);

  const timeout = lastValue(parsed, 'timeout');
  const maxOutput = lastValue(parsed, 'max-output');
  const cpuTime = lastValue(parsed, 'cpu-time');

  const attribute = (option: string | undefined): string | undefined => {
    if (option === undefined) return undefined;
    const indexed = /^(mounts|capabilities)\[(\d+)\]/.exec(option);
    if (indexed) return (indexed[1] === 'mounts' ? mountArgs : capArgs)[Number(indexed[2])]?.text;
    const rlimit = /^rlimits\.(\w+)/.exec(option);
    if (rlimit) return rlimitArgs.get(rlimit[1]!)?.text;
    if (option.startsWith('env.')) return envArgs.get(option.slice(4))?.text;
    if (option === 'env name') return '--env';
    // The store names the image it could not find or read as `ref` / `path`.
    if (option === 'ref' || option === 'path') return single.get('image')?.text;
    return (single.get(option) ?? single.get(option.split('.')[0]!))?.text;
  };

  return {
    command: parsed.operands,
    container,
    // The library's parsers, named after the CLI option so their messages say --timeout, not timeout.
    timeoutMs: timeout ? parseDuration('--timeout', timeout.value) : undefined,
    maxOutput: maxOutput ? parseSize('--max-output', maxOutput.value) : undefined,
    cpuTimeMs: cpuTime ? parseDuration('--cpu-time', cpuTime.value) : undefined,
    cgroupParent: cgroupParent?.value,
    limitArgs: { memory: lastValue(parsed, 'memory')?.text, cpuTime: cpuTime?.text },
    json: hasFlag(parsed, 'json'),
    interactive: hasFlag(parsed, 'interactive'),
    attribute,
    image: image?.value,
    store: lastValue(parsed, 'store')?.value,
    upperSize: lastValue(parsed, 'upper-size')?.value,
  };
}

/**
 * The container's options, with the cgroup placed under --cgroup-parent.
 * Kept out of planRun() because resolving a parent touches the cgroup
 * filesystem (it creates the parent on first use); planRun() only plans.
 */
export function containerOptions(plan: RunPlan): ContainerOptions {
  const limits = plan.container.cgroup;
  if (plan.cgroupParent === undefined || limits === undefined || limits instanceof CGroup) return plan.container;
  // Not created yet: the container creates it at its start and removes it at its end, as with plain limits.
  return { ...plan.container, cgroup: new CGroup(limits, { parent: plan.cgroupParent }) };
}

/** `isolate-kit: <message>` text of an error, naming the argument behind a library option. */
export function describeError(err: unknown, attribute?: RunPlan['attribute']): string {
  if (!isIsolateError(err)) return err instanceof Error ? err.message : String(err);
  const arg = attribute?.(err.option);
  return arg ? `${arg}: ${err.message}` : err.message;
}
