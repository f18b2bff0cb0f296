// @tenantry/postgres: a wiki read route (one page row by slug) over HTTP with 100 tenants
// round-robin, schema-per-tenant through @tenantry/fastify + getDb() (Kysely withSchema on one
// shared pool) vs the same rows in one shared table with a tenant_id column (plain Fastify +
// Kysely, tenant from the Host header). Each server runs in its own child process, autocannon
// in this one. Needs DATABASE_URL; every schema made here is dropped afterwards.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import type { Kysely } from 'kysely'
import { pageMigrations } from './fixtures.ts'
import { figure, load as load_, median, pairedRounds, section, skipped, verdict } from './lib.ts'

const VARIANTS = ['schema', 'shared'] as const
type Variant = (typeof VARIANTS)[number]

const DATABASE_URL = process.env.DATABASE_URL
const DURATION_S = Math.min(5, Number(process.env.BENCH_POSTGRES_SECONDS ?? 5))
const CONNECTIONS = 10
const ROUNDS = 4
const TENANTS = Array.from({ length: 100 }, (_, i) => `tenant-${i}`)
const PAGES = 20
const POOL_MAX = 10

const migrations = pageMigrations

if (DATABASE_URL === undefined) {
  skipped(
    'schema per tenant (PostgreSQL) / shared schema: throughput',
    '≥ 0.8×',
    'DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  )
} else if (process.argv[2] === '--server') {
  await serve(process.argv[3] as Variant, process.argv[4]!)
} else {
  await main()
}

async function serve(variant: Variant, prefix: string): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  let reported = 0
  app.addHook('onError', async (_request, _reply, error) => {
    if (reported++ < 3) console.error(`${variant} server: ${error.stack ?? error.message}`)
  })
  if (variant === 'schema') {
    const { createTenancy } = await import('@tenantry/context')
    const { tenantry, fromSubdomain } = await import('@tenantry/fastify')
    const { createPostgresTenantDatabases } = await import('@tenantry/postgres')
    const tenancy = createTenancy()
    createPostgresTenantDatabases({
      connectionString: DATABASE_URL,
      poolMax: POOL_MAX,
      migrations,
      tenancy,
      schemaPrefix: `${prefix}t_`,
      registrySchema: `${prefix}registry`,
    }).install(tenancy)
    await app.register(tenantry, { resolve: fromSubdomain({ root: 'localhost' }), tenancy })
    const db = () => tenancy.getResource('db') as Kysely<any>
    app.get<{ Params: { slug: string } }>('/pages/:slug', async (request) =>
      db()
        .selectFrom('page')
        .select(['slug', 'title', 'body'])
        .where('slug', '=', request.params.slug)
        .executeTakeFirstOrThrow(),
    )
  } else {
    const { Kysely, PostgresDialect } = await import('kysely')
    const { default: pg } = await import('pg')
    const db = new Kysely<any>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: DATABASE_URL, max: POOL_MAX }),
      }),
    }).withSchema(`${prefix}shared`)
    app.get<{ Params: { slug: string } }>('/pages/:slug', async (request) => {
      const tenant = request.hostname.split('.', 1)[0]!
      return db
        .selectFrom('page')
        .select(['slug', 'title', 'body'])
        .where('tenant_id', '=', tenant)
        .where('slug', '=', request.params.slug)
        .executeTakeFirstOrThrow()
    })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 })
}

async function start(
  variant: Variant,
  prefix: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--server', variant, prefix],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${variant} server exited (${code})`)))
  })
  return { child, port }
}

async function load(port: number, seconds: number): Promise<number> {
  // One request per tenant, cycled in order by every connection: 100 tenants round-robin.
  const requests = TENANTS.map((t, i) => ({
    method: 'GET' as const,
    path: `/pages/page-${i % PAGES}`,
    headers: { host: `${t}.localhost:${port}` },
  }))
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests,
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx responses, ${result.errors} errors`)
  return result.requests.average
}

async function setUp(prefix: string): Promise<void> {
  const { createTenancy } = await import('@tenantry/context')
  const { createPostgresTenantDatabases, withTransaction } = await import('@tenantry/postgres')
  const tenancy = createTenancy()
  const store = createPostgresTenantDatabases({
    connectionString: DATABASE_URL,
    migrations,
    tenancy,
    schemaPrefix: `${prefix}t_`,
    registrySchema: `${prefix}registry`,
  }).install(tenancy)
  const rows = (t: string) =>
    Array.from({ length: PAGES }, (_, i) => ({
      slug: `page-${i}`,
      title: `Page ${i} of ${t}`,
      body: `${t} `.repeat(50),
    }))
  for (const t of TENANTS) {
    await store.createTenant(t)
    await tenancy.withTenant(t, () =>
      withTransaction((trx) => trx.insertInto('page').values(rows(t)).execute(), { tenancy }),
    )
  }
  const shared = `${prefix}shared`
  await store.pool.query(`create schema "${shared}"`)
  await store.pool.query(
    `create table "${shared}".page (tenant_id text not null, slug text not null, title text not null, body text not null, primary key (tenant_id, slug))`,
  )
  for (const t of TENANTS)
    for (const r of rows(t))
      await store.pool.query(`insert into "${shared}".page values ($1, $2, $3, $4)`, [
        t,
        r.slug,
        r.title,
        r.body,
      ])
  await store.pool.query('analyze')
  await store.close()
}

async function cleanUp(prefix: string): Promise<void> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: string }>(
      'select nspname as n from pg_namespace where starts_with(nspname, $1)',
      [prefix],
    )
    for (const { n } of rows) await client.query(`drop schema "${n}" cascade`)
  } finally {
    await client.end()
  }
}

async function main(): Promise<void> {
  const prefix = `bench${randomBytes(3).toString('hex')}_`
  section(
    `wiki page read over HTTP, ${TENANTS.length} tenants round-robin (${CONNECTIONS} connections, ${DURATION_S} s per side in ${ROUNDS} paired rounds in alternating order, per-round ratios, pool ${POOL_MAX}; Node ${process.version})`,
  )
  try {
    await setUp(prefix)
    // Both servers stay up; rounds alternate between them (order reversed each round) so that
    // a noisy neighbour on the shared cores slows both sides of a round's ratio alike.
    const servers = new Map<Variant, { child: ChildProcess; port: number }>()
    let result: Awaited<ReturnType<typeof pairedRounds<Variant>>>
    try {
      for (const variant of VARIANTS) servers.set(variant, await start(variant, prefix))
      for (const variant of VARIANTS) await load(servers.get(variant)!.port, 1) // warm up
      result = await pairedRounds(VARIANTS, 'shared', ROUNDS, (variant) =>
        load(servers.get(variant)!.port, DURATION_S / ROUNDS),
      )
    } finally {
      for (const s of servers.values()) s.child.kill()
    }
    figure('  shared schema + tenant_id (plain Fastify)', median(result.values.shared), 'req/s')
    figure(
      '  schema per tenant (@tenantry/fastify + @tenantry/postgres)',
      median(result.values.schema),
      'req/s',
    )
    verdict(
      'schema per tenant (PostgreSQL) / shared schema: throughput',
      result.ratios.schema,
      { min: 0.8 },
      '×',
      load_(),
    )
  } finally {
    await cleanUp(prefix)
  }
}
