// store.repair() (issue 12): the debris of killed creators and destroyers, files that are no
// tenant, planted links and stamps that disagree are found, fixed when asked, and a second run
// finds only what must be left to a human.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases, type TenantDatabases } from '../src/index.js'
import { filesUnder } from './helpers.js'

const root = tempDir()
let n = 0
const stores: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

describe('store.repair()', () => {
  it('finds and fixes orphan locks, half-built and half-destroyed tenants, links and stale stamps', async () => {
    const dir = join(root, `s${++n}`)
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({
      root: dir,
      migrations: baseMigrations(),
      tenancy,
    }).install(tenancy)
    stores.push(store)
    const t = (name: string, file = 'db.sqlite3') => join(dir, 'tenants', name, file)
    for (const name of ['live', 'locked', 'stamped']) await store.createTenant(name)
    writeFileSync(t('locked', 'db.sqlite3.lock'), '') // a destroyer killed while holding the lock
    mkdirSync(join(dir, 'tenants', 'halfbuilt'))
    writeFileSync(t('halfbuilt', 'db.sqlite3.creating'), 'partial') // a creator killed mid-build
    mkdirSync(join(dir, 'tenants', 'halfgone'))
    writeFileSync(t('halfgone', 'db.sqlite3-wal'), '') // a destroyer killed after the database went
    mkdirSync(join(dir, 'tenants', 'empty'))
    mkdirSync(join(dir, 'tenants', 'NOT_A_NAME'))
    writeFileSync(t('NOT_A_NAME'), 'x')
    mkdirSync(join(dir, 'tenants', 'garbage'))
    writeFileSync(t('garbage'), 'not sqlite at all')
    symlinkSync(join(dir, 'tenants', 'live'), join(dir, 'tenants', 'evil'))
    const raw = new Database(t('stamped'))
    raw.pragma('user_version = 12345')
    raw.close()

    const summary = (fs: { kind: string; path: string; fixed: boolean }[]) =>
      fs.map((f) => `${f.kind} ${f.path}${f.fixed ? ' (fixed)' : ''}`).sort()
    const before = await store.repair()
    expect(summary(before)).toEqual([
      'half-made tenants/empty',
      'half-made tenants/halfgone/db.sqlite3-wal',
      'not-a-tenant tenants/NOT_A_NAME/db.sqlite3',
      'not-a-tenant tenants/garbage/db.sqlite3',
      'orphan-creating tenants/halfbuilt/db.sqlite3.creating',
      'orphan-lock tenants/locked/db.sqlite3.lock',
      'stamp tenants/stamped/db.sqlite3',
      'symlink tenants/evil',
    ])
    expect(before.find((f) => f.kind === 'stamp')?.tenant).toBe('stamped')

    const fixed = await store.repair({ fix: true })
    expect(summary(fixed)).toEqual([
      'half-made tenants/empty (fixed)',
      'half-made tenants/halfbuilt (fixed)',
      'half-made tenants/halfgone (fixed)',
      'half-made tenants/halfgone/db.sqlite3-wal (fixed)',
      'not-a-tenant tenants/NOT_A_NAME/db.sqlite3',
      'not-a-tenant tenants/garbage/db.sqlite3',
      'orphan-creating tenants/halfbuilt/db.sqlite3.creating (fixed)',
      'orphan-lock tenants/locked/db.sqlite3.lock (fixed)',
      'stamp tenants/stamped/db.sqlite3 (fixed)',
      'symlink tenants/evil (fixed)',
    ])
    expect(summary(await store.repair())).toEqual([
      'not-a-tenant tenants/NOT_A_NAME/db.sqlite3',
      'not-a-tenant tenants/garbage/db.sqlite3',
    ])
    expect(filesUnder(join(dir, 'tenants')).filter((f) => !/-(wal|shm)$/.test(f))).toEqual([
      'NOT_A_NAME/db.sqlite3',
      'garbage/db.sqlite3',
      'live/db.sqlite3',
      'locked/db.sqlite3',
      'stamped/db.sqlite3',
    ])
    // The tenants themselves are untouched and open normally.
    for (const name of ['live', 'locked', 'stamped'])
      expect(
        await tenancy.withTenant(name, () =>
          (tenancy.getResource('db') as Kysely<any>).selectFrom('note').selectAll().execute(),
        ),
      ).toEqual([])
  })

  it('leaves a lock that a live process holds alone', async () => {
    const dir = join(root, `s${++n}`)
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({
      root: dir,
      migrations: baseMigrations(),
      tenancy,
    }).install(tenancy)
    stores.push(store)
    await store.createTenant('busy')
    const holder = new Database(join(dir, 'tenants', 'busy', 'db.sqlite3.lock'))
    holder.exec('BEGIN EXCLUSIVE')
    try {
      expect(await store.repair({ fix: true })).toEqual([])
    } finally {
      holder.close()
    }
  })
})
