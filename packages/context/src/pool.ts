import type { MigrateAllOptions, TenantMigrationResult } from './store.js'

/** Runs `fn` over `items`, at most `concurrency` at a time; every item runs even if some fail. */
export async function eachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      await fn(items[i]!, i)
    }
  }
  const n = Math.min(Math.max(1, Math.floor(concurrency)), items.length)
  await Promise.all(Array.from({ length: n }, worker))
}

/**
 * The migrate-all loop every backend shares: migrates each tenant with bounded concurrency
 * (default 4), records a failure in that tenant's result instead of stopping, and reports
 * progress after each tenant.
 */
export async function migrateEachTenant(
  tenants: readonly string[],
  migrate: (tenant: string) => Promise<TenantMigrationResult>,
  options: MigrateAllOptions = {},
): Promise<TenantMigrationResult[]> {
  const results: TenantMigrationResult[] = new Array(tenants.length)
  let done = 0
  await eachConcurrently(tenants, options.concurrency ?? 4, async (tenant, i) => {
    let result: TenantMigrationResult
    try {
      result = await migrate(tenant)
    } catch (error) {
      result = { tenant, applied: [], error }
    }
    results[i] = result
    options.onProgress?.({ done: ++done, total: tenants.length, result })
  })
  return results
}
