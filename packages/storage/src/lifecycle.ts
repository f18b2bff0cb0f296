import type { LifecycleTarget } from '@tenantry/context'
import { tenantFilesDir } from './paths.js'
import { destroyTenantFiles } from './resource.js'

/** Options of {@link attachStorage}. */
export interface AttachStorageOptions {
  /** The data root given to `localStorageResource` (files under `root/tenants/{tenant}/files`). */
  root: string
  /** The file set's name inside backups and exports; default `storage`. */
  name?: string
}

/**
 * Ties the tenants' files to the store's lifecycle: `destroyTenant` removes them (on
 * `destroyed`), a new tenant never inherits files left by an earlier one of its name (they are
 * removed on `creating`), and backups, exports and clones carry them. Returns a detach function.
 *
 * ```ts
 * attachStorage(store, { root: './data' })
 * ```
 */
export function attachStorage(target: LifecycleTarget, options: AttachStorageOptions): () => void {
  const { root } = options
  const purge = ({ tenant }: { tenant: string }) => destroyTenantFiles(root, tenant)
  const off = [
    target.lifecycle.on('creating', purge),
    target.lifecycle.on('destroyed', purge),
    target.lifecycle.addFiles({
      name: options.name ?? 'storage',
      dir: (tenant) => tenantFilesDir(root, tenant),
    }),
  ]
  return () => {
    for (const f of off) f()
  }
}
