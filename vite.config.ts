import { defineConfig } from 'vite';

/**
 * The web console (src/web) built into dist/console, which the server serves at `/`. Relative
 * asset URLs, so the console works behind a proxy's path prefix too; Preact's JSX through
 * Vite's own Oxc transform (no framework plugin needed).
 */
export default defineConfig({
  root: 'src/web',
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../../dist/console',
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts: the Content-Security-Policy allows scripts from the server only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
