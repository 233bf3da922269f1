// Types of the imports Vite resolves for the playground.
declare module 'virtual:spacetimedb-files' {
  const data: import('./vite-plugin.ts').SpacetimedbFiles;
  export default data;
}

declare module '*?url' {
  const url: string;
  export default url;
}

declare module 'virtual:spacetimedb-vocabulary' {
  const data: Pick<import('./vite-plugin.ts').SpacetimedbFiles, 'builders' | 'columnMethods'>;
  export default data;
}

declare module 'virtual:spacetimedb-types' {
  const data: import('./vite-plugin.ts').SpacetimedbTypes;
  export default data;
}
