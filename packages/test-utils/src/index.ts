/**
 * @tenantry/test-utils — helpers for the tenantry packages' own tests (private, never
 * published). The store contract suite is the subpath `@tenantry/test-utils/store-contract`.
 */
export { type Deferred, deferred } from './deferred.js'
export { tempDir } from './temp.js'
export { type MemoryTenancy, makeTenancy } from './tenancy.js'
