// The row-level store: shared tables guarded by row-level security. Runs as a role of its own
// that is no superuser (superusers bypass every policy), created here and dropped after.
import { createTenancy, isTenantryError, type Tenancy } from '@tenantry/context'
import { describeArchiveContract } from '@tenantry/test-utils/archive-contract'
import { describeTenantGuardContract } from '@tenantry/test-utils/guard-contract'
import { describeTenantStoreContract } from '@tenantry/test-utils/store-contract'
import type { Kysely, Migration } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPostgresRowLevelTenantDatabases,
  type PostgresRowLevelTenantDatabases,
  withTransaction,
} from '../src/index.js'
import { appRoleUrl, DATABASE_URL, runPrefix, SKIP, suiteName } from './helpers.js'

const run = runPrefix()
const suite = SKIP === undefined ? describe : describe.skip

async function admin<R>(fn: (c: pg.Client) => Promise<R>, url = DATABASE_URL): Promise<R> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** The test database as the non-superuser role (made before these tests, dropped after). */
const url = SKIP === undefined ? appRoleUrl(run) : ''
const roleUrl = (): string => url

describeTenantStoreContract(
  'postgres row-level',
  ({ tenancy, migrations, namespace, migrateOnOpen }) =>
    createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations,
      tenancy,
      migrateOnOpen,
      dataSchema: `${run}${namespace}_rows`,
      registrySchema: `${run}registry`,
      poolMax: 10,
    }),
  { skip: SKIP, sharedSchema: true },
)

describeArchiveContract(
  'postgres row-level',
  ({ tenancy, migrations, namespace }) =>
    createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations,
      tenancy,
      dataSchema: `${run}${namespace}_rows`,
      registrySchema: `${run}registry`,
      poolMax: 10,
    }),
  { skip: SKIP },
)

describeTenantGuardContract(
  'postgres row-level',
  ({ tenancy, migrations, namespace, tenantGuard }) =>
    createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations,
      tenancy,
      tenantGuard,
      dataSchema: `${run}${namespace}_rows`,
      registrySchema: `${run}registry`,
      poolMax: 4,
    }),
  { skip: SKIP },
)

const migrations: Record<string, Migration> = {
  '001_note': {
    async up(db) {
      await db.schema
        .createTable('note')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull().unique())
        .execute()
      await db.schema
        .createTable('tag')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('note_id', 'integer', (c) => c.notNull().references('note.id'))
        .execute()
    },
  },
}

suite(suiteName('postgres row-level: seeds'), () => {
  it('records seeds per tenant: a seed run for one tenant still runs for the next, once each', async () => {
    const tenancy = createTenancy()
    const store = createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations,
      tenancy,
      dataSchema: `${run}seeds_rows`,
      registrySchema: `${run}seeds_registry`,
    }).install(tenancy)
    try {
      const seen: string[] = []
      const seeds = {
        '01_welcome': async (tenant: string) => {
          seen.push(tenant)
          await (tenancy.getResource('db') as Kysely<any>)
            .insertInto('note')
            .values({ title: `welcome ${tenant}` })
            .execute()
        },
      }
      await store.createTenant('alpha')
      await store.createTenant('beta')
      expect(await store.seedTenant('alpha', seeds)).toEqual(['01_welcome'])
      expect(await store.seedTenant('beta', seeds)).toEqual(['01_welcome'])
      expect(await store.seedTenant('alpha', seeds)).toEqual([])
      expect(await store.seedTenant('beta', seeds)).toEqual([])
      expect(seen).toEqual(['alpha', 'beta'])
      const titles = await tenancy.withTenant('beta', () =>
        (tenancy.getResource('db') as Kysely<any>).selectFrom('note').select('title').execute(),
      )
      expect(titles).toEqual([{ title: 'welcome beta' }])
    } finally {
      await store.close()
    }
  })
})

