/**
 * @tenantry/settings — typed per-tenant settings stored in the tenant's database, loaded when
 * the tenant is entered, and refreshed (with everything built from them) when they change.
 */
export { SettingsTableError, SettingsValidationError } from './errors.js'
export { attachSettings } from './lifecycle.js'
export { SETTINGS_TABLE, settingsMigration, settingsMigrations } from './migration.js'
export {
  type DefineSettingsOptions,
  defineSettings,
  getSettings,
  type JsonValue,
  type SettingsDefinition,
  type SettingsShape,
  type SettingsValues,
  TenantSettings,
  updateSettings,
} from './settings.js'
