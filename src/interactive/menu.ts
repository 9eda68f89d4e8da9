/**
 * The interactive session (`openmemory` with no arguments on a terminal): a
 * menu of the commands' operations, returning to the menu after each. The
 * database is opened when an action starts and closed when it ends, so a menu
 * waiting for a choice holds no connection and no embedded-database lock:
 * another command run meanwhile is never kept waiting by a menu nobody uses. The menu only gathers input (every answer checked with
 * the arguments' rules as it is typed) and runs the commands' own flows
 * (src/flows/), so it shows every message, note, warning and error the
 * command shows and refuses what the command refuses.
 */
import type {Database, DatabaseTarget, WithDb} from '../db/client.js'
import {BackError, InterruptedError, mapDatabaseError} from '../errors.js'
import {CREATE_STEPS, createChecks, createFlow, createInput, deletedIdStatus} from '../flows/create.js'
import {deactivateFlow} from '../flows/deactivate.js'
import {deleteFlow} from '../flows/delete.js'
import type {FlowIO} from '../flows/io.js'
import {pruneFlow} from '../flows/prune.js'
import {reactivateFlow} from '../flows/reactivate.js'
import {revokeFlow} from '../flows/revoke.js'
import {rotateFlow} from '../flows/rotate.js'
import {defaultContext, type ServiceContext} from '../services/context.js'
import {showUser} from '../services/lifecycle.js'
import {countMemories} from '../services/memories.js'
import {PRUNE_MODES, type PruneMode} from '../services/prune.js'
import {dbStatus} from '../services/status.js'
import {listUsers, type UserListItem, validateCreateUser} from '../services/users.js'
import {daysProblem, parseDays} from '../services/validation.js'
import {formatError, formatWarning} from '../ui/format.js'
import {progressBar} from '../ui/progress.js'
import {
  askKeyFile,
  askSteps,
  askText,
  choose,
  confirm,
  pause,
  pickUser,
  setPromptHooks,
} from '../ui/prompts.js'
import {dbStatusLines, memoryCountTable, userDetails, userTable} from '../ui/render.js'
import {sanitize} from '../ui/sanitize.js'
import {ActionLease} from './lease.js'

/** How the menu reaches its database: opened per action, released between them. */
export interface MenuConnection {
  target: DatabaseTarget
  open(): Promise<Database>
  release(): Promise<void>
}

/** A connection that stays open for the whole session (an already open database the caller closes). */
export function heldConnection(database: Database): MenuConnection {
  return {target: database.target, open: async () => database, release: async () => {}}
}

export interface MenuSession {
  connection: MenuConnection
  /** Results (stdout). */
  log: (line: string) => void
  /** Progress, warnings and errors (stderr). */
  warn: (line: string) => void
  /** A new key (stdout), never wrapped to the width; `log` when not given. */
  secret?: (line: string) => void
  /** The service context per operation (tests inject the clock and key generator). */
  context?: (command: string) => ServiceContext
}

/** How many users "List users" shows (in pages); `openmemory users list` shows them all. */
export const MENU_LIST_LIMIT = 500

/**
 * What an action works with: the session and its database, closed while the
 * action waits at a prompt (ActionLease); `use` for a query a prompt makes.
 */
