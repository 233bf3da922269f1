// Types of module-def-types.js: the package's own declarations of the same file.
export { AlgebraicType, ProductType, RawModuleDef, RawModuleDefV9, RawModuleDefV10 } from '../../node_modules/spacetimedb/dist/lib/autogen/types.js';
