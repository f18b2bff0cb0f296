export type { MigrationsOption } from '@tenantry/kysely'

import {
  type Migration,
  MigrationFailedError,
  type MigrationsOption,
  MigrationVersion,
  RollbackFailedError,
  RollbackRefusedError,
} from '@tenantry/kysely'
import { type Kysely, Kysely as KyselyClass, type KyselyPlugin, type PostgresPool } from 'kysely'
import type pg from 'pg'
import { faultError, guardClient } from './faults.js'
import { SchemaDialect } from './introspector.js'
import { quoteIdent } from './naming.js'

/** Where one migration set keeps its record of applied migrations. */
export interface MigrationTables {
  /** The record table in the migrated schema; default `kysely_migration` (Kysely's own). */
  table?: string
  /** Unused: the caller's advisory lock replaces Kysely's lock table. */
  lockTable?: string
}

/**
 * A Kysely bound to one checked-out client (already inside the caller's transaction) and to
 * `schema`: what the migrations run on, so schema creation, every migration and the registry
 * update commit or roll back together.
 */
export function kyselyOnClient(client: pg.PoolClient, schema: string): Kysely<any> {
  const borrowed = {
    query: client.query.bind(client),
    release() {}, // the caller owns the client
  }
  const pool: PostgresPool = {
    connect: async () => borrowed as never,
    end: async () => {},
  }
  return new KyselyClass<any>({ dialect: new SchemaDialect(pool, schema) }).withSchema(schema)
}

interface Resolved {
  names: string[]
  byName: Map<string, Migration>
}

/**
 * One migration set, its version stamp (kept in the registry row: a matching stamp means current
 * without any query) and its record of applied migrations.
 *
 * The record is a table in the migrated schema with Kysely's layout (`name` primary key,
 * `timestamp`), so schemas migrated by Kysely's `Migrator` and by this class read alike. Unlike
 * the `Migrator`, this class never introspects the catalog: finding the record is one
 * `to_regclass` (an index lookup on `pg_class (relname, relnamespace)`) and reading it one scan
 * of a few rows, whatever the number of schemas in the database. Its locking is the caller's
 * (the tenant's advisory lock), so tenants migrate in parallel.
 */
export class MigrationSet extends MigrationVersion {
  private readonly table: string
  private resolved: Promise<Resolved> | undefined

  constructor(migrations: MigrationsOption, tables: MigrationTables = {}) {
    super(migrations)
    this.table = tables.table ?? 'kysely_migration'
  }

  /** The migrations in the order they apply: by name, as Kysely's `Migrator` sorts them. */
  private resolve(): Promise<Resolved> {
    const load = async (): Promise<Resolved> => {
      const all = await this.provider.getMigrations()
      return { names: Object.keys(all).sort(), byName: new Map(Object.entries(all)) }
    }
    // A record of migrations is fixed; a custom provider may change between calls.
    if (this.cached === undefined) return load()
    this.resolved ??= load()
    return this.resolved
  }

  private recordTable(schema: string): string {
    return `${quoteIdent(schema)}.${quoteIdent(this.table)}`
  }

  /** Names applied to `schema`, in the order they ran; undefined when it has no record yet. */
  async applied(client: pg.ClientBase, schema: string): Promise<string[] | undefined> {
    const record = this.recordTable(schema)
    const { rows } = await client.query<{ t: string | null }>('select to_regclass($1) as t', [
      record,
    ])
    if (rows[0]?.t == null) return undefined
    const done = await client.query<{ name: string; timestamp: string }>(
      `select name, timestamp from ${record}`,
    )
    // Kysely's order (kysely #843): by time, then name.
    return done.rows
      .sort((a, b) =>
        a.timestamp === b.timestamp
          ? a.name.localeCompare(b.name)
          : Date.parse(a.timestamp) - Date.parse(b.timestamp),
      )
      .map((r) => r.name)
  }

  /** The same bookkeeping for only the migrations named (an archive's, to load its rows). */
  async subset(names: readonly string[]): Promise<MigrationSet> {
    const { byName } = await this.resolve()
    const some: Record<string, Migration> = {}
    for (const n of names) some[n] = byName.get(n)!
    return new MigrationSet(some, { table: this.table })
  }

