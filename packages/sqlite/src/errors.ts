import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_ATTACH_REFUSED: true
    TENANTRY_TENANT_PATH: true
  }
}

// The store errors every backend throws live in the store kit (same classes, same codes);
// `lock.ts` takes the busy error from here.
export { PendingMigrationsError, TenantBusyError, TenantExistsError } from '@tenantry/kysely'

/** A statement that reaches other database files (ATTACH, VACUUM INTO) ran on a tenant handle. */
export class AttachRefusedError extends TenantryError {
  constructor(statement: string) {
    super(
      'TENANTRY_ATTACH_REFUSED',
      `${statement} is refused on tenant databases: a tenant must never reach another file. Use the central database (store.central) for cross-tenant work.`,
    )
  }
}

/** A computed tenant path would leave the store's root (a bad path template or naming rule). */
export class TenantPathError extends TenantryError {
  /** The tenant whose path was refused. */
  readonly tenant: string

  constructor(tenant: string, reason: string) {
    super(
      'TENANTRY_TENANT_PATH',
      `Refusing the path of tenant ${JSON.stringify(tenant).slice(0, 80)}: ${reason}. Check the path template and the naming rule.`,
    )
    this.tenant = tenant
  }
}
