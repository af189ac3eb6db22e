/** Running a compiled bench script in a fresh Node process and reading its JSON answer. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildRun<T> {
  /** The value the child printed on its `RESULT ` line. */
  result: T;
  /** ms from spawn() to the moment the RESULT line arrived. */
  resultAtMs: number;
  /** ms from spawn() to the moment an `ANSWER` line arrived (children that time a first answer print one). */
  answerAtMs?: number;
  /** ms from spawn() to exit. */
  exitAtMs: number;
}

/** A script next to this one in dist/bench. */
export function benchScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/**
 * Spawns `node [execArgv] script args`; the child must print exactly one line `RESULT <json>` on
 * stdout, and may print `ANSWER` first to mark a moment the parent times. Its stderr
 * (onnxruntime's provider probing, mostly) is kept and shown only if it fails.
 */
export function runChild<T>(script: string, args: string[], options: { execArgv?: string[]; timeoutMs?: number; label: string }): Promise<ChildRun<T>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let found: { value: T; at: number } | undefined;
    let answerAt: number | undefined;
    let stderrTail = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line === 'ANSWER' && answerAt === undefined) answerAt = performance.now() - started;
        if (line.startsWith('RESULT ') && !found) found = { value: JSON.parse(line.slice(7)) as T, at: performance.now() - started };
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitAtMs = performance.now() - started;
      if (found && code === 0) resolve({ result: found.value, resultAtMs: found.at, answerAtMs: answerAt, exitAtMs });
      else reject(new Error(`${options.label} exited with ${signal ?? code}${found ? '' : ' without a result'}: ${stderrTail.trim().slice(-1000)}`));
    });
  });
}
