/**
 * The interactive session (`openmemory` with no arguments on a terminal): a
 * menu of the commands' operations on one open database, returning to the
 * menu after each. Every operation is the commands' own service, every
 * input is checked with the arguments' rules as it is typed, and every
 * destructive action shows what will change and asks, defaulting to No.
 */
import type {Database} from '../db/client.js'
import {withRunLock} from '../db/client.js'
import {InterruptedError, mapDatabaseError} from '../errors.js'
import {defaultContext, type ServiceContext} from '../services/context.js'
import {revokeKey, rotateKey} from '../services/key-lifecycle.js'
import {deactivateUser, deleteUser, reactivateUser, showUser} from '../services/lifecycle.js'
import {countMemories} from '../services/memories.js'
import {PRUNE_BUSY, PRUNE_LOCK, PRUNE_MODES, type PruneMode, pruneInactive} from '../services/prune.js'
import {dbStatus} from '../services/status.js'
import {createUser, listUsers, validateCreateUser} from '../services/users.js'
import {formatError} from './format.js'
import {KeyOutput} from './key-output.js'
import {progressBar} from './progress.js'
import {askKeyFile, askNewUser, askText, choose, confirm, pickUser} from './prompts.js'
import {
  creationMessage,
  dbStatusLines,
  deactivationMessage,
  deletionQuestion,
  deletionTable,
  memoryCountTable,
  otherOwnersTable,
  pruneQuestion,
  pruneSummary,
  pruneVerb,
  reactivationMessage,
  revocationMessage,
  rotationMessage,
  userDetails,
  userTable,
} from './render.js'
import {sanitize} from './sanitize.js'

export interface MenuSession {
  database: Database
  /** Results (stdout). */
  log: (line: string) => void
  /** Progress, warnings and errors (stderr). */
  warn: (line: string) => void
  /** The service context per operation (tests inject the clock and key generator). */
  context?: (command: string) => ServiceContext
}

/** How many users "List users" shows; `openmemory users list` shows them all. */
export const MENU_LIST_LIMIT = 50

type Action = (s: MenuSession) => Promise<void>

export const MENU: {name: string; value: string; run?: Action}[] = [
  {name: 'Create user', value: 'create', run: createAction},
  {name: 'List users', value: 'list', run: listAction},
  {name: 'Show user', value: 'show', run: showAction},
  {name: 'Deactivate user', value: 'deactivate', run: deactivateAction},
  {name: 'Reactivate user', value: 'reactivate', run: reactivateAction},
  {name: 'Rotate key', value: 'rotate', run: rotateAction},
  {name: 'Revoke key', value: 'revoke', run: revokeAction},
  {name: 'Delete user', value: 'delete', run: deleteAction},
  {name: 'Count memories', value: 'count', run: countAction},
  {name: 'Prune inactive users', value: 'prune', run: pruneAction},
  {name: 'Database status', value: 'status', run: statusAction},
  {name: 'Quit', value: 'quit'},
]

/**
 * Show the target and the menu until Quit. A refused operation (not found,
 * conflict, invalid input, busy) prints its one line and returns to the menu;
 * Ctrl-C or Esc at any prompt leaves (InterruptedError, exit 130).
 */
export async function runMenu(session: MenuSession): Promise<void> {
  session.warn(
    `openmemory: ${sanitize(session.database.target.display)} (from ${session.database.target.source})`,
  )
  let last = MENU[0].value
  for (;;) {
    session.warn('')
    const choice = await choose(
      'What do you want to do?',
      MENU.map(({name, value}) => ({name, value})),
      {default: last},
    )
    last = choice
    const item = MENU.find((m) => m.value === choice)
    if (!item?.run) return
    try {
      await item.run(session)
    } catch (error) {
      if (error instanceof InterruptedError) throw error
      const known = mapDatabaseError(error, session.database.target.display)
      if (!known) throw error
      session.warn(formatError(known.message))
    }
  }
}

function ctx(s: MenuSession, command: string): ServiceContext {
  return s.context ? s.context(command) : defaultContext(command)
}

async function createAction(s: MenuSession): Promise<void> {
  const input = await askNewUser()
  await validateCreateUser(input)
  const output = new KeyOutput({'key-file': await askKeyFile()})
  output.prepare()
  let result: Awaited<ReturnType<typeof createUser>>
  try {
    result = await createUser(s.database.db, input, ctx(s, 'users create'), {
      beforeCommit: (key) => output.beforeCommit(key),
    })
  } catch (error) {
    output.abort()
    throw error
  }
  output.committed()
  s.log(creationMessage(result))
  output.deliver(result.apiKey, false, s.log)
}

async function listAction(s: MenuSession): Promise<void> {
  const users = await listUsers(
    s.database.db,
    {sort: 'user-id', limit: MENU_LIST_LIMIT},
    ctx(s, 'users list'),
  )
  if (users.length === 0) {
    s.log('No users found.')
    return
  }
  s.log(userTable(users))
  if (users.length === MENU_LIST_LIMIT) {
    s.warn(`The first ${MENU_LIST_LIMIT} users (A-Z); 'openmemory users list' shows them all.`)
  }
}

async function showAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  s.log(userDetails(await showUser(s.database.db, userId)))
}

