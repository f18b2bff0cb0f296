// @tenantry/postgres from 10 to 10,000 tenants: create+migrate cost per tenant and migrate-all
// (one new migration; nothing pending) at each level, with ratios to the 10-tenant baseline
// measured in the same run. Runs in a database of its own (created here, dropped after), so
// the catalog it grows never slows other users of the server, and one DROP DATABASE cleans up.
//
//   pnpm bench postgres-scale                      # levels 10, 100, 1000 (about a minute)
//   BENCH_PG_LEVELS=10,100,1000,10000 pnpm bench postgres-scale   # the full run (minutes)
//   (or: pnpm --filter @tenantry/bench run bench:pg-scale)
//
// Wall-clock figures on a shared machine: `uptime` is printed beside them.
import { execSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { TenantStore } from '@tenantry/kysely'
import type { Migration } from 'kysely'
import pg from 'pg'
import { compare, figure, median, section } from './lib.ts'
import { type ScaleVariant, variants } from './postgres-scale.variants.ts'

const DATABASE_URL = process.env.DATABASE_URL
const LEVELS = (process.env.BENCH_PG_LEVELS ?? '10,100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b)
const BASE = 10 // tenants in the baseline database
const SAMPLE = 12 // tenants created one by one at each level, for the per-tenant create cost
const FILL_CONCURRENCY = 4
const MIGRATE_CONCURRENCY = Number(process.env.BENCH_PG_CONCURRENCY ?? 8)
const POOL_MAX = MIGRATE_CONCURRENCY + 2

interface Level {
  tenants: number
  createMs: number
  /** The same create, measured alternately in a database that keeps 10 tenants. */
  baseCreateMs: number
  migrateMsPerTenant: number
  noopMs: number
}

if (DATABASE_URL === undefined) {
  console.log('skipped: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)')
} else {
  await main(DATABASE_URL)
}

function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim()
  } catch {
    return '(uptime unavailable)'
  }
}

