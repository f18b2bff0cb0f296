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
import {
  Kysely,
  type KyselyConfig,
  PostgresDialect,
  type PostgresPool,
  type RawBuilder,
  sql,
} from 'kysely'
import pg from 'pg'
import {
  PendingMigrationsError,
  SchemaNameError,
  TenantBusyError,
  TenantExistsError,
} from './errors.js'
import { MigrationSet, type MigrationsOption } from './migrations.js'
import { advisoryKey, checkPrefix, checkSchema, quoteIdent, schemaFor } from './naming.js'

/** Options of {@link createPostgresTenantDatabases}. */
export interface PostgresTenantDatabasesOptions {
  /** Connection string of the one shared pool (ignored when `pool` is given). */
  connectionString?: string
  /** A pool to share (this store never ends it); default: a pool made from `connectionString`. */
  pool?: pg.Pool
  /** Size of the pool this store makes; default 10. */
  poolMax?: number
  /** The tenant schema: Kysely migrations by name, or a Kysely `MigrationProvider`. */
  migrations: MigrationsOption
  /** Migrations of the central schema; when set, `install` also registers `centralDb`. */
  centralMigrations?: MigrationsOption
  /** Prefix of every tenant schema (a lower-case identifier, not `pg_`); default `t_`. */
  schemaPrefix?: string
  /** Schema of the tenant registry table `tenants`; default `tenantry`. */
  registrySchema?: string
  /** Schema of the central (untenanted) tables; default `public`. */
  centralSchema?: string
  /** Apply pending migrations when a tenant is opened instead of failing; default false. */
  migrateOnOpen?: boolean
  /** Most idle tenant handles kept (each is a `withSchema` view of one Kysely); default 1000. */
  cap?: number
  /**
   * How long a positive `exists` answer is reused without asking the registry (ms); default
   * 1000. A tenant destroyed by another process stays enterable here that long, but its
   * queries fail: its schema is gone. 0 asks on every `withTenant`.
   */
  existsCacheMs?: number
  /** How long create/migrate/destroy wait for another caller's advisory lock (ms); default 60000. */
  lockTimeoutMs?: number
  /** How long destroyTenant waits for in-flight use of the tenant (ms); default 5000. */
  releaseTimeoutMs?: number
  /** Kysely's `log` option for the shared instance (tenant and central queries). */
  log?: KyselyConfig['log']
  /** The tenancy used for name rules, releasing handles and `withEachTenant`; default: shared. */
  tenancy?: Tenancy
}

/**
 * Per-tenant PostgreSQL schemas behind the same interface as `@tenantry/sqlite`'s
 * `TenantDatabases`: the tenant lifecycle, the `db` resource and the central schema.
 */
export interface PostgresTenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The one pool every tenant shares. */
  readonly pool: pg.Pool
  /** The prefix of every tenant schema. */
  readonly schemaPrefix: string
  /** The tenant's schema name (validates the tenant name). */
  schemaOf(tenant: string): string
  /** The advisory-lock key (bigint as a string) taken while the tenant is created, migrated or destroyed. */
  lockKey(tenant: string): string
  /**
   * A schema-qualified table of the current tenant for raw `sql` templates, which Kysely's
   * `withSchema` does not rewrite: ``sql`select * from ${store.table('page')}` ``.
   */
  table(name: string): RawBuilder<unknown>
}

/**
 * Creates the PostgreSQL store: one schema per tenant, one shared `pg.Pool`, queries scoped with
 * Kysely's `withSchema`. Call `install()` to serve it through `getDb()`.
 */
export function createPostgresTenantDatabases<DB, CentralDB = unknown>(
  options: PostgresTenantDatabasesOptions,
): PostgresTenantDatabases<DB, CentralDB> {
  return new PostgresTenantStore<DB, CentralDB>(options)
}

interface RegistryRow {
  ready: boolean
  migration_stamp: number | null
}

const LOCK_NOT_AVAILABLE = '55P03'

class PostgresTenantStore<DB, CentralDB> implements PostgresTenantDatabases<DB, CentralDB> {
  readonly pool: pg.Pool
  readonly resource: ResourceDefinition<Kysely<DB>>
  readonly schemaPrefix: string
  private readonly ownsPool: boolean
  private readonly registry: string
  private readonly registryTable: string
  private readonly centralSchema: string
  private readonly migrations: MigrationSet
  private readonly centralMigrations: MigrationSet | undefined
  private readonly kysely: Kysely<any>
  private readonly log: KyselyConfig['log']
  private tenancy: Tenancy
  private installed: Tenancy | undefined
  private readonly migrateOnOpen: boolean
  private readonly existsCacheMs: number
  private readonly lockTimeoutMs: number
  private readonly releaseTimeoutMs: number
  /** Tenant → until when a positive `exists` answer holds. */
  private readonly known = new Map<string, number>()
  /** Tenants being destroyed by this process: invisible already, before the schema goes. */
  private readonly destroying = new Set<string>()
  /** Tenants with an instance handed to the core (to refresh on close). */
  private readonly opened = new Set<string>()
  /** In-process queue per lock key, so waiting callers don't each hold a pooled connection. */
  private readonly queues = new Map<string, Promise<unknown>>()
  private registryReady: Promise<void> | undefined
  private centralReady: Promise<string[]> | undefined
  private centralDb: Kysely<CentralDB> | undefined
  private closed = false

