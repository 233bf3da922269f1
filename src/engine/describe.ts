// `describe`: a readable summary of a database's module (what `lightcone describe` prints).
import { typeName } from '../datastore/columns.ts';
import { decodeValue } from '../host/values.ts';
import { formatCell } from '../sql/format.ts';
import type { Engine } from './engine.ts';

export interface SchemaDescription {
  database: string;
  identity: string;
  tables: {
    name: string;
    access: 'public' | 'private';
    event: boolean;
    rows: number;
    /** `default`: what rows written before the column existed hold (a column added with `.default(value)`), as `lightcone sql` shows values. */
    columns: { name: string; type: string; default?: string }[];
    primaryKey: string | undefined;
    indexes: { name: string; accessor: string; algorithm: string; columns: string[]; unique: boolean }[];
    autoInc: string[];
    scheduled: string | undefined;
  }[];
  reducers: { name: string; params: { name: string; type: string }[]; lifecycle: string | undefined }[];
  procedures: { name: string; params: { name: string; type: string }[]; returns: string }[];
  views: { name: string; access: 'public' | 'private'; perSender: boolean; returns: string }[];
  rowLevelSecurity: string[];
  /** The module's HTTP routes (`db.fetch`): method (`*` = any), path, handler. */
  httpRoutes: { method: string; path: string; handler: string }[];
}

/** Describes the engine's current module and row counts. */
export function describeSchema(engine: Engine): SchemaDescription {
  const host = engine.host;
  const s = host.schema;
  const ts = s.typespace;
  const params = (p: { elements: { name: string | undefined; algebraicType: Parameters<typeof typeName>[0] }[] }) =>
    p.elements.map((e) => ({ name: e.name ?? '', type: typeName(e.algebraicType, ts) }));
  const life = s.lifecycle;
  return {
    database: engine.name,
    identity: engine.identity.toHexString(),
    tables: s.tables.map((t) => ({
      name: t.canonicalName,
      access: t.isPublic ? 'public' : 'private',
      event: t.isEvent,
      rows: host.datastore.tableByName(t.name)?.count ?? 0,
      columns: t.columns.map((c, i) => {
        const bytes = t.defaultValues.get(i);
        return { name: c.canonicalName, type: typeName(c.type, ts), ...(bytes !== undefined ? { default: showDefault(c.type, bytes, ts) } : {}) };
      }),
      primaryKey: t.primaryKey === undefined ? undefined : t.columns[t.primaryKey]?.canonicalName,
      indexes: t.indexes.map((i) => ({
        name: i.sourceName,
        accessor: i.accessorName,
        algorithm: i.algorithm,
        columns: i.columns.map((c) => t.columns[c]?.canonicalName ?? String(c)),
        unique: i.unique,
      })),
      autoInc: t.sequences.map((q) => t.columns[q.column]?.canonicalName ?? String(q.column)),
      scheduled: t.schedule?.functionName,
    })),
    reducers: s.reducers.map((r) => ({
      name: r.canonicalName,
      params: params(r.params),
      lifecycle: r.name === life.init ? 'init' : r.name === life.onConnect ? 'client_connected' : r.name === life.onDisconnect ? 'client_disconnected' : undefined,
    })),
    procedures: s.procedures.map((p) => ({ name: p.canonicalName, params: params(p.params), returns: typeName(p.returnType, ts) })),
    views: s.views.map((v) => ({ name: v.canonicalName, access: v.isPublic ? 'public' : 'private', perSender: !v.isAnonymous, returns: typeName(v.returnType, ts) })),
    rowLevelSecurity: s.rls,
    httpRoutes: s.httpRoutes.map((r) => ({ method: r.method, path: r.path, handler: s.httpHandlers.find((h) => h.name === r.handler)?.canonicalName ?? r.handler })),
  };
}

/** A column default as a cell shows it; bytes that do not decode are shown as such, never thrown. */
function showDefault(ty: Parameters<typeof decodeValue>[0], bytes: Uint8Array, ts: Parameters<typeof decodeValue>[2]): string {
  try {
    return formatCell(decodeValue(ty, bytes, ts));
  } catch {
    return `(undecodable: ${bytes.length} bytes)`;
  }
}
