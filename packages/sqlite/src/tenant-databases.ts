import { existsSync, renameSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { UnknownTenantError } from '@tenantry/context'
import {
  type BaseStoreOptions,
  BaseTenantStore,
  type CreateTenantOptions,
  type TenantDatabaseStore,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import type Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { SqliteCentral } from './central.js'
import { kyselyOver, openFile, type SqlLogger } from './connection.js'
import { PendingMigrationsError, TenantExistsError } from './errors.js'
import { fsyncPath, headerVersion, rmdirQuiet } from './files.js'
import { guarded } from './guard.js'
import {
  type BucketingOptions,
  Layout,
  lockFile,
  siblings,
  sqliteSidecars,
  tempFile,
} from './layout.js'
import { unlinkQuiet, withFileLock } from './lock.js'
import { MigrationSet } from './migrations.js'

/**
 * Options of {@link createTenantDatabases}: the kit's {@link BaseStoreOptions} (defaults here:
 * `cap` 64, `idleTimeoutMs` 300000) plus where the files live.
 */
export interface TenantDatabasesOptions extends BaseStoreOptions {
  /** The folder that holds every tenant and the central database. */
  root: string
  /** Tenant file path under `root`; default `tenants/{tenant}/db.sqlite3`. */
  path?: string | undefined
  /** Hash-prefix folders (`{bucket}`) for very many tenants; default off. */
  bucketing?: boolean | BucketingOptions | undefined
  /** How long a statement waits for another connection's write lock (ms); default 5000. */
  busyTimeoutMs?: number | undefined
  /** Receives SQL log lines carrying `{ tenant }` (pino-compatible). */
  logger?: SqlLogger | undefined
}

/** Per-tenant SQLite databases: the tenant lifecycle, the `db` resource and the central database. */
export interface TenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The folder holding everything (the central database is `root/central.sqlite3`). */
  readonly root: string
  /** The tenant's database file (validates the name; never outside `root`). */
  tenantPath(tenant: string): string
}

class SqliteTenantStore<DB, CentralDB>
  extends BaseTenantStore<DB, CentralDB>
  implements TenantDatabases<DB, CentralDB>
{
  readonly root: string
  private readonly layout: Layout
  private readonly migrations: MigrationSet
  private readonly centralDb: SqliteCentral<CentralDB>
  private readonly busyTimeoutMs: number
  private readonly logger: SqlLogger | undefined
  /** Open tenant handles and their raw connections (closed on dispose or store close). */
  private readonly handles = new Map<Kysely<DB>, { tenant: string; raw: Database.Database }>()

  constructor(options: TenantDatabasesOptions) {
    super(options, { cap: 64, idleTimeoutMs: 300_000 })
    this.layout = new Layout(options.root, options.path, options.bucketing)
    this.root = this.layout.root
    this.migrations = new MigrationSet(options.migrations)
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000
    this.logger = options.logger
    this.centralDb = new SqliteCentral<CentralDB>({
      root: this.root,
      migrations:
        options.centralMigrations === undefined
          ? undefined
          : new MigrationSet(options.centralMigrations),
      busyTimeoutMs: this.busyTimeoutMs,
      lockTimeoutMs: this.lockTimeoutMs,
      logger: this.logger,
    })
  }

  tenantPath(tenant: string): string {
    return this.layout.file(this.tenancy.validateName(tenant))
  }

  protected probe(tenant: string): boolean {
    return existsSync(this.tenantPath(tenant))
  }

  protected listReady(): Promise<string[]> {
    return this.layout.list((name) => this.tenancy.validateName(name))
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    const file = this.tenantPath(tenant)
    const exists = () => {
      if (!existsSync(file)) return false
      if (options.ifNotExists) return true
      throw new TenantExistsError(tenant)
    }
    if (exists()) return
    await this.locked(tenant, file, async () => {
      if (exists()) return
      await this.build(tenant, file)
    })
  }

  /**
   * Builds the tenant in `<file>.creating` and renames it into place: readers see no file or a
   * fully migrated one. Called with the tenant's lock held, so leftovers of a creator that died
   * are ours to delete.
   */
  private async build(tenant: string, file: string): Promise<void> {
    const tmp = tempFile(file)
    // A crashed creator's half-made file, and a stale -wal that SQLite would replay into the
    // new file, must both go before anything is built.
    for (const f of [tmp, ...sqliteSidecars(tmp), ...sqliteSidecars(file)]) unlinkQuiet(f)
    try {
      const raw = openFile(tmp, this.busyTimeoutMs, { mustExist: false })
      try {
        // Durability is only needed from the rename on; the temp file is thrown away on a crash.
        raw.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF')
        await this.migrations.migrate(this.kyselyFor(raw, tenant), tenant)
        raw.pragma(`user_version = ${await this.migrations.version()}`)
        raw.pragma('journal_mode = WAL')
      } finally {
        raw.close()
      }
      fsyncPath(tmp)
      renameSync(tmp, file)
      fsyncPath(dirname(file))
    } catch (error) {
      for (const f of [tmp, ...sqliteSidecars(tmp)]) unlinkQuiet(f)
      throw error
    }
  }

  async destroyTenant(tenant: string): Promise<void> {
    const file = this.tenantPath(tenant)
    if (!existsSync(file)) throw new UnknownTenantError(tenant)
    await this.locked(tenant, file, async () => {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      await this.hiding(tenant, async () => {
        for (const h of this.handles.values()) if (h.tenant === tenant && h.raw.open) h.raw.close() // handles made outside the cache
        // The database first: from here on the tenant is gone for every process.
        for (const f of siblings(file)) if (f !== lockFile(file)) unlinkQuiet(f)
      })
    })
  }

  /** Runs `fn` under the tenant's cross-process lock; removes the tenant's folder if left empty. */
  private async locked<R>(tenant: string, file: string, fn: () => Promise<R>): Promise<R> {
    try {
      return await withFileLock(lockFile(file), tenant, this.lockTimeoutMs, fn)
    } finally {
      if (!existsSync(file)) {
        const folder = this.layout.ownFolder(tenant)
        if (folder !== undefined) rmdirQuiet(folder)
      }
    }
  }

  // --- migrations ----------------------------------------------------------------------------

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    const file = this.tenantPath(tenant)
    if (!existsSync(file)) throw new UnknownTenantError(tenant)
    const expected = await this.migrations.version()
    // The stamp in the file header only moves towards the current set, so a match is
    // trustworthy without opening SQLite or taking the lock.
    if (headerVersion(file) === expected) return { tenant, applied: [] }
    return await this.locked(tenant, file, async () => {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      const raw = openFile(file, this.busyTimeoutMs, { mustExist: true })
      try {
        if (raw.pragma('user_version', { simple: true }) === expected)
          return { tenant, applied: [] }
        raw.pragma('journal_mode = WAL')
        const applied = await this.migrations.migrate(this.kyselyFor(raw, tenant), tenant)
        raw.pragma(`user_version = ${expected}`)
        return { tenant, applied }
      } finally {
        raw.close()
      }
    })
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const file = this.tenantPath(tenant)
    if (!(await this.exists(tenant))) throw new UnknownTenantError(tenant)
    const raw = openFile(file, this.busyTimeoutMs, { mustExist: true })
    try {
      const db = kyselyOver(guarded(raw, false), undefined, {})
      const applied = await this.migrations.applied(db)
      const pending = await this.migrations.pending(db)
      let size = 0
      for (const f of [file, `${file}-wal`])
        size += statSync(f, { throwIfNoEntry: false })?.size ?? 0
      return { tenant, location: file, size, migrations: applied, pending }
    } finally {
      raw.close()
    }
  }

  /** A Kysely over a raw connection this method's caller closes (for migrations). */
  private kyselyFor(raw: Database.Database, tenant: string): Kysely<any> {
    return kyselyOver(guarded(raw, false), this.logger, { tenant })
  }

  // --- handles -------------------------------------------------------------------------------

  protected async open(tenant: string): Promise<Kysely<DB>> {
    const file = this.tenantPath(tenant)
    let raw: Database.Database
    try {
      raw = openFile(file, this.busyTimeoutMs, { mustExist: true })
    } catch (error) {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      throw error
    }
    try {
      const db = kyselyOver<DB>(guarded(raw), this.logger, { tenant })
      const expected = this.migrations.cached ?? (await this.migrations.version())
      if (raw.pragma('user_version', { simple: true }) !== expected) {
        const pending = await this.migrations.pending(db)
        if (pending.length > 0) {
          if (!this.migrateOnOpen) throw new PendingMigrationsError(tenant, pending)
          await this.migrateTenant(tenant)
        } else {
          raw.pragma(`user_version = ${expected}`)
        }
      }
      this.handles.set(db, { tenant, raw })
      return db
    } catch (error) {
      raw.close()
      throw error
    }
  }

  protected async dispose(db: Kysely<DB>): Promise<void> {
    const h = this.handles.get(db)
    this.handles.delete(db)
    await db.destroy()
    // Kysely closes the file only if the handle ever ran a query.
    if (h?.raw.open) h.raw.close()
  }

  /** Open tenant handles of this store (for diagnostics and tests). */
  get openHandles(): number {
    return this.handles.size
  }

  protected openTenants(): Iterable<string> {
    return [...this.handles.values()].map((h) => h.tenant)
  }

  // --- central -------------------------------------------------------------------------------

  get central(): Kysely<CentralDB> {
    return this.centralDb.kysely
  }

  migrateCentral(): Promise<string[]> {
    return this.centralDb.migrate()
  }

  protected async shutdown(): Promise<void> {
    for (const db of [...this.handles.keys()]) await this.dispose(db)
    await this.centralDb.close()
  }
}

/**
 * Creates the per-tenant SQLite store: one file per tenant through Kysely and better-sqlite3.
 * Call `install()` to serve it through `getDb()`.
 */
export function createTenantDatabases<DB, CentralDB = unknown>(
  options: TenantDatabasesOptions,
): TenantDatabases<DB, CentralDB> {
  return new SqliteTenantStore<DB, CentralDB>(options)
}
