// @tenantry/sqlite: cold open against raw better-sqlite3, create + migrate, migrate-all on
// 1,000 tenants, and touching 10,000 tenants under a cap of 256 (RSS and open FDs).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import Database from 'better-sqlite3'
import type { Kysely, Migration } from 'kysely'
import { figure, load, median, msOnce, pairedRounds, section, verdict } from './lib.ts'

const root = mkdtempSync(join(tmpdir(), 'tenantry-sqlite-bench-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

/** A 5-table schema with foreign keys and an index. */
function schema(extra = false): Record<string, Migration> {
  const m: Record<string, Migration> = {}
  const tables = ['account', 'page', 'revision', 'comment', 'attachment']
  tables.forEach((name, i) => {
    m[`00${i + 1}_${name}`] = {
      async up(db) {
        let t = db.schema
          .createTable(name)
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
        if (i > 0)
          t = t.addColumn('parent_id', 'integer', (c) => c.references(`${tables[i - 1]}.id`))
        await t.execute()
        await db.schema.createIndex(`${name}_title`).on(name).column('title').execute()
      },
    }
  })
  if (extra)
    m['006_tag'] = {
      async up(db) {
        await db.schema.alterTable('page').addColumn('tag', 'text').execute()
      },
    }
  return m
}

const fds = () => readdirSync('/proc/self/fd').length
const gc = () => (globalThis as { gc?: () => void }).gc?.()

function store(dir: string, extra: { cap?: number; migrations?: Record<string, Migration> } = {}) {
  const tenancy = createTenancy()
  const s = createTenantDatabases<any>({
    root: dir,
    migrations: extra.migrations ?? schema(),
    tenancy,
    cap: extra.cap,
  }).install(tenancy)
  const touch = (t: string) =>
    tenancy.withTenant(t, () =>
      (tenancy.getResource('db') as Kysely<any>).selectFrom('page').selectAll().limit(1).execute(),
    )
  return { s, tenancy, touch }
}

/** Fills `dir` with `count` tenants by copying one freshly created tenant file. */
async function populate(dir: string, count: number): Promise<string[]> {
  const { s } = store(dir)
  await s.createTenant('template')
  const template = s.tenantPath('template')
  const names = Array.from({ length: count }, (_, i) => `t${i}`)
  for (const n of names) {
    const file = s.tenantPath(n)
    mkdirSync(dirname(file), { recursive: true })
    copyFileSync(template, file)
  }
  await s.destroyTenant('template')
  await s.close()
  return names
}

section('create + migrate a tenant (5 tables, 5 indexes)')
{
  const { s } = store(join(root, 'create'))
  const samples: number[] = []
  for (let i = 0; i < 40; i++) {
    const t0 = process.hrtime.bigint()
    await s.createTenant(`c${i}`)
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  verdict(
    'createTenant (5 tables, 5 indexes), median of 35',
    median(samples.slice(5)),
    { max: 15 },
    'ms',
    load(),
  )
  await s.close()
}

section('cold open of a current tenant + one query vs raw new Database(file) + one query')
{
  const dir = join(root, 'cold')
  const tenants = await populate(dir, 200)
  // cap 0: every withTenant opens the file, checks it and closes it again.
  const { s, tenancy, touch } = store(dir, { cap: 0 })
  const files = tenants.map((t) => s.tenantPath(t))
  const runs = {
    raw: async () => {
      for (const f of files) {
        const db = new Database(f)
        db.prepare('select * from page limit 1').all()
        db.close()
      }
    },
    ours: async () => {
      for (const t of tenants) await touch(t)
      await tenancy.close() // wait for the disposals of this round
    },
  }
  await runs.raw()
  await runs.ours()
  const cold = await pairedRounds(['raw', 'ours'] as const, 'raw', 7, (v) => msOnce(runs[v]))
  figure(
    '(floor) raw new Database + prepare + close per tenant',
    (median(cold.values.raw) / files.length) * 1000,
    'µs',
  )
  verdict('cold open + query / raw better-sqlite3: time', cold.ratios.ours, { max: 2 }, '×', load())
  await s.close()
}

section('migrateAllTenants on 1,000 tenants')
{
  const dir = join(root, 'all')
  await populate(dir, 1000)
  const { s } = store(dir)
  let t0 = process.hrtime.bigint()
  const noop = await s.migrateAllTenants()
  verdict(
    'migrateAll 1,000 tenants, nothing pending',
    Number(process.hrtime.bigint() - t0) / 1e6,
    { max: 1000 },
    'ms',
    load(),
  )
  if (noop.some((r) => r.applied.length > 0 || r.error))
    throw new Error('no-op run applied something')
  await s.close()
  const { s: next } = store(dir, { migrations: schema(true) })
  t0 = process.hrtime.bigint()
  const results = await next.migrateAllTenants()
  verdict(
    'migrateAll 1,000 tenants, one new migration',
    Number(process.hrtime.bigint() - t0) / 1e6,
    { max: 2000 },
    'ms',
    `${load()}; quiet-machine goal`,
  )
  if (results.some((r) => r.applied.length !== 1)) throw new Error('a tenant was not migrated')
  await next.close()
}

section('touch 10,000 tenants with cap 256')
{
  const dir = join(root, 'many')
  const tenants = await populate(dir, 10_000)
  const { s, touch } = store(dir, { cap: 256 })
  gc()
  const rss0 = process.memoryUsage().rss
  const fd0 = fds()
  const t0 = process.hrtime.bigint()
  for (const t of tenants) await touch(t)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  gc()
  figure('touch time per tenant', (ms / tenants.length) * 1000, 'µs')
  verdict(
    '10,000 tenants touched under cap 256: RSS growth',
    (process.memoryUsage().rss - rss0) / 2 ** 20,
    { max: 48 },
    'MB',
  )
  verdict(
    '10,000 tenants touched under cap 256: open FDs over baseline',
    fds() - fd0,
    { max: 3 * 256 },
    'fds',
    '3 × cap',
  )
  await s.close()
  figure('open FDs over baseline after close', fds() - fd0, 'fds')
}
