import {
  type MigrateAllOptions,
  migrateEachTenant,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import { OutOfSharedMemoryError } from './faults.js'

/**
 * Migrate-all at a cost that grows with the tenants that need it: `stale` (those whose stamp
 * is not current, found with one indexed query) migrate with bounded concurrency; the others
 * are reported current without a query. Tenants that failed on a full lock table ("out of
 * shared memory") are retried at half the concurrency, down to one at a time, before their
 * failure is reported. Results are in the order of `tenants`.
 */
export async function migrateStale(
  tenants: readonly string[],
  stale: readonly string[],
  migrate: (tenant: string) => Promise<TenantMigrationResult>,
  options: MigrateAllOptions = {},
): Promise<TenantMigrationResult[]> {
  const pending = new Set(stale)
  const results = new Map<string, TenantMigrationResult>()
  let done = 0
  const report = (result: TenantMigrationResult) =>
    options.onProgress?.({ done: ++done, total: tenants.length, result })
  for (const tenant of tenants)
    if (!pending.has(tenant)) {
      const result = { tenant, applied: [] }
      results.set(tenant, result)
      report(result)
    }
  let todo = tenants.filter((t) => pending.has(t))
  let concurrency = Math.max(1, Math.floor(options.concurrency ?? 4))
  for (let round = 0; todo.length > 0; round++) {
    const last = concurrency === 1 || round >= 4
    const retry = (r: TenantMigrationResult) => !last && r.error instanceof OutOfSharedMemoryError
    const batch = await migrateEachTenant(todo, migrate, {
      concurrency,
      onProgress: ({ result }) => {
        if (!retry(result)) report(result)
      },
    })
    todo = []
    for (const r of batch) {
      if (retry(r)) todo.push(r.tenant)
      else results.set(r.tenant, r)
    }
    concurrency = Math.max(1, concurrency >> 1)
  }
  return tenants.map((t) => results.get(t)!)
}
