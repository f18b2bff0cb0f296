import { requireTenant } from '@tenantry/context'
import { MailUrlError } from './errors.js'

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

/**
 * Builds an absolute URL for a tenant from a template such as `https://{tenant}.example.com`
 * (or `https://example.com/t/{tenant}`) and a site-relative path (`/pages/x?y=1#z`).
 *
 * In the host, the tenant must be a DNS label (so `evil.com?` cannot take over the host); in
 * the path, it is percent-encoded. `path` must start with a single `/`: absolute and
 * protocol-relative URLs are refused, so a mail link can never leave the tenant's site.
 */
export function formatTenantUrl(
  template: string,
  path = '/',
  tenant: string = requireTenant(),
): string {
  if (!template.includes('{tenant}'))
    throw new MailUrlError(
      `The URL template ${JSON.stringify(template)} has no {tenant} placeholder.`,
      tenant,
    )
  if (
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    path.startsWith('//') ||
    path.includes('\\')
  )
    throw new MailUrlError(
      `The path ${JSON.stringify(path)} is not site-relative. Pass a path starting with a single "/" (e.g. "/pages/x").`,
      tenant,
    )
  const schemeEnd = template.indexOf('://')
  const authorityEnd = schemeEnd === -1 ? -1 : template.indexOf('/', schemeEnd + 3)
  const hostPart = template.slice(0, authorityEnd === -1 ? template.length : authorityEnd)
  const pathPart = authorityEnd === -1 ? '' : template.slice(authorityEnd)
  if (hostPart.includes('{tenant}') && !HOST_LABEL.test(tenant))
    throw new MailUrlError(
      `Tenant ${JSON.stringify(tenant)} cannot be a host name label. Use a URL template with {tenant} in the path, or a DNS-label naming rule.`,
      tenant,
    )
  const base =
    hostPart.replaceAll('{tenant}', tenant.toLowerCase()) +
    pathPart.replaceAll('{tenant}', encodeURIComponent(tenant))
  const url = new URL(base.replace(/\/+$/, '') + path)
  // The tenant's site: its origin and, for a path template, everything under its path (dot
  // segments in `path` such as `/../globex` must not climb into another tenant's).
  const site = new URL(`${base.replace(/\/+$/, '')}/`)
  if (url.origin !== site.origin || !`${url.pathname}/`.startsWith(site.pathname))
    throw new MailUrlError(`The URL for ${JSON.stringify(path)} would leave ${site.href}.`, tenant)
  return url.href
}
