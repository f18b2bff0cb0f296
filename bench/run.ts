// Runs every bench/*.bench.ts (or those whose names contain an argument) in its own process,
// so that memory and file-descriptor figures of one benchmark don't leak into the next.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = import.meta.dirname
const filters = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
let failed = 0
for (const file of files) {
  console.log(`\n# ${file}`)
  const r = spawnSync(
    process.execPath,
    ['--conditions=tenantry-source', '--expose-gc', '--import', 'tsx', join(dir, file)],
    { stdio: 'inherit', cwd: dir },
  )
  if (r.status !== 0) failed++
}
if (failed > 0) {
  console.error(`\n${failed} benchmark file(s) failed`)
  process.exit(1)
}
