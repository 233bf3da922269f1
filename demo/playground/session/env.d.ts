// `import text from './file.ts?raw'`: Vite (and vitest) give a file's text.
declare module '*?raw' {
  const text: string;
  export default text;
}

// `import './session.css'`: Vite adds the stylesheet to the page.
declare module '*.css';
