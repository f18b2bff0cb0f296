import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import {
  type CreateTenantOptions,
  tenancy as defaultTenancy,
  type MigrateAllOptions,
  migrateEachTenant,
  type ResourceDefinition,
  type Tenancy,
  type TenantInfo,
  type TenantMigrationResult,
  UnknownTenantError,
} from '@tenantry/context'
import type { EachTenantDbOptions, TenantDatabaseStore } from '@tenantry/kysely'
import type Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { kyselyOver, openFile, type SqlLogger } from './connection.js'
import { PendingMigrationsError, TenantExistsError } from './errors.js'
import { guarded, unguarded } from './guard.js'
import {
  type BucketingOptions,
  Layout,
  lockFile,
  siblings,
  sqliteSidecars,
  tempFile,
} from './layout.js'
import { unlinkQuiet, withFileLock } from './lock.js'
import { MigrationSet, type MigrationsOption } from './migrations.js'

/** Options of {@link createTenantDatabases}. */
export interface TenantDatabasesOptions {
  /** The folder that holds every tenant and the central database. */
  root: string
  /** The tenant schema: Kysely migrations by name, or a Kysely `MigrationProvider`. */
  migrations: MigrationsOption
  /** Migrations of the central database; when set, `install` also registers `centralDb`. */
  centralMigrations?: MigrationsOption
  /** Tenant file path under `root`; default `tenants/{tenant}/db.sqlite3`. */
  path?: string
  /** Hash-prefix folders (`{bucket}`) for very many tenants; default off. */
  bucketing?: boolean | BucketingOptions
  /** Apply pending migrations when a tenant is opened instead of failing; default false. */
  migrateOnOpen?: boolean
  /** Most idle tenant handles kept open; default 64. */
  cap?: number
  /** Close handles idle for this long (ms); default 300000 (5 minutes). */
  idleTimeoutMs?: number
  /** How long a statement waits for another connection's write lock (ms); default 5000. */
  busyTimeoutMs?: number
  /** How long create/migrate/destroy wait for another process's lock (ms); default 60000. */
  lockTimeoutMs?: number
  /** How long destroyTenant waits for in-flight use of the tenant (ms); default 5000. */
  releaseTimeoutMs?: number
  /**
   * How long a positive `exists()` answer is reused (ms); default 1000. It keeps the file
   * system out of every `withTenant`; a tenant destroyed by *another* process stays enterable
   * here for at most this long (destroys in this process take effect at once).
   */
  existsCacheMs?: number
  /** Receives SQL log lines carrying `{ tenant }` (pino-compatible). */
  logger?: SqlLogger
  /** The tenancy used for name rules, releasing handles and `withEachTenant`; default: shared. */
  tenancy?: Tenancy
}

/** Per-tenant SQLite databases: the tenant lifecycle, the `db` resource and the central database. */
export interface TenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The folder holding everything (the central database is `root/central.sqlite3`). */
  readonly root: string
  /** The tenant's database file (validates the name; never outside `root`). */
  tenantPath(tenant: string): string
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

class SqliteTenantStore<DB, CentralDB> implements TenantDatabases<DB, CentralDB> {
  readonly root: string
  readonly resource: ResourceDefinition<Kysely<DB>>
  private readonly layout: Layout
  private readonly migrations: MigrationSet
  private readonly centralMigrations: MigrationSet | undefined
  private tenancy: Tenancy
  private readonly busyTimeoutMs: number
  private readonly lockTimeoutMs: number
  private readonly releaseTimeoutMs: number
  private readonly migrateOnOpen: boolean
  private readonly logger: SqlLogger | undefined
  /** Open tenant handles and their raw connections (closed on dispose or store close). */
  private readonly handles = new Map<Kysely<DB>, { tenant: string; raw: Database.Database }>()
  /** Tenants being destroyed by this process: invisible already, before the files go. */
  private readonly destroying = new Set<string>()
  /** Tenant → until when a positive existence check holds (see `existsCacheMs`). */
  private readonly seen = new Map<string, number>()
  private readonly existsCacheMs: number
  private installed: Tenancy | undefined
  private centralDb: Kysely<CentralDB> | undefined
  private closed = false

  constructor(options: TenantDatabasesOptions) {
    this.layout = new Layout(options.root, options.path, options.bucketing)
    this.root = this.layout.root
    this.migrations = new MigrationSet(options.migrations)
    this.centralMigrations =
      options.centralMigrations === undefined
        ? undefined
        : new MigrationSet(options.centralMigrations)
    this.tenancy = options.tenancy ?? defaultTenancy
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000
    this.releaseTimeoutMs = options.releaseTimeoutMs ?? 5000
    this.existsCacheMs = options.existsCacheMs ?? 1000
    this.migrateOnOpen = options.migrateOnOpen ?? false
    this.logger = options.logger
    this.resource = {
      create: (tenant) => this.open(tenant),
      dispose: (db) => this.closeHandle(db),
      tenantOnly: true,
      eager: true,
      cap: options.cap ?? 64,
      idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
    }
  }

  install(tenancy: Tenancy = this.tenancy): this {
    this.tenancy = tenancy
    this.installed = tenancy
    const resources: Record<string, ResourceDefinition<any>> = { db: this.resource }
    if (this.centralMigrations !== undefined) resources.centralDb = { fallback: () => this.central }
    tenancy.configure({ resources, tenants: this })
    return this
  }

  tenantPath(tenant: string): string {
    return this.layout.file(this.tenancy.validateName(tenant))
  }

  // --- tenant source -------------------------------------------------------------------------