suite(suiteName('postgres row-level: row-level security'), () => {
  const dataSchema = `${run}rls_rows`
  let store: PostgresRowLevelTenantDatabases<any>
  let tenancy: Tenancy
  const db = () => tenancy.getResource('db') as Kysely<any>

  beforeAll(async () => {
    tenancy = createTenancy()
    store = createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations,
      tenancy,
      dataSchema,
      registrySchema: `${run}rls_registry`,
      poolMax: 1, // one connection: what one tenant's transaction set, the next one must not see
    }).install(tenancy)
    for (const t of ['alpha', 'beta']) {
      await store.createTenant(t)
      await tenancy.withTenant(t, () =>
        withTransaction(
          async (trx) => {
            const { id } = await trx
              .insertInto('note')
              .values({ title: `${t} note` })
              .returning('id')
              .executeTakeFirstOrThrow()
            await trx.insertInto('tag').values({ note_id: id }).execute()
          },
          { tenancy },
        ),
      )
    }
  })
  afterAll(async () => {
    await store?.close()
  })

  it('shows a query without the tenant setting no rows, and one with it only its tenant', async () => {
    const bare = await admin(
      (c) => c.query(`select count(*)::int as n from "${dataSchema}".note`),
      roleUrl(),
    )
    expect(bare.rows[0].n).toBe(0)
    const superuser = await admin((c) =>
      c.query(`select count(*)::int as n from "${dataSchema}".note`),
    )
    expect(superuser.rows[0].n).toBe(2) // the rows are there; the policy hid them
    const scoped = await admin(async (c) => {
      await c.query("set app.tenant = 'alpha'")
      return c.query(`select title from "${dataSchema}".note`)
    }, roleUrl())
    expect(scoped.rows).toEqual([{ title: 'alpha note' }])
  })

  it('refuses an insert without a tenant, and a row written for another tenant', async () => {
    const error = await admin(
      (c) => c.query(`insert into "${dataSchema}".note (title) values ('orphan')`),
      roleUrl(),
    ).catch((e: unknown) => e)
    // tenant_id defaults to the (unset) tenant: null, which the policy's check refuses.
    expect((error as { code?: string }).code).toBe('42501')
    const foreign = await tenancy
      .withTenant('alpha', () =>
        db().insertInto('note').values({ tenant_id: 'beta', title: 'planted' }).execute(),
      )
      .catch((e: unknown) => e)
    expect((foreign as { code?: string }).code).toBe('42501') // violates the row-level policy
  })

  it('leaves no tenant on the pooled connection after a statement (SET LOCAL)', async () => {
    await tenancy.withTenant('alpha', () => db().selectFrom('note').selectAll().execute())
    const { rows } = await store.pool.query(
      "select coalesce(current_setting('app.tenant', true), '') as t",
    )
    expect(rows[0].t).toBe('')
  })

  it('keeps keys per tenant: the same title in two tenants, a tag only on its own note', async () => {
    await tenancy.withTenant('beta', () =>
      db().insertInto('note').values({ title: 'alpha note' }).execute(),
    )
    const alphaNote = await tenancy.withTenant('alpha', () =>
      db().selectFrom('note').select('id').executeTakeFirstOrThrow(),
    )
    const crossing = await tenancy
      .withTenant('beta', () => db().insertInto('tag').values({ note_id: alphaNote.id }).execute())
      .catch((e: unknown) => e)
    // The foreign key is (tenant_id, note_id) → note (tenant_id, id): alpha's note is not beta's.
    expect((crossing as { code?: string }).code).toBe('23503')
  })

  it('destroys one tenant: its rows go, children first; the other keeps its own', async () => {
    await store.createTenant('gamma')
    await tenancy.withTenant('gamma', async () => {
      const { id } = await db()
        .insertInto('note')
        .values({ title: 'g' })
        .returning('id')
        .executeTakeFirstOrThrow()
      await db().insertInto('tag').values({ note_id: id }).execute()
    })
    await store.destroyTenant('gamma')
    const left = await admin((c) =>
      c.query(
        `select tenant_id, count(*)::int as n from "${dataSchema}".note group by tenant_id order by 1`,
      ),
    )
    expect(left.rows.map((r) => r.tenant_id)).toEqual(['alpha', 'beta'])
    expect(await store.list()).toEqual(['alpha', 'beta'])
    const code = await tenancy.withTenant('gamma', () => 1).catch((e: unknown) => e)
    expect(isTenantryError(code, 'TENANTRY_UNKNOWN_TENANT')).toBe(true)
  })

  it('migrates the shared tables once for every tenant', async () => {
    const v2 = createPostgresRowLevelTenantDatabases({
      connectionString: roleUrl(),
      migrations: {
        ...migrations,
        '002_body': {
          up: (db) => db.schema.alterTable('note').addColumn('body', 'text').execute(),
        },
      },
      tenancy: createTenancy(),
      dataSchema,
      registrySchema: `${run}rls_registry`,
    })
    try {
      const results = await v2.migrateAllTenants()
      expect(results.map((r) => [r.tenant, r.applied])).toEqual([
        ['alpha', ['002_body']],
        ['beta', ['002_body']],
      ])
      expect((await v2.tenantInfo('beta')).pending).toEqual([])
      expect((await v2.migrateAllTenants()).map((r) => r.applied)).toEqual([[], []])
    } finally {
      await v2.close()
    }
  })
})
