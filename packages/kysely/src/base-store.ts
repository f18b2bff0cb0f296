import {
  tenancy as defaultTenancy,
  type ResourceDefinition,
  type Tenancy,
  UnknownTenantError,
} from '@tenantry/context'
import type { Kysely } from 'kysely'
import { StoreClosedError } from './errors.js'
import { guardTenantDb } from './guard-plugin.js'
import { migrateEachTenant } from './migrate-all.js'
import type { MigrationsOption } from './migrations.js'
import { SoftDeletableStore } from './soft-deletable-store.js'
import type { DestroyTenantOptions } from './soft-delete.js'
import type { EachTenantDbOptions, TenantDatabaseStore } from './store.js'
import type {
  CreateTenantOptions,
  MigrateAllOptions,
  TenantInfo,
  TenantMigrationResult,
} from './tenant-store.js'

/** The options every tenant-database backend takes; each backend adds where its data lives. */
export interface BaseStoreOptions {
  /** The tenant schema: Kysely migrations by name, or a Kysely `MigrationProvider`. */
  migrations: MigrationsOption
  /** Migrations of the central database; when set, `install` also registers `centralDb`. */
  centralMigrations?: MigrationsOption | undefined
  /** Apply pending migrations when a tenant is opened instead of failing; default false. */
  migrateOnOpen?: boolean | undefined
  /** Most idle tenant handles kept open; default: the backend's (SQLite 64, PostgreSQL 1000). */
  cap?: number | undefined
  /** Close handles idle for this long (ms); default: the backend's (SQLite 5 minutes, PostgreSQL never). */
  idleTimeoutMs?: number | undefined
  /**
   * How long a positive `exists` answer is reused (ms); default 1000. It keeps the file system
   * or the registry out of every `withTenant`; a tenant destroyed by *another* process stays
   * enterable here for at most this long (destroys in this process take effect at once).
   * 0 asks on every call.
   */
  existsCacheMs?: number | undefined
  /** How long create/migrate/destroy wait for another caller's lock (ms); default 60000. */
  lockTimeoutMs?: number | undefined
  /** How long destroyTenant waits for in-flight use of the tenant (ms); default 5000. */
  releaseTimeoutMs?: number | undefined
  /** The tenancy used for name rules, releasing handles and `withEachTenant`; default: shared. */
  tenancy?: Tenancy | undefined
  /**
   * Install the tenant guard on the handles behind `getDb()`: a query on a tenant's handle
   * outside that tenant throws `WrongTenantError` (escape: `withoutTenantGuard`). Default true.
   */
  tenantGuard?: boolean | undefined
}

/** A backend's defaults for the resource options of {@link BaseStoreOptions}. */
export interface StoreDefaults {
  cap: number
  idleTimeoutMs?: number
}

/** Most tenants the existence cache remembers before it starts over: a cache, not a registry. */
const SEEN_MAX = 100_000

/**
 * The lifecycle every Kysely tenant-database backend shares: installation, the bounded
 * existence cache, the set of tenants being destroyed (invisible at once), listing, per-tenant
 * iteration, migrate-all and close bookkeeping. A backend extends it with what differs: how a
 * tenant is probed, listed, opened, created, destroyed, migrated and described, its locks and
 * its central database.
 */
