import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { TenantFileSet } from '@tenantry/context'
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveManifest,
  ArchiveSchemaError,
  safeRelative,
  type ValueTarget,
} from './format.js'
import { type ArchiveSummary, readArchive } from './read.js'
import { type ArchiveProgress, writeArchive } from './write.js'

/** One consistent read view of a tenant, for archives. */
export interface TenantSnapshot {
  /** Migrations applied, in order. */
  readonly migrations: string[]
  /** Tables with rows to carry, parents first (migration bookkeeping excluded). */
  readonly tables: string[]
  /** Batches of a table's rows. */
  rows(table: string): AsyncIterable<Record<string, unknown>[]>
  /** Writes a consistent image of the database to `file` (SQLite only). */
  image?(file: string): Promise<void>
}

/** A tenant being loaded from an archive, invisible until {@link commit}. */
export interface TenantStage {
  /** Writes a database image (only when the backend made the archive: SQLite → SQLite). */
  database?(image: Readable): Promise<void>
  /** Inserts rows of one table. */
  rows(table: string, rows: Record<string, unknown>[]): Promise<void>
  /**
   * Applies the store's later migrations, verifies the result (integrity, migration stamp),
   * then makes the tenant visible, calling `swapFiles` once the old tenant (if replaced) is
   * hidden and before the new one is visible.
   */
  commit(swapFiles: () => Promise<void>): Promise<void>
  /** Throws the staged tenant away. */
  abort(): Promise<void>
}

/** What a backend offers the archive operations. */
export interface ArchiveBackend {
  /** What its driver binds (`sqlite`, `postgres`); also the manifest's `backend`. */
  readonly kind: ValueTarget
  /** Runs `fn` on a consistent snapshot of a ready tenant. */
  snapshot<R>(tenant: string, fn: (snapshot: TenantSnapshot) => Promise<R>): Promise<R>
  /** Opens a staging area for `tenant` (refusing an existing one unless `force`). */
  stage(
    tenant: string,
    manifest: ArchiveManifest,
    options: { force: boolean },
  ): Promise<TenantStage>
  /** The store's migration names, in order. */
  migrationNames(): Promise<string[]>
}

/** Options of {@link exportArchive}. */
export interface ExportArchiveOptions {
  /** `backup` carries a database image where the backend has one; `export` rows only. */
  kind: 'backup' | 'export'
  /** File sets to carry (the store lifecycle's). */
  fileSets: readonly TenantFileSet[]
  /** Where an image is written before it is packed (a folder on the same machine). */
  tempDir: string
  onProgress?: ((p: ArchiveProgress) => void) | undefined
}

/** Writes `tenant` as an archive to `out`, from one snapshot. */
export async function exportArchive(
  backend: ArchiveBackend,
  tenant: string,
  out: Writable,
  options: ExportArchiveOptions,
): Promise<ArchiveManifest> {
  return await backend.snapshot(tenant, async (snap) => {
    const useImage = options.kind === 'backup' && snap.image !== undefined
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      kind: options.kind,
      tenant,
      backend: backend.kind,
      createdAt: new Date().toISOString(),
      migrations: snap.migrations,
      tables: useImage ? [] : snap.tables,
      ...(useImage ? { database: 'sqlite' as const } : {}),
      fileSets: options.fileSets.map((s) => s.name),
    }
    let image: string | undefined
    if (useImage) {
      await mkdir(options.tempDir, { recursive: true })
      image = join(options.tempDir, `.tenantry-image-${randomBytes(6).toString('hex')}.sqlite3`)
      await snap.image!(image)
    }
    try {
      const sets = new Map(options.fileSets.map((s) => [s.name, s]))
      await writeArchive(
        out,
        {
          manifest,
          rows: (table) => snap.rows(table),
          databaseFile: image,
          fileDir: (set) => sets.get(set)!.dir(tenant),
        },
        options.onProgress,
      )
    } finally {
      if (image !== undefined) await rm(image, { force: true })
    }
    return manifest
  })
}

