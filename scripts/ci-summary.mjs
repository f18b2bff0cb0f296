// Prints one closing line for CI, `N passed, N failed, N skipped`, from Vitest's JSON reports.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = join(import.meta.dirname, '..', '.ci', 'results')
let passed = 0
let failed = 0
let skipped = 0
for (const file of ['vitest.json', 'vitest-node24.json']) {
  const path = join(dir, file)
  if (!existsSync(path)) continue
  const r = JSON.parse(readFileSync(path, 'utf8'))
  passed += r.numPassedTests
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0)
  skipped += r.numPendingTests + r.numTodoTests
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