export abstract class BaseTenantStore<DB, CentralDB = unknown>
  extends SoftDeletableStore
  implements TenantDatabaseStore<DB, CentralDB>
{
  readonly resource: ResourceDefinition<Kysely<DB>>
  protected override tenancy: Tenancy
  /** The tenancy `install` registered this store in (its handles are refreshed on close). */
  protected installed: Tenancy | undefined
  protected readonly migrateOnOpen: boolean
  protected readonly existsCacheMs: number
  protected readonly lockTimeoutMs: number
  protected readonly releaseTimeoutMs: number
  /** True once the store has central migrations (so `install` registers `centralDb`). */
  protected readonly hasCentral: boolean
  /** Set by `close()`; opening a tenant afterwards throws `StoreClosedError`. */
  protected closed = false
  /** Tenants being destroyed by this process: invisible already, before their data goes. */
  private readonly destroying = new Set<string>()
  /** Tenant → until when a positive existence answer holds (see `existsCacheMs`). */
  private readonly seen = new Map<string, number>()
  /** Guarded handle → the backend's own (the backend knows and disposes only its own). */
  private readonly unguarded = new WeakMap<Kysely<DB>, Kysely<DB>>()

  constructor(options: BaseStoreOptions, defaults: StoreDefaults) {
    super()
    this.tenancy = options.tenancy ?? defaultTenancy
    this.migrateOnOpen = options.migrateOnOpen ?? false
    this.existsCacheMs = options.existsCacheMs ?? 1000
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000
    this.releaseTimeoutMs = options.releaseTimeoutMs ?? 5000
    this.hasCentral = options.centralMigrations !== undefined
    const idleTimeoutMs = options.idleTimeoutMs ?? defaults.idleTimeoutMs
    const guard = options.tenantGuard !== false
    this.resource = {
      create: (tenant) =>
        guard
          ? this.openChecked(tenant).then((db) => this.guarded(db, tenant))
          : this.openChecked(tenant),
      dispose: (db, tenant) => this.dispose(this.unguarded.get(db) ?? db, tenant),
      tenantOnly: true,
      eager: true,
      cap: options.cap ?? defaults.cap,
      ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
    }
  }

  abstract readonly central: Kysely<CentralDB>
  abstract createTenant(tenant: string, options?: CreateTenantOptions): Promise<void>
  abstract destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void>
  abstract migrateTenant(tenant: string): Promise<TenantMigrationResult>
  abstract tenantInfo(tenant: string): Promise<TenantInfo>
  abstract migrateCentral(): Promise<string[]>
  /** Validates the name and asks the backend whether the tenant is ready (uncached). */
  protected abstract probe(tenant: string): boolean | Promise<boolean>
  /** Every ready tenant the backend holds, sorted (before hiding those being destroyed). */
  protected abstract listReady(): Promise<string[]>
  /** The resource factory: opens a ready tenant and checks its schema. */
  protected abstract open(tenant: string): Promise<Kysely<DB>>
  /** Releases one handle the core evicted or refreshed. */
  protected abstract dispose(db: Kysely<DB>, tenant: string | undefined): void | Promise<void>
  /** Tenants with a handle handed to the core (refreshed on close). */
  protected abstract openTenants(): Iterable<string>
  /** Closes the backend's handles, pools and central database (after the core let go). */
  protected abstract shutdown(): Promise<void>

  install(tenancy: Tenancy = this.tenancy): this {
    this.tenancy = tenancy
    this.installed = tenancy
    const resources: Record<string, ResourceDefinition<any>> = { db: this.resource }
    if (this.hasCentral) resources.centralDb = { fallback: () => this.central }
    tenancy.configure({ resources, tenants: this })
    return this
  }

  exists(tenant: string): boolean | Promise<boolean> {
    if (this.destroying.has(tenant)) return false
    const until = this.seen.get(tenant)
    // Synchronous when known, so withTenant's warm path stays free of promises and I/O.
    if (until !== undefined && until > Date.now()) return true
    const found = this.probe(tenant)
    return typeof found === 'boolean'
      ? this.remember(tenant, found)
      : found.then((f) => this.remember(tenant, f))
  }

  /** Drops the cached existence answer of `tenant` (a backend found it gone or replaced). */
  protected forgetExists(tenant: string): void {
    this.seen.delete(tenant)
  }

  private remember(tenant: string, found: boolean): boolean {
    const ok = found && !this.destroying.has(tenant)
    if (ok && this.existsCacheMs > 0) {
      if (this.seen.size >= SEEN_MAX) this.seen.clear()
      this.seen.set(tenant, Date.now() + this.existsCacheMs)
    } else this.seen.delete(tenant)
    return ok
  }

  async list(): Promise<string[]> {
    const all = await this.listReady()
    return this.destroying.size === 0 ? all : all.filter((t) => !this.destroying.has(t))
  }

  withEachTenant<R>(
    fn: (tenant: string) => R | PromiseLike<R>,
    options: EachTenantDbOptions = {},
  ): Promise<Awaited<R>[]> {
    return this.list().then((tenants) =>
      this.tenancy.withEachTenant(fn, { concurrency: options.concurrency, tenants }),
    )
  }

  async migrateAllTenants(options: MigrateAllOptions = {}): Promise<TenantMigrationResult[]> {
    return migrateEachTenant(await this.list(), (t) => this.migrateTenant(t), options)
  }

  /**
   * Runs `fn` (which deletes the tenant's data) with the tenant hidden from `exists`, `list`
   * and `open` in this process, after `before` (default: `destroying`) and the release of its
   * instances in the tenancy.
   */
  protected async hiding<R>(
    tenant: string,
    fn: () => Promise<R>,
    before: () => Promise<void> = () => this.lifecycle.emit('destroying', { tenant }),
  ): Promise<R> {
    this.destroying.add(tenant)
    this.seen.delete(tenant)
    try {
      // Before the release: a listener closes what holds the tenant open (realtime connections),
      // which the release would otherwise wait for. One that fails aborts here, before anything
      // is deleted: the tenant stays whole.
      await before()
      await this.tenancy.releaseTenant(tenant, { timeoutMs: this.releaseTimeoutMs })
      return await fn()
    } finally {
      this.destroying.delete(tenant)
      this.seen.delete(tenant)
    }
  }

  // The backend's handle stays unguarded for its own work (migrations, info) outside tenants.
  private guarded(db: Kysely<DB>, tenant: string): Kysely<DB> {
    const g = guardTenantDb(db, tenant, { tenancy: this.tenancy })
    this.unguarded.set(g, db)
    return g
  }

  /**
   * Hides `tenant` in this process and releases its instances (a restore over it); returns the
   * function that makes it visible again.
   */
  protected override async hide(tenant: string): Promise<() => void> {
    this.destroying.add(tenant)
    this.seen.delete(tenant)
    try {
      await this.tenancy.releaseTenant(tenant, { timeoutMs: this.releaseTimeoutMs })
    } catch (error) {
      this.destroying.delete(tenant)
      throw error
    }
    return () => {
      this.destroying.delete(tenant)
      this.seen.delete(tenant)
    }
  }

  private openChecked(tenant: string): Promise<Kysely<DB>> {
    if (this.closed) return Promise.reject(new StoreClosedError(tenant))
    if (this.destroying.has(tenant)) return Promise.reject(new UnknownTenantError(tenant))
    return this.open(tenant)
  }

  async close(): Promise<void> {
    this.closed = true
    const tenants = [...new Set(this.openTenants())]
    if (this.installed?.hasResource('db'))
      for (const t of tenants) await this.installed.refreshTenant(t, ['db'])
    await this.shutdown()
  }
}
