// Runs every bench/*.bench.ts (or those whose names contain an argument) in its own process,
// so that memory and file-descriptor figures of one benchmark don't leak into the next, then
// prints every goal of the run with its verdict in one table, with the load during each file.
// `--instructions`: the CPU-bound benches also count instructions under callgrind.
// Each file runs in a process group of its own under a time budget (TENANTRY_BENCH_FILE_BUDGET_S,
// default 180 s; 480 s with --instructions; 480 s for fastify-db, 720 s with --instructions;
// 900 s for fastify with --instructions): one that overruns is killed
// with everything it started, and its goals show as not measured, so a full run stays bounded.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ISSUE_GOALS } from './goals.ts'
import { load, readText, type Verdict } from './lib.ts'

const dir = import.meta.dirname
const args = process.argv.slice(2)
const instructions = args.includes('--instructions')
const filters = args.filter((a) => !a.startsWith('--'))
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
const budgetS = Number(process.env.TENANTRY_BENCH_FILE_BUDGET_S ?? (instructions ? 480 : 180))
// Files that need more: fastify-db creates 1,000 tenant databases and then runs fixed-length
// rounds of five servers (the shared and per-tenant floors beside tenantry): 180 s at load 15
// with three servers, about 260 s quiet with five.
// Under callgrind (8,000 warm-up requests a server) fastify-db counts four more servers and
// fastify.bench.ts eleven (GET and POST), two at a time: 480 s cut the latter off before its
// instruction verdicts on a quiet machine; at load 1.3-2.6 (session 7) 900 s cut fastify.bench
// off after six of its eleven counts and 720 s fastify-db before its last two.
const LONGER: Record<string, number> = {
  'fastify-db.bench.ts': instructions ? 1200 : 480,
  ...(instructions ? { 'fastify.bench.ts': 1500 } : {}),
}
const budgetOf = (file: string) =>
  process.env.TENANTRY_BENCH_FILE_BUDGET_S === undefined
    ? Math.max(budgetS, LONGER[file] ?? 0)
    : budgetS
const tmp = mkdtempSync(join(tmpdir(), 'tenantry-bench-'))
const verdictsFile = join(tmp, 'verdicts.jsonl')
const loads: string[] = []
const overran: string[] = []
let current: number | undefined
// Ctrl-C: the file's process group is not this one's, so end it too.
process.on('SIGINT', () => {
  if (current !== undefined) killGroup(current)
  process.exit(130)
})

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Runs one bench file in its own process group, killed (group and all) past the budget. */
function runFile(file: string): Promise<{ status: number | null; timedOut: boolean }> {
  const child = spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--expose-gc', '--import', 'tsx', join(dir, file)],
    {
      stdio: 'inherit',
      cwd: dir,
      detached: true,
      env: {
        ...process.env,
        TENANTRY_BENCH_VERDICTS: verdictsFile,
        TENANTRY_BENCH_INSTRUCTIONS: instructions ? '1' : '0',
      },
    },
  )
  current = child.pid
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    if (child.pid !== undefined) killGroup(child.pid)
  }, budgetOf(file) * 1000)
  return new Promise((resolve) => {
    child.once('exit', (status) => {
      clearTimeout(timer)
      // Servers it started may outlive it: the group goes with it.
      if (child.pid !== undefined) killGroup(child.pid)
      current = undefined
      resolve({ status, timedOut })
    })
  })
}
let failed = 0
if (instructions && spawnSync('valgrind', ['--version']).status !== 0)
  console.log(
    '--instructions: valgrind is not installed (apt-get install -y valgrind); counts are skipped',
  )
const started = Date.now()
for (const file of files) {
  const before = load()
  const t0 = Date.now()
  console.log(`\n# ${file} (${before})`)
  const r = await runFile(file)
  const took = `${((Date.now() - t0) / 1000).toFixed(1)} s`
  console.log(`# ${file} took ${took}`)
  loads.push(`${file} (${took}): before ${before}; after ${load()}`)
  if (r.timedOut) {
    failed++
    overran.push(file)
    console.log(`${file} overran its ${budgetOf(file)} s budget: killed with what it started`)
  } else if (r.status !== 0) {
    failed++
    console.log(`${file} failed (exit ${r.status})`)
  }
}
const verdicts = (readText(verdictsFile) ?? '')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Verdict)
rmSync(tmp, { recursive: true, force: true })
const mark = (v: Verdict) => (v.met === null ? 'not measured' : v.met ? 'met' : 'MISSED')
console.log('\n# verdicts')
console.log('| measure | measured | goal | verdict |')
console.log('|---|---|---|---|')
for (const v of verdicts)
  console.log(
    `| ${v.row} | ${v.measured} | ${v.goal} | ${mark(v)}${v.note ? ` (${v.note})` : ''} |`,
  )
const met = verdicts.filter((v) => v.met === true).length
const missed = verdicts.filter((v) => v.met === false).length
console.log(`\n${met} met, ${missed} missed, ${verdicts.length - met - missed} not measured`)

// Issue 15's table, every goal: its verdicts from this run, or "not measured".
console.log('\n# issue 15 goals')
console.log('| measure | goal | measured | verdict |')
console.log('|---|---|---|---|')
for (const g of ISSUE_GOALS) {
  const rows = verdicts.filter((v) => g.rows.test(v.row.trim()))
  if (rows.length === 0) {
    const why = files.includes(g.file)
      ? `${g.file} recorded no verdict for it`
      : `${g.file} not run`
    console.log(`| ${g.measure} | ${g.goal} | — | not measured (${why}) |`)
  }
  for (const v of rows)
    console.log(`| ${g.measure} | ${g.goal} | ${v.row.trim()}: ${v.measured} | ${mark(v)} |`)
}
console.log(`\ntotal: ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log('load (1/5/15 min averages) around each file:')
for (const l of loads) console.log(`  ${l}`)
if (failed > 0) {
  console.error(`\n${failed} benchmark file(s) failed`)
  process.exit(1)
}
