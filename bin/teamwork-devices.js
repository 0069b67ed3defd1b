#!/usr/bin/env node
// The package's own command; the TypeScript is compiled to dist/ by `npm ci` (prepare).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv));
