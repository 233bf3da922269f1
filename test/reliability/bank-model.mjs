// The transfers of the crash workload as a pure function of their number, so that the parent
// can check every audit row (who paid whom, how much) without having seen the call: transfer
// `id` moves `id` units between two accounts derived from `id`. Shared by the load process and
// the tests (plain JS, so the child runs it without a TypeScript loader).

/** Transfer number `id` among accounts 1..accounts (accounts >= 2). */
export function transferOf(id, accounts) {
  const a = BigInt(accounts);
  const n = BigInt(id);
  const from = (n * 7919n) % a;
  const to = (from + 1n + (n % (a - 1n))) % a;
  return { from: from + 1n, to: to + 1n, amount: n };
}
