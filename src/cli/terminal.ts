// What the CLI does differently on a terminal: it asks before destroying data (and refuses to guess
// when there is no terminal to ask on), and shows long steps as a status line on stderr. Off a
// terminal (CI, pipes, redirected output) nothing but results and errors is written.
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.ts';

/** The process's streams as the CLI sees them; tests pass their own. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  /** stdin is a terminal: the CLI may ask questions there. */
  stdinIsTTY: boolean;
  /** stderr is a terminal: long steps show progress there. */
  stderrIsTTY: boolean;
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdinIsTTY: Boolean(process.stdin.isTTY), stderrIsTTY: Boolean(process.stderr.isTTY) };
}

/**
 * Asks `question` (y/N) on the terminal; resolves true for y/yes. `--yes` answers it beforehand.
 * Without a terminal it throws UsageError CONFIRMATION_REQUIRED naming `--yes`, as SpacetimeDB's
 * CLI reads "no" from a closed stdin: a destructive step is never taken without an explicit answer.
 */
export async function confirm(io: CliIo, err: (s: string) => void, o: { warning: string; question: string; yes: boolean; flag: string }): Promise<boolean> {
  if (o.yes) return true;
  if (!io.stdinIsTTY) {
    throw new UsageError('CONFIRMATION_REQUIRED', `${o.warning} There is no terminal to ask on (stdin is not a TTY): add --yes to ${o.flag} to confirm it.`, { flag: '--yes' });
  }
  err(`${o.warning}\n`);
  const answer = await readLine(io, err, `${o.question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/** One line from stdin after writing `prompt` to stderr ('' when stdin ends first). */
function readLine(io: CliIo, err: (s: string) => void, prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.stdin, terminal: false });
    let answered = false;
    err(prompt);
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

/** A long step's status line: `⠋ Bundling spacetimedb/index.ts… 1.2s` redrawn on stderr, erased when done. */
export interface Progress {
  /** Changes what the line says. */
  step(label: string): void;
  /** Erases the line. */
  done(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const NO_PROGRESS: Progress = { step: () => {}, done: () => {} };

/** A status line on stderr when it is a terminal (redrawn every 80 ms); nothing otherwise. */
export function progress(io: CliIo, err: (s: string) => void, label: string): Progress {
  if (!io.stderrIsTTY) return NO_PROGRESS;
  let text = label;
  let frame = 0;
  const started = Date.now();
  const draw = () => err(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text} ${((Date.now() - started) / 1000).toFixed(1)}s`);
  draw();
  const timer = setInterval(draw, 80);
  let ended = false;
  return {
    step(l) {
      text = l;
      if (!ended) draw();
    },
    done() {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      err('\r\x1b[2K');
    },
  };
}

/** `1.5 MB`, `312 KB`, `87 B`. */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} B`;
}
