// Runs every bench/*.bench.ts (or those whose names contain an argument) in its own process,
// so that memory and file-descriptor figures of one benchmark don't leak into the next, then
// prints every goal of the run with its verdict in one table, with the load during each file.
// `--instructions`: the CPU-bound benches also count instructions under callgrind.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { load, readText, type Verdict } from './lib.ts'

const dir = import.meta.dirname
const args = process.argv.slice(2)
const instructions = args.includes('--instructions')
const filters = args.filter((a) => !a.startsWith('--'))
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
const tmp = mkdtempSync(join(tmpdir(), 'tenantry-bench-'))
const verdictsFile = join(tmp, 'verdicts.jsonl')
const loads: string[] = []
let failed = 0
if (instructions && spawnSync('valgrind', ['--version']).status !== 0)
  console.log(
    '--instructions: valgrind is not installed (apt-get install -y valgrind); counts are skipped',
  )
for (const file of files) {
  const before = load()
  console.log(`\n# ${file} (${before})`)
  const r = spawnSync(
    process.execPath,
    ['--conditions=tenantry-source', '--expose-gc', '--import', 'tsx', join(dir, file)],
    {
      stdio: 'inherit',
      cwd: dir,
      env: {
        ...process.env,
        TENANTRY_BENCH_VERDICTS: verdictsFile,
        TENANTRY_BENCH_INSTRUCTIONS: instructions ? '1' : '0',
      },
    },
  )
  loads.push(`${file}: before ${before}; after ${load()}`)
  if (r.status !== 0) {
    failed++
    console.log(`${file} failed (exit ${r.status})`)
  }
}
const verdicts = (readText(verdictsFile) ?? '')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Verdict)
rmSync(tmp, { recursive: true, force: true })
console.log('\n# verdicts')
console.log('| measure | measured | goal | verdict |')
console.log('|---|---|---|---|')
for (const v of verdicts) {
  const mark = v.met === null ? 'not measured' : v.met ? 'met' : 'MISSED'
  console.log(`| ${v.row} | ${v.measured} | ${v.goal} | ${mark}${v.note ? ` (${v.note})` : ''} |`)
}
const met = verdicts.filter((v) => v.met === true).length
const missed = verdicts.filter((v) => v.met === false).length
console.log(`\n${met} met, ${missed} missed, ${verdicts.length - met - missed} not measured`)
console.log('load (1/5/15 min averages) around each file:')
for (const l of loads) console.log(`  ${l}`)
if (failed > 0) {
  console.error(`\n${failed} benchmark file(s) failed`)
  process.exit(1)
}
