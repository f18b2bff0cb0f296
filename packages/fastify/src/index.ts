/**
 * @tenantry/fastify — a Fastify 5 plugin that resolves each request's tenant and runs the whole
 * request inside it.
 */
export { InvalidTenantRequestError, TenantNotFoundError } from './errors.js'
export { type TenantryFastifyOptions, tenantry, tenantry as default } from './plugin.js'
export {
  firstOf,
  fromHeader,
  fromPath,
  fromSubdomain,
  type SubdomainOptions,
  type TenantResolver,
} from './resolvers.js'
