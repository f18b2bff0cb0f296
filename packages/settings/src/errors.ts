import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_SETTINGS_INVALID: true
    TENANTRY_SETTINGS_TABLE: true
  }
}

/** A settings update was refused: unknown key, wrong type, or the app's `validate` said no. */
export class SettingsValidationError extends TenantryError {
  /** 400: settings patches usually come from an admin request. */
  override readonly statusCode = 400
  /** The offending key, when one key is to blame. */
  readonly key: string | undefined

  constructor(message: string, key?: string) {
    super('TENANTRY_SETTINGS_INVALID', message)
    this.key = key
  }
}

/** The tenant database has no `tenantry_settings` table: the migration was not added. */
export class SettingsTableError extends TenantryError {
  /** The tenant whose database lacks the table. */
  readonly tenant: string

  constructor(tenant: string, options?: ErrorOptions) {
    super(
      'TENANTRY_SETTINGS_TABLE',
      `Tenant "${tenant}" has no ${'tenantry_settings'} table. Add settingsMigrations from @tenantry/settings to your tenant migrations and migrate the tenant.`,
      options,
    )
    this.tenant = tenant
  }
}
