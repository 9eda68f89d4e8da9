/**
 * `openmemory --version` (or `-v`) answered before oclif loads: the line oclif
 * itself prints for it, its `config.userAgent` (`name/version platform-arch
 * node-version`, @oclif/core lib/config/config.js), built the same way from
 * package.json, so the output is identical and the start-up is Node's alone.
 * bin/run.js asks this first when the first argument is a flag; anything
 * else (and every other flag) goes to oclif.
 */
import {readFileSync} from 'node:fs'
import {arch, platform} from 'node:os'
import isWsl from 'is-wsl'

interface PackageJson {
  name: string
  version?: string
  oclif?: {additionalVersionFlags?: string[]}
}

/** The version line when `argv` asks for it as oclif would answer it (the flag first), else undefined. */
export function fastVersion(argv: readonly string[], packageJson: URL): string | undefined {
  const first = argv[0]
  if (first === undefined || !first.startsWith('-')) return undefined
  const pjson = JSON.parse(readFileSync(packageJson, 'utf8')) as PackageJson
  // oclif's versionAddition: `--version` and the additional flags, as the first argument only.
  if (first !== '--version' && !(pjson.oclif?.additionalVersionFlags ?? []).includes(first)) return undefined
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  const os = isWsl ? 'wsl' : platform()
  return `${pjson.name}/${pjson.version || '0.0.0'} ${os}-${cpu} node-${process.version}`
}
