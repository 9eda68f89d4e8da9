/**
 * `users list --format`: the list as CSV (RFC 4180 quoting by csv-stringify)
 * or as the web UI's static `defaultUsers` entries.
 */
import {stringify} from 'csv-stringify/sync'
import type {UserListItem} from '../services/users.js'

export const LIST_FORMATS = ['table', 'csv', 'ui-profile'] as const
export type ListFormat = (typeof LIST_FORMATS)[number]

/** The CSV columns, named as in `users list --json`. `appNames` is joined with `;`. */
export const CSV_COLUMNS = [
  'userId',
  'name',
  'email',
  'keyStatus',
  'deactivated',
  'activeMemoryCount',
  'appNames',
  'createdAt',
  'lastActiveAt',
  'id',
] as const

/** One user as a CSV record (the columns above). */
export function userCsvRecord(u: UserListItem): Record<string, unknown> {
  return {
    ...u,
    name: u.name ?? '',
    email: u.email ?? '',
    deactivated: u.deactivated ? 'true' : 'false',
    appNames: u.appNames.join(';'),
    createdAt: u.createdAt ?? '',
    lastActiveAt: u.lastActiveAt ?? '',
  }
}

export function usersCsv(users: UserListItem[]): string {
  return stringify(users.map(userCsvRecord), {
    header: true,
    columns: [...CSV_COLUMNS],
    record_delimiter: 'unix',
    // A cell holding a carriage return is quoted too (RFC 4180), as PostgreSQL's CSV quotes it.
    quote_record_delimiter: true,
  })
}

/** One entry of the web UI's `defaultUsers` list. */
export interface UiProfile {
  /** The login name (userId). */
  id: string
  /** The login name again, as the UI expects. */
  name: string
  /** The display name (the userId when none is stored). */
  displayName: string
  /** The key is active and the user is not deactivated. */
  isActive: boolean
  createdAt: string | null
}

export function uiProfile(u: UserListItem): UiProfile {
  return {
    id: u.userId,
    name: u.userId,
    displayName: u.name ?? u.userId,
    isActive: u.keyStatus === 'active' && !u.deactivated,
    createdAt: u.createdAt,
  }
}

export function uiProfiles(users: UserListItem[]): UiProfile[] {
  return users.map(uiProfile)
}
