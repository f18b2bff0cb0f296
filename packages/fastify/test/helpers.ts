import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Tenancy } from '@tenantry/context'
import { makeTenancy as memoryTenancy } from '@tenantry/test-utils'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { type TenantryFastifyOptions, tenantry } from '../src/index.js'

/** A per-tenant test resource whose creations and disposals are observable. */
export interface Probe {
  tenant: string
  id: number
}

export interface Harness {
  tenancy: Tenancy
  created: string[]
  disposed: string[]
  existsCalls: string[]
  /** The app, with the plugin registered (add routes, then `ready`). */
  app: FastifyInstance
}

/** An isolated tenancy with an in-memory tenant source and a `probe` resource. */
export function makeTenancy(names: readonly string[] = ['acme', 'globex', 'initech']) {
  const created: string[] = []
  const disposed: string[] = []
  let ids = 0
  const { tenancy, existsCalls } = memoryTenancy(names, {
    resources: {
      probe: {
        create: (tenant): Probe => {
          created.push(tenant)
          return { tenant, id: ++ids }
        },
        dispose: (p) => {
          disposed.push((p as Probe).tenant)
        },
      },
    },
  })
  return { tenancy, created, disposed, existsCalls }
}

/** A Fastify app with the plugin on an isolated tenancy. */
export async function makeApp(
  plugin: Omit<TenantryFastifyOptions, 'tenancy'>,
  server: FastifyServerOptions = {},
  names?: readonly string[],
): Promise<Harness> {
  const t = makeTenancy(names)
  const app = Fastify(server)
  await app.register(tenantry, { ...plugin, tenancy: t.tenancy })
  return { ...t, app }
}

/** What a hook saw: the current tenant and the tenant of the `probe` resource. */
export function seen(tenancy: Tenancy): string {
  const tenant = tenancy.currentTenant()
  if (tenant === undefined) return 'none'
  const probe = tenancy.getResource('probe') as Probe
  return probe.tenant === tenant ? tenant : `MISMATCH(${tenant}/${probe.tenant})`
}

/**
 * Starts a GET for acme on `app`'s real socket (aborts and timeouts need one: `inject` has
 * neither); returns the client request, to abort it, and its close.
 */
export function startGet(app: FastifyInstance, path: string) {
  const { port } = app.server.address() as AddressInfo
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    path,
    headers: { host: `acme.example.com:${port}` },
  })
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()))
  req.on('error', () => {}) // the abort itself
  req.end()
  return { req, closed }
}
