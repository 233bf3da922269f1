// ES2025 Set methods that the module runtime calls (`isSubsetOf`, …). Chromium has them; Node 20
// does not. Installed once, only where missing, on the realm's own Set.prototype.

type SetLike = { has(v: unknown): boolean; size: number; keys(): Iterator<unknown> };

/** Installs the missing Set methods; idempotent. */
export function installPolyfills(): void {
  const proto = Set.prototype as unknown as Record<string, unknown>;
  const define = (name: string, fn: (this: Set<unknown>, other: SetLike) => unknown) => {
    if (typeof proto[name] !== 'function') Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
  };
  const keys = (o: SetLike): unknown[] => {
    const out: unknown[] = [];
    const it = o.keys();
    for (let r = it.next(); !r.done; r = it.next()) out.push(r.value);
    return out;
  };
  define('isSubsetOf', function (o) {
    for (const v of this) if (!o.has(v)) return false;
    return true;
  });
  define('isSupersetOf', function (o) {
    return keys(o).every((v) => this.has(v));
  });
  define('isDisjointFrom', function (o) {
    for (const v of this) if (o.has(v)) return false;
    return true;
  });
  define('union', function (o) {
    return new Set([...this, ...keys(o)]);
  });
  define('intersection', function (o) {
    return new Set([...this].filter((v) => o.has(v)));
  });
  define('difference', function (o) {
    return new Set([...this].filter((v) => !o.has(v)));
  });
  define('symmetricDifference', function (o) {
    const out = new Set(this);
    for (const v of keys(o)) {
      if (this.has(v)) out.delete(v);
      else out.add(v);
    }
    return out;
  });
}
