import { TenantBusyError } from '@tenantry/kysely'
import { Kysely, type KyselyConfig, PostgresDialect, type PostgresPool } from 'kysely'
import type { AdvisoryLocks } from './lock.js'
import { searchPath } from './lock.js'
import type { MigrationSet } from './migrations.js'
import { advisoryKey, quoteIdent } from './naming.js'

/** How the central schema is reached and migrated. */
export interface CentralOptions {
  /** The central schema (may be `public`). */
  schema: string
  /** The registry schema: the namespace of the central advisory lock. */
  registry: string
  migrations: MigrationSet | undefined
  locks: AdvisoryLocks
  lockTimeoutMs: number
  log: KyselyConfig['log']
  /** The store's pool as Kysely sees it, with a hook run before each connection is handed out. */
  pool: (before: () => Promise<unknown>) => PostgresPool
}

/**
 * The central (untenanted) schema: a Kysely instance scoped to it with `withSchema`, whose
 * every connection first waits for the central migrations (applied once per process).
 */
export class PostgresCentral<CentralDB> {
  private db: Kysely<CentralDB> | undefined
  private migrated: Promise<string[]> | undefined

  constructor(private readonly options: CentralOptions) {}

  /** The Kysely instance (made once). */
  get kysely(): Kysely<CentralDB> {
    this.db ??= new Kysely<any>({
      // Every connection waits once for the central migrations; later ones find them done.
      dialect: new PostgresDialect({ pool: this.options.pool(() => this.migrateOnce()) }),
      ...(this.options.log === undefined ? {} : { log: this.options.log }),
    }).withSchema(this.options.schema) as unknown as Kysely<CentralDB>
    return this.db
  }

  private migrateOnce(): Promise<string[]> {
    this.migrated ??= this.migrate().catch((error: unknown) => {
      this.migrated = undefined
      throw error
    })
    return this.migrated
  }

  /** Applies pending central migrations now, under the central advisory lock. */
  async migrate(): Promise<string[]> {
    const { migrations: set, schema, registry, locks, lockTimeoutMs } = this.options
    if (set === undefined) return []
    return await locks.run(
      advisoryKey(registry, `central:${schema}`),
      async (client) => {
        await client.query(`create schema if not exists ${quoteIdent(schema)}`)
        await searchPath(client, schema)
        return await set.migrate(client, schema, 'central')
      },
      () => new TenantBusyError('(central)', lockTimeoutMs),
    )
  }

  /** Ends the instance (the pool underneath is the store's). */
  async close(): Promise<void> {
    await (this.db as Kysely<any> | undefined)?.destroy()
  }
}
