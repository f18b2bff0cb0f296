// The behaviour every TenantStore backend (SQLite, PostgreSQL) must show. Backends call
// describeTenantStoreContract from their own test file; the migrations here use only Kysely's
// schema builder and portable SQL, so they run unchanged on both.
import { randomUUID } from 'node:crypto'
import { createTenancy, isTenantryError, type Tenancy } from '@tenantry/context'
import { type TenantStore, withTransaction } from '@tenantry/kysely'
import { type Kysely, type Migration, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'

/** What a backend's factory receives for one store. */
export interface ContractSetup {
  /** An isolated tenancy for this test. */
  tenancy: Tenancy
  /** The tenant schema to use. */
  migrations: Record<string, Migration>
  /** Stores made with the same namespace share their tenants (a root folder, a schema prefix). */
  namespace: string
  /** Apply pending migrations on open. */
  migrateOnOpen?: boolean
}

/** A store under test: the lifecycle plus a way to serve `db` through the tenancy. */
export type ContractStore = TenantStore & { install(tenancy: Tenancy): unknown }

/** Options of {@link describeTenantStoreContract}. */
export interface ContractOptions {
  /** Skip the whole suite, with the reason in its name (e.g. no DATABASE_URL). */
  skip?: string | undefined
  /**
   * One schema serves every tenant (PostgreSQL row-level mode): a migration runs once for all
   * of them, so it cannot fail for one tenant alone; the migrate-all test checks that instead.
   */
  sharedSchema?: boolean | undefined
}

/** The base schema: two tables with a foreign key, written with Kysely's builder only. */
export function baseMigrations(counter?: Map<string, number>): Record<string, Migration> {
  const count = (name: string) => counter?.set(name, (counter.get(name) ?? 0) + 1)
  return {
    '001_note': {
      async up(db) {
        count('001_note')
        await db.schema
          .createTable('note')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('title', 'varchar(200)', (c) => c.notNull())
          .execute()
      },
    },
    '002_tag': {
      async up(db) {
        count('002_tag')
        await db.schema
          .createTable('tag')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('note_id', 'integer', (c) => c.notNull().references('note.id'))
          .addColumn('name', 'varchar(50)', (c) => c.notNull())
          .execute()
      },
    },
  }
}

/** Registers the contract tests for one backend. */
export function describeTenantStoreContract(
  name: string,
  makeStore: (setup: ContractSetup) => ContractStore | Promise<ContractStore>,
  options: ContractOptions = {},
): void {
  const suite = options.skip === undefined ? describe : describe.skip
  suite(`TenantStore contract: ${name}${options.skip ? ` (skipped: ${options.skip})` : ''}`, () => {
    const opened: ContractStore[] = []
    let namespace = ''

    const make = async (
      migrations: Record<string, Migration> = baseMigrations(),
      extra: Partial<ContractSetup> = {},
    ) => {
      const tenancy = createTenancy()
      const store = await makeStore({ tenancy, migrations, namespace, ...extra })
      store.install(tenancy)
      opened.push(store)
      return { store, tenancy }
    }
    const code = async (p: Promise<unknown>) => {
      try {
        await p
      } catch (error) {
        return isTenantryError(error) ? error.code : error
      }
      return 'resolved'
    }
    const db = (t: Tenancy) => t.getResource('db') as Kysely<any>
    const titles = async (t: Tenancy, tenant: string) =>
      t.withTenant(tenant, async () =>
        (await db(t).selectFrom('note').select('title').orderBy('id').execute()).map(
          (r) => r.title,
        ),
      )

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
      namespace = ''
    })
    const fresh = () => {
      namespace = `c${randomUUID().slice(0, 8)}`
    }

    it('creates, lists, describes and destroys a tenant', async () => {
      fresh()
      const { store, tenancy } = await make()
      expect(await store.exists('acme')).toBe(false)
      await store.createTenant('acme')
      await store.createTenant('beta')
      expect(await store.exists('acme')).toBe(true)
      expect(await store.list()).toEqual(['acme', 'beta'])
      expect(await store.list()).toEqual(['acme', 'beta'])
      const info = await store.tenantInfo('acme')
      expect(info).toMatchObject({
        tenant: 'acme',
        migrations: ['001_note', '002_tag'],
        pending: [],
      })
      await tenancy.withTenant('acme', async () => {
        await db(tenancy).insertInto('note').values({ id: 1, title: 'hello' }).execute()
      })
      expect(await titles(tenancy, 'acme')).toEqual(['hello'])
      await store.destroyTenant('acme')
      expect(await store.exists('acme')).toBe(false)
      expect(await store.list()).toEqual(['beta'])
      expect(await code(tenancy.withTenant('acme', () => 1))).toBe('TENANTRY_UNKNOWN_TENANT')
      // A destroyed tenant can be created again, empty.
      await store.createTenant('acme')
      expect(await titles(tenancy, 'acme')).toEqual([])
    })

    it('refuses an existing tenant unless ifNotExists, and unknown or invalid names', async () => {
      fresh()
      const { store } = await make()
      await store.createTenant('acme')
      expect(await code(store.createTenant('acme'))).toBe('TENANTRY_TENANT_EXISTS')
      await store.createTenant('acme', { ifNotExists: true })
      expect(await code(store.destroyTenant('nobody'))).toBe('TENANTRY_UNKNOWN_TENANT')
      expect(await code(store.migrateTenant('nobody'))).toBe('TENANTRY_UNKNOWN_TENANT')
      for (const bad of ['../acme', 'a/b', 'UPPER', '', 'a b'])
        expect(await code(store.createTenant(bad))).toBe('TENANTRY_INVALID_TENANT_NAME')
      expect(await store.list()).toEqual(['acme'])
    })

    it('lets exactly one of many concurrent creators migrate; the rest see it exists', async () => {
      fresh()
      const counter = new Map<string, number>()
      const { store, tenancy } = await make(baseMigrations(counter))
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, () => code(store.createTenant('race'))),
      )
      expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(1)
      expect(outcomes.filter((o) => o === 'TENANTRY_TENANT_EXISTS')).toHaveLength(7)
      expect(Object.fromEntries(counter)).toEqual({ '001_note': 1, '002_tag': 1 })
      expect(await titles(tenancy, 'race')).toEqual([])
    })

    it('makes a tenant visible only once it is fully migrated', async () => {
      fresh()
      let entered!: () => void
      let proceed!: () => void
      const inMigration = new Promise<void>((r) => {
        entered = r
      })
      const gate = new Promise<void>((r) => {
        proceed = r
      })
      const migrations = {
        ...baseMigrations(),
        '003_slow': {
          async up() {
            entered()
            await gate
          },
        } satisfies Migration,
      }
      const { store } = await make(migrations)
      const creating = store.createTenant('slow')
      await inMigration
      expect(await store.exists('slow')).toBe(false)
      expect(await store.list()).toEqual([])
      proceed()
      await creating
      expect(await store.exists('slow')).toBe(true)
      expect(await store.list()).toEqual(['slow'])
    })

    it('leaves nothing behind when a migration fails, and can create the tenant afterwards', async () => {
      fresh()
      const failing = {
        ...baseMigrations(),
        '003_broken': {
          async up(db) {
            await db.schema
              .createTable('half')
              .addColumn('id', 'integer', (c) => c.primaryKey())
              .execute()
            throw new Error('boom')
          },
        } satisfies Migration,
      }
      const { store } = await make(failing)
      const error = await store.createTenant('oops').catch((e: unknown) => e)
      expect(isTenantryError(error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
      expect((error as Error).message).toContain('003_broken')
      expect((error as Error).message).toContain('boom')
      expect(await store.exists('oops')).toBe(false)
      expect(await store.list()).toEqual([])
      const { store: fixed, tenancy } = await make()
      await fixed.createTenant('oops')
      expect(await titles(tenancy, 'oops')).toEqual([])
      expect((await fixed.tenantInfo('oops')).migrations).toEqual(['001_note', '002_tag'])
    })

    const perTenant = options.sharedSchema ? it.skip : it
    perTenant(
      `migrates every tenant, keeps going past a failing one and reports progress (per-tenant schemas only${options.sharedSchema ? '; skipped: this store shares one schema' : ''})`,
      async () => {
        fresh()
        const { store: v1, tenancy: t1 } = await make()
        for (const t of ['a1', 'a2', 'a3']) await v1.createTenant(t)
        await t1.withTenant('a2', async () => {
          await db(t1).insertInto('note').values({ id: 1, title: 'poison' }).execute()
        })
        await v1.close()
        const v2migrations = {
          ...baseMigrations(),
          '003_extra': {
            async up(db) {
              await db.schema
                .createTable('extra')
                .addColumn('id', 'integer', (c) => c.primaryKey())
                .execute()
              const poisoned = await db
                .selectFrom('note')
                .select('id')
                .where('title', '=', 'poison')
                .execute()
              if (poisoned.length > 0) throw new Error('poisoned tenant')
            },
          } satisfies Migration,
        }
        const { store: v2 } = await make(v2migrations)
        const progress: number[] = []
        const results = await v2.migrateAllTenants({
          concurrency: 2,
          onProgress: (p) => progress.push(p.done),
        })
        expect(progress.sort()).toEqual([1, 2, 3])
        const byTenant = Object.fromEntries(results.map((r) => [r.tenant, r]))
        expect(byTenant.a1).toMatchObject({ applied: ['003_extra'] })
        expect(byTenant.a3).toMatchObject({ applied: ['003_extra'] })
        expect(isTenantryError(byTenant.a2?.error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
        expect((await v2.tenantInfo('a2')).pending).toEqual(['003_extra'])
        // The failed run kept nothing: the table it created was rolled back.
        const again = await v2.migrateAllTenants()
        expect(again.map((r) => r.applied)).toEqual([[], [], []])
        expect(isTenantryError(again[1]?.error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
      },
    )

    const shared = options.sharedSchema ? it : it.skip
    shared(
      `migrates a shared schema once for every tenant; a failure fails them all and keeps nothing (shared schemas only${options.sharedSchema ? '' : '; skipped: this store has a schema per tenant'})`,
      async () => {
        fresh()
        const { store: v1 } = await make()
        for (const t of ['a1', 'a2', 'a3']) await v1.createTenant(t)
        await v1.close()
        const broken = {
          ...baseMigrations(),
          '003_extra': {
            async up(db) {
              await db.schema
                .createTable('extra')
                .addColumn('id', 'integer', (c) => c.primaryKey())
                .execute()
              throw new Error('broken')
            },
          } satisfies Migration,
        }
        const { store: v2 } = await make(broken)
        const progress: number[] = []
        const failed = await v2.migrateAllTenants({ onProgress: (p) => progress.push(p.done) })
        expect(progress.sort()).toEqual([1, 2, 3])
        expect(failed.map((r) => isTenantryError(r.error, 'TENANTRY_MIGRATION_FAILED'))).toEqual([
          true,
          true,
          true,
        ])
        expect((await v2.tenantInfo('a2')).pending).toEqual(['003_extra'])
        const fixed: Record<string, Migration> = {
          ...baseMigrations(),
          '003_extra': {
            up: (db) =>
              db.schema
                .createTable('extra')
                .addColumn('id', 'integer', (c) => c.primaryKey())
                .execute(),
          },
        }
        const { store: v3 } = await make(fixed)
        const results = await v3.migrateAllTenants({ concurrency: 2 })
        expect(results.map((r) => [r.tenant, r.applied])).toEqual([
          ['a1', ['003_extra']],
          ['a2', ['003_extra']],
          ['a3', ['003_extra']],
        ])
        expect((await v3.migrateAllTenants()).map((r) => r.applied)).toEqual([[], [], []])
      },
    )

    it('refuses to open a tenant with pending migrations unless migrateOnOpen', async () => {
      fresh()
      const { store: v1 } = await make()
      await v1.createTenant('p1')
      await v1.createTenant('p2')
      await v1.close()
      const v2migrations = {
        ...baseMigrations(),
        '003_more': {
          async up(db) {
            await db.schema.alterTable('note').addColumn('body', 'varchar(500)').execute()
          },
        } satisfies Migration,
      }
      const { store: strict, tenancy } = await make(v2migrations)
      const error = await tenancy.withTenant('p1', () => 1).catch((e: unknown) => e)
      expect(isTenantryError(error, 'TENANTRY_PENDING_MIGRATIONS')).toBe(true)
      expect((error as { pending: string[] }).pending).toEqual(['003_more'])
      expect(await strict.migrateTenant('p1')).toEqual({ tenant: 'p1', applied: ['003_more'] })
      expect(await strict.migrateTenant('p1')).toEqual({ tenant: 'p1', applied: [] })
      await tenancy.withTenant('p1', async () => {
        await db(tenancy).insertInto('note').values({ id: 1, title: 't', body: 'b' }).execute()
      })
      const { tenancy: lenient } = await make(v2migrations, { migrateOnOpen: true })
      await lenient.withTenant('p2', async () => {
        await db(lenient).insertInto('note').values({ id: 1, title: 't', body: 'b' }).execute()
      })
    })

    it('runs transactions through getDb(), with nested savepoints', async () => {
      fresh()
      const { store, tenancy } = await make()
      await store.createTenant('tx')
      const insert = (id: number, title: string) =>
        db(tenancy).insertInto('note').values({ id, title }).execute()
      await tenancy.withTenant('tx', async () => {
        const base = db(tenancy)
        await withTransaction(
          async (trx) => {
            expect(db(tenancy)).toBe(trx)
            expect(db(tenancy)).not.toBe(base)
            await insert(1, 'outer')
            await expect(
              withTransaction(
                async () => {
                  await insert(2, 'inner-rolled-back')
                  throw new Error('inner fails')
                },
                { tenancy },
              ),
            ).rejects.toThrow('inner fails')
            await withTransaction(() => insert(3, 'inner-kept'), { tenancy })
          },
          { tenancy },
        )
        expect(db(tenancy)).toBe(base)
        await expect(
          withTransaction(
            async () => {
              await insert(4, 'all-rolled-back')
              throw new Error('outer fails')
            },
            { tenancy },
          ),
        ).rejects.toThrow('outer fails')
      })
      expect(await titles(tenancy, 'tx')).toEqual(['outer', 'inner-kept'])
    })

    it('keeps tenants apart, also when they run interleaved', async () => {
      fresh()
      const { store, tenancy } = await make()
      await store.createTenant('left')
      await store.createTenant('right')
      await Promise.all(
        ['left', 'right'].map((tenant) =>
          tenancy.withTenant(tenant, async () => {
            for (let i = 1; i <= 5; i++) {
              await db(tenancy)
                .insertInto('note')
                .values({ id: i, title: `${tenant}-${i}` })
                .execute()
              await sql`select 1`.execute(db(tenancy))
            }
          }),
        ),
      )
      expect(await titles(tenancy, 'left')).toEqual([1, 2, 3, 4, 5].map((i) => `left-${i}`))
      expect(await titles(tenancy, 'right')).toEqual([1, 2, 3, 4, 5].map((i) => `right-${i}`))
    })
  })
}
