import { defineConfig } from 'vitest/config'
import projects from './vitest.workspace.ts'

// Tests run against the TypeScript sources: every package exports a `tenantry-source`
// condition that points at src/, so no build is needed before `vitest`.
// The rest are Vite's default server conditions, which a custom list replaces.
const conditions = ['tenantry-source', 'module', 'node', 'development|production']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['tenantry-source'] } },
  test: {
    projects,
    passWithNoTests: true,
    // Most suites wait on files, sockets and child processes: more workers than cores pays off.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI
      ? [
          'default',
          ['json', { outputFile: process.env.TENANTRY_VITEST_JSON ?? '.ci/results/vitest.json' }],
        ]
      : ['default'],
  },
})
