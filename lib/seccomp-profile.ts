/**
 * Seccomp profiles in Docker's and the OCI runtime spec's JSON format
 * (`docker run --security-opt seccomp=profile.json`, config.json's
 * linux.seccomp): checked here, resolved against the container's
 * capabilities and this machine's architecture and kernel, then compiled to
 * BPF by libseccomp (csrc/seccomp_compile.c, loaded at run time). init
 * installs the result in each process right before its execve, over its
 * own filter (csrc/init/no_userns.c), which a profile cannot lift: the
 * kernel runs every filter and the most restrictive answer wins.
 *
 * What a rule means follows runc, which Docker and containerd use: rules
 * are skipped for syscalls libseccomp does not know (a newer profile on an
 * older library), and for ones whose `includes`/`excludes` do not match;
 * a rule's `args` on different arguments must all hold (AND), while each
 * of several conditions on the same argument makes a rule of its own (OR).
 */
import { release } from 'node:os';
import { IsolateError, checkKeys as checkKnownKeys, invalidOption } from './errors';
import { native } from './native';
import { capabilityBit } from './process-options';

/** What the kernel does with a call (libseccomp's names). */
export type SeccompAction =
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_LOG';

/** How a rule compares an argument: `value` with it, or (MASKED_EQ) `arg & value == valueTwo`. */
export type SeccompOperator = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

/** Where a rule applies: all the capabilities listed, one of the arches, at least that kernel. */
export interface SeccompFilterCondition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  names?: string[];
  /** The older Docker format's single name. */
  name?: string;
  action: SeccompAction;
  /** The errno of SCMP_ACT_ERRNO (default EPERM), the message of SCMP_ACT_TRACE. */
  errnoRet?: number;
  args?: { index: number; value: number | bigint; valueTwo?: number | bigint; op: SeccompOperator }[] | null;
  includes?: SeccompFilterCondition;
  excludes?: SeccompFilterCondition;
  comment?: string;
}

/** A profile as Docker and the OCI runtime spec write it (parse the JSON first). */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** The errno of a default SCMP_ACT_ERRNO (default EPERM). */
  defaultErrnoRet?: number;
  /** OCI: the ABIs the filter covers besides the native one (SCMP_ARCH_X86, ...). */
  architectures?: string[];
  /** Docker: per native architecture, the others its processes can use; the entry for this machine's applies. */
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  /** Filter flags: only ones that change nothing here are taken (SECCOMP_FILTER_FLAG_SPEC_ALLOW is refused). */
  flags?: string[];
  syscalls?: SeccompRule[] | null;
}

const ACTIONS: Readonly<Record<SeccompAction, number>> = {
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
};

const OPERATORS: Readonly<Record<SeccompOperator, number>> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** libseccomp's arch tokens (AUDIT_ARCH_*), and Go's names for them (`includes.arches`). */
const ARCHES: Readonly<Record<string, { token: number; go: string }>> = {
  SCMP_ARCH_X86: { token: 0x40000003, go: '386' },
  SCMP_ARCH_X86_64: { token: 0xc000003e, go: 'amd64' },
  SCMP_ARCH_X32: { token: 0x4000003e, go: 'x32' },
  SCMP_ARCH_ARM: { token: 0x40000028, go: 'arm' },
  SCMP_ARCH_AARCH64: { token: 0xc00000b7, go: 'arm64' },
  SCMP_ARCH_MIPS: { token: 0x00000008, go: 'mips' },
  SCMP_ARCH_MIPS64: { token: 0x80000008, go: 'mips64' },
  SCMP_ARCH_MIPS64N32: { token: 0xa0000008, go: 'mips64n32' },
  SCMP_ARCH_MIPSEL: { token: 0x40000008, go: 'mipsle' },
  SCMP_ARCH_MIPSEL64: { token: 0xc0000008, go: 'mips64le' },
  SCMP_ARCH_MIPSEL64N32: { token: 0xe0000008, go: 'mips64len32' },
  SCMP_ARCH_PPC: { token: 0x00000014, go: 'ppc' },
  SCMP_ARCH_PPC64: { token: 0x80000015, go: 'ppc64' },
  SCMP_ARCH_PPC64LE: { token: 0xc0000015, go: 'ppc64le' },
  SCMP_ARCH_S390: { token: 0x00000016, go: 's390' },
  SCMP_ARCH_S390X: { token: 0x80000016, go: 's390x' },
  SCMP_ARCH_RISCV64: { token: 0xc00000f3, go: 'riscv64' },
};

