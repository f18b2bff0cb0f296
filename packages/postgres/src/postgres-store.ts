import { BaseTenantStore } from '@tenantry/kysely'
import type { Kysely, PostgresPool } from 'kysely'
import pg from 'pg'
import { PostgresCentral } from './central.js'
import { guardPool } from './faults.js'
import { AdvisoryLocks } from './lock.js'
import { MigrationSet } from './migrations.js'
import type { PostgresStoreOptions } from './types.js'

/**
 * What the PostgreSQL stores share beyond the kit: one guarded pool (made or borrowed), the
 * advisory locks on it, the central schema, and the handles handed to the core.
 */
export abstract class PostgresBaseStore<DB, CentralDB> extends BaseTenantStore<DB, CentralDB> {
  /** The pool this store's registry (and the central schema) live on. */
  readonly pool: pg.Pool
  protected readonly locks: AdvisoryLocks
  /** Tenants with a handle handed to the core (refreshed on close). */
  protected readonly opened = new Set<string>()
  private readonly ownsPool: boolean
  private readonly centralDb: PostgresCentral<CentralDB>

  constructor(
    options: PostgresStoreOptions,
    where: { registrySchema: string; centralSchema: string },
  ) {
    super(options, { cap: 1000 })
    this.ownsPool = options.pool === undefined
    // No client error may crash the process (pg-pool leaves checked-out clients unguarded).
    this.pool = guardPool(
      options.pool ??
        new pg.Pool({ connectionString: options.connectionString, max: options.poolMax ?? 10 }),
    )
    this.locks = new AdvisoryLocks(this.pool, this.lockTimeoutMs)
    this.centralDb = new PostgresCentral<CentralDB>({
      schema: where.centralSchema,
      registry: where.registrySchema,
      migrations:
        options.centralMigrations === undefined
          ? undefined
          : // The central schema may be `public`, next to the app's own Kysely migrator.
            new MigrationSet(options.centralMigrations, { table: 'tenantry_migration' }),
      locks: this.locks,
      lockTimeoutMs: this.lockTimeoutMs,
      log: options.log,
      pool: (before) => this.borrowedPool(before),
    })
  }

  /** The pool as Kysely sees it: `end()` is ours, and `before` runs before each connection. */
  protected borrowedPool(before?: () => Promise<unknown>): PostgresPool {
    return {
      connect: async () => {
        if (before !== undefined) await before()
        return (await this.pool.connect()) as never
      },
      end: async () => {},
    }
  }

  protected dispose(_db: Kysely<DB>, tenant: string | undefined): void | Promise<void> {
    if (tenant !== undefined) this.opened.delete(tenant)
  }

  protected openTenants(): Iterable<string> {
    return this.opened
  }

  get central(): Kysely<CentralDB> {
    return this.centralDb.kysely
  }

  migrateCentral(): Promise<string[]> {
    return this.centralDb.migrate()
  }

  override async close(): Promise<void> {
    if (!this.closed) await super.close()
  }

  /** Closes what the backend opened beyond the pool (before the pool ends). */
  protected async closeBackend(): Promise<void> {}

  protected async shutdown(): Promise<void> {
    await this.closeBackend()
    await this.centralDb.close()
    if (this.ownsPool) await this.pool.end()
  }
}
