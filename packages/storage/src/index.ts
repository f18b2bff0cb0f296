/**
 * @tenantry/storage — per-tenant file storage under `root/tenants/{tenant}/files`, with no way
 * out of the tenant's folder.
 */
export { StorageNotFoundError, StoragePathError } from './errors.js'
export { type AttachStorageOptions, attachStorage } from './lifecycle.js'
export { LocalStorage, type LocalStorageOptions } from './local.js'
export { checkKey, checkTenantSegment, tenantFilesDir } from './paths.js'
export {
  destroyTenantFiles,
  type LocalStorageResourceOptions,
  localStorageResource,
} from './resource.js'
export type { Storage, StorageData, StorageStat } from './types.js'
