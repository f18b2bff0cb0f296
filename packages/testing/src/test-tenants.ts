import { tenancy as defaultTenancy, type ResourceOverrides, type Tenancy } from '@tenantry/context'
import { type TenantStore, withTransaction } from '@tenantry/kysely'
import { aroundEach, beforeAll, test } from 'vitest'

/** Options of {@link createTestTenants}. */
export interface TestTenantsOptions {
  /** The app's tenant store (e.g. `createTenantDatabases(...)`, already `install()`ed). */
  store: TenantStore
  /** The tenancy the store is installed in; default: the shared default tenancy. */
  tenancy?: Tenancy
  /** This worker's id; default `process.env.VITEST_POOL_ID` (unique among running workers). */
  worker?: string
  /** Name prefix of the worker tenant (`<prefix>-<worker>`); default `test`. */
  prefix?: string
  /** Name prefix of extra tenants (`<tempPrefix>-<worker>-<n>`); default `tmp`. */
  tempPrefix?: string
  /**
   * The resource wrapped in a rolled-back transaction around each test (sqlite's
   * `withTransaction` semantics: inside, `getDb()` is the transaction); `false`: none.
   * Default `'db'`.
   */
  transaction?: string | false
  /**
   * Destroy and recreate the worker tenant on first use in this process, so every run starts
   * from an empty, freshly migrated tenant; `false` keeps it and only applies pending
   * migrations. Default `true`.
   */
  fresh?: boolean
}

/** Options of {@link TestTenants.run}. */
export interface RunOptions {
  /** Resources replaced for this run (mocks); see `withOverrides`. */
  overrides?: ResourceOverrides
}

/** Thrown through `withTransaction` to make it roll back instead of committing. */
const ROLLBACK = Symbol('tenantry.testing.rollback')

/**
 * Test tenants for one Vitest worker: a worker tenant created once per worker process with the
 * app's migrations, each test run inside it in a transaction that is rolled back, and extra
 * tenants with a recognisable prefix that are destroyed when the next run's worker starts.
 */
export class TestTenants {
  /** The worker tenant, e.g. `test-3` (a valid DNS label). */
  readonly tenant: string
  /** The worker id in tenant names. */
  readonly worker: string
  /** The store tenants are created in. */
  readonly store: TenantStore
  /** The tenancy tests run in. */
  readonly tenancy: Tenancy
  private readonly tempPrefix: string
  private readonly transaction: string | false
  private readonly fresh: boolean
  private ready: Promise<string> | undefined
  private extra = 0

  constructor(options: TestTenantsOptions) {
    this.store = options.store
    this.tenancy = options.tenancy ?? defaultTenancy
    this.worker = sanitize(options.worker ?? process.env.VITEST_POOL_ID ?? '0')
    this.tenant = this.tenancy.validateName(`${options.prefix ?? 'test'}-${this.worker}`)
    this.tempPrefix = `${options.tempPrefix ?? 'tmp'}-${this.worker}-`
    this.transaction = options.transaction ?? 'db'
    this.fresh = options.fresh ?? true
  }

  /**
   * Prepares this worker once (memoised): destroys the extra tenants left by this worker id
   * and (re)creates the worker tenant with the store's migrations. Resolves to its name.
   */
  setup(): Promise<string> {
    this.ready ??= this.prepare().catch((error: unknown) => {
      this.ready = undefined
      throw error
    })
    return this.ready
  }

  private async prepare(): Promise<string> {
    await this.cleanup()
    const exists = await this.store.exists(this.tenant)
    if (exists && this.fresh) await this.store.destroyTenant(this.tenant)
    if (exists && !this.fresh) await this.store.migrateTenant(this.tenant)
    else await this.store.createTenant(this.tenant, { ifNotExists: true })
    return this.tenant
  }

  /**
   * Runs `fn` inside the worker tenant, in a transaction on the `db` resource that is always
   * rolled back (also when `fn` throws), with optional resource overrides. App code calling
   * `withTransaction` inside opens a savepoint of it, so it is rolled back too.
   */
  async run<R>(fn: (tenant: string) => R | PromiseLike<R>, options: RunOptions = {}): Promise<R> {
    const tenant = await this.setup()
    const body = (): Promise<R> =>
      this.tenancy.withTenant(tenant, () => this.rolledBack(tenant, fn)) as Promise<R>
    return options.overrides === undefined
      ? await body()
      : await this.tenancy.withOverrides(options.overrides, body)
  }

