import { TenancyConfigError } from '@tenantry/context'
import type { FastifyRequest } from 'fastify'

/**
 * Finds the tenant of a request: a name, or `undefined` for an untenanted request (a landing
 * page, a health check). May be async; a synchronous resolver costs no promise.
 */
export type TenantResolver = (
  request: FastifyRequest,
) => string | undefined | PromiseLike<string | undefined>

/** Options of {@link fromSubdomain}. */
export interface SubdomainOptions {
  /** The domain(s) tenants live under, e.g. `'example.com'` or `['example.com', 'localhost']`. */
  root: string | readonly string[]
  /**
   * With several labels in front of the root (`a.b.example.com`): `'whole'` (default) takes
   * them all (`'a.b'`, which the default naming rule refuses with 400); `'nearest'` takes the
   * label next to the root (`'b'`, so `api.acme.example.com` is tenant `acme`).
   */
  multiLevel?: 'whole' | 'nearest' | undefined
  /** Prefixes that mean "no tenant" (default `['www']`). */
  ignore?: readonly string[] | undefined
}

/**
 * Tenant from the subdomain of the request's host: `acme.example.com:3000` → `acme`. Uses
 * Fastify 5's `request.host`, which reads `X-Forwarded-Host` only when the server's
 * `trustProxy` trusts the peer, and drops the port. The bare root and hosts outside it are untenanted.
 * Answers are remembered per host (up to 1,024 hosts of at most 260 characters).
 */
export function fromSubdomain(options: SubdomainOptions): TenantResolver {
  // Longest root first: with roots `site.com` and `blog.site.com`, `x.blog.site.com` is tenant
  // `x` of `blog.site.com` whatever the order given, and `blog.site.com` itself is a root.
  const roots = (typeof options.root === 'string' ? [options.root] : [...options.root])
    .map(
      (r) =>
        `.${String(r)
          .toLowerCase()
          .replace(/^\.+|\.+$/g, '')}`,
    )
    .sort((a, b) => b.length - a.length)
  if (roots.length === 0 || roots.some((r) => r === '.'))
    throw new TenancyConfigError('fromSubdomain: root must be a domain such as "example.com".')
  const bare = roots.map((r) => r.slice(1))
  const nearest = options.multiLevel === 'nearest'
  const ignore = [...(options.ignore ?? ['www'])]
  const ignoreSet = ignore.length > 8 ? new Set(ignore) : undefined
  // Works on offsets into the host and cuts one string, the tenant (each slice, toLowerCase
  // or Set lookup of a fresh string costs ~250-500 instructions).
  const parse = (host: string): string | undefined => {
    let end = host.indexOf(':')
    if (end === -1) end = host.length
    if (end === 0 || host.charCodeAt(0) === 91 /* [ IPv6 literal */) return undefined
    if (host.charCodeAt(end - 1) === 46 /* trailing . */) end--
    if (needsLowerCase(host, end)) {
      host = host.slice(0, end).toLowerCase()
      end = host.length
    }
    for (let i = 0; i < roots.length; i++) {
      const root = roots[i]!
      const at = end - root.length // where `.root` would start
      if (at === -1 && host.startsWith(bare[i]!)) return undefined // the root itself
      if (at > 0 && host.startsWith(root, at)) {
        const sub = host.slice(nearest ? host.lastIndexOf('.', at - 1) + 1 : 0, at)
        if (ignoreSet !== undefined) return ignoreSet.has(sub) ? undefined : sub
        return ignore.includes(sub) ? undefined : sub
      }
    }
    return undefined
  }
  // A server sees few hosts: one map lookup (~300 instructions) instead of the parse (~1k).
  // Bounded in entries and key length, so hostile Host headers cannot grow it.
  const seen = new Map<string, string | null>()
  return (request) => {
    const host = request.host
    const hit = seen.get(host)
    if (hit !== undefined) return hit ?? undefined
    const tenant = parse(host)
    if (host.length <= MAX_CACHED_HOST) {
      if (seen.size >= HOST_CACHE_SIZE) seen.clear()
      seen.set(host, tenant ?? null)
    }
    return tenant
  }
}

/** Hosts {@link fromSubdomain} remembers, and the longest it remembers (a DNS name and a port). */
const HOST_CACHE_SIZE = 1024
const MAX_CACHED_HOST = 260

/** Whether host[0, end) has a character toLowerCase would change (ASCII upper, or non-ASCII). */
function needsLowerCase(host: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i)
    if ((c >= 65 && c <= 90) || c > 127) return true
  }
  return false
}

/**
 * Tenant from a path parameter: `fromPath('/t/:tenant')` reads `acme` from `/t/acme/pages`
 * (any parameter name: `fromPath('/:team')`). Fastify matches routes before any hook runs, so
 * the prefix is not stripped: register the tenant's routes under the same pattern
 * (`app.register(routes, { prefix: '/t/:tenant' })`). Other paths are untenanted.
 */
export function fromPath(pattern: string): TenantResolver {
  const param = typeof pattern === 'string' ? /:([A-Za-z_$][\w$]*)/.exec(pattern) : null
  if (param === null || !pattern.startsWith('/') || pattern.indexOf(':', param.index + 1) !== -1)
    throw new TenancyConfigError(
      `fromPath: the pattern must start with "/" and contain one parameter, e.g. "/t/:tenant" (got "${pattern}").`,
    )
  const before = pattern.slice(0, param.index)
  const after = pattern.slice(param.index + param[0].length)
  if (!before.endsWith('/') || (after !== '' && !after.startsWith('/')))
    throw new TenancyConfigError(
      `fromPath: "${param[0]}" must be a whole path segment (got "${pattern}").`,
    )
  const re = new RegExp(`^${escapeRegExp(before)}([^/?#]*)${escapeRegExp(after)}(?:[/?#]|$)`)
  return (request) => {
    const m = re.exec(request.url)
    if (m === null) return undefined
    const raw = m[1]!
    if (raw === '') return undefined
    if (raw.indexOf('%') === -1) return raw
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw // malformed escapes: the naming rule refuses the raw text
    }
  }
}

/** Tenant from a request header, e.g. `fromHeader('x-tenant')` (for APIs behind a gateway). */
export function fromHeader(name: string): TenantResolver {
  const key = name.toLowerCase()
  return (request) => {
    const value = request.headers[key]
    const v = Array.isArray(value) ? value[0] : value
    return v === undefined || v === '' ? undefined : v
  }
}

/**
 * Tries resolvers in order and returns the first name found, e.g.
 * `firstOf(fromSubdomain({ root }), fromPath('/t/:tenant'))`. Synchronous resolvers stay
 * synchronous.
 */
export function firstOf(...resolvers: TenantResolver[]): TenantResolver {
  const step = (
    request: FastifyRequest,
    i: number,
  ): string | undefined | PromiseLike<string | undefined> => {
    for (; i < resolvers.length; i++) {
      const r = resolvers[i]!(request)
      if (r !== undefined && typeof r !== 'string') {
        const next = i + 1
        return Promise.resolve(r).then((v) => (v === undefined ? step(request, next) : v))
      }
      if (r !== undefined) return r
    }
    return undefined
  }
  return (request) => step(request, 0)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
