import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { PassThrough, type Readable, type Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import {
  type Tenancy,
  type TenantLifecycle,
  TenantryError,
  UnknownTenantError,
} from '@tenantry/context'
import type { ArchiveManifest } from './archive/format.js'
import { type ArchiveBackend, exportArchive, importArchive } from './archive/operations.js'
import type { ArchiveProgress } from './archive/write.js'
import { partialName } from './partial-backups.js'
import type { Seed } from './seeds.js'
import { type DeletedTenant, TenantDeletedError } from './soft-delete.js'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_TENANT_STILL_EXISTS: true
  }
}

/** `purgeTenant` was asked to remove the leftovers of a tenant that still exists. */
export class TenantStillExistsError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string) {
    super(
      'TENANTRY_TENANT_STILL_EXISTS',
      `Tenant "${tenant}" still exists; purging removes only what a destroyed tenant left behind. Destroy it first.`,
    )
    this.tenant = tenant
  }
}

/** Options of `backupTenant` and `exportTenant`. */
export interface ArchiveOptions {
  /** Called as entries are written. */
  onProgress?: ((p: ArchiveProgress) => void) | undefined
}

/** Options of `restoreTenant` (and `importTenant`). */
export interface RestoreOptions {
  /** The tenant to restore into; default the archive's own name. */
  as?: string | undefined
  /** Replace an existing tenant of that name (otherwise `TenantExistsError`). */
  force?: boolean | undefined
  onProgress?: ((p: ArchiveProgress) => void) | undefined
}

/** What a restore or import made. */
export interface RestoreResult {
  /** The tenant restored into. */
  tenant: string
  /** The archive's manifest (its tenant, backend, migrations). */
  manifest: ArchiveManifest
}

/** What the operations need from a store (the base store provides it). */
export interface OperationsHost {
  readonly lifecycle: TenantLifecycle
  readonly tenancy: Tenancy
  archive(): ArchiveBackend
  exists(tenant: string): boolean | Promise<boolean>
  /** Where snapshot images are written while archives are made. */
  tempDir(): string
  /** The tenant's soft-delete mark: a restore must not take a name a soft delete holds. */
  deleted?(tenant: string): Promise<DeletedTenant | undefined>
}

/**
 * Writes a backup of `tenant` (database and file sets) to `dest`: a file path or a stream.
 * A path is written as `<dest>.partial-<pid>-<hex>` and renamed when complete and flushed, so a backup
 * interrupted (even by kill -9) never looks like a finished one.
 */
export async function backupTenant(
  host: OperationsHost,
  tenant: string,
  dest: string | Writable,
  options: ArchiveOptions = {},
  kind: 'backup' | 'export' = 'backup',
): Promise<ArchiveManifest> {
  host.tenancy.validateName(tenant)
  if (!(await host.exists(tenant))) throw new UnknownTenantError(tenant)
  const run = (out: Writable) =>
    exportArchive(host.archive(), tenant, out, {
      kind,
      fileSets: host.lifecycle.files(),
      tempDir: host.tempDir(),
      onProgress: options.onProgress,
    })
  if (typeof dest !== 'string') return await run(dest)
  await mkdir(dirname(dest), { recursive: true })
  const partial = partialName(dest, randomBytes(4).toString('hex')) // names its writer: see doctor
  try {
    const out = createWriteStream(partial, { mode: 0o600 })
    const manifest = await run(out)
    await finished(out)
    const fd = await open(partial, 'r')
    await fd.sync().finally(() => fd.close())
    await rename(partial, dest)
    return manifest
  } catch (error) {
    await rm(partial, { force: true })
    throw error
  }
}

/**
 * Restores a tenant from a backup or export (a file path or a stream): loaded and verified in
 * a staging area first, visible only when whole. A new tenant's leftovers are removed first
 * (`creating`); afterwards `restored` is emitted, and `moved` when the archive came from
 * another backend.
 */
