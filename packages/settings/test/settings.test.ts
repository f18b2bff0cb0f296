import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createTenancy,
  type ResourceDefinition,
  tenancy as shared,
  type Tenancy,
  withTenant,
} from '@tenantry/context'
import Database from 'better-sqlite3'
import { Kysely, type Migration, type MigrationProvider, Migrator, SqliteDialect } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  defineSettings,
  getSettings,
  type SettingsDefinition,
  SettingsTableError,
  SettingsValidationError,
  settingsMigrations,
  type TenantSettings,
  updateSettings,
} from '../src/index.js'

const defaults = {
  title: 'My wiki',
  allowedHtml: ['b', 'i'] as string[],
  maxUploadMb: 10,
  comments: true,
  theme: { color: 'blue' } as { color: string },
}
type Values = typeof defaults

let dir: string
let tenancy: Tenancy

/** The tenant database resource of these tests: one SQLite file per tenant, migrated on open. */
function dbResource(migrations: Record<string, Migration> = settingsMigrations) {
  return {
    eager: true,
    async create(tenant) {
      const db = new Kysely<any>({
        dialect: new SqliteDialect({ database: new Database(join(dir, `${tenant}.sqlite3`)) }),
      })
      const provider: MigrationProvider = { getMigrations: async () => migrations }
      const { error } = await new Migrator({ db, provider }).migrateToLatest()
      if (error) throw error
      return db
    },
    dispose: (db) => db.destroy(),
  } satisfies ResourceDefinition<Kysely<any>>
}

/** A renderer built from settings, like the wiki's: counts how often it is built. */
function rendererResource(builds: string[]): ResourceDefinition<{ render(s: string): string }> {
  return {
    create(tenant) {
      const s = (tenancy.getResource('settings') as TenantSettings<Values>).values
      builds.push(tenant)
      const allowed = new Set(s.allowedHtml)
      return {
        render: (text) =>
          `<h1>${s.title}</h1>${text.replace(/<\/?([a-z]+)>/g, (tag, name: string) => (allowed.has(name) ? tag : ''))}`,
      }
    },
  }
}

let settings: SettingsDefinition<Values>
let builds: string[]

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantry-settings-'))
  builds = []
  tenancy = createTenancy()
  settings = defineSettings({ defaults, dependents: ['renderer'], tenancy })
  tenancy.configure({
    resources: { db: dbResource(), settings, renderer: rendererResource(builds) },
  })
})

afterEach(async () => {
  await tenancy.reset()
  await shared.reset()
  await rm(dir, { recursive: true, force: true })
})

const render = (text: string) =>
  (tenancy.getResource('renderer') as { render(s: string): string }).render(text)

describe('defineSettings', () => {
  it('is an eager resource that loads defaults for a new tenant', async () => {
    expect(settings.eager).toBe(true)
    const values = await tenancy.withTenant('acme', () => settings.get())
    expect(values).toEqual(defaults)
    expect(Object.isFrozen(values)).toBe(true)
    expect(Object.isFrozen(values.allowedHtml)).toBe(true)
  })

  it('stores typed updates in the tenant database and loads them on the next entry', async () => {
    const returned = await tenancy.withTenant('acme', () =>
      settings.update({ title: 'Acme docs', allowedHtml: ['b', 'i', 'em'] }),
    )
    expect(returned).toEqual({ ...defaults, title: 'Acme docs', allowedHtml: ['b', 'i', 'em'] })
    expect(await tenancy.withTenant('acme', () => settings.get().title)).toBe('Acme docs')

    // Really in the database: a fresh tenancy on the same files sees it.
    await tenancy.close()
    const again = createTenancy()
    const s2 = defineSettings({ defaults, tenancy: again })
    again.configure({ resources: { db: dbResource(), settings: s2 } })
    try {
      expect(await again.withTenant('acme', () => s2.get().allowedHtml)).toEqual(['b', 'i', 'em'])
      expect(await again.withTenant('globex', () => s2.get().title)).toBe('My wiki')
    } finally {
      await again.reset()
    }
  })

  it('refuses unknown keys, wrong types and what validate() rejects, writing nothing', async () => {
    const strict = defineSettings({
      defaults,
      tenancy,
      validate: (v) => v.maxUploadMb <= 100 || 'maxUploadMb is at most 100',
    })
    tenancy.defineResource('settings', strict)
    await tenancy.withTenant('acme', async () => {
      const bad: [unknown, string | undefined][] = [
        [{ nope: 1 }, 'nope'],
        [{ title: 42 }, 'title'],
        [{ allowedHtml: 'b' }, 'allowedHtml'],
        [{ theme: ['x'] }, 'theme'],
        [{ maxUploadMb: Number.NaN }, 'maxUploadMb'],
        [{ theme: { color: new Date() } }, 'theme'],
        [{ maxUploadMb: 1000 }, undefined],
        [null, undefined],
      ]
      for (const [patch, key] of bad) {
        const error = await strict.update(patch as Partial<Values>).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(SettingsValidationError)
        expect((error as SettingsValidationError).code).toBe('TENANTRY_SETTINGS_INVALID')
        expect((error as SettingsValidationError).key).toBe(key)
      }
      const db = tenancy.getResource('db') as Kysely<any>
      expect(await db.selectFrom('tenantry_settings').selectAll().execute()).toEqual([])
    })
  })

  it('falls back to defaults for stored values of the wrong kind or removed keys', async () => {
    await tenancy.withTenant('acme', async () => {
      const db = tenancy.getResource('db') as Kysely<any>
      const now = new Date().toISOString()
      await db
        .insertInto('tenantry_settings')
        .values([
          { key: 'title', value: '123', updated_at: now }, // a number now: wrong kind
          { key: 'gone', value: '"old"', updated_at: now },
          { key: 'comments', value: 'false', updated_at: now },
          { key: 'maxUploadMb', value: 'not json', updated_at: now },
        ])
        .execute()
    })
    await tenancy.refreshTenant('acme', ['settings']) // written behind the package's back
    const values = await tenancy.withTenant('acme', () => settings.get())
    expect(values).toEqual({ ...defaults, comments: false })
  })

  it('explains a missing table', async () => {
    tenancy.defineResource('db', dbResource({}))
    tenancy.defineResource('settings', defineSettings({ defaults, tenancy }))
    const error = await tenancy.withTenant('acme', () => 1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SettingsTableError)
    expect((error as SettingsTableError).code).toBe('TENANTRY_SETTINGS_TABLE')
    expect((error as Error).message).toMatch(/settingsMigrations/)
  })

  it('needs a tenant', async () => {
    expect(() => settings.get()).toThrow(expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }))
    await expect(settings.update({ title: 'x' })).rejects.toMatchObject({
      code: 'TENANTRY_NO_TENANT',
    })
  })
})

