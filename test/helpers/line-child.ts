// A Node child process that reports by printing lines on stdout (the crash tests' writers):
// the parent sees every line as it arrives, waits for a condition over them, and SIGKILLs it.
import { type ChildProcess, spawn } from 'node:child_process';

/** How a line child ended, with everything it printed. */
export interface LineChildExit {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LineChild {
  readonly child: ChildProcess;
  /** Every complete stdout line so far, in order. */
  readonly lines: readonly string[];
  /**
   * Resolves once `condition()` holds (checked now and after each batch of lines); rejects with
   * the child's stderr when it exits before that.
   */
  until(condition: () => boolean): Promise<void>;
  /** Resolves after the process is gone and its stdout is drained. */
  readonly exited: Promise<LineChildExit>;
}

const running = new Set<ChildProcess>();

/** Runs `node script ...args` (without the parent's NODE_OPTIONS, which vitest may fill with loaders). */
export function spawnLineChild(script: string, args: readonly string[], onLine?: (line: string) => void): LineChild {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  let done: LineChildExit | undefined;
  const waiters: { condition: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  const wake = (): void => {
    for (const w of [...waiters]) {
      if (w.condition()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      onLine?.(line);
    }
    wake();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<LineChildExit>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      done = { lines, stderr, code, signal };
      wake();
      const err = new Error(`${script} exited (code ${code}, signal ${signal}) after ${lines.length} lines: ${stderr}`);
      for (const w of waiters.splice(0)) w.reject(err);
      resolve(done);
    });
  });
  return {
    child,
    lines,
    until: (condition) =>
      new Promise<void>((resolve, reject) => {
        if (condition()) return resolve();
        if (done) return reject(new Error(`${script} exited (code ${done.code}, signal ${done.signal}): ${done.stderr}`));
        waiters.push({ condition, resolve, reject });
      }),
    exited,
  };
}

/** SIGKILLs every line child still running (for afterEach). */
export function killLineChildren(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