export async function restoreTenant(
  host: OperationsHost,
  source: string | Readable,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const input = typeof source === 'string' ? createReadStream(source) : source
  const backend = host.archive()
  const result = await importArchive(backend, input, {
    as: options.as,
    force: options.force,
    fileSets: host.lifecycle.files(),
    validateName: (t) => host.tenancy.validateName(t),
    onProgress: options.onProgress,
    beforeStage: async (tenant) => {
      const held = await host.deleted?.(tenant)
      if (held !== undefined) throw new TenantDeletedError(tenant, held.purgeAt)
      if (!(await host.exists(tenant))) await host.lifecycle.emit('creating', { tenant })
    },
  })
  await host.lifecycle.emit('restored', { tenant: result.tenant, from: result.manifest.tenant })
  if (result.manifest.backend !== backend.kind)
    await host.lifecycle.emit('moved', { tenant: result.tenant, from: result.manifest.backend })
  return { tenant: result.tenant, manifest: result.manifest }
}

/** Copies tenant `from` into a new tenant `to` (database rows and file sets) in one pass. */
export async function cloneTenant(
  host: OperationsHost,
  from: string,
  to: string,
  options: { force?: boolean | undefined } = {},
): Promise<RestoreResult> {
  host.tenancy.validateName(to)
  const pipe = new PassThrough()
  const writing = backupTenant(host, from, pipe, {}, 'export')
  const reading = restoreTenant(host, pipe, { as: to, force: options.force })
  const [w, r] = await Promise.allSettled([writing, reading])
  if (w.status === 'rejected') {
    pipe.destroy()
    throw w.reason
  }
  if (r.status === 'rejected') throw r.reason
  return r.value
}

/**
 * Removes what a destroyed tenant left behind (files, jobs, cache entries: the `destroyed`
 * listeners), e.g. after `TenantCleanupError`. Refuses a tenant that exists.
 */
export async function purgeTenant(host: OperationsHost, tenant: string): Promise<void> {
  host.tenancy.validateName(tenant)
  if (await host.exists(tenant)) throw new TenantStillExistsError(tenant)
  await host.lifecycle.emit('destroyed', { tenant })
}

/**
 * The tenant operations every tenantry store offers (the base store implements them over the
 * backend's archive side and lock): backups, restores, exports, imports, clones, rollbacks,
 * seeds, and running code inside a tenant.
 */
export interface TenantOperations {
  /** The lifecycle events resources subscribe to, and the file sets backups carry. */
  readonly lifecycle: TenantLifecycle
  /**
   * A consistent backup of the tenant (database and file sets) while it is written: SQLite's
   * online backup API, PostgreSQL one REPEATABLE READ snapshot. A path is written as
   * `<dest>.partial-*` and renamed when complete.
   */
  backupTenant(
    tenant: string,
    dest: string | Writable,
    options?: ArchiveOptions,
  ): Promise<ArchiveManifest>
  /** {@link backupTenant} to `dir/<tenant>/<tenant>-<stamp>.tenantry.tar`, keeping the newest `keep`. */
  backupTenantToDir(
    tenant: string,
    dir: string,
    options?: ArchiveOptions & { keep?: number | undefined },
  ): Promise<string>
  /** A portable archive (rows by table, file sets, migrations) that any backend imports. */
  exportTenant(
    tenant: string,
    dest: string | Writable,
    options?: ArchiveOptions,
  ): Promise<ArchiveManifest>
  /**
   * Restores a backup or export into a new tenant or (with `force`) over an existing one;
   * verified (checksums, integrity, migrations) before it becomes visible. Emits `restored`.
   */
  restoreTenant(source: string | Readable, options?: RestoreOptions): Promise<RestoreResult>
  /** {@link restoreTenant} of an export, typically from another backend (emits `moved` too). */
  importTenant(source: string | Readable, options?: RestoreOptions): Promise<RestoreResult>
  /** Copies a tenant (rows and file sets) into a new one. */
  cloneTenant(from: string, to: string, options?: { force?: boolean }): Promise<RestoreResult>
  /** Removes what a destroyed tenant left behind (`destroyed` listeners again). */
  purgeTenant(tenant: string): Promise<void>
  /** Undoes the tenant's last `steps` (default 1) migrations with their `down` functions. */
  rollbackTenant(
    tenant: string,
    options?: { steps?: number | undefined },
  ): Promise<{ tenant: string; rolledBack: string[] }>
  /** Runs the seeds the tenant has not run yet, once each, recorded in `tenantry_seeds`. */
  seedTenant(tenant: string, seeds: Readonly<Record<string, Seed>>): Promise<string[]>
  /** Runs `fn` inside the tenant in the store's tenancy (getters available). */
  inTenant<R>(tenant: string, fn: () => R | PromiseLike<R>): Promise<Awaited<R>>
}
