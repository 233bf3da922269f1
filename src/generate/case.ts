// Identifier casing for generated client code. `spacetime generate` cases names with the Rust
// `convert_case` crate; client code written against its output relies on the exact spellings
// (`conn.db.allTypes`, `AddPerson2Reducer`, `add_person_2_reducer.ts`), so the words come from the
// same splitter the host uses for canonical names.
import { caseWords, snakeCase } from '../host/module-def.ts';

export { snakeCase };

/** `convert_case`'s Camel: the first word in lower case, the others capitalized (`all_types` → `allTypes`). */
export function camelCase(name: string): string {
  return caseWords(name)
    .map((w, i) => (i === 0 ? w.toLowerCase() : capital(w)))
    .join('');
}

/** `convert_case`'s Pascal: every word capitalized (`send_message` → `SendMessage`, `HTTPServer` → `HttpServer`). */
export function pascalCase(name: string): string {
  return caseWords(name).map(capital).join('');
}

/** First character upper case, the rest lower case (as `convert_case` capitalizes a word). */
function capital(word: string): string {
  const first = String.fromCodePoint(word.codePointAt(0)!);
  return first.toUpperCase() + word.slice(first.length).toLowerCase();
}
