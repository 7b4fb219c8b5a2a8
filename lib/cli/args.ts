/**
 * A small, strict command-line parser: every option must be declared, a
 * value option must get its value, a flag must not get one. Nothing is
 * guessed, so a typo fails loudly instead of running a sandbox with a limit
 * silently missing.
 */

/** A malformed command line (exit status 2, with the usage text). */
export class UsageError extends Error {
  /** The help topic to show with the message ('' for the main usage). */
  readonly topic: string;

  constructor(message: string, topic = '') {
    super(message);
    this.name = 'UsageError';
    this.topic = topic;
  }
}

/** One declared option. */
export interface OptionSpec {
  /** Long name without the dashes, e.g. 'hostname' for --hostname. */
  name: string;
  /** One-letter alias without the dash, e.g. 'i' for -i. */
  short?: string;
  /** Placeholder of its value in messages and help (e.g. 'NAME'); absent for flags. */
  value?: string;
}

/** One option as given, in command-line order (order matters for mounts). */
export interface GivenOption {
  name: string;
  /** The value; '' for a flag. */
  value: string;
  /** How the user wrote it, e.g. '--bind /a:/b', for error messages. */
  text: string;
}

export interface ParsedArgs {
  options: GivenOption[];
  /** What follows the options: for `run`, the command and its arguments. */
  operands: string[];
}

export interface ParseSettings {
  /**
   * The first operand ends the options (so `run sh -c x` passes `-c` to sh),
   * as in docker run, env(1) and timeout(1).
   */
  stopAtOperand: boolean;
  /** Help topic named in usage errors. */
  topic: string;
}

/** Parses `argv` against `specs`; throws UsageError on anything undeclared or malformed. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], settings: ParseSettings): ParsedArgs {
  const options: GivenOption[] = [];
  const operands: string[] = [];
  const usage = (message: string) => new UsageError(message, settings.topic);
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i++]!;
    if (arg === '--') {
      operands.push(...argv.slice(i));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      operands.push(arg);
      if (settings.stopAtOperand) {
        operands.push(...argv.slice(i));
        break;
      }
      continue;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = specs.find((s) => s.name === name);
    } else if (arg.length === 2) {
      // Short options stand alone: no bundling (-ih) and no attached values (-xVALUE).
      spec = specs.find((s) => s.short === arg[1]);
    }
    if (!spec) throw usage(`unknown option ${arg.split('=')[0]}`);
    const display = `--${spec.name}`;
    if (spec.value === undefined) {
      if (inline !== undefined) throw usage(`option ${display} takes no value`);
      options.push({ name: spec.name, value: '', text: arg });
      continue;
    }
    let value = inline;
    if (value === undefined) {
      // The next word is the value even if it starts with '-' (e.g. --env -x is a mistake the library reports).
      if (i >= argv.length) throw usage(`option ${display} needs a value (${spec.value})`);
      value = argv[i++]!;
    }
    options.push({ name: spec.name, value, text: `${display} ${shellQuote(value)}` });
  }
  return { options, operands };
}

/** `value` as a shell would need it, so messages show arguments unambiguously. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** True when the flag was given. */
export function hasFlag(parsed: ParsedArgs, name: string): boolean {
  return parsed.options.some((o) => o.name === name);
}

/** The last value given for a single-valued option (the last one wins, as with getopt tools). */
export function lastValue(parsed: ParsedArgs, name: string): GivenOption | undefined {
  for (let i = parsed.options.length - 1; i >= 0; i--) {
    if (parsed.options[i]!.name === name) return parsed.options[i];
  }
  return undefined;
}

/** Every value of a repeatable option, in order. */
export function allValues(parsed: ParsedArgs, name: string): GivenOption[] {
  return parsed.options.filter((o) => o.name === name);
}
