import { createTenancy, type Tenancy, type TenancyConfig } from '@tenantry/context'

/** A tenancy whose tenant source knows exactly `tenants`. */
export function tenancyWith(tenants: readonly string[], config: TenancyConfig = {}): Tenancy {
  const known = new Set(tenants)
  return createTenancy({
    tenants: { exists: (t) => known.has(t), list: () => [...known].sort() },
    ...config,
  })
}

/** A promise with its resolve function outside, for latches in tests. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
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