  /**
   * Undoes the last `steps` applied migrations of `schema` with their `down` (inside the
   * caller's locked transaction), refusing up front when one has none. Returns the names undone.
   */
  async rollback(
    client: pg.PoolClient,
    schema: string,
    steps: number,
    who: string,
  ): Promise<string[]> {
    const { byName } = await this.resolve()
    const undo = ((await this.applied(client, schema)) ?? []).slice(-steps).reverse()
    const missing = undo.filter((n) => typeof byName.get(n)?.down !== 'function')
    if (missing.length > 0)
      throw new RollbackRefusedError(
        who,
        `Cannot roll back tenant "${who}": migration ${missing.join(', ')} has no down(); nothing was undone.`,
      )
    const db = kyselyOnClient(client, schema)
    for (const name of undo) {
      try {
        await byName.get(name)!.down!(db)
      } catch (error) {
        throw faultError(error, 'rolling back', who) ?? new RollbackFailedError(who, name, error)
      }
      await client.query(`delete from ${this.recordTable(schema)} where name = $1`, [name])
    }
    return undo
  }

  /** Names of applied and pending migrations in `schema`. */
  async status(
    client: pg.ClientBase,
    schema: string,
  ): Promise<{ applied: string[]; pending: string[] }> {
    const [{ names }, applied = []] = await Promise.all([
      this.resolve(),
      this.applied(client, schema),
    ])
    return { applied, pending: names.filter((n) => !applied.includes(n)) }
  }

  /**
   * Applies every pending migration on `client`, inside the caller's transaction (which holds
   * the schema's lock). `fresh`: the caller just created the schema, so there is no record to
   * read; `plugins` are added to the Kysely the migrations get. Returns the names applied now. A failing migration throws `MigrationFailedError`; a
   * lost connection, a failover or a full lock table throw their own errors instead (the
   * migration itself was fine).
   */
  async migrate(
    client: pg.PoolClient,
    schema: string,
    who: string,
    options: { fresh?: boolean; plugins?: readonly KyselyPlugin[] } = {},
  ): Promise<string[]> {
    const tenant = who === 'central' ? undefined : who
    const what = tenant === undefined ? 'migrating the central schema' : 'migrating'
    let current: string | undefined
    // A backend terminated while a migration awaits something else must not crash the process.
    guardClient(client)
    try {
      const { names, byName } = await this.resolve()
      const applied = options.fresh ? undefined : await this.applied(client, schema)
      if (applied === undefined)
        await client.query(
          `create table ${this.recordTable(schema)} (name varchar(255) not null primary key, timestamp varchar(255) not null)`,
        )
      const done = applied ?? []
      const problem = orderProblem(names, done)
      if (problem !== undefined) throw new MigrationFailedError(who, undefined, problem)
      const pending = names.slice(done.length)
      if (pending.length === 0) return []
      let db = kyselyOnClient(client, schema)
      for (const plugin of options.plugins ?? []) db = db.withPlugin(plugin)
      for (const name of pending) {
        current = name
        await byName.get(name)!.up(db)
        await client.query(`insert into ${this.recordTable(schema)} values ($1, $2)`, [
          name,
          new Date().toISOString(),
        ])
      }
      return pending
    } catch (error) {
      throw (
        faultError(error, what, tenant) ??
        (error instanceof MigrationFailedError
          ? error
          : new MigrationFailedError(who, current, error))
      )
    }
  }
}

/** Kysely's rules: every applied migration still exists, and they are the first ones by name. */
function orderProblem(names: string[], applied: string[]): string | undefined {
  for (const name of applied)
    if (!names.includes(name))
      return `corrupted migrations: previously executed migration ${name} is missing`
  const i = applied.findIndex((name, i) => names[i] !== name)
  if (i >= 0)
    return `corrupted migrations: expected previously executed migration ${applied[i]} to be at index ${i} but ${names[i]} was found in its place. New migrations must always have a name that comes alphabetically after the last executed migration.`
  return undefined
}
