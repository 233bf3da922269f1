// Types of client-api.js: the package's own declarations of the same files.
export * from '../../node_modules/spacetimedb/dist/sdk/client_api/types.js';
export { default as BinaryReader } from '../../node_modules/spacetimedb/dist/lib/binary_reader.js';
export { default as BinaryWriter } from '../../node_modules/spacetimedb/dist/lib/binary_writer.js';
