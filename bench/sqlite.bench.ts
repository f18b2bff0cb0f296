// @tenantry/sqlite: cold open against raw better-sqlite3, create + migrate, migrate-all on
// 1,000 tenants, and touching 10,000 tenants under a cap of 256 (RSS and open FDs, measured in
// fresh child processes by sqlite-rss.ts against a raw better-sqlite3 floor).
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import Database from 'better-sqlite3'
import type { Kysely, Migration } from 'kysely'
import { fiveTableMigrations } from './fixtures.ts'
import { figure, load, median, msOnce, pairedRounds, section, verdict } from './lib.ts'
import { migrations as withTag } from './sqlite-five-migrations.ts'
import { measureRss, populateRss, RSS_TENANTS, type RssSample } from './sqlite-rss.ts'

const root = mkdtempSync(join(tmpdir(), 'tenantry-sqlite-bench-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

function store(dir: string, extra: { cap?: number; migrations?: Record<string, Migration> } = {}) {
  const tenancy = createTenancy()
  const s = createTenantDatabases<any>({
    root: dir,
    migrations: extra.migrations ?? fiveTableMigrations(),
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
  const t0 = process.hrtime.bigint()
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
  // Each run below migrates its own copy (the migration must be pending every time), through
  // the threaded path a deployment uses (`migrationsModule`), at the default concurrency (one
  // worker per core) and at 1, so "scaling with cores" shows; beside them, the floor: the same
  // DDL, record row and stamp with raw better-sqlite3, serially, one transaction per file.
  const migrateCopy = async (concurrency: number | undefined) => {
    const copy = join(root, `all-${concurrency ?? 'default'}`)
    cpSync(dir, copy, { recursive: true })
    const tenancy = createTenancy()
    const next = createTenantDatabases<any>({
      root: copy,
      migrations: withTag,
      tenancy,
      migrationsModule: { module: new URL('./sqlite-five-migrations.ts', import.meta.url) },
    }).install(tenancy)
    const t = process.hrtime.bigint()
    const results = await next.migrateAllTenants(concurrency === undefined ? {} : { concurrency })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (results.length !== 1000 || results.some((r) => r.applied.length !== 1))
      throw new Error(`a tenant was not migrated: ${JSON.stringify(results.find((r) => r.error))}`)
    await next.close()
    rmSync(copy, { recursive: true, force: true })
    return ms
  }
  const rawFloor = async () => {
    const copy = join(root, 'all-raw')
    cpSync(dir, copy, { recursive: true })
    const { s: paths } = store(copy)
    const files = Array.from({ length: 1000 }, (_, i) => paths.tenantPath(`t${i}`))
    const t = process.hrtime.bigint()
    for (const f of files) {
      const raw = new Database(f, { fileMustExist: true })
      raw.exec('PRAGMA synchronous = NORMAL')
      raw.exec(
        "BEGIN IMMEDIATE; ALTER TABLE page ADD COLUMN tag text; INSERT INTO kysely_migration (name, timestamp) VALUES ('006_tag', '2026-01-01T00:00:00.000Z'); PRAGMA user_version = 6; COMMIT",
      )
      raw.close()
    }
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    await paths.close()
    rmSync(copy, { recursive: true, force: true })
    return ms
  }
  const floorMs = await rawFloor()
  const oneMs = await migrateCopy(1)
  const ms = await migrateCopy(undefined)
  figure(
    'migrateAll 1,000 tenants, one new migration, 1 worker thread',
    oneMs,
    'ms',
    `the default (${availableParallelism()} cores) takes ${(ms / oneMs).toFixed(2)}× this; ${load()}`,
  )
  figure(
    '(floor) raw better-sqlite3, same DDL + record + stamp, serial',
    floorMs,
    'ms',
    `migrateAll / floor ${(ms / floorMs).toFixed(1)}×`,
  )
  verdict(
    'migrateAll 1,000 tenants, one new migration',
    ms,
    { max: 2000 },
    'ms',
    `worker threads, one per core, from sources through tsx; ${load()}; quiet-machine goal`,
  )
}

section('touch 10,000 tenants with cap 256 (each run in a fresh child process)')
{
  const dir = join(root, 'many')
  await populateRss(dir)
  const runs: { store: RssSample; raw: RssSample }[] = []
  // Alternating children, 3 of each: one sample each is at the mercy of the allocator.
  for (let r = 0; r < 3; r++)
    runs.push({ store: await measureRss(dir, 'store'), raw: await measureRss(dir, 'raw') })
  const of = (k: 'store' | 'raw', f: keyof RssSample) => {
    const xs = runs.map((x) => x[k][f]).sort((a, b) => a - b)
    return { min: xs[0]!, median: median(xs), max: xs.at(-1)! }
  }
  figure(
    '(floor) raw better-sqlite3, 256 read-only handles LRU: RSS growth',
    of('raw', 'rssMiB').median,
    'MB',
  )
  figure('store: JS heap growth (used)', of('store', 'heapMiB').median, 'MB')
  figure('store: V8 heap committed growth', of('store', 'v8MiB').median, 'MB')
  figure('store: touch time per tenant', (of('store', 'ms').median / RSS_TENANTS) * 1000, 'µs')
  verdict(
    '10,000 tenants touched under cap 256: RSS growth',
    of('store', 'rssMiB'),
    { max: 48 },
    'MB',
    `fresh child, 3 runs; V8 +${of('store', 'v8MiB').median.toFixed(1)} MB, native +${of('store', 'nativeMiB').median.toFixed(1)} MB; raw floor ${of('raw', 'rssMiB').median.toFixed(1)} MB (V8 +${of('raw', 'v8MiB').median.toFixed(1)}, native +${of('raw', 'nativeMiB').median.toFixed(1)}); ${load()}`,
  )
  verdict(
    '10,000 tenants touched under cap 256: open FDs over baseline',
    of('store', 'fds').max,
    { max: 3 * 256 },
    'fds',
    `3 × cap; raw floor ${of('raw', 'fds').max}`,
  )
}
