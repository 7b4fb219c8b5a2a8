#!/usr/bin/env node
/**
 * isolate-kit's command line: `run`, `probe`, `ps`, `gc`, `image`, `help`, `--version`.
 * docs/cli.md describes every command, option and exit status.
 */
import { UsageError } from './args';
import { EXIT } from './exit';
import { gcCommand } from './gc';
import { HELP_TOPICS, usageHint, version } from './help';
import { imageCommand } from './image';
import { probeCommand } from './probe';
import { psCommand } from './ps';
import { runCommand } from './run';

const COMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = {
  run: runCommand,
  probe: probeCommand,
  ps: psCommand,
  gc: gcCommand,
  image: imageCommand,
  help: async (args) => {
    const topic = args[0] ?? '';
    const text = HELP_TOPICS[topic];
    if (text === undefined || args.length > 1) throw new UsageError(`no help for ${JSON.stringify(args.join(' '))}`);
    process.stdout.write(text);
    return EXIT.OK;
  },
};

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === '--version') {
      if (rest.length) throw new UsageError('--version takes no arguments');
      process.stdout.write(`${version()}\n`);
      return EXIT.OK;
    }
    if (first === '-h' || first === '--help') return await COMMANDS.help!(rest);
    if (first === undefined) throw new UsageError('missing command');
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw new UsageError(first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`);
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`isolate-kit: ${err.message}\n${usageHint(err.topic)}`);
      return EXIT.USAGE;
    }
    // A bug of ours, not the payload's: say so plainly, with the stack to report.
    process.stderr.write(`isolate-kit: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.ISOLATE;
  }
}

// A closed stdout (`isolate-kit probe | head -1`) is not worth a crash.
process.stdout.on('error', () => {});

if (require.main === module) {
  // process.exit() right away: stdout and stderr are synchronous on Linux for
  // files, pipes and terminals, so nothing is lost, and a stray handle can
  // never keep a finished CLI alive.
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