type ActionSession = MenuSession & {database: Database; use: WithDb}
type Action = (s: ActionSession) => Promise<void>

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
 * Esc goes back one step (from an action's first question, to the menu);
 * Ctrl-C at any prompt leaves (InterruptedError, exit 130).
 */
export async function runMenu(session: MenuSession): Promise<void> {
  const {target} = session.connection
  session.warn(`openmemory: ${sanitize(target.display)} (from ${target.source})`)
  let last = MENU[0].value
  for (;;) {
    await session.connection.release()
    session.warn('')
    let choice: string
    try {
      choice = await choose(
        'What do you want to do?',
        MENU.map(({name, value}) => ({name, value})),
        {default: last},
      )
    } catch (error) {
      if (error instanceof BackError) continue // Esc at the menu: nowhere further back; stay
      throw error
    }
    last = choice
    const item = MENU.find((m) => m.value === choice)
    if (!item?.run) return
    const lease = new ActionLease(session.connection)
    setPromptHooks(lease)
    try {
      await lease.ready()
      await item.run({...session, database: lease.database, use: lease.use})
    } catch (error) {
      if (error instanceof BackError) continue // Esc at an action's first question: back to the menu
      if (error instanceof InterruptedError) throw error
      const known = mapDatabaseError(error, target.display)
      if (!known) throw error
      session.warn(formatError(known.message))
    } finally {
      setPromptHooks(undefined)
      await lease.close()
    }
  }
}

function ctx(s: ActionSession, command: string): ServiceContext {
  return s.context ? s.context(command) : defaultContext(command)
}

/** The flows' io on the menu: the session's streams, and every confirmation asked (never --yes). */
function io(s: ActionSession): FlowIO {
  return {
    json: false,
    log: s.log,
    note: s.warn,
    warn: (text) => s.warn(formatWarning(text)),
    secret: s.secret ?? s.log,
    confirm: (q) => confirm(q.message),
    assertCanConfirm: () => {},
    progress: (label) => progressBar(label, true),
  }
}

async function createAction(s: ActionSession): Promise<void> {
  // Each answer is checked as it is given, the database's refusals (a taken userId, a used
  // email) included: a refusal keeps what was typed.
  const input = createInput(await askSteps(CREATE_STEPS, {checks: createChecks(s.use)}))
  await validateCreateUser(input)
  // The deleted-id guard of `users create`: refused unless the operator says to reuse the id.
  const deletedAt = await deletedIdStatus(s.database.db, input.userId)
  const reuseDeletedId =
    deletedAt !== null &&
    (await confirm(
      `userId '${input.userId}' belonged to a user this tool deleted (${deletedAt}); a new '${input.userId}' would find the old user's memories through search unless its vector-store points were deleted (Qdrant: delete points by filter on payload user_id). Reuse it anyway?`,
    ))
  const keyFile = await askKeyFile()
  const result = await createFlow(
    io(s),
    async () => s.database.db,
    {...input, reuseDeletedId},
    {'key-file': keyFile},
    ctx(s, 'users create'),
  )
  if (result.apiKey) await keyShown()
}

/** A key shown on screen stays until Enter: the menu redrawn at once would scroll it away. */
function keyShown(): Promise<void> {
  return pause('Store the key now; press Enter to return to the menu.')
}

async function listAction(s: ActionSession): Promise<void> {
  const users = await listUsers(
    s.database.db,
    {sort: 'user-id', limit: MENU_LIST_LIMIT},
    ctx(s, 'users list'),
  )
  if (users.length === 0) {
    s.log('No users found.')
    return
  }
  await paged(s, users)
  if (users.length === MENU_LIST_LIMIT) {
    s.warn(`The first ${MENU_LIST_LIMIT} users (A-Z); 'openmemory users list' shows them all.`)
  }
}

/**
 * Users in pages of the terminal's height, the table's header on each (a row
 * may take more than one line where its cells wrap to the width); Enter shows
 * the next page, Esc stops (back to the menu).
 */
async function paged(s: ActionSession, users: UserListItem[]): Promise<void> {
  if (!process.stdout.isTTY) {
    s.log(userTable(users)) // tab-separated into a pipe or file: no pages
    return
  }
  // Room for the question below and the line it leaves.
  const height = Math.max(3, (process.stdout.rows || process.stderr.rows || 24) - 2)
  for (let i = 0; i < users.length; ) {
    let count = Math.min(users.length - i, height - 2)
    let table = userTable(users.slice(i, i + count))
    while (count > 1 && table.split('\n').length > height) {
      count--
      table = userTable(users.slice(i, i + count))
    }
    s.log(table)
    i += count
    if (i < users.length) await pause(`${i} of ${users.length} users; Enter for more, Esc to stop.`)
  }
}

async function showAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  s.log(userDetails(await showUser(s.database.db, userId)))
}

async function deactivateAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  await deactivateFlow(
    io(s),
    s.database.db,
    {
      userId,
      reason: async () => {
        const reason = await askText({
          name: 'reason',
          message: 'Reason (optional, kept in the audit trail)',
        })
        return reason.trim() === '' ? undefined : reason.trim()
      },
    },
    ctx(s, 'users deactivate'),
  )
}

async function reactivateAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  await reactivateFlow(io(s), s.database.db, {userId}, ctx(s, 'users reactivate'))
}

async function rotateAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  const keyFile = await askKeyFile()
  const result = await rotateFlow(
    io(s),
    s.database.db,
    {userId},
    {'key-file': keyFile},
    ctx(s, 'keys rotate'),
  )
  if ('apiKey' in result && result.apiKey) await keyShown()
}

async function revokeAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  await revokeFlow(io(s), s.database.db, {userId}, ctx(s, 'keys revoke'))
}

async function deleteAction(s: ActionSession): Promise<void> {
  const userId = await pickUser(s.use)
  await deleteFlow(io(s), s.database.db, {userId}, ctx(s, 'users delete'))
}

async function countAction(s: ActionSession): Promise<void> {
  const scope = await choose('Count memories of', [
    {name: 'Every user', value: 'all' as const},
    {name: 'One user, per app', value: 'one' as const},
  ])
  const r =
    scope === 'all'
      ? await countMemories(s.database.db, {})
      : await countMemories(s.database.db, {userId: await pickUser(s.use), byApp: true})
  s.log(memoryCountTable(r))
}

async function pruneAction(s: ActionSession): Promise<void> {
  const days = parseDays(
    await askText({
      name: 'days',
      message: 'Inactive for at least how many days?',
      default: '90',
      validate: daysProblem,
    }),
  )
  const mode = await choose<PruneMode>(
    'Then',
    PRUNE_MODES.map((m) => ({
      name: m === 'deactivate' ? 'Deactivate them (reversible, data kept)' : 'Delete them and all their data',
      value: m,
    })),
  )
  await pruneFlow(io(s), s.database, {days, mode}, ctx(s, 'prune-inactive'))
}

async function statusAction(s: ActionSession): Promise<void> {
  s.log(dbStatusLines(await dbStatus(s.database)))
}
