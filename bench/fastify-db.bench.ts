// A Fastify route that reads one row from the tenant's own SQLite database, 1,000 tenants
// round-robin, against the same data in one shared database with a tenant_id column. Both
// sides use Fastify + Kysely + better-sqlite3; only the tenancy differs. Load comes from
// autocannon on 127.0.0.1, bounded in time and connections, alternating rounds.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy, type Tenancy } from '@tenantry/context'
import { fromPath, tenantry } from '@tenantry/fastify'
import { createTenantDatabases } from '@tenantry/sqlite'
import autocannon from 'autocannon'
import Database from 'better-sqlite3'
import Fastify, { type FastifyInstance } from 'fastify'
import { Kysely, SqliteDialect } from 'kysely'
import { type PageRow, pageMigrations } from './fixtures.ts'
import { compare, median, section } from './lib.ts'

const TENANTS = Array.from({ length: 1000 }, (_, i) => `t${String(i).padStart(4, '0')}`)
const SECONDS = 3
const root = mkdtempSync(join(tmpdir(), 'tenantry-fastify-db-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

type TenantDB = { page: PageRow }
type SharedDB = { page: PageRow & { tenant_id: string } }

const migrations = pageMigrations

/** The tenanted server: @tenantry/fastify + @tenantry/sqlite with a cap on open handles. */
async function tenantedServer(cap: number): Promise<{ app: FastifyInstance; tenancy: Tenancy }> {
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({ root, migrations, tenancy, cap }).install(tenancy)
  const app = Fastify()
  await app.register(tenantry, { resolve: fromPath('/t/:tenant'), tenancy })
  app.get<{ Params: { slug: string } }>('/t/:tenant/page/:slug', async (request) => {
    const db = tenancy.getResource('db') as Kysely<TenantDB>
    return db
      .selectFrom('page')
      .selectAll()
      .where('slug', '=', request.params.slug)
      .executeTakeFirst()
  })
  app.addHook('onClose', () => store.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, tenancy }
}

/** The baseline: one database, every row tagged with its tenant. */
async function sharedServer(file: string): Promise<FastifyInstance> {
  const db = new Kysely<SharedDB>({ dialect: new SqliteDialect({ database: new Database(file) }) })
  const app = Fastify()
  app.get<{ Params: { tenant: string; slug: string } }>('/s/:tenant/page/:slug', async (request) =>
    db
      .selectFrom('page')
      .select(['slug', 'title', 'body'])
      .where('tenant_id', '=', request.params.tenant)
      .where('slug', '=', request.params.slug)
      .executeTakeFirst(),
  )
  app.addHook('onClose', () => db.destroy())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

async function load(app: FastifyInstance, prefix: string): Promise<number> {
  const { port } = app.server.address() as { port: number }
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 10,
    duration: SECONDS,
    requests: TENANTS.map((t) => ({ method: 'GET', path: `/${prefix}/${t}/page/home` })),
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${prefix}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  return result.requests.average
}

// Data: 1,000 tenant files (created through the store: migrations, stamping, rename into
// place), and the same 1,000 rows in one shared file.
{
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({ root, migrations, tenancy }).install(tenancy)
  for (const t of TENANTS) {
    await store.createTenant(t)
    await tenancy.withTenant(t, () =>
      (tenancy.getResource('db') as Kysely<TenantDB>)
        .insertInto('page')
        .values({ slug: 'home', title: `Home of ${t}`, body: 'Hello' })
        .execute(),
    )
  }
  await store.close()
}
const sharedFile = join(root, 'shared.sqlite3')
{
  const raw = new Database(sharedFile)
  raw.pragma('journal_mode = WAL')
  raw.exec(
    'CREATE TABLE page (tenant_id TEXT NOT NULL, slug TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, slug))',
  )
  const insert = raw.prepare('INSERT INTO page VALUES (?, ?, ?, ?)')
  raw.transaction(() => {
    for (const t of TENANTS) insert.run(t, 'home', `Home of ${t}`, 'Hello')
  })()
  raw.close()
}

const shared = await sharedServer(sharedFile)
for (const [label, cap, goal] of [
  ['all 1,000 tenants warm (cap 1,024)', 1024, { min: 0.9 }],
  ['cap of 100 open tenants (handles churn)', 100, undefined],
] as const) {
  section(`tenant DB row read vs shared DB with tenant_id: ${label}`)
  const { app } = await tenantedServer(cap)
  await load(app, 't') // warm-up: opens (and, under the cap, cycles) the handles
  await load(shared, 's')
  const tenanted: number[] = []
  const baseline: number[] = []
  for (let r = 0; r < 3; r++) {
    baseline.push(await load(shared, 's'))
    tenanted.push(await load(app, 't'))
  }
  compare('tenant databases vs shared database', median(tenanted), median(baseline), 'req/s', goal)
  await app.close()
}
await shared.close()