  private async rolledBack<R>(tenant: string, fn: (tenant: string) => R | PromiseLike<R>) {
    if (this.transaction === false) return await fn(tenant)
    let result: R | undefined
    try {
      await withTransaction(
        async () => {
          result = await fn(tenant)
          throw ROLLBACK
        },
        { tenancy: this.tenancy, resource: this.transaction },
      )
    } catch (error) {
      if (error !== ROLLBACK) throw error
    }
    return result as R
  }

  /**
   * Registers Vitest hooks in the current file or `describe`: the worker tenant is set up in
   * `beforeAll`, and `aroundEach` runs every test — with its `beforeEach`/`afterEach` hooks —
   * inside {@link run}. `aroundEach` is what makes this work: context set in `beforeEach` or
   * a fixture does not reach the test body (vitest-dev/vitest#5858).
   */
  use(options: RunOptions = {}): void {
    beforeAll(() => this.setup())
    aroundEach(async (runTest) => {
      await this.run(() => runTest(), options)
    })
  }

  /**
   * Declares a test whose body runs inside {@link run}: the explicit form of {@link use}, for a
   * single test among untenanted ones.
   */
  test(name: string, fn: (tenant: string) => unknown, timeout?: number): void {
    test(name, () => this.run(fn), timeout)
  }

  /**
   * Creates an extra, migrated tenant named `<tempPrefix>-<worker>-<n>[-label]` and returns
   * its name. It is left in place (inspect it after a failure) and destroyed at the start of
   * the next run. Enter it with {@link inTenant}: plain `withTenant` refuses to switch away
   * from the worker tenant inside a test.
   */
  async createTenant(label?: string): Promise<string> {
    const suffix = label === undefined ? '' : `-${sanitize(label)}`
    const name = this.tenancy.validateName(
      `${this.tempPrefix}${Date.now().toString(36)}${++this.extra}${suffix}`,
    )
    await this.store.createTenant(name)
    return name
  }

  /** Runs `fn` inside `tenant` even from inside the worker tenant (`allowSwitch`). */
  inTenant<R>(tenant: string, fn: (tenant: string) => R | PromiseLike<R>): Promise<Awaited<R>> {
    return this.tenancy.withTenant(tenant, fn, { allowSwitch: true })
  }

  /** Destroys every tenant with this worker's extra-tenant prefix; returns their names. */
  async cleanup(): Promise<string[]> {
    return await destroyMatching(this.store, (t) => t.startsWith(this.tempPrefix))
  }
}

/** Creates the test tenants of this worker; see {@link TestTenants}. */
export function createTestTenants(options: TestTenantsOptions): TestTenants {
  return new TestTenants(options)
}

/** Options of {@link cleanupTestTenants}. */
export interface CleanupOptions {
  /** Worker-tenant prefix to remove; default `test`. */
  prefix?: string
  /** Extra-tenant prefix to remove; default `tmp`. */
  tempPrefix?: string
}

/**
 * Destroys every worker and extra test tenant (`test-*`, `tmp-*`) of a store. Call it from a
 * Vitest `globalSetup`, before any worker starts; inside workers use {@link TestTenants.cleanup},
 * which only touches its own worker's tenants.
 */
export async function cleanupTestTenants(
  store: TenantStore,
  options: CleanupOptions = {},
): Promise<string[]> {
  const prefixes = [`${options.prefix ?? 'test'}-`, `${options.tempPrefix ?? 'tmp'}-`]
  return await destroyMatching(store, (t) => prefixes.some((p) => t.startsWith(p)))
}

async function destroyMatching(
  store: TenantStore,
  match: (tenant: string) => boolean,
): Promise<string[]> {
  const gone = (await store.list()).filter(match)
  for (const t of gone) await store.destroyTenant(t)
  return gone
}

/** Lower-case letters, digits and dashes only, so the id fits in a DNS label. */
function sanitize(id: string): string {
  return (
    id
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || '0'
  )
}
