/**
 * What execve(2) can carry: a command and an environment too large for it
 * are refused here, with the option to blame, instead of failing inside the
 * container with E2BIG. (The plan that takes them to init holds more than
 * exec ever takes: PLAN_MAX_BYTES.)
 *
 * The kernel's rules (fs/exec.c, bprm_stack_limits and copy_strings, the
 * same since Linux 4.13):
 * - one string, its NUL counted, of at most MAX_ARG_STRLEN (32 pages);
 * - all strings (the file name exec was given, then each environment and
 *   argument string, NULs counted) plus a pointer to each argument and
 *   environment string, at most a quarter of the stack limit (RLIMIT_STACK's
 *   soft value in the process that calls exec: `rlimits.stack`, else this
 *   process's own, which the container inherits), at most 6 MiB (three
 *   quarters of _STK_LIM) and at least ARG_MAX (128 KiB).
 */
import { readFileSync } from 'node:fs';
import { IsolateError, invalidOption } from './errors';
import { native } from './native';
import { DEFAULT_PATH, RLIMITS } from './process-options';

/** ARG_MAX (linux/limits.h): the least the kernel gives the strings, whatever the stack limit. */
const ARG_MAX = 128 * 1024;
/** Three quarters of _STK_LIM (8 MiB): the most, whatever the stack limit. */
const STRINGS_MOST = 6 * 1024 * 1024;
/** The longest path a PATH search may hand to execve (PATH_MAX, its NUL counted). */
const PATH_MAX = 4096;
let pageSize: number | undefined;
/** The kernel's page size (AT_PAGESZ of this process's auxiliary vector); 4096 where it cannot be read. */
function kernelPageSize(): number {
  if (pageSize === undefined) {
    pageSize = 4096;
    try {
      const auxv = readFileSync('/proc/self/auxv');
      for (let at = 0; at + 16 <= auxv.length; at += 16) {
        const type = auxv.readBigUInt64LE(at);
        if (type === 0n) break;
        if (type === 6n) pageSize = Number(auxv.readBigUInt64LE(at + 8)); // AT_PAGESZ
      }
    } catch {
      // keep the smallest page size Linux has
    }
  }
  return pageSize;
}

/**
 * The stack limit the command's exec sees: the process's own `rlimits.stack`
 * (soft), else this process's, or null where the addon cannot say (the start
 * then fails with its own error).
 */
function stackLimit(rlimits: readonly [number, bigint, bigint][]): bigint | null {
  const own = rlimits.find(([resource]) => resource === RLIMITS.stack);
  if (own) return own[1];
  try {
    return native().getrlimit(RLIMITS.stack)[0];
  } catch {
    return null;
  }
}

/** The bytes exec may copy for the strings, under a stack limit of `stack`. */
export function execStringsLimit(stack: bigint): number {
  const quarter = stack / 4n;
  const limit = quarter < BigInt(STRINGS_MOST) ? Number(quarter) : STRINGS_MOST;
  return Math.max(limit, ARG_MAX);
}

/**
 * The file name exec is given, its NUL counted: argv[0] itself where it has
 * a slash, else the longest a search of PATH (init's, as execvp's) could make.
 */
function execFileBytes(program: string, env: readonly string[]): number {
  const name = Buffer.byteLength(program, 'utf8');
  if (program.includes('/')) return name + 1;
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const dir = Math.max(...path.split(':').map((d) => Buffer.byteLength(d, 'utf8')));
  return Math.min(dir + 1 + name + 1, PATH_MAX);
}

/**
 * Throws ERR_INVALID_OPTION when `argv` and `env` ("NAME=value" strings)
 * cannot reach the payload: one string over MAX_ARG_STRLEN, or all of them
 * over exec's limit. ~1 µs for a usual command: only the strings' lengths
 * are added up unless they come near 128 KiB.
 */
export function checkExecSize(argv: readonly string[], env: readonly string[], rlimits: readonly [number, bigint, bigint][]): void {
  let units = 0;
  for (const s of argv) units += s.length;
  for (const s of env) units += s.length;
  // A UTF-16 unit is at most 3 bytes of UTF-8; a NUL and a pointer per
  // string; the file name at its longest.
  const pointers = 8 * (Math.max(argv.length, 1) + env.length);
  if (units * 3 + 2 * pointers + PATH_MAX <= ARG_MAX) return;

  const strlenMax = 32 * kernelPageSize(); // MAX_ARG_STRLEN, its NUL counted
  const lengths = (list: readonly string[], option: (i: number) => string, value: (s: string) => unknown): number => {
    let sum = 0;
    list.forEach((s, i) => {
      const n = Buffer.byteLength(s, 'utf8') + 1;
      if (n > strlenMax) {
        throw invalidOption(
          option(i),
          `at most ${strlenMax - 1} bytes`,
          value(s),
          `it has ${n - 1}, and the kernel takes no longer argument or environment string (MAX_ARG_STRLEN, 32 pages): pass it in a file or on stdin (input)`,
        );
      }
      sum += n;
    });
    return sum;
  };
  const argvBytes = lengths(argv, (i) => `command[${i}]`, (s) => s);
  const envBytes = lengths(
    env,
    (i) => `env.${env[i]!.slice(0, env[i]!.indexOf('='))}`,
    (s) => s.slice(s.indexOf('=') + 1),
  );
  const bytes = argvBytes + envBytes;
  const blame = envBytes >= argvBytes ? 'env' : 'command';

  const stack = stackLimit(rlimits);
  if (stack === null) return;
  const limit = execStringsLimit(stack);
  const file = execFileBytes(argv[0]!, env);
  const total = bytes + file + pointers;
  if (total > limit) {
    const stackText = stack === (1n << 64n) - 1n ? 'unlimited' : `${stack}`;
    throw new IsolateError(
      'ERR_INVALID_OPTION',
      `The command (${argvBytes} bytes) and its environment (${envBytes} bytes) come to ${total} bytes with the program's path and a pointer to each string; exec takes at most ${limit}: a quarter of the stack limit (${stackText}; rlimits.stack sets it), at most ${STRINGS_MOST}, at least ${ARG_MAX}. Raise rlimits.stack, or pass large data in a file or on stdin (input)`,
      { option: blame },
    );
  }
}
