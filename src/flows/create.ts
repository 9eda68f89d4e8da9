/**
 * Create one user (`users create`, the menu's "Create user"): validate, open
 * the key file, create through the one creation path, deliver the key once.
 */
import type {Db, WithDb} from '../db/client.js'
import {FailedAfterCommitError} from '../errors.js'
import type {ServiceContext} from '../services/context.js'
import {emailProblem} from '../services/email.js'
import {
  type CreateUserInput,
  createUser,
  creationConflict,
  findCreationConflicts,
  type UsersCreateResult,
  validateCreateUser,
} from '../services/users.js'
import {nameProblem, titleCase, userIdProblem} from '../services/validation.js'
import {type KeyDelivery, type KeyFlags, KeyOutput} from '../ui/key-output.js'
import {settleInterrupted} from '../ui/pending.js'
import type {InputStep, StepChecks} from '../ui/prompts.js'
import {creationMessage} from '../ui/render.js'
import type {FlowIO} from './io.js'

/** The answers `users create` asks for on a terminal, each with the argument's rule. */
export const CREATE_STEPS: readonly InputStep[] = [
  {name: 'userId', message: 'userId', validate: userIdProblem},
  {
    name: 'name',
    message: 'Display name',
    default: (a) => (a.userId ? titleCase(a.userId) : undefined),
    validate: nameProblem,
  },
  {
    name: 'email',
    message: 'Email (empty for none)',
    validate: (v) => (v.trim() === '' ? undefined : emailProblem(v)),
  },
]

/**
 * The database's refusals of CREATE_STEPS, asked as each answer is given (the
 * menu): a userId that exists, an email another user has. The same rule the
 * creation applies (creationConflict); a deleted userId is asked about after.
 */
export function createChecks(use: WithDb): StepChecks {
  const conflict = async (userId: string, email: string | null) =>
    creationConflict({userId, email}, await use((db) => findCreationConflicts(db, [{userId, email}])), true)
      ?.message
  return {
    userId: (value) => conflict(value, null),
    email: (value, answers) =>
      value.trim() === '' ? Promise.resolve(undefined) : conflict(answers.userId ?? '', value.trim()),
  }
}

/** The new user's input from the answers to CREATE_STEPS. */
export function createInput(answers: Record<string, string>): {userId: string; name: string; email?: string} {
  const email = answers.email?.trim() ?? ''
  return {userId: answers.userId, name: answers.name, email: email === '' ? undefined : email}
}

export type UsersCreateCommandResult = Omit<UsersCreateResult, 'apiKey'> & {
  apiKey: string | null
} & KeyDelivery

/** What the deleted-id guard would say of a userId, before anything is asked or written. */
export async function deletedIdStatus(db: Db, userId: string): Promise<string | null> {
  return (await findCreationConflicts(db, [{userId, email: null}])).deleted.get(userId) ?? null
}

export function reusedIdWarning(r: Pick<UsersCreateResult, 'userId' | 'reusedIdDeletedAt'>): string {
  return `userId '${r.userId}' belonged to a user this tool deleted (${r.reusedIdDeletedAt}): if that user's vector-store points were not deleted (Qdrant: delete points by filter on payload user_id), '${r.userId}' will find the old memories through search.`
}

export async function createFlow(
  io: FlowIO,
  db: () => Promise<Db>,
  input: CreateUserInput,
  delivery: KeyFlags,
  ctx: ServiceContext,
): Promise<UsersCreateCommandResult> {
  // Every rule first, then the key file (it must not exist): a problem with either
  // stops here, before the database is touched.
  await validateCreateUser(input)
  const output = new KeyOutput(delivery)
  await output.prepare()
  const database = await db()
  await settleInterrupted(database, (line) => io.warn(line))
  const result = await output.change(io, {db: database, command: 'users create'}, (hooks) =>
    createUser(database, input, ctx, hooks),
  )
  try {
    io.log(creationMessage(result))
    if (result.reusedIdDeletedAt) io.warn(reusedIdWarning(result))
    const delivered = output.deliver(result.apiKey, io)
    return {...result, apiKey: delivered.keyFile ? null : result.apiKey, ...delivered}
  } catch (error) {
    throw new FailedAfterCommitError(
      `user ${result.userId} was created with key ${result.keyFingerprint}${output.keyFile ? ` (written to ${output.keyFile})` : " (not shown: run 'openmemory keys rotate' to get a usable key)"}`,
      {userId: result.userId, id: result.id, keyFingerprint: result.keyFingerprint, keyFile: output.keyFile},
      error,
    )
  }
}
