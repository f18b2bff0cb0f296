// The servers of fastify-db.bench.ts, one per process:
//   tenanted <root> <cap> [shrinkIdleMs]  @tenantry/fastify + @tenantry/sqlite: one SQLite
//                          file per tenant (shrinkIdleMs: the store's option, default its own)
//   shared <file>          Fastify + Kysely on one shared SQLite file with a tenant_id column
//   raw <file>             the floor: Fastify + one raw better-sqlite3 prepared statement
//   raw-tenants <root> <cap>     the per-tenant floor: Fastify + one read-only better-sqlite3
//                                connection and prepared statement per tenant file, LRU under
//                                the cap (what SQLite itself costs with a file per tenant)
//   kysely-tenants <root> <cap>  the same connections, each behind its own Kysely: the floor
//                                plus Kysely's per-query work, without tenantry
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

const [variant, where, capText, shrinkText] = process.argv.slice(2) as [
  string,
  string,
  string?,
  string?,
]
const app = Fastify()

if (variant === 'tenanted') {
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({
    root: where,
    migrations: pageMigrations,
    tenancy,
    cap: Number(capText),
    ...(shrinkText === undefined ? {} : { memory: { shrinkIdleMs: Number(shrinkText) } }),
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
} else if (variant === 'raw-tenants' || variant === 'kysely-tenants') {
  // The store is made only to find each tenant's file (its layout), never installed.
  const paths = createTenantDatabases<TenantDB>({ root: where, migrations: pageMigrations })
  const cap = Number(capText)
  type Open = { raw: Database.Database; read: (slug: string) => Promise<unknown> }
  const open = new Map<string, Open>() // insertion order is the LRU order
  const openTenant = (tenant: string): Open => {
    const raw = new Database(paths.tenantPath(tenant), { readonly: true, fileMustExist: true })
    if (variant === 'raw-tenants') {
      const stmt = raw.prepare('SELECT * FROM page WHERE slug = ?')
      return { raw, read: async (slug) => stmt.get(slug) }
    }
    const db = new Kysely<TenantDB>({ dialect: new SqliteDialect({ database: raw }) })
    return {
      raw,
      read: (slug) => db.selectFrom('page').selectAll().where('slug', '=', slug).executeTakeFirst(),
    }
  }
  app.get<{ Params: Params }>('/t/:tenant/page/:slug', (request) => {
    const { tenant, slug } = request.params
    let t = open.get(tenant)
    if (t !== undefined) {
      open.delete(tenant)
    } else {
      t = openTenant(tenant)
      if (open.size >= cap) {
        const [oldest, o] = open.entries().next().value as [string, Open]
        open.delete(oldest)
        o.raw.close()
      }
    }
    open.set(tenant, t)
    return t.read(slug)
  })
  app.addHook('onClose', () => {
    for (const o of open.values()) o.raw.close()
  })
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
