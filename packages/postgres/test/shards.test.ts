// The sharded store over two real databases: DATABASE_URL and DATABASE_URL_2 (a second cluster
// in CI, see .ci/run), or, without DATABASE_URL_2, a database created here on the first server
// and dropped after.
import { createTenancy, type Tenancy } from '@tenantry/context'
import { describeArchiveContract } from '@tenantry/test-utils/archive-contract'
import { describeTenantGuardContract } from '@tenantry/test-utils/guard-contract'
import { describeTenantStoreContract } from '@tenantry/test-utils/store-contract'
import { type Kysely, type Migration, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPostgresTenantDatabases,
  createShardedTenantDatabases,
  type ShardedTenantDatabases,
  schemaFor,
} from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP, suiteName } from './helpers.js'

const run = runPrefix()
const suite = SKIP === undefined ? describe : describe.skip
const made = `${run}shard`
let second = process.env.DATABASE_URL_2 || undefined
const ownSecond = second === undefined

async function on<R>(url: string, fn: (c: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

if (SKIP === undefined) {
  beforeAll(async () => {
    if (!ownSecond) return
    await on(DATABASE_URL!, (c) => c.query(`create database "${made}"`))
    const url = new URL(DATABASE_URL!)
    url.pathname = `/${made}`
    second = url.toString()
  })
  afterAll(async () => {
    if (ownSecond)
      await on(DATABASE_URL!, (c) => c.query(`drop database if exists "${made}" with (force)`))
    else await dropSchemasOn(second!, run)
  })
}

async function dropSchemasOn(url: string, prefix: string): Promise<void> {
  await on(url, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      'select nspname as n from pg_namespace where starts_with(nspname, $1)',
      [prefix],
    )
    for (const { n } of rows) await c.query(`drop schema if exists "${n}" cascade`)
  })
}

const shards = () => ({ one: DATABASE_URL!, two: second! })

describeTenantStoreContract(
  'postgres sharded (two databases)',
  ({ tenancy, migrations, namespace, migrateOnOpen }) =>
    createShardedTenantDatabases({
      shards: shards(),
      central: DATABASE_URL!,
      migrations,
      tenancy,
      migrateOnOpen,
      schemaPrefix: `${run}${namespace}_`,
      registrySchema: `${run}registry`,
      poolMax: 4,
    }),
  { skip: SKIP },
)

describeArchiveContract(
  'postgres sharded (two databases)',
  ({ tenancy, migrations, namespace }) =>
    createShardedTenantDatabases({
      shards: shards(),
      central: DATABASE_URL!,
      migrations,
      tenancy,
      schemaPrefix: `${run}${namespace}_`,
      registrySchema: `${run}registry`,
      poolMax: 6,
    }),
  { skip: SKIP },
)

