import { OperableStore } from './operable-store.js'
import { OperationUnsupportedError } from './rollback.js'
import * as soft from './soft-delete.js'

/**
 * Soft deletes (`SoftDeletes`), below `BaseTenantStore`: hiding a tenant for a grace period,
 * undoing that, purging what is due. A backend provides the mark (`softDeleteBackend`) and
 * calls {@link softDestroy} from `destroyTenant` when a grace is given; the default refuses
 * (`TENANTRY_OPERATION_UNSUPPORTED`).
 */
export abstract class SoftDeletableStore extends OperableStore implements soft.SoftDeletes {
  /** Runs `fn` with the tenant hidden in this process, after `before` and its release. */
  protected abstract hiding<R>(
    tenant: string,
    fn: () => Promise<R>,
    before?: () => Promise<void>,
  ): Promise<R>
  /** Drops the cached existence answer of `tenant`. */
  protected abstract forgetExists(tenant: string): void

  /** The backend's side of soft deletes (default: none). */
  protected softDeleteBackend(): soft.SoftDeleteBackend {
    throw new OperationUnsupportedError(this.constructor.name, 'soft-delete tenants')
  }

  /** Backends call it from `destroyTenant(tenant, { graceMs })`. */
  protected async softDestroy(tenant: string, graceMs: number): Promise<void> {
    await soft.softDestroy(this.softHost(), tenant, graceMs)
  }

  /** `TenantDeletedError` when a soft delete holds the name (backends call it before a create). */
  protected async refuseDeleted(tenant: string): Promise<void> {
    const d = await this.deletedMark(tenant)
    if (d !== undefined) throw new soft.TenantDeletedError(tenant, d.purgeAt)
  }

  protected override async deletedMark(tenant: string): Promise<soft.DeletedTenant | undefined> {
    let backend: soft.SoftDeleteBackend
    try {
      backend = this.softDeleteBackend()
    } catch {
      return undefined // a store without soft deletes holds no names
    }
    return await backend.get(tenant)
  }

  undestroyTenant(tenant: string): Promise<void> {
    return soft.undestroy(this.softHost(), tenant)
  }

  async listDeleted(): Promise<soft.DeletedTenant[]> {
    const all = await this.softDeleteBackend().list()
    return all.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0))
  }

  purgeExpired(options?: soft.PurgeExpiredOptions): Promise<soft.PurgeResult[]> {
    return soft.purgeExpired(this.softHost(), options)
  }

  private softHost(): soft.SoftDeleteHost {
    return {
      lifecycle: this.lifecycle,
      backend: () => this.softDeleteBackend(),
      validate: (t) => this.tenancy.validateName(t),
      exists: (t) => this.exists(t),
      hiding: (t, purgeAt, fn) =>
        this.hiding(t, fn, () => this.lifecycle.emit('deleting', { tenant: t, purgeAt })),
      forget: (t) => this.forgetExists(t),
    }
  }
}
