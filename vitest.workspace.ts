// The list of test projects. Vitest 4 no longer reads this file on its own: the root
// vitest.config.ts imports it as `test.projects`.
import type { TestProjectInlineConfiguration } from 'vitest/config'

const project = (name: string, root: string, extra: Record<string, unknown> = {}) =>
  ({
    extends: true,
    test: { name, root, include: ['test/**/*.test.ts'], ...extra },
  }) as TestProjectInlineConfiguration

const otelConditions = ['tenantry-source', 'node', 'development|production']

export default [
  project('context', 'packages/context'),
  project('kysely', 'packages/kysely'),
  project('sqlite', 'packages/sqlite'),
  project('fastify', 'packages/fastify'),
  project('jobs', 'packages/jobs'),
  project('storage', 'packages/storage'),
  project('mail', 'packages/mail'),
  project('log', 'packages/log'),
  project('cache', 'packages/cache'),
  project('settings', 'packages/settings'),
  project('testing', 'packages/testing'),
  project('cli', 'packages/cli'),
  project('postgres', 'packages/postgres'),
  project('realtime', 'packages/realtime'),
  // Not `extends: true`: the root's `module` condition is passed to Node itself (--conditions),
  // and @opentelemetry/api's `module` build has extensionless imports that Node cannot load.
  {
    resolve: { conditions: otelConditions },
    ssr: { resolve: { conditions: otelConditions, externalConditions: ['tenantry-source'] } },
    test: {
      name: 'otel',
      root: 'packages/otel',
      include: ['test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  } as TestProjectInlineConfiguration,
  project('wiki', 'examples/wiki'),
]
