// The price of the tenant guard (a Kysely plugin on every tenant handle): instructions per
// query under callgrind, guarded vs the same Kysely handle without it, on an in-memory SQLite
// database inside a tenant (servers/guard-work.ts, bundled, so no TypeScript loader runs under
// valgrind). Instruction counts do not move with the machine's load and need few queries: the
// per-query figure is the difference between runs of N1 and N2 queries, so start-up, module
// loading and JIT warm-up cancel out. Fewer than this measures the JIT still tiering up (200
// warm-up and 50/250 queries gave 1.14×; 300 and 100/400 give 1.02×). Needs valgrind.
import { figure, hasValgrind, scriptInstructions, section, skipped, verdict } from './lib.ts'

const N1 = Number(process.env.BENCH_GUARD_N1 ?? 100)
const N2 = Number(process.env.BENCH_GUARD_N2 ?? 400)
const WORK = `${import.meta.dirname}/servers/guard-work.ts`
const ROW = 'guarded / unguarded Kysely query: instructions'

section(`tenant guard: instructions per Kysely query (callgrind, runs of ${N1} and ${N2} queries)`)
if (!hasValgrind()) {
  skipped(ROW, '≤ 1.05×', 'valgrind is not installed')
} else {
  const bare = await scriptInstructions(WORK, ['bare'], N1, N2)
  const guarded = await scriptInstructions(WORK, ['guarded'], N1, N2)
  figure('(floor) unguarded query', bare, 'instructions/query')
  figure('guard cost', guarded - bare, 'instructions/query')
  verdict(ROW, guarded / bare, { max: 1.05 })
}
