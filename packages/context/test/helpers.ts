import type { Tenancy, TenancyConfig } from '@tenantry/context'
import { makeTenancy } from '@tenantry/test-utils'

/** A tenancy whose tenant source knows exactly `tenants`. */
export function tenancyWith(tenants: readonly string[], config: TenancyConfig = {}): Tenancy {
  return makeTenancy(tenants, config).tenancy
}

/** Resolves after a random number of macrotask turns (0..max), so scopes interleave. */
export async function randomTurns(max = 5): Promise<void> {
  const n = Math.floor(Math.random() * (max + 1))
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r))
}

/** Names `t000`..`t{n-1}`. */
export function tenantNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `t${String(i).padStart(3, '0')}`)
}
