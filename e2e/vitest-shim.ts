// A tiny stand-in for the parts of vitest that src/durability/contract.ts uses (describe, it,
// it.runIf, beforeEach, afterEach, expect with the matchers it calls), so the one durability
// contract suite also runs in Chromium against real IndexedDB (e2e/contract.spec.ts). The e2e
// build aliases `vitest` to this file for the contract page only.

type Fn = () => unknown | Promise<unknown>;
interface Case {
  name: string;
  fn: Fn;
  before: Fn[];
  after: Fn[];
}

const cases: Case[] = [];
let prefix: string[] = [];
let befores: Fn[] = [];
let afters: Fn[] = [];

export function describe(name: string, body: () => void): void {
  const saved = { prefix, befores, afters };
  prefix = [...prefix, name];
  befores = [...befores];
  afters = [...afters];
  body();
  ({ prefix, befores, afters } = saved);
}

export function beforeEach(fn: Fn): void {
  befores.push(fn);
}

export function afterEach(fn: Fn): void {
  afters.push(fn);
}

function register(name: string, fn: Fn): void {
  cases.push({ name: [...prefix, name].join(' › '), fn, before: befores, after: afters });
}

export const it = Object.assign(register, {
  runIf: (condition: boolean) => (name: string, fn: Fn) => {
    if (condition) register(name, fn);
  },
});

/** Runs every registered case in order; resolves with one result per case. */
export async function run(): Promise<{ name: string; ok: boolean; error?: string }[]> {
  const results: { name: string; ok: boolean; error?: string }[] = [];
  for (const c of cases) {
    try {
      for (const f of c.before) await f();
      try {
        await c.fn();
      } finally {
        for (const f of c.after) await f();
      }
      results.push({ name: c.name, ok: true });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return results;
}

// ── expect ────────────────────────────────────────────────────────────────

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes(${x.length})` : x));
  } catch {
    return String(v);
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    const x = a as Uint8Array;
    const y = b as Uint8Array;
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function matches(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null) return Object.is(actual, expected);
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
}

function check(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

type Ctor = abstract new (...args: never[]) => unknown;

function matchers(actual: unknown) {
  return {
    toBe: (expected: unknown) => check(Object.is(actual, expected), () => `expected ${show(actual)} to be ${show(expected)}`),
    toEqual: (expected: unknown) => check(equal(actual, expected), () => `expected ${show(actual)} to equal ${show(expected)}`),
    toMatchObject: (expected: object) => check(matches(actual, expected), () => `expected ${show(actual)} to match ${show(expected)}`),
    toBeInstanceOf: (cls: Ctor) => check(actual instanceof cls, () => `expected ${show(actual)} to be an instance of ${cls.name}`),
    toBeUndefined: () => check(actual === undefined, () => `expected ${show(actual)} to be undefined`),
    toBeDefined: () => check(actual !== undefined, () => 'expected a defined value'),
    toBeGreaterThan: (n: number | bigint) => check((actual as number) > n, () => `expected ${show(actual)} > ${show(n)}`),
    toThrow: (cls?: Ctor) => {
      let thrown: unknown;
      let threw = false;
      try {
        (actual as () => unknown)();
      } catch (e) {
        threw = true;
        thrown = e;
      }
      check(threw && (cls === undefined || thrown instanceof cls), () => `expected a throw${cls ? ` of ${cls.name}` : ''}, got ${threw ? show(thrown) : 'none'}`);
    },
  };
}

type Matchers = ReturnType<typeof matchers>;
type Async = { [K in keyof Matchers]: (...args: Parameters<Matchers[K]>) => Promise<void> };

export function expect(actual: unknown): Matchers & { rejects: Async; resolves: Async } {
  const settle = (rejects: boolean) =>
    new Proxy({} as Async, {
      get:
        (_t, name: string) =>
        async (...args: unknown[]) => {
          let value: unknown;
          let rejected = false;
          try {
            value = await (actual as Promise<unknown>);
          } catch (e) {
            rejected = true;
            value = e;
          }
          check(rejected === rejects, () => `expected the promise to ${rejects ? 'reject' : 'resolve'}, it ${rejected ? `rejected with ${show(value)}` : `resolved with ${show(value)}`}`);
          (matchers(value) as unknown as Record<string, (...a: unknown[]) => void>)[name]!(...args);
        },
    });
  return Object.assign(matchers(actual), { rejects: settle(true), resolves: settle(false) });
}
