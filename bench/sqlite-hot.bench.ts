// @tenantry/sqlite hot paths without HTTP, so that the store's own share is visible:
// - a warm read of one row from the tenant's database (1,000 tenants round-robin, cap 1,024 and
//   cap 100) against the same Kysely query on one shared database with tenant_id, CPU time per
//   read in paired alternating rounds (min–median–max of the per-round ratios);
// - RSS growth touching 10,000 tenants under cap 256 (figures; the goal row is sqlite.bench's);
// - migrateAllTenants on 1,000 tenants with one new migration.
// `node --import tsx sqlite-hot.bench.ts [warm|cap|rss|migrate] [--only=tenanted|shared --n=N]`
// (no part named: warm and cap)
// (`--only` runs one side N times, for `valgrind --tool=callgrind` and `--cpu-prof`).
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { type PageRow, pageMigrations } from './fixtures.ts'
import { load as machineLoad, median, verdict } from './lib.ts'
import { migrations } from './sqlite-hot-migrations.ts'
import { measureRss, populateRss } from './sqlite-rss.ts'

const args = process.argv.slice(2)
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const parts = args.filter((a) => !a.startsWith('--'))
// `rss` and `migrate` repeat sqlite.bench.ts's measurements (kept for profiling): `pnpm bench` runs the
// reads only, so a full run stays within its time budget.
const want = (p: string) => (parts.length === 0 ? p === 'warm' || p === 'cap' : parts.includes(p))
const only = flag('only')
// `--dir=D` keeps the data between runs (so a profile shows no tenant creation).
const kept = flag('dir')
const root = kept ?? mkdtempSync(join(tmpdir(), 'tenantry-sqlite-hot-'))
if (kept === undefined) process.on('exit', () => rmSync(root, { recursive: true, force: true }))
const tenantsOf = (n: number) =>
  Array.from({ length: n }, (_, i) => `t${String(i).padStart(5, '0')}`)
