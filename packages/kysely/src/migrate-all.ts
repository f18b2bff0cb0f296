import type { MigrateAllOptions, TenantMigrationResult } from './tenant-store.js'

/**
 * The migrate-all loop every backend shares: migrates each tenant with bounded concurrency
 * (default 4), records a failure in that tenant's result instead of stopping, and reports
 * progress after each tenant. Results are in the order of `tenants`.
 */
export async function migrateEachTenant(
  tenants: readonly string[],
  migrate: (tenant: string) => Promise<TenantMigrationResult>,
  options: MigrateAllOptions = {},
): Promise<TenantMigrationResult[]> {
  const results: TenantMigrationResult[] = new Array(tenants.length)
  let next = 0
  let done = 0
  // Each lane takes the next unclaimed tenant until none is left.
  const lane = async (): Promise<void> => {
    for (let i = next++; i < tenants.length; i = next++) {
      const tenant = tenants[i]!
      let result: TenantMigrationResult
      try {
        result = await migrate(tenant)
      } catch (error) {
        result = { tenant, applied: [], error }
      }
      results[i] = result
      options.onProgress?.({ done: ++done, total: tenants.length, result })
    }
  }
  const lanes = Math.min(Math.max(1, Math.floor(options.concurrency ?? 4)), tenants.length)
  await Promise.all(Array.from({ length: lanes }, lane))
  return results
}