async function deactivateAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  const plan = await deactivateUser(s.database.db, userId, {dryRun: true}, ctx(s, 'users deactivate'))
  s.log(deactivationMessage(plan))
  if (!plan.changed) return
  const reason = await askText({name: 'reason', message: 'Reason (optional, kept in the audit trail)'})
  if (!(await confirm(`Deactivate ${userId}? Memories are kept; 'Reactivate user' undoes it.`))) {
    s.log('Cancelled; nothing changed.')
    return
  }
  const r = await deactivateUser(
    s.database.db,
    userId,
    {reason: reason.trim() === '' ? undefined : reason.trim()},
    ctx(s, 'users deactivate'),
  )
  s.log(deactivationMessage(r))
}

async function reactivateAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  s.log(reactivationMessage(await reactivateUser(s.database.db, userId, ctx(s, 'users reactivate'))))
}

async function rotateAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  const user = await showUser(s.database.db, userId)
  s.log(
    user.key
      ? `The current key of ${userId} (${user.key.fingerprint}, ${user.key.status}) will stop working at once.`
      : `${userId} has no key row; one will be added.`,
  )
  const output = new KeyOutput({'key-file': await askKeyFile()})
  if (!(await confirm(`Rotate the key of ${userId}?`))) {
    s.log('Cancelled; nothing changed.')
    return
  }
  output.prepare()
  let r: Awaited<ReturnType<typeof rotateKey>>
  try {
    r = await rotateKey(
      s.database.db,
      userId,
      {beforeCommit: (key) => output.beforeCommit(key)},
      ctx(s, 'keys rotate'),
    )
  } catch (error) {
    output.abort()
    throw error
  }
  output.committed()
  const message = rotationMessage(r)
  s.log(message.line)
  if (message.warning) s.warn(message.warning)
  output.deliver(r.apiKey, false, s.log)
}

async function revokeAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  const user = await showUser(s.database.db, userId)
  if (user.key?.status === 'active') {
    s.log(`The key of ${sanitize(userId)} (${user.key.fingerprint}) will stop working at once.`)
    if (!(await confirm(`Revoke the key of ${sanitize(userId)}?`))) {
      s.log('Cancelled; nothing changed.')
      return
    }
  }
  s.log(revocationMessage(await revokeKey(s.database.db, userId, ctx(s, 'keys revoke'))))
}

async function deleteAction(s: MenuSession): Promise<void> {
  const userId = await pickUser(s.database.db)
  const plan = await deleteUser(s.database.db, userId, {dryRun: true}, ctx(s, 'users delete'))
  s.log('Will delete:')
  s.log(deletionTable(plan))
  const others = otherOwnersTable(plan)
  if (others) s.log(others)
  if (!(await confirm(deletionQuestion(plan)))) {
    s.log('Cancelled; nothing deleted.')
    return
  }
  const r = await deleteUser(s.database.db, userId, {}, ctx(s, 'users delete'))
  s.log(`Deleted user ${sanitize(userId)} (${r.total} rows).`)
}

async function countAction(s: MenuSession): Promise<void> {
  const scope = await choose('Count memories of', [
    {name: 'Every user', value: 'all' as const},
    {name: 'One user, per app', value: 'one' as const},
  ])
  const r =
    scope === 'all'
      ? await countMemories(s.database.db, {})
      : await countMemories(s.database.db, {userId: await pickUser(s.database.db), byApp: true})
  s.log(memoryCountTable(r))
}

/** Whole days, at least 1 (the rule of `prune-inactive --days`). */
export function daysProblem(value: string): string | undefined {
  return /^\s*[1-9][0-9]{0,5}\s*$/.test(value) ? undefined : 'days must be a whole number of at least 1.'
}

async function pruneAction(s: MenuSession): Promise<void> {
  const days = Number(
    (
      await askText({
        name: 'days',
        message: 'Inactive for at least how many days?',
        default: '90',
        validate: daysProblem,
      })
    ).trim(),
  )
  const mode = await choose<PruneMode>(
    'Then',
    PRUNE_MODES.map((m) => ({
      name: m === 'deactivate' ? 'Deactivate them (reversible, data kept)' : 'Delete them and all their data',
      value: m,
    })),
  )
  const {database} = s
  await withRunLock(database, PRUNE_LOCK, PRUNE_BUSY, async () => {
    const context = ctx(s, 'prune-inactive')
    const plan = await pruneInactive(database.db, {days, mode, dryRun: true}, context)
    const shown = plan.users.slice(0, 20)
    for (const u of shown) s.log(`  ${sanitize(u)}`)
    if (plan.users.length > shown.length) s.log(`  … and ${plan.users.length - shown.length} more`)
    s.log(`Dry run: ${plan.matched} user(s) inactive since ${plan.cutoff} would be ${pruneVerb(mode)}.`)
    if (plan.matched === 0) return
    if (!(await confirm(pruneQuestion({days, mode}, plan)))) {
      s.log('Cancelled; nothing changed.')
      return
    }
    const bar = await progressBar(pruneVerb(mode, true), true)
    try {
      s.log(
        pruneSummary(
          await pruneInactive(database.db, {days, mode}, context, {
            onStart: (n) => bar.start(n),
            onBatch: ({changed, skipped}) => bar.update(changed + skipped),
          }),
        ),
      )
    } finally {
      bar.stop()
    }
  })
}

async function statusAction(s: MenuSession): Promise<void> {
  s.log(dbStatusLines(await dbStatus(s.database)))
}
