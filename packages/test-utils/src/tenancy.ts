import { createTenancy, type Tenancy, type TenancyConfig } from '@tenantry/context'

/** An isolated tenancy over an in-memory tenant source. */
export interface MemoryTenancy {
  tenancy: Tenancy
  /** The known tenants: add or delete to change what the source answers. */
  tenants: Set<string>
  /** Every name `exists` was asked about, in order. */
  existsCalls: string[]
}

/**
 * An isolated tenancy whose tenant source knows exactly `tenants` (sorted by `list`); `config`
 * adds resources, a naming rule, or replaces the source.
 */
export function makeTenancy(
  tenants: Iterable<string> = ['acme', 'globex'],
  config: TenancyConfig = {},
): MemoryTenancy {
  const known = new Set(tenants)
  const existsCalls: string[] = []
  const tenancy = createTenancy({
    tenants: {
      exists: (t) => {
        existsCalls.push(t)
        return known.has(t)
      },
      list: () => [...known].sort(),
    },
    ...config,
  })
  return { tenancy, tenants: known, existsCalls }
}
