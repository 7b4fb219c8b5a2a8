/** `isolate-kit probe`: probe()'s report, for people (default) or programs (--json). */
import { NAMESPACE_KINDS } from '../namespace';
import { probe, type Capability, type ProbeReport } from '../probe';
import { hasFlag, parseArgs, UsageError } from './args';
import { EXIT } from './exit';
import { PROBE_USAGE } from './help';

function verdict(c: Capability): string {
  if (c.ok) return c.reason ? `ok (${c.reason})` : 'ok';
  return `no: ${c.reason ?? 'unknown reason'}`;
}

/** Two aligned columns; the labels are ours, so a fixed width fits them all. */
function row(label: string, value: string, indent = 0): string {
  return `${' '.repeat(indent)}${label.padEnd(30 - indent)} ${value}\n`;
}

export function formatProbe(r: ProbeReport): string {
  let s = '';
  s += row('kernel', `${r.kernel} (${r.arch})`);
  s += row('node', r.node);
  s += row('user', `uid ${r.uid}${r.root ? ' (root)' : ''}`);
  s += row('addon', verdict(r.addon));
  s += 'namespaces\n';
  for (const kind of NAMESPACE_KINDS) s += row(kind, verdict(r.namespaces[kind]), 2);
  s += row('mount API', verdict(r.mountApi));
  s += row('overlayfs', verdict(r.overlayfs));
  s += row('unprivileged user namespaces', verdict(r.unprivilegedUserNamespaces));
  const cg = r.cgroup;
  s += row('cgroup', cg.v2Mount ? `${cg.layout} (cgroup2 at ${cg.v2Mount})` : cg.layout);
  s += row('v2 controllers', cg.v2Controllers.length ? cg.v2Controllers.join(' ') : '(none)', 2);
  const v1 = Object.entries(cg.v1Controllers);
  s += row('v1 controllers', v1.length ? v1.map(([name]) => name).join(' ') : '(none)', 2);
  for (const [name, mount] of v1) s += row(name, mount, 4);
  s += row('version', cg.version === null ? '(none)' : `${cg.version} (the backend isolate-kit uses here)`, 2);
  s += row('usable', verdict(cg.usable), 2);
  for (const parent of cg.usable.parents ?? []) s += row('parent', parent, 4);
  if (cg.usable.controllers) s += row('controllers', cg.usable.controllers.length ? cg.usable.controllers.join(' ') : '(none)', 4);
  s += row('swap accounting', verdict(cg.swapAccounting), 2);
  s += row('huge pages', verdict(cg.hugePages), 2);
  s += row('libseccomp', verdict(r.libseccomp));
  s += row('landlock', verdict(r.landlock));
  return s;
}

/** `isolate-kit probe ARGS`; resolves with the exit status. */
export async function probeCommand(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args, [{ name: 'json' }, { name: 'help', short: 'h' }], { stopAtOperand: false, topic: 'probe' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(PROBE_USAGE);
    return EXIT.OK;
  }
  if (parsed.operands.length) throw new UsageError(`probe takes no arguments, got ${JSON.stringify(parsed.operands[0])}`, 'probe');
  const report = probe();
  process.stdout.write(hasFlag(parsed, 'json') ? `${JSON.stringify(report, null, 2)}\n` : formatProbe(report));
  // Everything else missing is information; without the addon nothing works at all.
  return report.addon.ok ? EXIT.OK : EXIT.FAILURE;
}
