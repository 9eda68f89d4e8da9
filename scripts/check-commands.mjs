#!/usr/bin/env node
/**
 * The build fails when a command file under src/commands/ is missing from
 * src/commands.ts (the explicit command list oclif loads), or listed under
 * another id. A command's id is its path: users/create.ts → users:create.
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const dir = path.join(root, 'src/commands')
const index = readFileSync(path.join(root, 'src/commands.ts'), 'utf8')

const files = readdirSync(dir, {recursive: true})
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, '').split(path.sep).join('/'))

const listed = new Map()
for (const m of index.matchAll(/import (\w+) from '\.\/commands\/([\w/-]+)\.js'/g)) listed.set(m[1], m[2])
const ids = new Map()
for (const m of index.matchAll(/^\s*'?([\w:-]+)'?: (\w+),$/gm)) ids.set(m[1], m[2])

const problems = []
for (const file of files) {
  const id = file.replaceAll('/', ':')
  const cls = ids.get(id)
  if (!cls) problems.push(`src/commands/${file}.ts is not in src/commands.ts (expected the id '${id}')`)
  else if (listed.get(cls) !== file)
    problems.push(`'${id}' in src/commands.ts points at ${listed.get(cls)}, not ${file}`)
}
for (const id of ids.keys()) {
  if (!files.includes(id.replaceAll(':', '/')))
    problems.push(`src/commands.ts lists '${id}' but there is no such command file`)
}
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`check-commands: ${p}\n`)
  process.exit(1)
}
process.stdout.write(`check-commands: ${files.length} commands, all listed\n`)