/** Flags a profile may carry that change nothing about what is refused. */
const HARMLESS_FLAGS = new Set(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG']);

const EPERM = 1;
const ENOSYS = 38;
/** What the addon reports when libseccomp.so.2 cannot be loaded. */
const ELIBACC = 79;
/** The kernel's BPF_MAXINSNS: a longer filter is refused. */
export const SECCOMP_MAX_INSNS = 4096;

function nativeArch(): string {
  const arch = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', ia32: 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM' }[process.arch as string];
  if (arch === undefined) throw new IsolateError('ERR_UNSUPPORTED', `seccomp profiles are not supported on ${process.arch}`, { option: 'seccomp' });
  return arch;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(option: string, v: Record<string, unknown>, known: readonly string[]): void {
  checkKnownKeys('seccomp profile', v, known, `${option}.`);
}

function stringList(option: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalidOption(option, 'an array of strings', v);
  return v as string[];
}

function errnoOf(option: string, v: unknown, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw invalidOption(option, 'an errno from 0 to 65535', v);
  return v as number;
}

function actionOf(option: string, v: unknown, errnoOption: string, errno: unknown): number {
  if (v === 'SCMP_ACT_NOTIFY') {
    throw new IsolateError('ERR_UNSUPPORTED', `\`${option}\`: SCMP_ACT_NOTIFY needs a seccomp agent listening, which isolate-kit does not run`, { option });
  }
  if (typeof v !== 'string' || !Object.hasOwn(ACTIONS, v)) throw invalidOption(option, `one of ${Object.keys(ACTIONS).join(', ')}`, v);
  const base = ACTIONS[v as SeccompAction];
  if (v === 'SCMP_ACT_ERRNO') return base | errnoOf(errnoOption, errno, EPERM);
  if (v === 'SCMP_ACT_TRACE') return base | errnoOf(errnoOption, errno, 0);
  if (errno !== undefined && errno !== null) throw invalidOption(errnoOption, 'absent: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one', errno);
  return base;
}

function u64(option: string, v: unknown): bigint {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (Number.isSafeInteger(v) && (v as number) >= 0) return BigInt(v as number);
  throw invalidOption(option, 'a non-negative integer below 2^64 (a bigint past 2^53)', v);
}

/** Kernel release as [major, minor]; [0, 0] when it cannot be read. */
function kernelVersion(text: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

interface Context {
  capabilities: bigint;
  goArch: string;
  kernel: [number, number];
}

/** Whether a rule's includes (all must hold) or excludes (any excludes) let it apply here. */
function applies(option: string, r: Record<string, unknown>, ctx: Context): boolean {
  const check = (key: 'includes' | 'excludes'): { caps: boolean[]; arch: boolean | undefined; kernel: boolean | undefined } => {
    const c = r[key];
    if (c === undefined || c === null) return { caps: [], arch: undefined, kernel: undefined };
    if (!isObject(c)) throw invalidOption(`${option}.${key}`, 'an object with caps, arches or minKernel', c);
    checkKeys(`${option}.${key}`, c, ['caps', 'arches', 'minKernel']);
    const caps = stringList(`${option}.${key}.caps`, c.caps).map((name, i) => {
      const bit = capabilityBit(name);
      if (bit < 0) throw invalidOption(`${option}.${key}.caps[${i}]`, 'a capability name such as "CAP_SYS_ADMIN"', name);
      return (ctx.capabilities & (1n << BigInt(bit))) !== 0n;
    });
    const arches = stringList(`${option}.${key}.arches`, c.arches);
    let kernel: boolean | undefined;
    if (c.minKernel !== undefined && c.minKernel !== null && c.minKernel !== '') {
      if (typeof c.minKernel !== 'string' || !/^\d+\.\d+/.test(c.minKernel)) throw invalidOption(`${option}.${key}.minKernel`, 'a kernel version such as "4.8"', c.minKernel);
      const [maj, min] = kernelVersion(c.minKernel);
      kernel = ctx.kernel[0] > maj || (ctx.kernel[0] === maj && ctx.kernel[1] >= min);
    }
    return { caps, arch: arches.length ? arches.includes(ctx.goArch) : undefined, kernel };
  };
  const inc = check('includes');
  const exc = check('excludes');
  if (inc.caps.includes(false) || inc.arch === false || inc.kernel === false) return false;
  // An exclusion holds when any of its capabilities is held, or the arch or kernel matches.
  return !(exc.caps.includes(true) || exc.arch === true || exc.kernel === true);
}

/** A rule for the addon: [action, name, args flat (index, op, a lo, a hi, b lo, b hi)]. */
type NativeRule = [number, string, number[]];

function halves(v: bigint): [number, number] {
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

/** Checks and resolves `profile` for a container with `capabilities`: what libseccomp is given. */
export function resolveSeccompProfile(profile: unknown, capabilities: bigint, kernel = release()): { defaultAction: number; arches: number[]; rules: NativeRule[] } {
  if (!isObject(profile)) throw invalidOption('seccomp', "'unconfined', 'default' or a seccomp profile (an object: Docker's or the OCI spec's JSON, parsed)", profile);
  checkKeys('seccomp', profile, ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'flags', 'syscalls', 'listenerPath', 'listenerMetadata']);
  if (profile.listenerPath !== undefined && profile.listenerPath !== '') {
    throw new IsolateError('ERR_UNSUPPORTED', '`seccomp.listenerPath`: a seccomp agent is not supported', { option: 'seccomp.listenerPath' });
  }
  const native = nativeArch();
  const ctx: Context = { capabilities, goArch: ARCHES[native]!.go, kernel: kernelVersion(kernel) };
  const defaultAction = actionOf('seccomp.defaultAction', profile.defaultAction, 'seccomp.defaultErrnoRet', profile.defaultErrnoRet);
  for (const [i, f] of stringList('seccomp.flags', profile.flags).entries()) {
    if (!HARMLESS_FLAGS.has(f)) {
      throw new IsolateError('ERR_UNSUPPORTED', `\`seccomp.flags[${i}]\`: ${JSON.stringify(f)} is not supported (only ${[...HARMLESS_FLAGS].join(', ')})`, { option: `seccomp.flags[${i}]` });
    }
  }
  const archNames = new Set<string>();
  const archToken = (option: string, name: string): string => {
    if (!Object.hasOwn(ARCHES, name)) throw invalidOption(option, `an architecture such as SCMP_ARCH_X86_64 (${Object.keys(ARCHES).length} known)`, name);
    return name;
  };
  stringList('seccomp.architectures', profile.architectures).forEach((a, i) => archNames.add(archToken(`seccomp.architectures[${i}]`, a)));
  if (profile.archMap !== undefined && profile.archMap !== null) {
    if (!Array.isArray(profile.archMap)) throw invalidOption('seccomp.archMap', 'an array of { architecture, subArchitectures }', profile.archMap);
    profile.archMap.forEach((m: unknown, i) => {
      const option = `seccomp.archMap[${i}]`;
      if (!isObject(m) || typeof m.architecture !== 'string') throw invalidOption(option, 'an object { architecture, subArchitectures }', m);
      checkKeys(option, m, ['architecture', 'subArchitectures']);
      archToken(`${option}.architecture`, m.architecture);
      const subs = stringList(`${option}.subArchitectures`, m.subArchitectures).map((a, k) => archToken(`${option}.subArchitectures[${k}]`, a));
      // Only this machine's entry counts (Docker's rule); the others are only checked.
      if (m.architecture === native) for (const a of subs) archNames.add(a);
    });
  }
  const arches = [...archNames].filter((a) => a !== native).map((a) => ARCHES[a]!.token);
  if (profile.syscalls !== undefined && profile.syscalls !== null && !Array.isArray(profile.syscalls)) {
    throw invalidOption('seccomp.syscalls', 'an array of rules { names, action, args? }', profile.syscalls);
  }
  const rules: NativeRule[] = [];
  ((profile.syscalls as unknown[] | null | undefined) ?? []).forEach((r, i) => {
    const option = `seccomp.syscalls[${i}]`;
    if (!isObject(r)) throw invalidOption(option, 'a rule { names, action, args? }', r);
    checkKeys(option, r, ['names', 'name', 'action', 'errnoRet', 'args', 'includes', 'excludes', 'comment']);
    const names = [...stringList(`${option}.names`, r.names)];
    if (r.name !== undefined) {
      if (typeof r.name !== 'string') throw invalidOption(`${option}.name`, 'a syscall name', r.name);
      names.push(r.name);
    }
    if (names.length === 0) throw invalidOption(`${option}.names`, 'at least one syscall name', r.names);
    names.forEach((n, k) => {
      if (!/^[a-z_][a-z0-9_]{0,63}$/.test(n)) throw invalidOption(`${option}.names[${k}]`, 'a syscall name such as "openat"', n);
    });
    const action = actionOf(`${option}.action`, r.action, `${option}.errnoRet`, r.errnoRet);
    if (r.args !== undefined && r.args !== null && !Array.isArray(r.args)) throw invalidOption(`${option}.args`, 'an array of { index, value, valueTwo?, op }', r.args);
    const args = ((r.args as unknown[] | null | undefined) ?? []).map((a, k) => {
      const o = `${option}.args[${k}]`;
      if (!isObject(a)) throw invalidOption(o, 'an object { index, value, valueTwo?, op }', a);
      checkKeys(o, a, ['index', 'value', 'valueTwo', 'op']);
      if (!Number.isInteger(a.index) || (a.index as number) < 0 || (a.index as number) > 5) throw invalidOption(`${o}.index`, 'an argument index from 0 to 5', a.index);
      if (typeof a.op !== 'string' || !Object.hasOwn(OPERATORS, a.op)) throw invalidOption(`${o}.op`, `one of ${Object.keys(OPERATORS).join(', ')}`, a.op);
      return { index: a.index as number, op: OPERATORS[a.op as SeccompOperator], value: u64(`${o}.value`, a.value), valueTwo: u64(`${o}.valueTwo`, a.valueTwo ?? 0) };
    });
    if (!applies(option, r, ctx)) return;
    // libseccomp refuses a rule that does what the default does; it changes nothing.
    if (action === defaultAction) return;
    const flat = (a: (typeof args)[number]): number[] => [a.index, a.op, ...halves(a.value), ...halves(a.valueTwo)];
    const perIndex = new Map<number, number>();
    for (const a of args) perIndex.set(a.index, (perIndex.get(a.index) ?? 0) + 1);
    const together = args.filter((a) => perIndex.get(a.index) === 1);
    const alone = args.filter((a) => perIndex.get(a.index)! > 1);
    for (const name of names) {
      for (const a of alone) rules.push([action, name, flat(a)]);
      if (together.length > 0 || alone.length === 0) rules.push([action, name, together.flatMap(flat)]);
    }
  });
  return { defaultAction, arches, rules };
}

/**
 * Compiled filters, by the profile's JSON text and the capabilities: a
 * judge makes every container with the same profile, and checking and
 * resolving Docker's (~350 names) took ~0.5 ms of each start. Only a
 * profile that JSON says all of is kept: one holding a bigint, a function
 * or an undefined is checked every time (JSON would drop or refuse it, and
 * so make it look like another).
 */
const compiled = new Map<string, number[]>();
const COMPILED_KEPT = 16;

function cacheKey(profile: unknown, capabilities: bigint): string | undefined {
  try {
    const text = JSON.stringify(profile, (_k, v: unknown) => {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') throw new Error('not JSON');
      return v;
    });
    return `${capabilities}|${text}`;
  } catch {
    return undefined;
  }
}

export function compileSeccompProfile(profile: unknown, capabilities: bigint): number[] {
  const key = cacheKey(profile, capabilities);
  const hit = key === undefined ? undefined : compiled.get(key);
  if (hit) return hit;
  const resolved = resolveSeccompProfile(profile, capabilities);
  let out: { bpf: Buffer; unknown: number[] };
  try {
    // A call of an ABI the profile leaves out: ENOSYS, as init's own filter answers it.
    out = native().compileSeccomp(resolved.defaultAction >>> 0, (ACTIONS.SCMP_ACT_ERRNO | ENOSYS) >>> 0, resolved.arches, resolved.rules);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { rule?: number };
    if (e.syscall === 'seccomp_rule_add' && e.rule !== undefined) {
      const [, name, args] = resolved.rules[e.rule]!;
      throw invalidOption('seccomp.syscalls', `rules libseccomp takes`, `${name} with ${args.length / 6} argument conditions`, `libseccomp refused it: ${e.message}`);
    }
    // ELIBACC: it could not be loaded, and `syscall` holds dlerror()'s text.
    const why = Math.abs(e.errno ?? 0) === ELIBACC ? `cannot be loaded: ${e.syscall}` : `failed: ${e.syscall}: ${e.message}`;
    throw new IsolateError('ERR_UNSUPPORTED', `A seccomp profile needs libseccomp (libseccomp.so.2), which ${why}`, {
      option: 'seccomp',
      cause: err,
    });
  }
  const insns = out.bpf.length / 8;
  if (insns > SECCOMP_MAX_INSNS) {
    throw new IsolateError('ERR_UNSUPPORTED', `The seccomp profile compiles to ${insns} BPF instructions; the kernel takes at most ${SECCOMP_MAX_INSNS}`, { option: 'seccomp' });
  }
  const words: number[] = [];
  for (let o = 0; o < out.bpf.length; o += 4) words.push(out.bpf.readUInt32LE(o));
  if (key !== undefined) {
    if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, words);
  }
  return words;
}
