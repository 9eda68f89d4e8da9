#!/usr/bin/env node
import {execute} from '@oclif/core'

// No arguments: the interactive command (a menu on a terminal, else the help).
await execute({
  dir: import.meta.url,
  args: process.argv.length > 2 ? undefined : ['interactive', '--or-help'],
})
