/**
 * Parts of the bench that run in a child `node` of their own, so that what
 * the main process allocated (its ballast, V8's grown heap) is not counted:
 * the child prints its report as its last stdout line, in JSON.
 */
import { spawn } from 'node:child_process';

/** Runs `node FLAGS SCRIPT ARGS` and parses its last stdout line. */
export function childReport<T>(what: string, flags: readonly string[], script: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...flags, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.once('error', reject);
    p.once('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${what} ended with ${code ?? signal}: ${last}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch (err) {
        reject(new Error(`${what} printed no report: ${(err as Error).message}`));
      }
    });
  });
}

/** In the child: prints what `work` resolves with, or fails the process. */
export function reportFromChild(work: Promise<unknown>): void {
  work.then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
