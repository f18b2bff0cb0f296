import { existsSync, renameSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { isTenantryError, UnknownTenantError } from '@tenantry/context'
import {
  type ArchiveBackend,
  type BaseStoreOptions,
  BaseTenantStore,
  type CreateTenantOptions,
  type DestroyTenantOptions,
  type MigrateAllOptions,
  migrateEachTenant,
  type TenantDatabaseStore,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import type Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { SqliteCentral } from './central.js'
import { openFile, type SqlLogger } from './connection.js'
import { PendingMigrationsError, TenantExistsError } from './errors.js'
import { ReadOnlyStorageError, translateFault } from './faults.js'
import { fsyncPath, headerVersion, rmdirQuiet } from './files.js'
import { type BucketingOptions, Layout, lockFile, sqliteSidecars, tempFile } from './layout.js'
import { unlinkQuiet, withFileLock } from './lock.js'
import {
  applyCacheBudget,
  type ConnectionMemoryOptions,
  DEFAULT_CACHE_KIB,
  IdleShrinker,
} from './memory.js'
import { type MigrationsModule, migrateInWorkers, workerThreads } from './migrate-workers.js'
import { MigrationSet } from './migrations.js'
import { SqliteOperations } from './operations.js'
import { type RepairFinding, type RepairOptions, repairTenants } from './repair.js'
import {
  closeServing,
  destroyFiles,
  migrationKysely,
  openServing,
  readStamp,
  retryTransient,
  type ServingHandle,
  type ServingOptions,
  writeStamp,
} from './serving.js'
import { SqliteSoftDeletes } from './soft-delete.js'

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
  /**
   * How long a statement or `BEGIN IMMEDIATE` waits for another connection's write lock (ms);
   * default 5000. The wait polls without blocking the event loop.
   */
  busyTimeoutMs?: number | undefined
  /** Prepared statements cached per open tenant handle; default 64 (0: off). */
  statementCache?: number | undefined
  /** Memory budget of each tenant connection (page cache size, shrinking when idle). */
  memory?: ConnectionMemoryOptions | undefined
  /**
   * The module that exports `migrations`, so that `migrateAllTenants` runs in worker threads
   * (`concurrency` of them, default one per core). Without it, tenants migrate in this thread
   * (`concurrency` default 4), where SQLite's synchronous work cannot overlap.
   */
  migrationsModule?: MigrationsModule | undefined
  /** Receives SQL log lines carrying `{ tenant }` (pino-compatible). */
  logger?: SqlLogger | undefined
  /** Create tenants as copies of a pre-migrated template (see `@tenantry/sqlite`'s README); default false. */
  template?: boolean | undefined
}

/** Per-tenant SQLite databases: the tenant lifecycle, the `db` resource and the central database. */
export interface TenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The folder holding everything (the central database is `root/central.sqlite3`). */
  readonly root: string
  /** The tenant's database file (validates the name; never outside `root`). */
  tenantPath(tenant: string): string
  /**
   * Looks for the debris of crashed processes (orphan lock and `.creating` files, half-made
   * tenants), links and files that are no tenant, and stamps that disagree; with
   * `{ fix: true }` repairs what is safe to repair, under each tenant's lock.
   */
  repair(options?: RepairOptions): Promise<RepairFinding[]>
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
  private readonly serving: ServingOptions
  private readonly template: boolean
  private readonly ops: SqliteOperations
  private readonly soft: SqliteSoftDeletes
  /** Open tenant handles (closed on dispose or store close). */
  private readonly handles = new Map<Kysely<DB>, ServingHandle<DB>>()
  /** The handle the core caches for each tenant: its identity is checked at every scope entry. */
  private readonly current = new Map<string, ServingHandle<DB>>()
  private readonly options: TenantDatabasesOptions
  private readonly cacheSizeKiB: number
  private readonly shrinker: IdleShrinker
  /** Each open connection's "used" mark for the shrinker, set at every scope entry. */
  private readonly touches = new Map<Database.Database, () => void>()

  constructor(options: TenantDatabasesOptions) {
    super(options, { cap: 64, idleTimeoutMs: 300_000 })
    this.layout = new Layout(options.root, options.path, options.bucketing)
    this.root = this.layout.root
    this.migrations = new MigrationSet(options.migrations)
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000
    this.logger = options.logger
    this.options = options
    this.cacheSizeKiB = options.memory?.cacheSizeKiB ?? DEFAULT_CACHE_KIB
    this.shrinker = new IdleShrinker(
      options.memory?.shrinkIdleMs ?? 1000,
      // The cap as the base class resolved it (the option, else this backend's default).
      Math.max(8, Math.floor((this.resource.cap ?? 0) / 8)),
    )
    this.serving = {
      busyTimeoutMs: this.busyTimeoutMs,
      logger: this.logger,
      statementCache: options.statementCache,
    }
    this.template = options.template ?? false
    this.ops = new SqliteOperations({
      ...{ root: this.root, migrations: this.migrations, busyTimeoutMs: this.busyTimeoutMs },
      lockTimeoutMs: this.lockTimeoutMs,
      file: (t) => this.checkedPath(t),
      hide: async (t) => {
        const unhide = await this.hide(t)
        for (const h of [...this.handles.values()]) if (h.tenant === t) closeServing(h)
        return unhide
      },
    })
    this.soft = new SqliteSoftDeletes({
      ...{ layout: this.layout, bucketing: options.bucketing, file: (t) => this.checkedPath(t) },
      validate: (t) => this.tenancy.validateName(t),
      locked: (t, file, fn) => this.locked(t, file, fn),
      destroy: (t) => this.destroyTenant(t),
      destroyed: (t) => this.destroyed(t),
    })
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

  /** {@link tenantPath}, refusing a path through a symlinked folder (`TENANTRY_TENANT_PATH`). */
  private checkedPath(tenant: string): string {
    return this.layout.checkedFile(this.tenancy.validateName(tenant))
  }

  /**
   * Before the existence cache answers: if this process holds a handle on the tenant and its
   * file was unlinked (another process destroyed or replaced the tenant), the handle is retired
   * and the answer asked afresh, so this scope opens the current file or finds none. One
   * `fstat` on the warm path.
   */
  override exists(tenant: string): boolean | Promise<boolean> {
    const h = this.current.get(tenant)
    if (h !== undefined) {
      if (!h.identity.isLinked()) this.retire(tenant, h)
      else this.touches.get(h.raw)?.()
    }
    return super.exists(tenant)
  }

  private retire(tenant: string, h: ServingHandle<DB>): void {
    if (this.current.get(tenant) === h) this.current.delete(tenant)
    this.forgetExists(tenant)
    const tenancy = this.installed ?? this.tenancy
    // Marks the cached instance stale at once (synchronously); it is disposed when released.
    if (tenancy.hasResource('db')) void tenancy.refreshTenant(tenant, ['db']).catch(() => {})
  }

  protected probe(tenant: string): boolean {
    // Only ever asked by `exists`, after it found an open handle's file still linked: that path
    // and file passed the layout's checks when the handle opened, so only a tombstone written
    // since can hide the tenant (one stat instead of the layout's walk: ~50k instructions).
    const h = this.current.get(tenant)
    if (h !== undefined) return !this.soft.held(h.identity.file)
    const name = this.tenancy.validateName(tenant)
    return this.layout.isTenantFile(name) && !this.soft.held(this.layout.file(name))
  }

  protected async listReady(): Promise<string[]> {
    const all = await this.layout.list((name) => this.tenancy.validateName(name))
    return all.filter((t) => !this.soft.held(this.layout.file(t)))
  }

  protected override softDeleteBackend(): SqliteSoftDeletes {
    return this.soft
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    const file = this.checkedPath(tenant)
    const exists = () => {
      this.soft.refuse(tenant, file) // a soft delete holds the name until its purge
      if (!existsSync(file)) return false
      if (options.ifNotExists) return true
      throw new TenantExistsError(tenant)
    }
    if (exists()) return
    const built = await this.locked(tenant, file, async () => {
      if (exists()) return false
      await this.creating(tenant) // leftovers of an earlier tenant of the name go first
      await this.build(tenant, file)
      return true
    })
    if (built) await this.lifecycle.emit('created', { tenant })
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
      if (this.template) await this.ops.fromTemplate(tmp)
      else {
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
      }
      fsyncPath(tmp)
      renameSync(tmp, file)
      fsyncPath(dirname(file))
    } catch (error) {
      for (const f of [tmp, ...sqliteSidecars(tmp)]) unlinkQuiet(f)
      throw error
    }
  }

  async destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void> {
    if (options?.graceMs !== undefined) return await this.softDestroy(tenant, options.graceMs)
    const file = this.checkedPath(tenant)
    if (!existsSync(file)) throw new UnknownTenantError(tenant)
    await this.locked(tenant, file, async () => {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      await this.hiding(tenant, async () => {
        for (const h of [...this.handles.values()]) if (h.tenant === tenant) closeServing(h) // handles made outside the cache
        // Under the database's write lock: a writer elsewhere that gets the lock after this
        // finds its file unlinked and refuses, so nothing is acknowledged into deleted files.
        await destroyFiles(file, tenant, this.lockTimeoutMs)
        await this.destroyed(tenant) // still locked: no creator of the name runs in between
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

  override async migrateAllTenants(
    options: MigrateAllOptions = {},
  ): Promise<TenantMigrationResult[]> {
    const tenants = await this.list()
    const module = this.options.migrationsModule
    const threads = workerThreads(options, tenants.length)
    if (module === undefined || threads < 2)
      return migrateEachTenant(tenants, (t) => this.migrateTenant(t), options)
    // Tenants whose header stamp is current need no thread (nor SQLite, nor their lock).
    const expected = await this.migrations.version()
    const current: TenantMigrationResult[] = []
    const jobs: string[] = []
    for (const tenant of tenants)
      if (headerVersion(this.tenantPath(tenant)) === expected) current.push({ tenant, applied: [] })
      else jobs.push(tenant)
    let done = 0
    const report = (result: TenantMigrationResult) =>
      options.onProgress?.({ done: ++done, total: tenants.length, result })
    for (const result of current) report(result)
    const { root, path, bucketing } = this.options
    // `migrated` listeners live in this thread: each result is announced here, in order of
    // arrival, before its progress; a listener that throws fails that tenant's result.
    let announced = Promise.resolve()
    const announce = (result: TenantMigrationResult) => {
      announced = announced.then(async () => {
        try {
          await this.migrated(result)
        } catch (error) {
          Object.assign(result, { error })
        }
        report(result)
      })
    }
    const migrated = await migrateInWorkers(
      jobs,
      Math.min(threads, jobs.length),
      {
        migrations: module,
        store: {
          root,
          path,
          bucketing,
          busyTimeoutMs: this.busyTimeoutMs,
          lockTimeoutMs: this.lockTimeoutMs,
        },
      },
      announce,
    )
    await announced
    const byTenant = new Map([...current, ...migrated].map((r) => [r.tenant, r]))
    return tenants.map((t) => byTenant.get(t)!)
  }

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    const file = this.checkedPath(tenant)
    if (!existsSync(file)) throw new UnknownTenantError(tenant)
    const expected = await this.migrations.version()
    // The stamp in the file header only moves towards the current set, so a match is
    // trustworthy without opening SQLite or taking the lock.
    if (headerVersion(file) === expected) return { tenant, applied: [] }
    const result = await this.locked(tenant, file, async () => {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      // Lock waits inside happen in the driver, off the event loop: this process's own
      // writers (and everyone else's) keep committing while the migration waits its turn.
      const raw = openFile(file, 0, { mustExist: true })
      try {
        const db = migrationKysely(raw, tenant, this.serving)
        if ((await readStamp(raw, this.busyTimeoutMs)) === expected) return { tenant, applied: [] }
        // Contention that outlasted busyTimeoutMs is retried here, never reported as a failed
        // migration: a failed run rolled back whole.
        // One transaction: the migrations, their record rows and the stamp commit together.
        const applied = await retryTransient(() => this.migrations.migrate(db, tenant, expected))
        return { tenant, applied }
      } finally {
        raw.close()
      }
    })
    return await this.migrated(result)
  }

  protected override rollback(tenant: string, steps: number): Promise<string[]> {
    const file = this.checkedPath(tenant)
    return this.locked(tenant, file, () => this.ops.rollback(file, tenant, steps))
  }

  protected override archiveBackend(): ArchiveBackend {
    return this.ops.archive()
  }

  protected override scratchDir(): string {
    return this.ops.scratchDir
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const file = this.checkedPath(tenant)
    if (!(await this.exists(tenant))) throw new UnknownTenantError(tenant)
    const raw = openFile(file, 0, { mustExist: true, readOnlyFallback: true })
    try {
      const db = migrationKysely(raw, tenant, { ...this.serving, logger: undefined })
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

  /** A Kysely over a raw connection this method's caller closes (for building a tenant). */
  private kyselyFor(raw: import('better-sqlite3').Database, tenant: string): Kysely<any> {
    return migrationKysely(raw, tenant, this.serving)
  }

  repair(options?: RepairOptions): Promise<RepairFinding[]> {
    return repairTenants(
      {
        layout: this.layout,
        migrations: this.migrations,
        validate: (t) => this.tenancy.validateName(t),
        lockTimeoutMs: this.lockTimeoutMs,
      },
      options,
    )
  }

  // --- handles -------------------------------------------------------------------------------

  protected async open(tenant: string): Promise<Kysely<DB>> {
    const file = this.checkedPath(tenant)
    let h: ServingHandle<DB>
    try {
      h = await openServing<DB>(file, tenant, this.serving)
    } catch (error) {
      if (!existsSync(file)) throw new UnknownTenantError(tenant)
      if (isTenantryError(error, 'TENANTRY_READ_ONLY'))
        throw new ReadOnlyStorageError(tenant, file, {
          cause: error.cause,
          reason: (error as ReadOnlyStorageError).reason,
        })
      throw translateFault(error, tenant)
    }
    try {
      const expected = this.migrations.cached ?? (await this.migrations.version())
      if ((await readStamp(h.raw, this.busyTimeoutMs)) !== expected) {
        const pending = await this.migrations.pending(h.db)
        if (pending.length > 0) {
          if (!this.migrateOnOpen) throw new PendingMigrationsError(tenant, pending)
          await this.migrateTenant(tenant)
        } else {
          await writeStamp(h.db, expected)
        }
      }
      this.budget(h, h.raw)
      const w = h.writer()
      if (w !== undefined) this.budget(h, w)
      h.onWriter = (raw) => this.budget(h, raw)
      this.handles.set(h.db, h)
      this.current.set(tenant, h)
      return h.db
    } catch (error) {
      closeServing(h)
      throw error
    }
  }

  protected async dispose(db: Kysely<DB>): Promise<void> {
    const h = this.handles.get(db)
    if (h === undefined) return
    this.handles.delete(db)
    if (this.current.get(h.tenant) === h) this.current.delete(h.tenant)
    for (const raw of [h.raw, h.writer()]) if (raw !== undefined) this.shrinker.forget(raw)
    this.touches.delete(h.raw)
    // Not db.destroy(): a query still holding this Kysely then fails with TENANTRY_DB_CLOSED.
    closeServing(h)
  }

  /** A connection's page-cache ceiling and idle shrinking; scope entries mark it used. */
  private budget(h: ServingHandle<DB>, raw: Database.Database): void {
    applyCacheBudget(raw, this.cacheSizeKiB)
    this.shrinker.opened()
    const touch = this.shrinker.watch(raw)
    const before = this.touches.get(h.raw)
    this.touches.set(
      h.raw,
      before === undefined
        ? touch
        : () => {
            before()
            touch()
          },
    )
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
    this.shrinker.stop()
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
