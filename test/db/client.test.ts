import {describe, expect, it} from 'vitest'
import {maskUrl, resolveTarget} from '../../src/db/client.js'
import {ValidationError} from '../../src/errors.js'

describe('resolveTarget', () => {
  const base = {defaultDataDir: '/home/op/.local/share/openmemory'}
  it('prefers the flag, then OPENMEMORY_DATABASE_URL, then DATABASE_URL', () => {
    const env = {OPENMEMORY_DATABASE_URL: 'postgres://a@h/om', DATABASE_URL: 'postgresql://b@h/server'}
    expect(resolveTarget({...base, env, flag: 'postgres://f@h/x'})).toMatchObject({
      kind: 'postgres',
      source: '--database-url',
    })
    expect(resolveTarget({...base, env})).toMatchObject({
      url: 'postgres://a@h/om',
      source: 'OPENMEMORY_DATABASE_URL',
    })
    expect(resolveTarget({...base, env: {DATABASE_URL: env.DATABASE_URL}})).toMatchObject({
      source: 'DATABASE_URL',
    })
  })
  it('falls back to the embedded database in the data directory, or OPENMEMORY_DATA_DIR', () => {
    expect(resolveTarget({...base, env: {}})).toMatchObject({
      kind: 'embedded',
      dataDir: '/home/op/.local/share/openmemory/pgdata',
      source: 'default',
    })
    expect(resolveTarget({...base, env: {OPENMEMORY_DATA_DIR: '/srv/om'}})).toMatchObject({
      dataDir: '/srv/om',
    })
  })
  it('refuses a URL of another scheme', () => {
    expect(() => resolveTarget({...base, env: {DATABASE_URL: 'mysql://u:p@h/db'}})).toThrow(ValidationError)
  })
})

describe('maskUrl', () => {
  it('masks the password and keeps the rest', () => {
    expect(maskUrl('postgres://admin:s3cret@db.example.com:5432/om')).toBe(
      'postgres://admin:***@db.example.com:5432/om',
    )
    expect(maskUrl('postgresql://u@h/db?password=x')).not.toContain('=x')
    expect(maskUrl('postgres://u@h/db')).toBe('postgres://u@h/db')
  })
})
