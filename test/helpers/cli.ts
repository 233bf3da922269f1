// Runs the `lightcone` CLI in its own Node process, as a user would, and captures its result.
import { execFile } from 'node:child_process';
import { CLI, ROOT } from './paths.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment; `LIGHTCONE_DATA_DIR` is removed from the inherited env unless given here. */
  env?: Record<string, string>;
  /** Working directory (default: the repository root). */
  cwd?: string;
}

/** `node bin/lightcone.js ...args`; resolves with the exit code and both streams (never rejects on exit code). */
export function lightcone(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LIGHTCONE_DATA_DIR;
  delete env.NODE_OPTIONS; // vitest may set loaders meant for its own workers
  Object.assign(env, opts.env ?? {});
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
  });
}
