// Command-line parsing for `lightcone`: a command, positionals, and options that may come before
// or after the positionals (`--name value`, `--name=value`, short aliases, boolean flags).
import { UsageError } from '../errors.ts';

export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  options: Record<string, string>;
  flags: Record<string, boolean>;
}

const VALUE_OPTIONS: Record<string, string> = {
  'data-dir': 'data-dir',
  'module-path': 'module-path',
  p: 'module-path',
  identity: 'identity',
  'num-lines': 'num-lines',
  n: 'num-lines',
  'call-timeout': 'call-timeout',
  'max-heap': 'max-heap',
  'out-dir': 'out-dir',
  o: 'out-dir',
  lang: 'lang',
  l: 'lang',
  listen: 'listen',
  'max-body': 'max-body',
  server: 'server',
  s: 'server',
  template: 'template',
  t: 'template',
};
const FLAGS: Record<string, string> = {
  'delete-data': 'delete-data',
  c: 'delete-data',
  json: 'json',
  help: 'help',
  h: 'help',
  yes: 'yes',
  y: 'yes',
  'include-private': 'include-private',
  follow: 'follow',
  f: 'follow',
  version: 'version',
};

/** Parses argv (without node and the script). Throws UsageError BAD_USAGE on unknown options or missing values. */
export function parseArgs(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { command: undefined, positionals: [], options: {}, flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    const m = /^(--?)([A-Za-z][\w-]*)(?:=(.*))?$/.exec(a);
    if (!m || (m[1] === '-' && m[2]!.length !== 1)) {
      if (out.command === undefined) out.command = a;
      else out.positionals.push(a);
      continue;
    }
    const key = m[2]!;
    const opt = VALUE_OPTIONS[key];
    if (opt) {
      const v = m[3] ?? argv[++i];
      if (v === undefined) throw new UsageError('BAD_USAGE', `option ${a} needs a value`, { option: a });
      out.options[opt] = v;
      continue;
    }
    const flag = FLAGS[key];
    if (flag) {
      out.flags[flag] = true;
      continue;
    }
    // A negative number is a value, not an option.
    if (/^-\d/.test(a)) {
      out.positionals.push(a);
      continue;
    }
    throw new UsageError('BAD_USAGE', `unknown option ${a}: see the options below`, { option: a });
  }
  return out;
}
