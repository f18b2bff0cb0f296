import type { LifecycleTarget } from '@tenantry/context'
import type { JobBackend } from './backend.js'
import { JobConfigError } from './errors.js'

/**
 * Ties a job backend to the store's lifecycle: destroying a tenant deletes its stored jobs
 * (on `destroyed`), and so does creating a tenant of a name whose jobs were left behind (on
 * `creating`), so a new tenant never runs its predecessor's jobs. Returns a detach function.
 */
export function attachJobs(target: LifecycleTarget, backend: JobBackend): () => void {
  const remove = backend.removeTenantJobs?.bind(backend)
  if (remove === undefined)
    throw new JobConfigError(
      `The ${backend.kind} job backend cannot remove a tenant's jobs (no removeTenantJobs).`,
    )
  const purge = async ({ tenant }: { tenant: string }) => {
    await remove(tenant)
  }
  const off = [target.lifecycle.on('creating', purge), target.lifecycle.on('destroyed', purge)]
  return () => {
    for (const f of off) f()
  }
}
