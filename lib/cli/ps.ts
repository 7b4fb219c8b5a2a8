/** `isolate-kit ps`: the containers running on this machine (lib/ps.ts). */
import { listContainers, type ContainerInfo } from '../ps';
import { hasFlag, parseArgs, shellQuote, UsageError } from './args';
import { EXIT } from './exit';
import { PS_USAGE } from './help';

/**
 * A payload sets its own command line: shown raw, one could rewrite the
 * terminal of whoever runs `ps` (escape sequences: move the cursor, hide
 * rows, set the title, or text right-to-left). Control characters (C0,
 * DEL, C1) and Unicode's bidirectional controls are shown escaped.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

function shownCommand(argv: readonly string[] | null, max = 60): string {
  if (argv === null) return '-';
  const s = argv.map((a) => printable(shellQuote(a))).join(' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function age(since: Date, now: number): string {
  let s = Math.max(0, Math.floor((now - since.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  const h = Math.floor(s / 3600);
  s %= 3600;
  return h < 48 ? `${h}h${Math.floor(s / 60)}m` : `${Math.floor(h / 24)}d${h % 24}h`;
}

function size(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

/** The table `isolate-kit ps` prints: a header, then a row per container. */
export function formatPs(list: readonly ContainerInfo[], now = Date.now()): string {
  const rows = [['PID', 'OWNER', 'UP', 'PROCS', 'MEMORY', 'NAMESPACES', 'COMMAND']];
  for (const c of list) {
    rows.push([
      String(c.pid),
      String(c.owner.pid),
      age(c.startedAt, now),
      String(c.processes),
      size(c.memoryBytes),
      c.namespaces === null ? '?' : c.namespaces.join(',') || '-',
      shownCommand(c.command),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** `isolate-kit ps ARGS`; resolves with the exit status. */
export async function psCommand(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args, [{ name: 'json' }, { name: 'help', short: 'h' }], { stopAtOperand: false, topic: 'ps' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(PS_USAGE);
    return EXIT.OK;
  }
  if (parsed.operands.length) throw new UsageError(`ps takes no arguments, got ${JSON.stringify(parsed.operands[0])}`, 'ps');
  const list = listContainers();
  process.stdout.write(hasFlag(parsed, 'json') ? `${JSON.stringify(list)}\n` : formatPs(list));
  return EXIT.OK;
}
