// The tenant guard: a tenant's Kysely handle refuses to run a query anywhere but in its tenant.
import { AsyncLocalStorage } from 'node:async_hooks'
import { tenancy as defaultTenancy, type Tenancy, WrongTenantError } from '@tenantry/context'
import type {
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'

// One escape for every installed copy of this package, like the core's context variable.
const ESCAPE = Symbol.for('tenantry.kysely.guardEscape.v1')
const g = globalThis as typeof globalThis & { [ESCAPE]?: AsyncLocalStorage<true> }
g[ESCAPE] ??= new AsyncLocalStorage<true>()
const escapeHatch = g[ESCAPE]

/** Options of {@link tenantGuard} and {@link guardTenantDb}. */
export interface TenantGuardOptions {
  /** The tenancy whose current tenant is checked; default the shared one. */
  tenancy?: Tenancy | undefined
}

/**
 * A Kysely plugin that checks, as each query is compiled (that is, each time it is run), that
 * the current tenant is `tenant`, and throws `WrongTenantError` otherwise — inside another
 * tenant or outside any. A handle (or a transaction made from it) kept in a module variable, a
 * closure or a cache, and used later elsewhere, then fails loudly instead of silently reading
 * or writing `tenant`'s data. The cost is one `currentTenant()` (an `AsyncLocalStorage.getStore()`) and one awaited
 * result per query; see `docs/context.md`.
 */
export class TenantGuardPlugin implements KyselyPlugin {
  private readonly tenancy: Tenancy

  constructor(
    /** The tenant whose handle this is. */
    readonly tenant: string,
    options: TenantGuardOptions = {},
  ) {
    this.tenancy = options.tenancy ?? defaultTenancy
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const current = this.tenancy.currentTenant()
    if (current !== this.tenant && escapeHatch.getStore() !== true)
      throw new WrongTenantError('This database handle', this.tenant, current)
    return args.node
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result)
  }
}

/** The guard plugin for `tenant`'s handle; see {@link TenantGuardPlugin}. */
export function tenantGuard(tenant: string, options?: TenantGuardOptions): KyselyPlugin {
  return new TenantGuardPlugin(tenant, options)
}

/**
 * `db` with the tenant guard installed: the handle to give out for `tenant` (the stores do this
 * for the handles behind `getDb()`). `db` itself stays unguarded, for the store's own work.
 */
export function guardTenantDb<DB>(
  db: Kysely<DB>,
  tenant: string,
  options?: TenantGuardOptions,
): Kysely<DB> {
  return db.withPlugin(new TenantGuardPlugin(tenant, options))
}

/**
 * Runs `fn` with the tenant guard off: guarded handles then run queries whatever the current
 * tenant. For admin code that really works on several tenants' databases at once (a migration
 * report, a copy between tenants) — say so here, in one visible place, rather than switching
 * the guard off for a handle.
 */
export function withoutTenantGuard<R>(fn: () => R): R {
  return escapeHatch.run(true, fn)
}
