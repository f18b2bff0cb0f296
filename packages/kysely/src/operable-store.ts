import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { type Tenancy, TenantLifecycle, UnknownTenantError } from '@tenantry/context'
import type { ArchiveManifest } from './archive/format.js'
import type { ArchiveBackend } from './archive/operations.js'
import { backupPath, pruneBackups } from './backup-dir.js'
import * as ops from './operations.js'
import { OperationUnsupportedError } from './rollback.js'
import { runSeeds, type Seed } from './seeds.js'
import type { DeletedTenant } from './soft-delete.js'
import type { TenantMigrationResult } from './tenant-store.js'

/**
 * The tenant operations of every store (`TenantOperations`), below `BaseTenantStore`: the
 * lifecycle events and the hooks backends call to emit them, backups, restores, exports,
 * clones, purges, rollbacks, seeds. A backend provides its archive side and its rollback; the
 * defaults refuse (`TENANTRY_OPERATION_UNSUPPORTED`).
 */
export abstract class OperableStore implements ops.TenantOperations {
  /** The tenant lifecycle events resources subscribe to, and the file sets backups carry. */
  readonly lifecycle = new TenantLifecycle()
  protected abstract tenancy: Tenancy
  abstract exists(tenant: string): boolean | Promise<boolean>
  /** Hides `tenant` in this process and releases its instances; returns the unhide function. */
  protected abstract hide(tenant: string): Promise<() => void>

  /** The backend's side of backups, restores, exports and imports (default: none). */
  protected archiveBackend(): ArchiveBackend {
    throw new OperationUnsupportedError(this.constructor.name, 'back up, restore or export tenants')
  }

  /** Undoes the tenant's last `steps` migrations under its lock; returns their names. */
  protected async rollback(_tenant: string, _steps: number): Promise<string[]> {
    throw new OperationUnsupportedError(this.constructor.name, 'roll back migrations')
  }

  /** Backends call it inside their lock, before building a tenant: leftovers of the name go. */
  protected creating(tenant: string): Promise<void> {
    return this.lifecycle.emit('creating', { tenant })
  }

  /**
   * Backends call it once a tenant's data is gone for every process, under the tenant's lock:
   * resources remove what they hold (`destroyed`).
   */
  protected destroyed(tenant: string): Promise<void> {
    return this.lifecycle.emit('destroyed', { tenant })
  }

  /** Emits `migrated` when something was applied; returns the result unchanged. */
  protected async migrated(result: TenantMigrationResult): Promise<TenantMigrationResult> {
    if (result.applied.length > 0)
      await this.lifecycle.emit('migrated', { tenant: result.tenant, applied: result.applied })
    return result
  }

  /** The soft-delete mark of `tenant` (restores refuse a held name); default none. */
  protected async deletedMark(_tenant: string): Promise<DeletedTenant | undefined> {
    return undefined
  }

  /** Where snapshots are copied while archives are written; backends may put it beside the data. */
  protected scratchDir(): string {
    return join(tmpdir(), 'tenantry-scratch')
  }

  // --- operations (each documented on TenantOperations) ---------------------------------------

  private opsHost(): ops.OperationsHost {
    return {
      lifecycle: this.lifecycle,
      tenancy: this.tenancy,
      archive: () => this.archiveBackend(),
      exists: (t) => this.exists(t),
      tempDir: () => this.scratchDir(),
      deleted: (t) => this.deletedMark(t),
    }
  }

  backupTenant(
    tenant: string,
    dest: string | Writable,
    options?: ops.ArchiveOptions,
  ): Promise<ArchiveManifest> {
    return ops.backupTenant(this.opsHost(), tenant, dest, options)
  }

  async backupTenantToDir(
    tenant: string,
    dir: string,
    options: ops.ArchiveOptions & { keep?: number | undefined } = {},
  ): Promise<string> {
    const file = backupPath(dir, this.tenancy.validateName(tenant))
    await this.backupTenant(tenant, file, options)
    if (options.keep !== undefined) await pruneBackups(dir, tenant, options.keep)
    return file
  }

  exportTenant(
    tenant: string,
    dest: string | Writable,
    options?: ops.ArchiveOptions,
  ): Promise<ArchiveManifest> {
    return ops.backupTenant(this.opsHost(), tenant, dest, options, 'export')
  }

  restoreTenant(
    source: string | Readable,
    options?: ops.RestoreOptions,
  ): Promise<ops.RestoreResult> {
    return ops.restoreTenant(this.opsHost(), source, options)
  }

  importTenant(
    source: string | Readable,
    options?: ops.RestoreOptions,
  ): Promise<ops.RestoreResult> {
    return ops.restoreTenant(this.opsHost(), source, options)
  }

  cloneTenant(
    from: string,
    to: string,
    options?: { force?: boolean | undefined },
  ): Promise<ops.RestoreResult> {
    return ops.cloneTenant(this.opsHost(), from, to, options)
  }

  purgeTenant(tenant: string): Promise<void> {
    return ops.purgeTenant(this.opsHost(), tenant)
  }

  async rollbackTenant(
    tenant: string,
    options: { steps?: number | undefined } = {},
  ): Promise<{ tenant: string; rolledBack: string[] }> {
    if (!(await this.exists(tenant))) throw new UnknownTenantError(tenant)
    const rolledBack = await this.rollback(tenant, options.steps ?? 1)
    // Handles opened at the old schema would pass the stamp check no more: drop them.
    if (rolledBack.length > 0) await this.tenancy.refreshTenant(tenant)
    return { tenant, rolledBack }
  }

  seedTenant(tenant: string, seeds: Readonly<Record<string, Seed>>): Promise<string[]> {
    return this.inTenant(tenant, () => runSeeds(this.tenancy, tenant, seeds))
  }

  inTenant<R>(tenant: string, fn: () => R | PromiseLike<R>): Promise<Awaited<R>> {
    return this.tenancy.withTenant(tenant, () => fn(), { allowSwitch: true })
  }
}
