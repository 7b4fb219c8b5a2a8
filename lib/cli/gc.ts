/** `isolate-kit gc`: removes what crashed isolate-kit processes left behind (today: their cgroups). */
import { isIsolateError } from '../errors';
import { gc, type GcReport } from '../gc';
import { hasFlag, lastValue, parseArgs, UsageError } from './args';
import { EXIT } from './exit';
import { GC_USAGE } from './help';

export function formatGc(r: GcReport): string {
  const cg = r.cgroups;
  if (cg.skipped !== undefined) return `cgroups: skipped: ${cg.skipped}\n`;
  let s = '';
  for (const path of cg.removed) s += `removed ${path}\n`;
  // Failures go to stderr (see gcCommand); say here only that nothing was found.
  if (cg.removed.length === 0 && cg.failed.length === 0) s += 'nothing to remove\n';
  return s;
}

/** `isolate-kit gc ARGS`; resolves with the exit status. */
export async function gcCommand(args: readonly string[]): Promise<number> {
  const specs = [{ name: 'json' }, { name: 'cgroup-parent', value: 'PATH' }, { name: 'help', short: 'h' }];
  const parsed = parseArgs(args, specs, { stopAtOperand: false, topic: 'gc' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(GC_USAGE);
    return EXIT.OK;
  }
  if (parsed.operands.length) throw new UsageError(`gc takes no arguments, got ${JSON.stringify(parsed.operands[0])}`, 'gc');
  const parent = lastValue(parsed, 'cgroup-parent');
  let report: GcReport;
  try {
    report = await gc(parent ? { cgroupParent: parent.value } : {});
  } catch (err) {
    // A bad --cgroup-parent, or a cgroup filesystem we cannot read: nothing was removed.
    if (!isIsolateError(err)) throw err;
    process.stderr.write(`isolate-kit: ${parent && err.option === 'parent' ? `${parent.text}: ` : ''}${err.message}\n`);
    return EXIT.FAILURE;
  }
  process.stdout.write(hasFlag(parsed, 'json') ? `${JSON.stringify(report)}\n` : formatGc(report));
  for (const f of report.cgroups.failed) process.stderr.write(`isolate-kit: cannot remove ${f.path}: ${f.reason}\n`);
  // Groups that would not go are still there: a script should know.
  return report.cgroups.failed.length > 0 ? EXIT.FAILURE : EXIT.OK;
}
