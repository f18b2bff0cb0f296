// The price of the tenant guard (a Kysely plugin on every tenant handle): instructions per
// query under callgrind, guarded vs the same Kysely handle without it, on an in-memory SQLite
// database inside a tenant. Instruction counts do not move with the machine's load; the
// per-query figure is the difference between runs of N1 and N2 queries, so start-up, module
// loading and JIT warm-up cancel out. Needs valgrind (apt-get install -y valgrind).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compare, figure, section } from './lib.ts'

const N1 = Number(process.env.BENCH_GUARD_N1 ?? 200)
const N2 = Number(process.env.BENCH_GUARD_N2 ?? 600)

if (process.argv[2] === '--child') {
  await child(process.argv[3] === 'guarded', Number(process.argv[4]))
} else {
  main()
}

async function child(guarded: boolean, n: number): Promise<void> {
  const { createTenancy } = await import('@tenantry/context')
  const { guardTenantDb } = await import('@tenantry/kysely')
  const { default: Database } = await import('better-sqlite3')
  const { Kysely, SqliteDialect } = await import('kysely')
  type DB = { note: { id: number; text: string } }
  const raw = new Kysely<DB>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
  await raw.schema
    .createTable('note')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('text', 'text')
    .execute()
  await raw.insertInto('note').values({ id: 1, text: 'hello' }).execute()
  const tenancy = createTenancy()
  const db = guarded ? guardTenantDb(raw, 'acme', { tenancy }) : raw
  await tenancy.withTenant('acme', async () => {
    // Warm-up the same in both runs (N1 and N2), so it cancels in the difference.
    for (let i = 0; i < 500; i++)
      await db.selectFrom('note').select('text').where('id', '=', 1).executeTakeFirst()
    for (let i = 0; i < n; i++)
      await db.selectFrom('note').select('text').where('id', '=', 1).executeTakeFirst()
  })
  await raw.destroy()
}

function instructions(variant: 'guarded' | 'bare', n: number, dir: string): number {
  const out = join(dir, `${variant}-${n}.out`)
  const r = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${out}`,
      process.execPath,
      // One JIT tier for the whole run: the optimizing compiler's background threads would
      // add instructions at moments that differ between runs.
      '--single-threaded',
      ...process.execArgv,
      import.meta.filename,
      '--child',
      variant,
      String(n),
    ],
    { encoding: 'utf8', cwd: import.meta.dirname },
  )
  if (r.status !== 0) throw new Error(`callgrind run failed: ${r.stderr.slice(-2000)}`)
  const m = /^summary:\s+(\d+)/m.exec(readFileSync(out, 'utf8'))
  if (m === null) throw new Error('no summary line in the callgrind output')
  return Number(m[1])
}

function main(): void {
  section(
    `tenant guard: instructions per Kysely query (callgrind, runs of ${N1} and ${N2} queries)`,
  )
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.log('skipped: valgrind is not installed (apt-get install -y valgrind)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-guard-bench-'))
  try {
    const per = (variant: 'guarded' | 'bare') =>
      (instructions(variant, N2, dir) - instructions(variant, N1, dir)) / (N2 - N1)
    const bare = per('bare')
    const guarded = per('guarded')
    figure('unguarded query', bare, 'instructions/query')
    figure('guard cost', guarded - bare, 'instructions/query')
    compare('guarded vs unguarded query', guarded, bare, 'instructions/query', { max: 1.05 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
