// The playground's type checker, off the main thread: the TypeScript language service of
// typescript-service.ts (the JS compiler, `typescript-js`, since the repository's own `typescript`
// is the native port) over the declaration files the build chose (virtual:spacetimedb-types). It
// answers the page (typescript.ts) with diagnostics, member completions and quick info.
import ts from 'typescript-js';
import types from 'virtual:spacetimedb-types';
import type { TypeReply, TypeRequest } from './typescript.ts';
import { createTypeChecker } from './typescript-service.ts';

const checker = createTypeChecker(ts, types);

function answer(request: TypeRequest): TypeReply {
  switch (request.kind) {
    case 'open':
      // Builds the program (reads and binds every declaration file) ahead of the first question.
      return { id: request.id, ok: true, result: { diagnostics: checker.diagnostics(request.source), version: checker.version } };
    case 'diagnostics':
      return { id: request.id, ok: true, result: checker.diagnostics(request.source) };
    case 'completions':
      return { id: request.id, ok: true, result: checker.completions(request.source, request.pos) };
    case 'quickInfo':
      return { id: request.id, ok: true, result: checker.quickInfo(request.source, request.pos) };
  }
}

self.onmessage = (event: MessageEvent<TypeRequest>) => {
  let reply: TypeReply;
  try {
    reply = answer(event.data);
  } catch (e) {
    reply = { id: event.data.id, ok: false, error: (e as Error)?.message ?? String(e) };
  }
  (self as unknown as Worker).postMessage(reply);
};
