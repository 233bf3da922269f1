// The `lightcone` CLI as a long-running child process the test talks to: its stdin is a pipe the
// test writes to (the SQL prompt), its output is watched as it arrives (`dev`), and `onTerminal`
// runs it on a real pseudo-terminal through util-linux `script`, so the CLI's isTTY paths (the
// question before deleting data, progress lines, the prompt) run as a user sees them.
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, ROOT } from './paths.ts';

export interface CliChild {
  readonly child: ChildProcess;
  /** Everything written to stdout so far (on a terminal: stdout and stderr together, with \r\n). */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once `condition(stdout)` holds; rejects with the streams when the process exits first. */
  until(condition: (stdout: string) => boolean): Promise<void>;
  write(text: string): void;
  /** Closes stdin (Ctrl-D for a pipe). */
  end(): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export interface CliChildOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run on a pseudo-terminal (`script -qec`): stdin, stdout and stderr are all the terminal. */
  onTerminal?: boolean;
}

const running = new Set<ChildProcess>();

/** Starts `node bin/lightcone.js ...args`. */
export function spawnCli(args: string[], opts: CliChildOptions = {}): CliChild {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LIGHTCONE_DATA_DIR;
  delete env.NODE_OPTIONS;
  Object.assign(env, opts.env ?? {});
  const argv = [process.execPath, CLI, ...args];
  const child = opts.onTerminal
    ? spawn('script', ['-qec', argv.map(shellQuote).join(' '), '/dev/null'], { cwd: opts.cwd ?? ROOT, env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const waiters: { condition: (s: string) => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  const wake = () => {
    for (const w of [...waiters]) {
      if (w.condition(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    wake();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    wake(); // a condition may look at stderr too
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      ended = { code, signal };
      wake();
      for (const w of waiters.splice(0)) w.reject(new Error(`lightcone ${args.join(' ')} exited (code ${code}, signal ${signal}) before the output expected.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    until: (condition) =>
      new Promise<void>((resolve, reject) => {
        if (condition(stdout)) return resolve();
        if (ended) return reject(new Error(`lightcone ${args.join(' ')} had exited (code ${ended.code}).\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        waiters.push({ condition, resolve, reject });
      }),
    write: (text) => child.stdin!.write(text),
    end: () => child.stdin!.end(),
    exited,
  };
}

/** SIGKILLs every child still running (for afterAll). */
export function killCliChildren(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
