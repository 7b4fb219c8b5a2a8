/**
 * `isolate-kit run`: one container, one command, the command's status as
 * ours. Output streams through inherited fds (nothing buffered, nothing
 * re-encoded) unless --max-output needs to count it or --json collects it.
 */
import { Container, type StdioOption } from '../container';
import type { ContainerProcess } from '../process';
import { collect, resolveLimits, runStatus, type RunResult } from '../run';
import { UsageError, hasFlag, parseArgs } from './args';
import { EXIT, exitStatus, failedResultJson, resultJson, type Outcome } from './exit';
import { RUN_USAGE } from './help';
import { RUN_OPTIONS, describeError, planRun, type RunPlan } from './run-options';

/** Signals a terminal or a supervisor sends to stop us; each one goes to the container instead. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Forwards our signals to every process in the container, so Ctrl-C or a
 * supervisor's SIGTERM reach the payload (which runs in its own session and
 * never sees the terminal's signals) and we still outlive it to clean up.
 * The first signal is the payload's to handle; a second one kills the
 * container. Returns the function that stops forwarding.
 */
function forwardSignals(container: Container): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    container.kill(received === 1 ? signal : 'SIGKILL');
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  return () => {
    for (const s of FORWARDED) process.off(s, onSignal);
  };
}

/** Copies a pipe to our stream, killing the container once more than `max` bytes came. */
function forwardCapped(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, max: number, onLimit: () => void): void {
  let seen = 0;
  from.on('data', (chunk: Buffer) => {
    const room = max - seen;
    if (chunk.length > room) {
      if (room > 0) to.write(chunk.subarray(0, room));
      seen = max;
      onLimit();
      return;
    }
    seen += chunk.length;
    to.write(chunk);
  });
}

/** Streams the payload's output live and waits for its end. */
function runStreaming(container: Container, plan: RunPlan): Promise<Outcome> {
  const capped = plan.maxOutput !== undefined;
  const out: StdioOption = capped ? 'pipe' : 'inherit';
  const proc: ContainerProcess = container.spawn(plan.command, { stdio: [plan.interactive ? 'inherit' : 'ignore', out, out] });
  return new Promise((resolve) => {
    let timedOut = false;
    let outputLimit = false;
    let killed = false;
    const kill = () => {
      if (!killed) {
        killed = true;
        container.kill('SIGKILL');
      }
    };
    if (capped) {
      const onLimit = () => {
        if (!timedOut) outputLimit = true;
        kill();
      };
      forwardCapped(proc.stdout!, process.stdout, plan.maxOutput!, onLimit);
      forwardCapped(proc.stderr!, process.stderr, plan.maxOutput!, onLimit);
    }
    const timer =
      plan.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (!outputLimit) timedOut = true;
            kill();
          }, plan.timeoutMs);
    // The error is read from proc.error at 'close'; this listener only marks it handled.
    proc.on('error', () => {});
    proc.once('close', () => {
      if (timer) clearTimeout(timer);
      const status = runStatus(proc, timedOut, outputLimit);
      resolve({ status, exitCode: proc.exitCode, signal: proc.signalCode, error: proc.error });
    });
  });
}

/** Collects the payload's output into a RunResult, as Container.run() does, but with our stdin when -i. */
function runJson(container: Container, plan: RunPlan): Promise<RunResult<string>> {
  const limits = resolveLimits({ timeout: plan.timeoutMs, maxOutput: plan.maxOutput });
  const proc = container.spawn(plan.command, { stdio: [plan.interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
  return collect(proc, limits, () => container.kill('SIGKILL')) as Promise<RunResult<string>>;
}

function say(message: string): void {
  process.stderr.write(`isolate-kit: ${message}\n`);
}

/** Why the CLI killed the container, for a human reading the terminal. */
function limitMessage(o: Outcome, plan: RunPlan): string | undefined {
  if (o.status === 'timeout') return `the --timeout of ${plan.timeoutMs} ms passed; the container was killed`;
  if (o.status === 'output-limit') return `the output passed --max-output (${plan.maxOutput} bytes); the container was killed`;
  return undefined;
}

/** `isolate-kit run ARGS`; resolves with the exit status. Throws UsageError for a malformed command line. */
export async function runCommand(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args, RUN_OPTIONS, { stopAtOperand: true, topic: 'run' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(RUN_USAGE);
    return EXIT.OK;
  }
  const json = hasFlag(parsed, 'json');
  let plan: RunPlan | undefined;
  const fail = (err: unknown): number => {
    say(describeError(err, plan?.attribute));
    if (json) process.stdout.write(`${JSON.stringify(failedResultJson(parsed.operands, err))}\n`);
    return exitStatus({ status: 'error', exitCode: null, signal: null, error: err as Outcome['error'] });
  };

  let container: Container;
  try {
    plan = planRun(parsed, process.env);
    container = new Container(plan.container);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return fail(err);
  }

  const stopForwarding = forwardSignals(container);
  try {
    if (json) {
      const result = await runJson(container, plan);
      if (result.error) say(describeError(result.error, plan.attribute));
      process.stdout.write(`${JSON.stringify(resultJson(result))}\n`);
      return exitStatus(result);
    }
    const outcome = await runStreaming(container, plan);
    const why = outcome.error ? describeError(outcome.error, plan.attribute) : limitMessage(outcome, plan);
    if (why) say(why);
    return exitStatus(outcome);
  } catch (err) {
    // spawn() threw: a process option was rejected, or the clone itself failed.
    return fail(err);
  } finally {
    // Never leave a container behind, whatever happened above.
    await container.destroy();
    stopForwarding();
  }
}
