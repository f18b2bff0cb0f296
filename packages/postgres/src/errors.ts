import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_SCHEMA_NAME: true
  }
}

/** A tenant's schema name is unusable: it clashes with another schema the store relies on. */
export class SchemaNameError extends TenantryError {
  /** The tenant whose schema name is unusable. */
  readonly tenant: string
  /** The schema name it would have had. */
  readonly schema: string

  constructor(tenant: string, schema: string, reason: string) {
    super(
      'TENANTRY_SCHEMA_NAME',
      `Tenant "${tenant}" would live in schema "${schema}", but ${reason}. Choose another tenant name or schemaPrefix.`,
    )
    this.tenant = tenant
    this.schema = schema
  }
}
