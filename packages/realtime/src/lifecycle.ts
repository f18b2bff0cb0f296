import type { LifecycleTarget } from '@tenantry/context'
import type { Realtime } from './hub.js'

/**
 * Ties a hub to a store's lifecycle: `destroyTenant` closes the tenant's connections, in every
 * process, on `destroying` (and a soft delete's `deleting`) — before the store releases the tenant, which open connections
 * would otherwise hold until its release timeout. Returns a detach function.
 *
 * ```ts
 * attachRealtime(store, hub)
 * ```
 */
export function attachRealtime(target: LifecycleTarget, hub: Realtime): () => void {
  const close = async ({ tenant }: { tenant: string }) => {
    await hub.closeTenantConnections(tenant)
  }
  // A soft delete hides the tenant too (`deleting`): its connections close the same way.
  const off = [target.lifecycle.on('destroying', close), target.lifecycle.on('deleting', close)]
  return () => {
    for (const f of off) f()
  }
}
