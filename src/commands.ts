/**
 * Every command, by id: oclif's explicit command strategy (package.json
 * `oclif.commands`). No directory is scanned at run time; the bundle holds
 * them all. `scripts/check-commands.mjs` fails the build when a file under
 * src/commands/ is missing here.
 */
import type {Command} from '@oclif/core'
import AuditList from './commands/audit/list.js'
import DbMigrate from './commands/db/migrate.js'
import DbStatus from './commands/db/status.js'
import DbVerify from './commands/db/verify.js'
import Interactive from './commands/interactive.js'
import KeysList from './commands/keys/list.js'
import KeysRevoke from './commands/keys/revoke.js'
import KeysRotate from './commands/keys/rotate.js'
import KeysVerify from './commands/keys/verify.js'
import MemoriesCount from './commands/memories/count.js'
import PruneInactive from './commands/prune-inactive.js'
import UsersCreate from './commands/users/create.js'
import UsersDeactivate from './commands/users/deactivate.js'
import UsersDelete from './commands/users/delete.js'
import UsersImport from './commands/users/import.js'
import UsersList from './commands/users/list.js'
import UsersReactivate from './commands/users/reactivate.js'
import UsersShow from './commands/users/show.js'
import UsersTest from './commands/users/test.js'
import {PLUGIN_COMMANDS} from './plugin-commands.js'

export const COMMANDS: Record<string, Command.Class> = {
  'audit:list': AuditList,
  'db:migrate': DbMigrate,
  'db:status': DbStatus,
  'db:verify': DbVerify,
  interactive: Interactive,
  'keys:list': KeysList,
  'keys:revoke': KeysRevoke,
  'keys:rotate': KeysRotate,
  'keys:verify': KeysVerify,
  'memories:count': MemoriesCount,
  'prune-inactive': PruneInactive,
  'users:create': UsersCreate,
  'users:deactivate': UsersDeactivate,
  'users:delete': UsersDelete,
  'users:import': UsersImport,
  'users:list': UsersList,
  'users:reactivate': UsersReactivate,
  'users:show': UsersShow,
  'users:test': UsersTest,
  // help, version, autocomplete: oclif's, bundled (src/plugin-commands.ts).
  ...PLUGIN_COMMANDS,
}
