#!/usr/bin/env node
// Stack traces map to the TypeScript sources when DEBUG is set (dist/ ships source maps).
if (process.env.DEBUG) process.setSourceMapsEnabled(true)
const {execute} = await import('../dist/cli.js')

// No arguments: the interactive command (a menu on a terminal, else the help).
await execute({
  dir: import.meta.url,
  args: process.argv.length > 2 ? undefined : ['interactive', '--or-help'],
})
