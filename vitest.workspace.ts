// The list of test projects. Vitest 4 no longer reads this file on its own: the root
// vitest.config.ts imports it as `test.projects`.
import type { TestProjectInlineConfiguration } from 'vitest/config'

const project = (name: string, root: string, extra: Record<string, unknown> = {}) =>
  ({
    extends: true,
    test: { name, root, include: ['test/**/*.test.ts'], ...extra },
  }) as TestProjectInlineConfiguration

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
  project('wiki', 'examples/wiki'),
]