/** Options of {@link importArchive}. */
export interface ImportArchiveOptions {
  /** The tenant to create; default the archive's own name. */
  as?: string | undefined
  /** Replace an existing tenant of that name. */
  force?: boolean | undefined
  /** File sets of the target store; an archive's set the store does not have is refused. */
  fileSets: readonly TenantFileSet[]
  /** Checks the name before anything is written (the store's naming rule). */
  validateName: (tenant: string) => unknown
  /** Runs once the tenant's name is known, before anything is staged. */
  beforeStage?: ((tenant: string) => Promise<void>) | undefined
  onProgress?: ((p: ArchiveProgress) => void) | undefined
}

/**
 * Loads an archive into a staging area and makes it a tenant only once every entry was read,
 * every checksum matched and the backend verified the database: a damaged, truncated or
 * refused archive leaves nothing behind, and a process killed midway leaves only staging
 * files that are never listed as a tenant.
 */
export async function importArchive(
  backend: ArchiveBackend,
  input: Readable,
  options: ImportArchiveOptions,
): Promise<ArchiveSummary & { tenant: string }> {
  let stage: TenantStage | undefined
  let tenant = ''
  const staged = new Map<string, string>()
  const sets = new Map(options.fileSets.map((s) => [s.name, s]))
  const cleanup = async () => {
    await stage?.abort()
    for (const dir of staged.values()) await rm(dir, { recursive: true, force: true })
  }
  try {
    const summary = await readArchive(
      input,
      {
        begin: async (manifest) => {
          tenant = options.as ?? manifest.tenant
          options.validateName(tenant)
          for (const set of manifest.fileSets)
            if (!sets.has(set))
              throw new ArchiveSchemaError(
                tenant,
                `The archive carries files of "${set}", which this store does not have; attach it first (attachStorage).`,
              )
          await checkMigrations(tenant, manifest.migrations, await backend.migrationNames())
          await options.beforeStage?.(tenant)
          stage = await backend.stage(tenant, manifest, { force: options.force ?? false })
          for (const set of sets.values())
            staged.set(set.name, `${set.dir(tenant)}.restoring-${randomBytes(4).toString('hex')}`)
        },
        database: async (image) => {
          if (stage?.database === undefined)
            throw new ArchiveSchemaError(
              tenant,
              `This archive holds a SQLite database image, which a ${backend.kind} store cannot load; make a portable archive with "tenantry export".`,
            )
          await stage.database(image)
        },
        rows: (table, rows) => stage!.rows(table, rows),
        file: async (set, rel, data, mode) => {
          const file = join(staged.get(set)!, safeRelative(rel))
          await mkdir(dirname(file), { recursive: true })
          await pipeline(data, createWriteStream(file, { mode }))
        },
      },
      { target: backend.kind, onProgress: options.onProgress },
    )
    await stage!.commit(async () => {
      for (const set of sets.values()) {
        const dest = set.dir(tenant)
        await rm(dest, { recursive: true, force: true })
        const from = staged.get(set.name)!
        if (summary.manifest.fileSets.includes(set.name)) {
          await mkdir(from, { recursive: true })
          await mkdir(dirname(dest), { recursive: true })
          await rename(from, dest)
        }
      }
    })
    stage = undefined
    for (const dir of staged.values()) await rm(dir, { recursive: true, force: true })
    return { ...summary, tenant }
  } catch (error) {
    await cleanup().catch(() => {})
    throw error
  }
}

/** The archive's migrations must be the first ones of the store's, in the same order. */
async function checkMigrations(
  tenant: string,
  archived: readonly string[],
  current: readonly string[],
): Promise<void> {
  const unknown = archived.filter((m) => !current.includes(m))
  if (unknown.length > 0)
    throw new ArchiveSchemaError(
      tenant,
      `The archive was made with migrations this app does not have (${unknown.join(', ')}); import it with the app version that made it, or a later one.`,
    )
  archived.forEach((m, i) => {
    if (current[i] !== m)
      throw new ArchiveSchemaError(
        tenant,
        `The archive's migrations are not the first ones of this app's, in order (${m} is #${i + 1} there, #${current.indexOf(m) + 1} here).`,
      )
  })
}