  constructor(options: PostgresTenantDatabasesOptions) {
    this.schemaPrefix = checkPrefix(options.schemaPrefix ?? 't_')
    this.registry = checkSchema(options.registrySchema ?? 'tenantry', 'registrySchema')
    this.registryTable = `${quoteIdent(this.registry)}.tenants`
    this.centralSchema = checkSchema(options.centralSchema ?? 'public', 'centralSchema')
    this.migrations = new MigrationSet(options.migrations)
    this.centralMigrations =
      options.centralMigrations === undefined
        ? undefined
        : new MigrationSet(options.centralMigrations, {
            // The central schema may be `public`, next to the app's own Kysely migrator.
            table: 'tenantry_migration',
            lockTable: 'tenantry_migration_lock',
          })
    this.ownsPool = options.pool === undefined
    this.pool =
      options.pool ??
      new pg.Pool({ connectionString: options.connectionString, max: options.poolMax ?? 10 })
    this.log = options.log
    // Kysely must not end a pool it does not own: it sees a wrapper whose end() is ours.
    this.kysely = new Kysely<any>({
      dialect: new PostgresDialect({ pool: this.borrowedPool() }),
      log: this.log,
    })
    this.tenancy = options.tenancy ?? defaultTenancy
    this.migrateOnOpen = options.migrateOnOpen ?? false
    this.existsCacheMs = options.existsCacheMs ?? 1000
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000
    this.releaseTimeoutMs = options.releaseTimeoutMs ?? 5000
    this.resource = {
      create: (tenant) => this.open(tenant),
      dispose: (_db, tenant) => {
        if (tenant !== undefined) this.opened.delete(tenant)
      },
      tenantOnly: true,
      eager: true,
      cap: options.cap ?? 1000,
    }
  }