async function admin<R>(url: string, fn: (c: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

async function main(url: string): Promise<void> {
  const id = randomBytes(4).toString('hex')
  const locks = await admin(url, async (c) => {
    const { rows } = await c.query<{ setting: string }>(
      "select setting from pg_settings where name in ('max_connections', 'max_locks_per_transaction') order by name",
    )
    return rows.map((r) => r.setting).join(' / ')
  })
  section(
    `PostgreSQL at scale: levels ${LEVELS.join(', ')} tenants, 5 tables + 5 indexes each; migrate-all concurrency ${MIGRATE_CONCURRENCY} over a pool of ${POOL_MAX}; max_connections / max_locks_per_transaction = ${locks}; Node ${process.version}`,
  )
  console.log(`  machine shared with other users; load before: ${uptime()}`)
  for (const [i, variant] of variants.entries()) {
    // Each variant in a database of its own, and its baseline (a database that stays at BASE
    // tenants, measured alternately with the big one so the shared machine's load weighs on
    // both alike) in another.
    const names = [`tenantry_scale_${id}_${i}`, `tenantry_scale_${id}_${i}_base`]
    const urls = names.map((n) => {
      const u = new URL(url)
      u.pathname = `/${n}`
      return u.toString()
    })
    for (const n of names) await admin(url, (c) => c.query(`create database ${n}`))
    try {
      await runVariant(variant, urls[0]!, urls[1]!)
    } finally {
      for (const n of names) await admin(url, (c) => c.query(`drop database ${n} with (force)`))
    }
  }
  console.log(`  load after: ${uptime()}`)
}

async function runVariant(variant: ScaleVariant, url: string, baseUrl: string): Promise<void> {
  const migrations: Record<string, Migration> = { ...variant.base }
  let open = variant.make({ url, migrations: { ...migrations }, poolMax: POOL_MAX })
  let base = variant.make({ url: baseUrl, migrations: { ...migrations }, poolMax: 2 })
  const levels: Level[] = []
  const name = (i: number) => `tenant-${String(i).padStart(6, '0')}`
  let count = 0
  const createOne = (store: TenantStore) => store.createTenant(name(count++))
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint()
    await fn()
    return Number(process.hrtime.bigint() - t0) / 1e6
  }
  for (let i = 0; i < BASE; i++) await base.createTenant(`base-${i}`)
  console.log(`\n  ${variant.label}`)
  try {
    for (const level of LEVELS) {
      // Fill up to the level (minus the sample), several creators at once.
      const fillTo = Math.max(count, level - SAMPLE)
      const t0 = process.hrtime.bigint()
      const filled = fillTo - count
      await Promise.all(
        Array.from({ length: FILL_CONCURRENCY }, async () => {
          while (count < fillTo) await createOne(open)
        }),
      )
      const fillS = Number(process.hrtime.bigint() - t0) / 1e9
      // The sample: one at a time, so each figure is one tenant's latency at this size; each
      // followed by one create (then destroy) in the baseline database.
      const samples: number[] = []
      const baseSamples: number[] = []
      while (count < level) {
        samples.push(await timed(() => createOne(open)))
        const probe = `probe-${count}`
        baseSamples.push(await timed(() => base.createTenant(probe)))
        await base.destroyTenant(probe)
      }
      // One new migration for every tenant, through a fresh store as a deploy would.
      await open.close()
      await base.close()
      migrations[`100_level_${level}`] = variant.next(level)
      open = variant.make({ url, migrations: { ...migrations }, poolMax: POOL_MAX })
      base = variant.make({ url: baseUrl, migrations: { ...migrations }, poolMax: 2 })
      await base.migrateAllTenants()
      const m0 = process.hrtime.bigint()
      const results = await open.migrateAllTenants({ concurrency: MIGRATE_CONCURRENCY })
      const migrateMs = Number(process.hrtime.bigint() - m0) / 1e6
      const failed = results.filter((r) => r.error !== undefined)
      if (failed.length > 0)
        console.log(
          `    ${failed.length} tenants failed to migrate, e.g. ${String(failed[0]!.error)}`,
        )
      const n0 = process.hrtime.bigint()
      await open.migrateAllTenants({ concurrency: MIGRATE_CONCURRENCY })
      const noopMs = Number(process.hrtime.bigint() - n0) / 1e6
      const row: Level = {
        tenants: count,
        createMs: median(samples),
        baseCreateMs: median(baseSamples),
        migrateMsPerTenant: migrateMs / count,
        noopMs,
      }
      levels.push(row)
      console.log(
        `    ${String(count).padStart(6)} tenants: create+migrate ${row.createMs.toFixed(1)} ms/tenant vs ${row.baseCreateMs.toFixed(1)} at ${BASE} (medians of ${samples.length}; fill ${filled} in ${fillS.toFixed(1)} s), migrate-all one new migration ${row.migrateMsPerTenant.toFixed(2)} ms/tenant (${(migrateMs / 1000).toFixed(1)} s), no-op migrate-all ${noopMs.toFixed(0)} ms   [${uptime().replace(/^.*load/, 'load')}]`,
      )
    }
  } finally {
    await open.close()
    await base.close()
  }
  verdicts(variant, levels)
}

function verdicts(variant: ScaleVariant, levels: Level[]): void {
  const base = levels[0]
  const top = levels.at(-1)
  if (base === undefined || top === undefined || levels.length < 2) return
  const at = (n: number) => levels.find((l) => l.tenants === n)
  for (const l of levels)
    compare(
      `    create+migrate at ${l.tenants} vs at ${BASE} tenants (measured alternately)`,
      l.createMs,
      l.baseCreateMs,
      'ms/tenant',
      l.tenants >= 10_000 ? { max: 1.5 } : undefined,
    )
  for (const [a, b] of [
    [1000, 100],
    [10_000, 100],
    [10_000, 1000],
  ] as const) {
    const la = at(a)
    const lb = at(b)
    if (la === undefined || lb === undefined) continue
    compare(`    create+migrate at ${a} vs ${b}`, la.createMs, lb.createMs, 'ms/tenant')
    compare(
      `    migrate-all (one new) per tenant at ${a} vs ${b}`,
      la.migrateMsPerTenant,
      lb.migrateMsPerTenant,
      'ms/tenant',
    )
  }
  const goal = (ok: boolean, text: string) => `goal ${text}: ${ok ? 'met' : 'MISSED'}`
  figure(
    `    migrate-all one new migration at ${top.tenants}`,
    top.migrateMsPerTenant,
    'ms/tenant',
    top.tenants >= 10_000 ? goal(top.migrateMsPerTenant <= 20, '≤ 20 ms/tenant') : undefined,
  )
  figure(
    `    no-op migrate-all at ${top.tenants}`,
    top.noopMs,
    'ms',
    top.tenants >= 10_000 ? goal(top.noopMs <= 1000, '≤ 1000 ms') : undefined,
  )
  if (variant.note) console.log(`    (${variant.note})`)
}
