// A subscription's WHERE clause, checked against the schema and with literals already in stored
// form: evaluated in JS on the stored values of delta rows (SQL's three-valued logic, so NaN
// behaves as the NULL SQLite stores for it). Binding and SQL rendering are the SQL binder's
// (src/sql/bind.ts).
import type { SqlValue } from '../datastore/columns.ts';
import type { CompareOp } from '../sql/ast.ts';
import type { BoundPred } from '../sql/bind.ts';
import type { Side } from '../sql/relation.ts';
import { compareBytes, compareStored, valueText } from './stored-values.ts';

/** A subscription's bound WHERE clause: over the FROM row (side 0) and the JOIN row (side 1). */
export type Pred = BoundPred<Side>;

/**
 * Evaluates a predicate on the stored values of the FROM row (`a`) and the JOIN row (`b`):
 * 1 true, 0 false, -1 unknown (SQL NULL). A row matches only on 1.
 */
export type Evaluator = (a: readonly SqlValue[], b: readonly SqlValue[]) => number;

/** Compiles `p` to a closure tree (built once per query shape, run per delta row). */
export function evaluator(p: Pred): Evaluator {
  switch (p.kind) {
    case 'const': {
      const v = p.value ? 1 : 0;
      return () => v;
    }
    case 'cmp':
      return cmpLiteral(p.op, p.side, p.col, p.value);
    case 'cols': {
      const { op, left, lcol, right, rcol } = p;
      const test = opTest(op);
      return (a, b) => {
        const c = compareStored((left === 0 ? a : b)[lcol]!, (right === 0 ? a : b)[rcol]!);
        return c !== c ? -1 : test(c) ? 1 : 0;
      };
    }
    case 'and': {
      const fs = p.clauses.map(evaluator);
      return (a, b) => {
        let r = 1;
        for (let i = 0; i < fs.length; i++) {
          const v = fs[i]!(a, b);
          if (v === 0) return 0;
          if (v < 0) r = -1;
        }
        return r;
      };
    }
    case 'or': {
      const fs = p.clauses.map(evaluator);
      return (a, b) => {
        let r = 0;
        for (let i = 0; i < fs.length; i++) {
          const v = fs[i]!(a, b);
          if (v === 1) return 1;
          if (v < 0) r = -1;
        }
        return r;
      };
    }
    case 'not': {
      const f = evaluator(p.clause);
      return (a, b) => {
        const v = f(a, b);
        return v < 0 ? -1 : 1 - v;
      };
    }
  }
}

/** `column op literal`, specialised for the common equality on scalars. */
function cmpLiteral(op: CompareOp, side: Side, col: number, lit: SqlValue): Evaluator {
  const pick: (a: readonly SqlValue[], b: readonly SqlValue[]) => readonly SqlValue[] = side === 0 ? (a) => a : (_a, b) => b;
  if (op === 'eq' && (typeof lit === 'bigint' || typeof lit === 'string' || typeof lit === 'number')) {
    // A literal is never NaN, so only the column side can be unknown.
    return side === 0
      ? (a) => {
          const v = a[col];
          return v === lit ? 1 : v !== v ? -1 : 0;
        }
      : (_a, b) => {
          const v = b[col];
          return v === lit ? 1 : v !== v ? -1 : 0;
        };
  }
  if (op === 'eq' && lit instanceof Uint8Array) {
    return (a, b) => {
      const v = pick(a, b)[col];
      return v instanceof Uint8Array ? (compareBytes(v, lit) === 0 ? 1 : 0) : -1;
    };
  }
  const test = opTest(op);
  return (a, b) => {
    const c = compareStored(pick(a, b)[col]!, lit);
    return c !== c ? -1 : test(c) ? 1 : 0;
  };
}

function opTest(op: CompareOp): (c: number) => boolean {
  switch (op) {
    case 'eq':
      return (c) => c === 0;
    case 'ne':
      return (c) => c !== 0;
    case 'lt':
      return (c) => c < 0;
    case 'lte':
      return (c) => c <= 0;
    case 'gt':
      return (c) => c > 0;
    case 'gte':
      return (c) => c >= 0;
  }
}

/** A canonical text of `p` (literal values included): equal texts mean equal predicates. */
export function predicateText(p: Pred): string {
  switch (p.kind) {
    case 'const':
      return p.value ? 'T' : 'F';
    case 'cmp':
      return `${p.side}.${p.col}${p.op}${valueText(p.value)}`;
    case 'cols':
      return `${p.left}.${p.lcol}${p.op}${p.right}.${p.rcol}`;
    case 'and':
    case 'or':
      return `${p.kind}(${p.clauses.map(predicateText).join(',')})`;
    case 'not':
      return `not(${predicateText(p.clause)})`;
  }
}

/** Bit mask of the sides a predicate reads (1 = FROM, 2 = JOIN). */
export function sidesOf(p: Pred): number {
  switch (p.kind) {
    case 'const':
      return 0;
    case 'cmp':
      return 1 << p.side;
    case 'cols':
      return (1 << p.left) | (1 << p.right);
    case 'and':
    case 'or':
      return p.clauses.reduce((m, c) => m | sidesOf(c), 0);
    case 'not':
      return sidesOf(p.clause);
  }
}