  exists(tenant: string): boolean {
    const now = Date.now()
    const until = this.seen.get(tenant)
    if (until !== undefined && until > now && !this.destroying.has(tenant)) return true
    const file = this.tenantPath(tenant)
    const found = !this.destroying.has(tenant) && existsSync(file)
    if (found && this.existsCacheMs > 0) {
      if (this.seen.size >= 100_000) this.seen.clear() // bounded: a cache, not a registry
      this.seen.set(tenant, now + this.existsCacheMs)
    } else this.seen.delete(tenant)
    return found
  }

  async tenantExists(tenant: string): Promise<boolean> {
    return this.exists(tenant)
  }

  async listTenants(): Promise<string[]> {
    const all = await this.layout.list((name) => this.tenancy.validateName(name))
    return this.destroying.size === 0 ? all : all.filter((t) => !this.destroying.has(t))
  }

  list(): Promise<string[]> {
    return this.listTenants()
  }

  withEachTenant<R>(
    fn: (tenant: string) => R | PromiseLike<R>,
    options: EachTenantDbOptions = {},
  ): Promise<Awaited<R>[]> {
    return this.listTenants().then((tenants) =>
      this.tenancy.withEachTenant(fn, { concurrency: options.concurrency, tenants }),
    )
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
        await this.migrations.migrate(
          kyselyOver(guarded(raw, false), this.logger, { tenant }),
          tenant,
        )
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
      this.destroying.add(tenant)
      this.seen.delete(tenant)
      try {
        await this.tenancy.releaseTenant(tenant, { timeoutMs: this.releaseTimeoutMs })
        for (const h of this.handles.values()) if (h.tenant === tenant && h.raw.open) h.raw.close() // handles made outside the cache
        // The database first: from here on the tenant is gone for every process.
        for (const f of siblings(file)) if (f !== lockFile(file)) unlinkQuiet(f)
      } finally {
        this.destroying.delete(tenant)
      }
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
        const db = kyselyOver(guarded(raw, false), this.logger, { tenant })
        const applied = await this.migrations.migrate(db, tenant)
        raw.pragma(`user_version = ${expected}`)
        return { tenant, applied }
      } finally {
        raw.close()
      }
    })
  }

  async migrateAllTenants(options: MigrateAllOptions = {}): Promise<TenantMigrationResult[]> {
    return migrateEachTenant(await this.listTenants(), (t) => this.migrateTenant(t), options)
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const file = this.tenantPath(tenant)
    if (!this.exists(tenant)) throw new UnknownTenantError(tenant)
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

  // --- handles -------------------------------------------------------------------------------

  /** The resource factory: opens a ready tenant, checks its schema stamp, wraps it in Kysely. */
  private async open(tenant: string): Promise<Kysely<DB>> {
    if (this.closed) throw new Error('This tenant database store is closed.')
    const file = this.tenantPath(tenant)
    if (this.destroying.has(tenant)) throw new UnknownTenantError(tenant)
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

  private async closeHandle(db: Kysely<DB>): Promise<void> {
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

  // --- central -------------------------------------------------------------------------------

  get central(): Kysely<CentralDB> {
    if (this.centralDb !== undefined) return this.centralDb
    const file = join(this.root, 'central.sqlite3')
    this.centralDb = kyselyOver<CentralDB>(
      // Opened and migrated on the first query (Kysely calls this factory once).
      async () => {
        mkdirSync(this.root, { recursive: true })
        const raw = openFile(file, this.busyTimeoutMs, { mustExist: false })
        try {
          raw.pragma('journal_mode = WAL')
          await this.migrateCentralOn(raw, file)
        } catch (error) {
          raw.close()
          throw error
        }
        return unguarded(raw)
      },
      this.logger,
      { db: 'central' },
    )
    return this.centralDb
  }

  async migrateCentral(): Promise<string[]> {
    const file = join(this.root, 'central.sqlite3')
    mkdirSync(this.root, { recursive: true })
    const raw = openFile(file, this.busyTimeoutMs, { mustExist: false })
    try {
      raw.pragma('journal_mode = WAL')
      return await this.migrateCentralOn(raw, file)
    } finally {
      raw.close()
    }
  }

  private async migrateCentralOn(raw: Database.Database, file: string): Promise<string[]> {
    const set = this.centralMigrations
    if (set === undefined) return []
    const expected = await set.version()
    if (raw.pragma('user_version', { simple: true }) === expected) return []
    return await withFileLock(lockFile(file), 'central', this.lockTimeoutMs, async () => {
      if (raw.pragma('user_version', { simple: true }) === expected) return []
      const applied = await set.migrate(
        kyselyOver(unguarded(raw, false), this.logger, { db: 'central' }),
        'central',
      )
      raw.pragma(`user_version = ${expected}`)
      return applied
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const tenants = new Set([...this.handles.values()].map((h) => h.tenant))
    if (this.installed?.hasResource('db'))
      for (const t of tenants) await this.installed.refreshTenant(t, ['db'])
    for (const db of [...this.handles.keys()]) await this.closeHandle(db)
    await this.centralDb?.destroy()
    this.centralDb = undefined
  }
}

/** `PRAGMA user_version` straight from the file header (bytes 60–63), without opening SQLite. */
function headerVersion(file: string): number | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.alloc(4)
    return readSync(fd, buf, 0, 4, 60) === 4 ? buf.readInt32BE(0) : undefined
  } finally {
    closeSync(fd)
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir)
  } catch {
    // Not empty (other packages keep files there too) or already gone: leave it.
  }
}
