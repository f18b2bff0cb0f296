// The matched route's config, read per request. Fastify's public `request.routeOptions` builds
// a twelve-field object on every access; the route context it reads from sits on the request
// under Fastify's own `Symbol('fastify.context')`, found once here by its description. Should a
// Fastify release rename it, this falls back to the public getter.
import type { FastifyRequest } from 'fastify'

let kContext: symbol | null | undefined

/** The config of the request's route (`request.routeOptions.config`, without its allocation). */
export function routeConfigOf(request: FastifyRequest): unknown {
  if (kContext === undefined) {
    kContext =
      Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
  }
  if (kContext !== null) {
    const context = (request as unknown as Record<symbol, { config?: unknown } | undefined>)[
      kContext
    ]
    if (context !== undefined) return context.config
  }
  return request.routeOptions.config
}