  private borrowedPool(before?: () => Promise<unknown>): PostgresPool {
    return {
      connect: async () => {
        if (before !== undefined) await before()
        return (await this.pool.connect()) as never
      },
      end: async () => {},
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

  schemaOf(tenant: string): string {
    const schema = schemaFor(this.schemaPrefix, this.tenancy.validateName(tenant))
    if (schema === this.registry || schema === this.centralSchema)
      throw new SchemaNameError(tenant, schema, 'that is the registry or central schema')
    return schema
  }

  table(name: string): RawBuilder<unknown> {
    return sql.id(this.schemaOf(this.tenancy.requireTenant()), name)
  }

  lockKey(tenant: string): string {
    return advisoryKey(this.registry, this.schemaOf(tenant))
  }

  // --- tenant source -------------------------------------------------------------------------

  exists(tenant: string): boolean | Promise<boolean> {
    this.tenancy.validateName(tenant)
    if (this.destroying.has(tenant)) return false
    const until = this.known.get(tenant)
    // Synchronous when known, so withTenant's warm path stays free of promises and queries.
    if (until !== undefined && until > Date.now()) return true
    return this.row(tenant).then((row) => {
      const ok = row?.ready === true && !this.destroying.has(tenant)
      if (ok && this.existsCacheMs > 0) this.known.set(tenant, Date.now() + this.existsCacheMs)
      else this.known.delete(tenant)
      return ok
    })
  }

  async tenantExists(tenant: string): Promise<boolean> {
    this.known.delete(tenant)
    return await this.exists(tenant)
  }

  async listTenants(): Promise<string[]> {
    await this.ensureRegistry()
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select tenant from ${this.registryTable} where prefix = $1 and ready order by tenant collate "C"`,
      [this.schemaPrefix],
    )
    const all = rows.map((r) => r.tenant)
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

  private async row(tenant: string, client?: pg.PoolClient): Promise<RegistryRow | undefined> {
    const schema = this.schemaOf(tenant)
    await this.ensureRegistry()
    const { rows } = await (client ?? this.pool).query<RegistryRow>(
      `select ready, migration_stamp from ${this.registryTable} where schema_name = $1`,
      [schema],
    )
    return rows[0]
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    const schema = this.schemaOf(tenant)
    const exists = (row: RegistryRow | undefined) => {
      if (row?.ready !== true) return false
      if (options.ifNotExists) return true
      throw new TenantExistsError(tenant)
    }
    if (exists(await this.row(tenant))) return
    await this.locked(tenant, schema, async (client) => {
      const row = await this.row(tenant, client)
      if (exists(row)) return
      if (row !== undefined) {
        // A row that never became ready: leftovers of a non-transactional step. Ours to clear.
        await client.query(`drop schema if exists ${quoteIdent(schema)} cascade`)
        await client.query(`delete from ${this.registryTable} where schema_name = $1`, [schema])
      }
      // Inside the transaction nobody else sees the row, the schema or its tables; a failure
      // rolls all of it back, and the commit makes the tenant appear whole.
      await client.query(
        `insert into ${this.registryTable} (schema_name, prefix, tenant, ready) values ($1, $2, $3, false)`,
        [schema, this.schemaPrefix, tenant],
      )
      try {
        await client.query(`create schema ${quoteIdent(schema)}`)
      } catch (error) {
        if ((error as { code?: string }).code === '42P06')
          throw new SchemaNameError(
            tenant,
            schema,
            'a schema of that name already exists outside the registry',
          )
        throw error
      }
      await this.searchPath(client, schema)
      await this.migrations.migrate(client, schema, tenant)
      await client.query(
        `update ${this.registryTable} set ready = true, migration_stamp = $2 where schema_name = $1`,
        [schema, await this.migrations.version()],
      )
    })
  }

  async destroyTenant(tenant: string): Promise<void> {
    const schema = this.schemaOf(tenant)
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    this.destroying.add(tenant)
    this.known.delete(tenant)
    try {
      await this.tenancy.releaseTenant(tenant, { timeoutMs: this.releaseTimeoutMs })
      await this.locked(tenant, schema, async (client) => {
        if ((await this.row(tenant, client))?.ready !== true) throw new UnknownTenantError(tenant)
        // One transaction: other processes see the tenant whole until the commit, then gone.
        await client.query(`drop schema if exists ${quoteIdent(schema)} cascade`)
        await client.query(`delete from ${this.registryTable} where schema_name = $1`, [schema])
      })
    } finally {
      this.destroying.delete(tenant)
      this.known.delete(tenant)
    }
  }

  // --- migrations ----------------------------------------------------------------------------

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    const schema = this.schemaOf(tenant)
    const expected = await this.migrations.version()
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    // The stamp only moves towards the current set, so a match needs no lock and no Migrator.
    if (row.migration_stamp === expected) return { tenant, applied: [] }
    return await this.locked(tenant, schema, async (client) => {
      const current = await this.row(tenant, client)
      if (current?.ready !== true) throw new UnknownTenantError(tenant)
      if (current.migration_stamp === expected) return { tenant, applied: [] }
      await this.searchPath(client, schema)
      const applied = await this.migrations.migrate(client, schema, tenant)
      await client.query(
        `update ${this.registryTable} set migration_stamp = $2 where schema_name = $1`,
        [schema, expected],
      )
      return { tenant, applied }
    })
  }

  async migrateAllTenants(options: MigrateAllOptions = {}): Promise<TenantMigrationResult[]> {
    return migrateEachTenant(await this.listTenants(), (t) => this.migrateTenant(t), options)
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const schema = this.schemaOf(tenant)
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    const client = await this.pool.connect()
    try {
      const { applied, pending } = await this.migrations.status(client, schema)
      const { rows } = await client.query<{ size: string }>(
        `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as size
           from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind in ('r', 'm', 'p')`,
        [schema],
      )
      return {
        tenant,
        location: schema,
        size: Number(rows[0]?.size ?? 0),
        migrations: applied,
        pending,
      }
    } finally {
      client.release()
    }
  }

  // --- handles -------------------------------------------------------------------------------

  /** The resource factory: checks the registry and the migration stamp, returns a schema view. */
  private async open(tenant: string): Promise<Kysely<DB>> {
    if (this.closed) throw new Error('This tenant database store is closed.')
    const schema = this.schemaOf(tenant)
    if (this.destroying.has(tenant)) throw new UnknownTenantError(tenant)
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    const expected = this.migrations.cached ?? (await this.migrations.version())
    if (row.migration_stamp !== expected) {
      const client = await this.pool.connect()
      let pending: string[]
      try {
        pending = (await this.migrations.status(client, schema)).pending
      } finally {
        client.release()
      }
      if (pending.length > 0) {
        if (!this.migrateOnOpen) throw new PendingMigrationsError(tenant, pending)
        await this.migrateTenant(tenant)
      }
    }
    this.opened.add(tenant)
    // A plugin on the shared instance: every table reference gets the schema, on any pooled
    // connection, whatever that connection's search_path.
    return this.kysely.withSchema(schema) as unknown as Kysely<DB>
  }

  // --- locking -------------------------------------------------------------------------------

  /**
   * Runs `fn` in a transaction holding the tenant's transaction-level advisory lock: it is
   * released by COMMIT or ROLLBACK, also when the process dies, and never outlives the
   * transaction on a pooled (or PgBouncer) connection.
   */
  private async locked<R>(
    tenant: string,
    schema: string,
    fn: (client: pg.PoolClient) => Promise<R>,
  ): Promise<R> {
    const key = advisoryKey(this.registry, schema)
    return await this.queued(key, () =>
      this.transaction(key, fn, () => new TenantBusyError(tenant, this.lockTimeoutMs)),
    )
  }

  private queued<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const before = this.queues.get(key) ?? Promise.resolve()
    const run = before.then(fn, fn)
    const tail = run.catch(() => {})
    this.queues.set(key, tail)
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key)
    })
    return run
  }

  private async transaction<R>(
    key: string,
    fn: (client: pg.PoolClient) => Promise<R>,
    busy: () => Error,
  ): Promise<R> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('begin')
      try {
        await client.query(
          `set local lock_timeout = ${Math.max(1, Math.round(this.lockTimeoutMs))}`,
        )
        await client.query('select pg_advisory_xact_lock($1::bigint)', [key])
        await client.query('set local lock_timeout to default')
        const result = await fn(client)
        await client.query('commit')
        return result
      } catch (error) {
        try {
          await client.query('rollback')
        } catch (rollbackError) {
          broken = rollbackError as Error
        }
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw busy()
        throw error
      }
    } finally {
      client.release(broken)
    }
  }

  /**
   * Inside the migration transaction only: unqualified names in raw SQL of migrations (and
   * foreign keys, types, functions) resolve to the tenant's schema. `SET LOCAL` ends with the
   * transaction, so the pooled connection goes back clean.
   */
  private async searchPath(client: pg.PoolClient, schema: string): Promise<void> {
    await client.query(`set local search_path to ${quoteIdent(schema)}, public`)
  }

  private ensureRegistry(): Promise<void> {
    this.registryReady ??= this.createRegistry().catch((error: unknown) => {
      this.registryReady = undefined
      throw error
    })
    return this.registryReady
  }

  private async createRegistry(): Promise<void> {
    const { rows } = await this.pool.query<{ t: string | null }>('select to_regclass($1) as t', [
      this.registryTable,
    ])
    if (rows[0]?.t != null) return
    // Concurrent `create ... if not exists` can still collide in PostgreSQL: serialise it.
    await this.transaction(
      advisoryKey(this.registry, ''),
      async (client) => {
        await client.query(`create schema if not exists ${quoteIdent(this.registry)}`)
        await client.query(`create table if not exists ${this.registryTable} (
          schema_name text primary key,
          prefix text not null,
          tenant text not null,
          ready boolean not null default false,
          migration_stamp integer,
          created_at timestamptz not null default now(),
          unique (prefix, tenant)
        )`)
      },
      () => new TenantBusyError('(registry)', this.lockTimeoutMs),
    )
  }

  // --- central -------------------------------------------------------------------------------

  get central(): Kysely<CentralDB> {
    this.centralDb ??= new Kysely<any>({
      // Every connection waits once for the central migrations; later ones find them done.
      dialect: new PostgresDialect({ pool: this.borrowedPool(() => this.centralMigrated()) }),
      log: this.log,
    }).withSchema(this.centralSchema) as unknown as Kysely<CentralDB>
    return this.centralDb
  }

  private centralMigrated(): Promise<string[]> {
    this.centralReady ??= this.migrateCentral().catch((error: unknown) => {
      this.centralReady = undefined
      throw error
    })
    return this.centralReady
  }

  async migrateCentral(): Promise<string[]> {
    const set = this.centralMigrations
    if (set === undefined) return []
    const schema = this.centralSchema
    return await this.queued(`central:${schema}`, () =>
      this.transaction(
        advisoryKey(this.registry, `central:${schema}`),
        async (client) => {
          await client.query(`create schema if not exists ${quoteIdent(schema)}`)
          await this.searchPath(client, schema)
          return await set.migrate(client, schema, 'central')
        },
        () => new TenantBusyError('(central)', this.lockTimeoutMs),
      ),
    )
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.installed?.hasResource('db'))
      for (const t of [...this.opened]) await this.installed.refreshTenant(t, ['db'])
    await this.kysely.destroy()
    await (this.centralDb as Kysely<any> | undefined)?.destroy()
    if (this.ownsPool) await this.pool.end()
  }
}