describe('settings → refresh', () => {
  it('rebuilds the renderer on the next request, without touching other tenants', async () => {
    expect(await tenancy.withTenant('acme', () => render('<b>x</b><em>y</em>'))).toBe(
      '<h1>My wiki</h1><b>x</b>y',
    )
    const globexRenderer = await tenancy.withTenant('globex', () => tenancy.getResource('renderer'))
    expect(builds).toEqual(['acme', 'globex'])

    await tenancy.withTenant('acme', async () => {
      const next = await settings.update({ title: 'Acme', allowedHtml: ['b', 'em'] })
      expect(next.title).toBe('Acme')
      // This request keeps the version it started with: one consistent view per request.
      expect(settings.get().title).toBe('My wiki')
      expect(render('<em>y</em>')).toBe('<h1>My wiki</h1>y')
    })

    expect(await tenancy.withTenant('acme', () => render('<b>x</b><em>y</em>'))).toBe(
      '<h1>Acme</h1><b>x</b><em>y</em>',
    )
    // acme's renderer was built twice more: once from the old snapshot inside the updating
    // request (then dropped when the new settings loaded), once from the new values.
    expect(builds).toEqual(['acme', 'globex', 'acme', 'acme'])
    // globex: same renderer instance, same settings
    await tenancy.withTenant('globex', () => {
      expect(tenancy.getResource('renderer')).toBe(globexRenderer)
      expect(settings.get().title).toBe('My wiki')
    })
    expect(builds).toEqual(['acme', 'globex', 'acme', 'acme'])
  })

  it('applies a request that is still running the old version, then the new one', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let entered!: () => void
    const inside = new Promise<void>((r) => {
      entered = r
    })
    const slow = tenancy.withTenant('acme', async () => {
      entered()
      await gate
      return render('<em>x</em>')
    })
    await inside
    await tenancy.withTenant('acme', () => settings.update({ allowedHtml: ['em'] }))
    release()
    expect(await slow).toBe('<h1>My wiki</h1>x') // built before the update, kept
    expect(await tenancy.withTenant('acme', () => render('<em>x</em>'))).toBe(
      '<h1>My wiki</h1><em>x</em>',
    )
  })

  it('keeps both of two concurrent updates to different keys', async () => {
    await Promise.all([
      tenancy.withTenant('acme', () => settings.update({ title: 'T' })),
      tenancy.withTenant('acme', () => settings.update({ maxUploadMb: 50 })),
      tenancy.withTenant('acme', () => settings.update({ comments: false })),
    ])
    const v = await tenancy.withTenant('acme', () => settings.get())
    expect([v.title, v.maxUploadMb, v.comments]).toEqual(['T', 50, false])
  })

  it('updates inside an open transaction on db (a rolled-back test, withTransaction)', async () => {
    const inTransaction = (fn: () => Promise<unknown>, commit: boolean) =>
      tenancy.withTenant('acme', async () => {
        const trx = await (tenancy.getResource('db') as Kysely<any>).startTransaction().execute()
        try {
          await tenancy.withOverrides({ db: trx }, fn)
        } finally {
          await (commit ? trx.commit() : trx.rollback()).execute()
        }
      })
    await inTransaction(async () => {
      expect((await settings.update({ title: 'Kept' })).title).toBe('Kept')
    }, true)
    expect(await tenancy.withTenant('acme', () => settings.get().title)).toBe('Kept')
    await inTransaction(() => settings.update({ title: 'Rolled back' }), false)
    expect(await tenancy.withTenant('acme', () => settings.get().title)).toBe('Kept')
  })

  it('can update another tenant from outside (admin tools)', async () => {
    await settings.updateFor('globex', { title: 'Globex' })
    expect(await tenancy.withTenant('globex', () => settings.get().title)).toBe('Globex')
    expect(await tenancy.withTenant('acme', () => settings.get().title)).toBe('My wiki')
  })
})

describe('getSettings / updateSettings (shared tenancy)', () => {
  it('read and update the current tenant through the default tenancy', async () => {
    const s = defineSettings({ defaults })
    shared.configure({ resources: { db: dbResource(), settings: s } })
    await withTenant('acme', async () => {
      expect(getSettings().title).toBe('My wiki')
      const next = await updateSettings({ title: 'Shared' })
      expect(next.title).toBe('Shared')
    })
    expect(await withTenant('acme', () => getSettings().title)).toBe('Shared')
    expect(await withTenant('acme', () => s.get().title)).toBe('Shared')
  })
})
