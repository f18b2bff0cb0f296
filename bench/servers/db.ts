// The servers of fastify-db.bench.ts, one per process:
//   tenanted <root> <cap>  @tenantry/fastify + @tenantry/sqlite: one SQLite file per tenant
//   shared <file>          Fastify + Kysely on one shared SQLite file with a tenant_id column
//   raw <file>             the floor: Fastify + one raw better-sqlite3 prepared statement
import { createTenancy } from '@tenantry/context'
import { fromPath, tenantry } from '@tenantry/fastify'
import { createTenantDatabases } from '@tenantry/sqlite'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import { Kysely, SqliteDialect } from 'kysely'
import type { PageRow } from '../fixtures.ts'
import { pageMigrations } from '../fixtures.ts'
import { serveOverIpc } from '../lib.ts'

type TenantDB = { page: PageRow }
type SharedDB = { page: PageRow & { tenant_id: string } }
type Params = { tenant: string; slug: string }

const [variant, where, capText] = process.argv.slice(2) as [string, string, string?]
const app = Fastify()

if (variant === 'tenanted') {
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({
    root: where,
    migrations: pageMigrations,
    tenancy,
    cap: Number(capText),
  }).install(tenancy)
  await app.register(tenantry, { resolve: fromPath('/t/:tenant'), tenancy })
  app.get<{ Params: Params }>('/t/:tenant/page/:slug', async (request) =>
    (tenancy.getResource('db') as Kysely<TenantDB>)
      .selectFrom('page')
      .selectAll()
      .where('slug', '=', request.params.slug)
      .executeTakeFirst(),
  )
  app.addHook('onClose', () => store.close())
} else if (variant === 'shared') {
  const db = new Kysely<SharedDB>({ dialect: new SqliteDialect({ database: new Database(where) }) })
  app.get<{ Params: Params }>('/t/:tenant/page/:slug', async (request) =>
    db
      .selectFrom('page')
      .select(['slug', 'title', 'body'])
      .where('tenant_id', '=', request.params.tenant)
      .where('slug', '=', request.params.slug)
      .executeTakeFirst(),
  )
  app.addHook('onClose', () => db.destroy())
} else {
  const db = new Database(where)
  const read = db.prepare('SELECT slug, title, body FROM page WHERE tenant_id = ? AND slug = ?')
  app.get<{ Params: Params }>('/t/:tenant/page/:slug', async (request) =>
    read.get(request.params.tenant, request.params.slug),
  )
  app.addHook('onClose', () => db.close())
}

await app.listen({ host: '127.0.0.1', port: 0 })
serveOverIpc((app.server.address() as { port: number }).port, () => app.close())
