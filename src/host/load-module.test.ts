// The loader turns a bundle into a function whose parameters include the host's TextEncoder and
// TextDecoder; a bundle's own top-level declarations of those names must still compile.
import { describe, expect, it } from 'vitest';
import { ModuleError } from '../errors.ts';
import { loadModule } from './load-module.ts';

const sys = () => ({ moduleHooks: Symbol('hooks') });

describe('loadModule', () => {
  it('runs a bundle that declares TextEncoder and TextDecoder itself (they shadow the host’s)', () => {
    const code = `
      let TextEncoder = 1;
      class TextDecoder {}
      module.exports = { seen: [typeof TextEncoder, typeof TextDecoder] };
    `;
    let error: unknown;
    try {
      loadModule(code, sys(), {}, console);
    } catch (e) {
      error = e;
    }
    // It compiled and ran; it is refused only for not being a SpacetimeDB module.
    expect(error).toBeInstanceOf(ModuleError);
    expect((error as ModuleError).code).toBe('NOT_A_MODULE');
  });

  it('hands a bundle that does not declare them the host’s codecs', () => {
    const code = `module.exports = { default: { [require('spacetime:sys@2.0').moduleHooks]: () => { throw new Error(new TextEncoder().constructor.name + ' ' + (TextEncoder === globalThis.TextEncoder)); } } };`;
    const s = sys();
    let error: unknown;
    try {
      loadModule(code, s, {}, console);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModuleError);
    expect((error as Error).message).toContain('ModuleTextEncoder false');
  });
});