describeTenantGuardContract(
  'postgres sharded (two databases)',
  ({ tenancy, migrations, namespace, tenantGuard }) =>
    createShardedTenantDatabases({
      shards: shards(),
      central: DATABASE_URL!,
      migrations,
      tenancy,
      tenantGuard,
      schemaPrefix: `${run}${namespace}_`,
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
        .addColumn('title', 'text', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('tag')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('note_id', 'integer', (c) => c.notNull().references('note.id'))
        .execute()
    },
  },
}

suite(suiteName('postgres sharded: placement and moves'), () => {
  let store: ShardedTenantDatabases<any>
  let tenancy: Tenancy
  const prefix = `${run}mv_`
  const db = () => tenancy.getResource('db') as Kysely<any>

  beforeAll(() => {
    tenancy = createTenancy()
    store = createShardedTenantDatabases({
      shards: shards(),
      central: DATABASE_URL!,
      migrations,
      tenancy,
      schemaPrefix: prefix,
      registrySchema: `${run}registry`,
      poolMax: 4,
    }).install(tenancy)
  })
  afterAll(async () => {
    await store?.close()
  })

  it('places new tenants on the shard with the fewest, and routes every call there', async () => {
    for (const t of ['p1', 'p2', 'p3', 'p4']) await store.createTenant(t)
    const where = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((t) => store.shardOf(t)))
    expect([...where].sort()).toEqual(['one', 'one', 'two', 'two'])
    // The schema exists on its shard only.
    const onTwo = await on(second!, (c) =>
      c.query('select nspname from pg_namespace where starts_with(nspname, $1)', [prefix]),
    )
    const expected = ['p1', 'p2', 'p3', 'p4'].filter((_, i) => where[i] === 'two')
    expect(onTwo.rows.map((r) => r.nspname).sort()).toEqual(
      expected.map((t) => schemaFor(prefix, t)).sort(),
    )
    const results = await store.migrateAllTenants({ concurrency: 2 })
    expect(results.map((r) => r.tenant)).toEqual(['p1', 'p2', 'p3', 'p4'])
    expect((await store.tenantInfo('p1')).location).toMatch(/^(one|two):/)
  })

  it('places with a custom policy', async () => {
    const custom = createShardedTenantDatabases({
      shards: shards(),
      central: DATABASE_URL!,
      migrations,
      tenancy: createTenancy(),
      schemaPrefix: `${run}cu_`,
      registrySchema: `${run}registry`,
      place: (tenant) => (tenant.startsWith('eu-') ? 'two' : 'one'),
    })
    try {
      await custom.createTenant('eu-acme')
      await custom.createTenant('us-acme')
      expect(await custom.shardOf('eu-acme')).toBe('two')
      expect(await custom.shardOf('us-acme')).toBe('one')
    } finally {
      await custom.close()
    }
  })

  it('moves a tenant with its rows while writers run: they wait, then resume on the new shard', async () => {
    await store.createTenant('mover')
    const from = await store.shardOf('mover')
    const to = from === 'one' ? 'two' : 'one'
    await tenancy.withTenant('mover', async () => {
      for (let i = 0; i < 50; i++) {
        const { id } = await db()
          .insertInto('note')
          .values({ title: `before-${i}` })
          .returning('id')
          .executeTakeFirstOrThrow()
        await db().insertInto('tag').values({ note_id: id }).execute()
      }
    })
    // Writers: each a new scope (as requests are), some landing before, some during the move.
    let stop = false
    const acknowledged: string[] = []
    let started!: () => void
    const running = new Promise<void>((r) => {
      started = r
    })
    const writers = Array.from({ length: 3 }, (_, w) =>
      (async () => {
        for (let i = 0; !stop || i < 5; i++) {
          const title = `w${w}-${i}`
          await tenancy.withTenant('mover', () =>
            db().insertInto('note').values({ title }).execute(),
          )
          acknowledged.push(title)
          if (acknowledged.length === 6) started()
          await new Promise((r) => setTimeout(r, Math.random() * 3))
        }
      })(),
    )
    await running // the move starts while all three write
    await store.moveTenant('mover', to)
    stop = true
    await Promise.all(writers)
    expect(await store.shardOf('mover')).toBe(to)
    const titles = await tenancy.withTenant('mover', async () =>
      (await db().selectFrom('note').select('title').execute()).map((r) => r.title),
    )
    for (const t of acknowledged) expect(titles).toContain(t)
    expect(titles.filter((t) => t.startsWith('before-'))).toHaveLength(50)
    // The sequence moved too: a new row gets a fresh id, the tags still point at their notes.
    await tenancy.withTenant('mover', async () => {
      await db().insertInto('note').values({ title: 'after' }).execute()
      const { n } = await db()
        .selectFrom('tag')
        .innerJoin('note', 'note.id', 'tag.note_id')
        .select(sql<number>`count(*)::int`.as('n'))
        .executeTakeFirstOrThrow()
      expect(n).toBe(50)
    })
    // The old copy is gone from the old shard.
    const oldUrl = from === 'one' ? DATABASE_URL! : second!
    const left = await on(oldUrl, (c) =>
      c.query('select 1 from pg_namespace where nspname = $1', [schemaFor(prefix, 'mover')]),
    )
    expect(left.rows).toHaveLength(0)
    expect(await store.list()).toContain('mover')
  })

  it('undoes a move that fails partway: the tenant stays with its rows, nothing is left on the target', async () => {
    await store.createTenant('drift')
    const from = await store.shardOf('drift')
    const to = from === 'one' ? 'two' : 'one'
    const fromUrl = from === 'one' ? DATABASE_URL! : second!
    const toUrl = to === 'one' ? DATABASE_URL! : second!
    const schema = schemaFor(prefix, 'drift')
    await tenancy.withTenant('drift', () =>
      db().insertInto('note').values({ title: 'stays' }).execute(),
    )
    // A table made by hand on the source only: the target's migrations do not make it, so the
    // copy fails after the target schema was built and other tables were copied.
    await on(fromUrl, (c) =>
      c.query(
        `create table "${schema}".zz_extra (x int); insert into "${schema}".zz_extra values (1)`,
      ),
    )
    const error = await store.moveTenant('drift', to).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'TENANTRY_MOVE_FAILED', tenant: 'drift', from, to })
    expect(await store.shardOf('drift')).toBe(from)
    const titles = await tenancy.withTenant('drift', () =>
      db().selectFrom('note').select('title').execute(),
    )
    expect(titles).toEqual([{ title: 'stays' }])
    const left = await on(toUrl, (c) =>
      c.query('select 1 from pg_namespace where nspname = $1', [schema]),
    )
    expect(left.rows).toHaveLength(0)
    // Fixed, the same move goes through.
    await on(fromUrl, (c) => c.query(`drop table "${schema}".zz_extra`))
    await store.moveTenant('drift', to)
    expect(await store.shardOf('drift')).toBe(to)
    const moved = await tenancy.withTenant('drift', () =>
      db().selectFrom('note').select('title').execute(),
    )
    expect(moved).toEqual([{ title: 'stays' }])
  })

  it('clears a copy an interrupted move left on the target, then moves', async () => {
    await store.createTenant('again')
    const from = await store.shardOf('again')
    const to = from === 'one' ? 'two' : 'one'
    // What a move killed after copying leaves: the schema on the target, never placed there.
    const stray = createPostgresTenantDatabases({
      connectionString: shards()[to],
      migrations,
      tenancy: createTenancy(),
      schemaPrefix: prefix,
      registrySchema: `${run}registry`,
    })
    await stray.createTenant('again')
    await stray.close()
    await tenancy.withTenant('again', () =>
      db().insertInto('note').values({ title: 'kept' }).execute(),
    )
    await store.moveTenant('again', to)
    expect(await store.shardOf('again')).toBe(to)
    const titles = await tenancy.withTenant('again', () =>
      db().selectFrom('note').select('title').execute(),
    )
    expect(titles).toEqual([{ title: 'kept' }])
    const raw = await tenancy.withTenant('again', () =>
      sql<{ n: number }>`select count(*)::int as n from ${store.table('note')}`.execute(db()),
    )
    expect(raw.rows[0]?.n).toBe(1)
    await store.moveTenant('again', to) // already there: nothing to do
    expect(await store.shardOf('again')).toBe(to)
  })
})
