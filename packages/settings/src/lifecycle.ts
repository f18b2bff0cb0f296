import type { LifecycleTarget } from '@tenantry/context'
import type { SettingsDefinition, SettingsShape } from './settings.js'

/**
 * Ties settings to the store's lifecycle. The values are rows of the tenant's own database, so
 * destroying the tenant removes them; what is left is in memory: the loaded settings and the
 * resources built from them, dropped on `destroyed` and before a tenant of the same name is
 * created (`creating`), and after a restore (`restored`). Returns a detach function.
 */
export function attachSettings<T extends SettingsShape>(
  target: LifecycleTarget,
  settings: SettingsDefinition<T>,
): () => void {
  const forget = ({ tenant }: { tenant: string }) => settings.forgetTenant(tenant)
  const off = [
    target.lifecycle.on('creating', forget),
    target.lifecycle.on('destroyed', forget),
    target.lifecycle.on('restored', forget),
  ]
  return () => {
    for (const f of off) f()
  }
}
