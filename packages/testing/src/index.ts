/**
 * @tenantry/testing — Vitest helpers for multi-tenant code: a test tenant per worker with
 * rolled-back transactions, mocks installed through `withOverrides`, and Fastify injection as
 * a tenant.
 */
export { InjectAsError, type InjectAsOptions, type Injectable, injectAs } from './fastify.js'
export {
  FakeMailer,
  type FakeMailerOptions,
  type FakeMailMessage,
  fakeMailer,
  MemoryStorage,
  memoryStorage,
  type RenderCall,
  SpyRenderer,
  spyRenderer,
  useOverrides,
} from './mocks.js'
export {
  type CleanupOptions,
  cleanupTestTenants,
  createTestTenants,
  type RunOptions,
  TestTenants,
  type TestTenantsOptions,
} from './test-tenants.js'
