import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_SCHEMA_NAME: true
  }
}

/** A tenant's schema name is unusable: it clashes with another schema the store relies on. */
export class SchemaNameError extends TenantryError {
  constructor(tenant: string, schema: string, reason: string) {
    super(
      'TENANTRY_SCHEMA_NAME',
      `Tenant "${tenant}" would live in schema "${schema}", but ${reason}. Choose another tenant name or schemaPrefix.`,
    )
  }
}