const load = () =>
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`

type TenantDB = { page: PageRow }
type SharedDB = { page: PageRow & { tenant_id: string } }

async function populate(dir: string, tenants: string[], migrations = pageMigrations) {
  if (kept !== undefined && existsSync(join(dir, 'tenants'))) return
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({ root: dir, migrations, tenancy }).install(tenancy)
  for (const t of tenants) {
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

function sharedDb(file: string, tenants: string[]): Kysely<SharedDB> {
  rmSync(file, { force: true })
  const raw = new Database(file)
  raw.pragma('journal_mode = WAL')
  raw.exec(
    'CREATE TABLE page (tenant_id TEXT NOT NULL, slug TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, slug))',
  )
  const insert = raw.prepare('INSERT INTO page VALUES (?, ?, ?, ?)')
  raw.transaction(() => {
    for (const t of tenants) insert.run(t, 'home', `Home of ${t}`, 'Hello')
  })()
  return new Kysely<SharedDB>({ dialect: new SqliteDialect({ database: raw }) })
}

/** CPU µs per call of each async side, `rounds` alternating rounds of `n` calls. */
async function cpuPair(
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
  n: number,
  rounds: number,
) {
  const ratios: number[] = []
  const sa: number[] = []
  const sb: number[] = []
  const run = async (fn: (i: number) => Promise<unknown>) => {
    const c0 = process.cpuUsage()
    for (let i = 0; i < n; i++) await fn(i)
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / n
  }
  await run(a)
  await run(b)
  for (let r = 0; r < rounds; r++) {
    const [x, y] = r % 2 ? [await run(b), await run(a)].reverse() : [await run(a), await run(b)]
    sa.push(x!)
    sb.push(y!)
    ratios.push(y! / x!)
  }
  ratios.sort((p, q) => p - q)
  return { a: median(sa), b: median(sb), min: ratios[0]!, med: median(ratios), max: ratios.at(-1)! }
}

if (want('warm') || want('cap')) {
  const tenants = tenantsOf(1000)
  const dir = join(root, 'warm')
  await populate(dir, tenants)
  const shared = sharedDb(join(root, 'shared.sqlite3'), tenants)
  const sharedRead = (i: number) =>
    shared
      .selectFrom('page')
      .select(['slug', 'title', 'body'])
      .where('tenant_id', '=', tenants[i % tenants.length]!)
      .where('slug', '=', 'home')
      .executeTakeFirst()
  for (const [label, cap, goal] of [
    ['warm', 1024, 0.95],
    ['cap', 100, 0.6],
  ] as const) {
    if (!want(label)) continue
    const tenancy = createTenancy()
    const store = createTenantDatabases<TenantDB>({
      root: dir,
      migrations: pageMigrations,
      tenancy,
      cap,
    }).install(tenancy)
    const read = (i: number) =>
      tenancy.withTenant(tenants[i % tenants.length]!, () =>
        (tenancy.getResource('db') as Kysely<TenantDB>)
          .selectFrom('page')
          .selectAll()
          .where('slug', '=', 'home')
          .executeTakeFirst(),
      )
    // Under cap 100 a read costs ~25× a warm one: fewer reads give as many samples per second.
    const n = Number(flag('n') ?? (cap === 100 ? 4_000 : 20_000))
    if (only !== undefined) {
      const fn = only === 'shared' ? sharedRead : read
      for (let i = 0; i < 2000; i++) await fn(i) // warm every handle first
      for (let i = 0; i < n; i++) await fn(i)
    } else {
      const r = await cpuPair(sharedRead, read, n, 6)
      console.log(
        `${label} (cap ${cap}): tenanted ${r.b.toFixed(1)} µs CPU/read, shared ${r.a.toFixed(1)} µs [${load()}]`,
      )
      verdict(
        `store read without HTTP, 1,000 tenants ${label === 'warm' ? 'warm (cap 1,024)' : 'under cap 100 (handles churn)'} / one shared SQLite: reads per CPU-second`,
        { min: 1 / r.max, median: 1 / r.med, max: 1 / r.min },
        { min: goal },
        '×',
        machineLoad(),
      )
    }
    await store.close()
  }
  await shared.destroy()
}

if (want('rss')) {
  // The same fresh-child measurement as sqlite.bench.ts's goal row (figures only, no second
  // verdict): `rss --runs=N` for investigating, with the raw better-sqlite3 floor beside it.
  const dir = join(root, 'many')
  if (!existsSync(join(dir, 'files.txt'))) await populateRss(dir)
  for (let r = 0; r < Number(flag('runs') ?? 1); r++) {
    const ours = await measureRss(dir, 'store')
    const raw = await measureRss(dir, 'raw')
    console.log(
      `rss: 10,000 tenants under cap 256 (fresh child): store +${ours.rssMiB.toFixed(1)} MB RSS, heap +${ours.heapMiB.toFixed(1)} MB used, V8 +${ours.v8MiB.toFixed(1)} MB committed, native +${ours.nativeMiB.toFixed(1)} MB, anon +${ours.anonMiB.toFixed(1)} MB, ${ours.fds} fds; raw floor +${raw.rssMiB.toFixed(1)} MB (anon +${raw.anonMiB.toFixed(1)}), ${raw.fds} fds [${load()}]`,
    )
  }
}

if (want('migrate')) {
  const tenants = tenantsOf(1000)
  const dir = join(root, 'migrate')
  await populate(dir, tenants)
  // Each run migrates a fresh copy (the migration must be pending every time).
  const copy = join(root, `migrate-${process.pid}`)
  cpSync(dir, copy, { recursive: true })
  const inThread = flag('threads') === 'none'
  const tenancy = createTenancy()
  const store = createTenantDatabases<TenantDB>({
    root: copy,
    migrations,
    tenancy,
    migrationsModule: inThread
      ? undefined
      : { module: new URL('./sqlite-hot-migrations.ts', import.meta.url) },
  }).install(tenancy)
  let progress = 0
  const c = flag('concurrency')
  const t0 = process.hrtime.bigint()
  const results = await store.migrateAllTenants({
    ...(c === undefined ? {} : { concurrency: Number(c) }),
    onProgress: (p) => {
      progress = p.done
    },
  })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (results.some((r) => r.applied.length !== 1) || progress !== 1000)
    throw new Error(`a tenant was not migrated: ${JSON.stringify(results.find((r) => r.error))}`)
  rmSync(copy, { recursive: true, force: true })
  verdict(
    `migrateAll 1,000 tenants, one new migration (sqlite-hot, ${inThread ? 'in-thread' : 'worker threads'}, concurrency ${c ?? 'default'})`,
    ms,
    { max: 2000 },
    'ms',
    `${availableParallelism()} cores; one run; ${machineLoad()}`,
  )
  await store.close()
}
