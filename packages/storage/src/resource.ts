import { lstat, rm, rmdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { ResourceDefinition } from '@tenantry/context'
import { StoragePathError } from './errors.js'
import { LocalStorage, type LocalStorageOptions } from './local.js'
import { tenantFilesDir } from './paths.js'
import type { Storage } from './types.js'

/** Options of {@link localStorageResource}. */
export interface LocalStorageResourceOptions extends LocalStorageOptions {
  /** The data root shared with the tenant databases; files go to `root/tenants/{tenant}/files`. */
  root: string
  /**
   * A folder for files used outside any tenant (shared assets). Absent (the default): the
   * resource is tenant-only, and `getStorage()` outside a tenant throws `NoTenantError`.
   */
  sharedDir?: string
}

/**
 * A resource definition for `storage`: each tenant gets a {@link LocalStorage} on
 * `root/tenants/{tenant}/files`. Instances are cheap (no open handles), so it is lazy.
 *
 * ```ts
 * configureTenancy({ resources: { storage: localStorageResource({ root: './data' }) } })
 * ```
 */
export function localStorageResource(
  options: LocalStorageResourceOptions,
): ResourceDefinition<Storage> {
  const { root, sharedDir, ...local } = options
  return {
    create: (tenant) => new LocalStorage(tenantFilesDir(root, tenant), { ...local, within: root }),
    ...(sharedDir === undefined
      ? { tenantOnly: true }
      : { fallback: () => new LocalStorage(sharedDir, local) }),
  }
}

/**
 * Deletes every file of `tenant` under `root` (its `files` folder, and the tenant folder when
 * nothing else is left in it). Call it when destroying a tenant, after `releaseTenant`.
 * The tenant name is checked as a path segment first: `..`, `%2e%2e` and the like are refused.
 */
export async function destroyTenantFiles(root: string, tenant: string): Promise<void> {
  const dir = tenantFilesDir(root, tenant)
  const tenantDir = dirname(dir)
  for (const p of [join(root, 'tenants'), tenantDir]) {
    try {
      if ((await lstat(p)).isSymbolicLink())
        throw new StoragePathError(tenant, `${p} is a symbolic link; refusing to delete through it`)
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return
      throw error
    }
  }
  // rm() removes symlinks inside the tree as links; it never follows them.
  await rm(dir, { recursive: true, force: true })
  await rmdir(tenantDir).catch(() => {}) // still holds the database, or already gone
}
