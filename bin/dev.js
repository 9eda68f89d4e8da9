#!/usr/bin/env -S node --import tsx
import {fileURLToPath} from 'node:url'
import {execute} from '@oclif/core'

// No arguments: the interactive command (a menu on a terminal, else the help).
// No user plugins: see bin/run.js.
await execute({
  development: true,
  loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false},
  args: process.argv.length > 2 ? undefined : ['interactive', '--or-help'],
})
