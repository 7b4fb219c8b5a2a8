/**
 * A small online judge: a python3 submission is run against every test case,
 * each in a fresh sandbox with its own cgroup: a CPU-time limit (every process
 * it starts counts), a memory limit (MLE when the OOM killer strikes), a pids
 * limit (no fork bombs), a wall-clock backstop and an output limit.
 *
 *   sudo npm run example:judge                       every built-in submission, one per verdict
 *   sudo npm run example:judge -- --demo tle         one of: ac wa tle re segv ole mle se
 *   sudo npm run example:judge -- path/to/main.py    your own solution
 *
 * The problem: the first line holds n, the second n integers; print their sum.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, isIsolateError, type RunResult } from '../lib';

const TIME_LIMIT_MS = 1000; // CPU time
const MEMORY_LIMIT = '128M';
const OUTPUT_LIMIT = '64K';
const CONCURRENCY = 2;

interface TestCase {
  input: string;
  expected: string;
}

function sumCase(nums: number[]): TestCase {
  return { input: `${nums.length}\n${nums.join(' ')}\n`, expected: `${nums.reduce((a, b) => a + b, 0)}\n` };
}

const CASES: TestCase[] = [
  sumCase([1, 2, 3]),
  sumCase([-5]),
  sumCase([]),
  sumCase(Array.from({ length: 200_000 }, (_, i) => ((i * 7919) % 2_000_001) - 1_000_000)),
];

const READ = 'import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nnums = [int(x) for x in data[1:n + 1]]\n';

/** Built-in submissions, one per verdict; a real judge takes them from users. */
const SUBMISSIONS: Record<string, { about: string; code: string; interpreter?: string }> = {
  ac: { about: 'correct', code: `${READ}print(sum(nums))\n` },
  wa: { about: 'off by one', code: `${READ}print(sum(nums[:-1]))\n` },
  tle: { about: 'quadratic: fine for small n only', code: `${READ}s = 0\nfor i in range(n):\n    s = sum(nums[:i + 1])\nprint(s)\n` },
  re: {
    about: 'recursion: RecursionError (exit 1) for large n',
    code: `${READ}def total(i):\n    return 0 if i == n else nums[i] + total(i + 1)\nprint(total(0))\n`,
  },
  segv: { about: 'crashes in native code', code: `${READ}import ctypes\nctypes.string_at(0)\n` },
  ole: { about: 'forgets i += 1 and prints forever', code: `${READ}i = s = 0\nwhile i < n:\n    s += nums[i]\n    print('partial sum', s)\nprint(s)\n` },
  mle: { about: 'keeps every prefix sum list: quadratic memory', code: `${READ}prefixes = [nums[:i] for i in range(n)]\nprint(sum(nums))\n` },
  se: { about: 'a judge misconfiguration: the interpreter does not exist', code: 'print(0)\n', interpreter: 'python9' },
};

interface CaseReport {
  verdict: string;
  wallTimeMs: number;
  cpuTimeMs: number | null;
  detail?: string;
}

/** Compares outputs line by line, ignoring trailing whitespace. */
function sameOutput(actual: string, expected: string): boolean {
  const lines = (s: string) => s.trimEnd().split('\n').map((l) => l.trimEnd());
  return lines(actual).join('\n') === lines(expected).join('\n');
}

function verdict(r: RunResult, expected: string): string {
  switch (r.status) {
    case 'ok':
      return sameOutput(r.stdout, expected) ? 'AC' : 'WA';
    case 'nonzero':
      return `RE (exit ${r.exitCode})`;
    case 'signaled':
      return `RE (${r.signal})`;
    case 'timeout':
      return 'TLE';
    case 'output-limit':
      return 'OLE';
    case 'oom':
      return `MLE (peak ${((r.memoryPeakBytes ?? 0) / 2 ** 20).toFixed(0)} MiB)`;
    case 'error':
      return `SE (${r.error?.code})`;
  }
}

/** Runs one test case in a fresh container. */
async function judgeCase(program: string, interpreter: string, test: TestCase): Promise<CaseReport> {
  try {
    const r = await Container.run([interpreter, '/tmp/main.py'], {
      mounts: [{ type: 'bind', source: program, target: '/tmp/main.py', readonly: true }],
      cgroup: { memory: MEMORY_LIMIT, pids: 32, cpus: 1 },
      input: test.input,
      cpuTime: TIME_LIMIT_MS, // CPU of every process in the sandbox
      timeout: 3 * TIME_LIMIT_MS, // wall clock: a sleeping submission ends too
      maxOutput: OUTPUT_LIMIT,
    });
    const v = verdict(r, test.expected);
    const detail = v.startsWith('RE') ? r.stderr.trimEnd().split('\n').pop() : r.error?.message;
    return { verdict: v, wallTimeMs: r.wallTimeMs, cpuTimeMs: r.cpuTimeMs, ...(detail ? { detail } : {}) };
  } catch (err) {
    // Rejections are sandbox problems too: not root (ERR_PERMISSION), no addon (ERR_NATIVE), a bad option.
    if (!isIsolateError(err)) throw err;
    return { verdict: `SE (${err.code})`, wallTimeMs: 0, cpuTimeMs: null, detail: err.message };
  }
}

/** Like Promise.all(items.map(fn)), with at most `limit` calls running at once. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function judge(name: string, code: string, interpreter = 'python3'): Promise<void> {
  // The sandbox runs as nobody: give it a world-readable copy of the source.
  const dir = mkdtempSync(join(tmpdir(), 'judge-'));
  const program = join(dir, 'main.py');
  writeFileSync(program, code, { mode: 0o644 });
  try {
    console.log(`\n${name}`);
    const reports = await mapLimit(CASES, CONCURRENCY, (test) => judgeCase(program, interpreter, test));
    reports.forEach((c, i) => {
      const ms = (t: number | null) => (t === null ? '-' : t.toFixed(1)).padStart(7);
      const line = `  case ${i + 1}  ${c.verdict.padEnd(20)} wall ${ms(c.wallTimeMs)} ms  cpu ${ms(c.cpuTimeMs)} ms`;
      console.log(c.detail ? `${line}  ${c.detail}` : line);
    });
    const passed = reports.filter((c) => c.verdict === 'AC').length;
    const first = reports.find((c) => c.verdict !== 'AC');
    const maxWall = Math.max(...reports.map((c) => c.wallTimeMs));
    console.log(`  => ${first ? first.verdict : 'AC'}: ${passed}/${reports.length} passed, max wall ${maxWall.toFixed(1)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--demo') {
    const demo = SUBMISSIONS[args[1] ?? ''];
    if (!demo) throw new Error(`--demo takes one of: ${Object.keys(SUBMISSIONS).join(' ')}`);
    await judge(`${args[1]}: ${demo.about}`, demo.code, demo.interpreter);
  } else if (args[0]) {
    await judge(args[0], readFileSync(args[0], 'utf8'));
  } else {
    for (const [name, s] of Object.entries(SUBMISSIONS)) await judge(`${name}: ${s.about}`, s.code, s.interpreter);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
