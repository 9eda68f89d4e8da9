/**
 * Without a terminal, or with --json, a missing input is exit 2 naming it:
 * never a prompt that would hang a cron job.
 */
import {describe, expect, it} from 'vitest'
import Interactive from '../../src/commands/interactive.js'
import KeysRevoke from '../../src/commands/keys/revoke.js'
import KeysRotate from '../../src/commands/keys/rotate.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import UsersDelete from '../../src/commands/users/delete.js'
import UsersReactivate from '../../src/commands/users/reactivate.js'
import UsersShow from '../../src/commands/users/show.js'
import {runCommand} from '../helpers/run.js'

// Unreachable on purpose: a missing input must fail before the database is opened.
const url = 'postgres://nobody@127.0.0.1:1/none'
const commands = {
  'users create': UsersCreate,
  'users show': UsersShow,
  'users deactivate': UsersDeactivate,
  'users reactivate': UsersReactivate,
  'users delete': UsersDelete,
  'keys rotate': KeysRotate,
  'keys revoke': KeysRevoke,
}

describe('a missing userId without a terminal', () => {
  for (const [id, cmd] of Object.entries(commands)) {
    it(`${id}: exit 2 naming userId, without touching the database`, async () => {
      const r = await runCommand(cmd, ['--database-url', url])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('Missing userId')
      expect(r.stderr).toContain(`openmemory ${id} <userId>`)
    })

    it(`${id} --json: exit 2 with the error as JSON, even when a terminal is claimed`, async () => {
      const r = await runCommand(cmd, ['--json', '--database-url', url], {OPENMEMORY_NO_PROMPT: undefined})
      expect(r.exitCode).toBe(2)
      expect(JSON.parse(r.stdout).error).toMatchObject({code: 'MISSING_INPUT', exitCode: 2})
    })
  }
})

describe('interactive without a terminal', () => {
  it('exits 2 saying it needs a terminal', async () => {
    const r = await runCommand(Interactive, ['--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Interactive mode needs a terminal')
  })
})
