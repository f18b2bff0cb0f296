import type { Tenancy } from '@tenantry/context'
import type { Kysely } from 'kysely'
import { withTransaction } from './transaction.js'

/** The table in each tenant database that records which seeds ran. */
export const SEEDS_TABLE = 'tenantry_seeds'

/** A seed: runs inside its tenant (`getDb()` is a transaction of the tenant's database). */
export type Seed = (tenant: string) => unknown

/** Creates {@link SEEDS_TABLE} when missing (SQLite and PostgreSQL alike). */
export async function ensureSeedsTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable(SEEDS_TABLE)
    .ifNotExists()
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('run_at', 'varchar(32)', (c) => c.notNull())
    .execute()
}

/**
 * Runs, in name order, the seeds the current tenant has not run yet, each in its own
 * transaction together with its record in {@link SEEDS_TABLE}: a seed that throws leaves no
 * trace and runs again next time; one that succeeded never runs twice. Call it inside the
 * tenant; returns the names run now.
 */
export async function runSeeds(
  tenancy: Tenancy,
  tenant: string,
  seeds: Readonly<Record<string, Seed>>,
): Promise<string[]> {
  const db = () => tenancy.getResource('db') as Kysely<any>
  await ensureSeedsTable(db())
  const done = new Set(
    (await db().selectFrom(SEEDS_TABLE).select('name').execute()).map((r) => r.name as string),
  )
  const ran: string[] = []
  for (const name of Object.keys(seeds).sort()) {
    if (done.has(name)) continue
    await withTransaction(
      async (trx) => {
        await seeds[name]!(tenant)
        await trx
          .insertInto(SEEDS_TABLE)
          .values({ name, run_at: new Date().toISOString() })
          .execute()
      },
      { tenancy },
    )
    ran.push(name)
  }
  return ran
}
