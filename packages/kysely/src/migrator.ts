// Kysely's migration API, the same on Kysely 0.28 and 0.29. Kysely 0.29 moved it from `kysely`
// to `kysely/migration` (its root exports of these names are type errors); 0.28 has only the
// root. The backends import the Migrator from here, and public types are declared here
// structurally, so that neither our JavaScript nor our .d.ts names a path one version lacks.

import type { Kysely } from 'kysely'
import * as kysely from 'kysely'

/** One migration, as Kysely defines it (`up`, optional `down`). */
export interface Migration {
  /** Applies the migration. */
  up(db: Kysely<any>): Promise<void>
  /** Reverts it (optional). */
  down?(db: Kysely<any>): Promise<void>
}

/** Kysely's `MigrationProvider`: returns every migration by name. */
export interface MigrationProvider {
  /** All migrations, old and new. */
  getMigrations(): Promise<Record<string, Migration>>
}

/** One entry of {@link Migrator.getMigrations}. */
export interface MigrationInfo {
  /** The migration's name. */
  name: string
  /** The migration. */
  migration: Migration
  /** When it was applied; `undefined` while pending. */
  executedAt?: Date | undefined
}

/** One migration's outcome in a {@link MigrationResultSet}. */
export interface MigrationResult {
  /** The migration's name. */
  readonly migrationName: string
  /** Which way it ran. */
  readonly direction: 'Up' | 'Down'
  /** Whether it ran, failed or was not reached. */
  readonly status: 'Success' | 'Error' | 'NotExecuted'
}

/** What a Kysely migration run returns. */
export interface MigrationResultSet {
  /** Set when something failed. */
  readonly error?: unknown
  /** Each migration's outcome. */
  readonly results?: MigrationResult[]
}

/** Options of the {@link Migrator} constructor (the subset tenantry uses). */
export interface MigratorProps {
  /** The database the migrations run on. */
  readonly db: Kysely<any>
  /** Where the migrations come from. */
  readonly provider: MigrationProvider
  /** Kysely's `migrationTableName`. */
  readonly migrationTableName?: string
  /** Kysely's `migrationLockTableName`. */
  readonly migrationLockTableName?: string
  /** Kysely's `migrationTableSchema`. */
  readonly migrationTableSchema?: string
  /** Kysely's `allowUnorderedMigrations`. */
  readonly allowUnorderedMigrations?: boolean
  /** Run without Kysely's own transaction (the caller holds one). */
  readonly disableTransactions?: boolean
}

/** Kysely's target "before the first migration" (Kysely tests the flag, not the identity). */
export interface NoMigrations {
  /** Always `true`. */
  readonly __noMigrations__: true
}

/** `migrateTo(NO_MIGRATIONS)` undoes every migration, as Kysely's own constant. */
export const NO_MIGRATIONS: NoMigrations = Object.freeze({ __noMigrations__: true })

/** The members of Kysely's `Migrator` that tenantry uses. */
interface KyselyMigrator {
  getMigrations(): Promise<ReadonlyArray<MigrationInfo>>
  migrateToLatest(): Promise<MigrationResultSet>
  migrateTo(target: string | NoMigrations): Promise<MigrationResultSet>
}
type KyselyMigratorClass = new (props: MigratorProps) => KyselyMigrator

const root = kysely as unknown as { Migrator?: KyselyMigratorClass }
// A variable specifier: Kysely 0.28 has no `kysely/migration`, so it must not be resolved
// when this file is typechecked or bundled against 0.28.
const subpath = 'kysely/migration'
let kyselyMigrator: Promise<KyselyMigratorClass> | undefined

/** Kysely's `Migrator` class, from `kysely` (0.28) or `kysely/migration` (0.29), loaded once. */
function loadMigrator(): Promise<KyselyMigratorClass> {
  kyselyMigrator ??=
    typeof root.Migrator === 'function'
      ? Promise.resolve(root.Migrator)
      : import(subpath).then((m: { Migrator: KyselyMigratorClass }) => m.Migrator)
  return kyselyMigrator
}

/**
 * Kysely's `Migrator` on either Kysely version: the same constructor options, and the
 * methods tenantry uses, each delegating to Kysely's own class. (No top-level `await`: loaders
 * that compile to CommonJS, such as jiti for a `tenantry.config.ts`, cannot run it.)
 */
export class Migrator {
  private readonly inner: Promise<KyselyMigrator>

  constructor(props: MigratorProps) {
    this.inner = loadMigrator().then((Class) => new Class(props))
    this.inner.catch(() => {}) // reported by the first method call
  }

  /** Every migration with its applied time. */
  async getMigrations(): Promise<ReadonlyArray<MigrationInfo>> {
    return (await this.inner).getMigrations()
  }

  /** Applies every pending migration. */
  async migrateToLatest(): Promise<MigrationResultSet> {
    return (await this.inner).migrateToLatest()
  }

  /** Migrates up or down to `target` (a migration's name, or {@link NO_MIGRATIONS}). */
  async migrateTo(target: string | NoMigrations): Promise<MigrationResultSet> {
    return (await this.inner).migrateTo(target)
  }
}
