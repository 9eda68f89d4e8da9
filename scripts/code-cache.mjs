#!/usr/bin/env node
/**
 * Writes dist/openmemory.cjs.cache (run by scripts/build.mjs after the bundle
 * and the manifest): the bundle loaded the way bin/run.js loads it, oclif's
 * configuration loaded and every command class found, then V8's code cache of
 * everything that compiled. Nothing connects to a database.
 */
import path from 'node:path'
import {writeCodeCache} from '../bin/load-bundle.js'

const root = path.resolve(import.meta.dirname, '..')
await writeCodeCache(async ({Config}) => {
  const config = await Config.load({root, userPlugins: false})
  for (const command of config.commands) if (command.pluginName === config.name) await command.load()
})
