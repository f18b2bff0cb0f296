// The goals of issue 15's table, each with the verdict rows (as the bench files name them in
// `verdict()`) that measure it. `run.ts` prints every one of them in its closing table; a goal
// whose rows no bench recorded (its file not run, skipped, or a row renamed) shows as
// "not measured" rather than vanishing.

/** One goal of the issue's table and the verdict rows that stand for it. */
export interface IssueGoal {
  /** The measure, as the issue's table names it. */
  measure: string
  /** The goal, as the issue states it. */
  goal: string
  /** Matches the `row` of each verdict recorded for it. */
  rows: RegExp
  /** The bench file that measures it. */
  file: string
}

const FASTIFY = 'Fastify hello, @tenantry/fastify'

/** Issue 15's table, in its order. */
export const ISSUE_GOALS: readonly IssueGoal[] = [
  {
    measure: `${FASTIFY} / bare`,
    goal: '≥ 0.95× throughput, ≤ 1.10× instructions',
    rows: /^Fastify hello, @tenantry\/fastify \/ bare: /,
    file: 'fastify.bench.ts',
  },
  {
    measure: '… / @fastify/request-context',
    goal: '≤ 0.95× its instructions',
    rows: /^Fastify hello, @tenantry\/fastify \/ @fastify\/request-context: /,
    file: 'fastify.bench.ts',
  },
  {
    measure: '… / a hand-written ALS onRequest hook',
    goal: '≤ 1.05× its instructions',
    rows: /^Fastify hello, @tenantry\/fastify \/ a hand-written ALS onRequest hook: /,
    file: 'fastify.bench.ts',
  },
  {
    measure: 'warm route, 1,000 tenants / one shared SQLite with tenant_id',
    goal: '≥ 0.95×',
    rows: /^warm route, 1,000 tenants \/ one shared SQLite with tenant_id/,
    file: 'fastify-db.bench.ts',
  },
  {
    measure: 'same with the open-handle cap below the working set (cap 100)',
    goal: '≥ 0.6×',
    rows: /^same with the open-handle cap below the working set \(cap 100\)/,
    file: 'fastify-db.bench.ts',
  },
  {
    measure: '10,000 tenants touched under cap 256: RSS growth',
    goal: '≤ 48 MB',
    rows: /^10,000 tenants touched under cap 256: RSS growth/,
    file: 'sqlite.bench.ts',
  },
  {
    measure: '`migrateAll` 1,000 tenants, one new migration',
    goal: '≤ 2 s quiet, scaling with cores',
    rows: /^migrateAll 1,000 tenants, one new migration/,
    file: 'sqlite.bench.ts',
  },
  {
    measure: '`withTenant` / bare `als.run`, Node 20',
    goal: '≤ 1.6×',
    rows: /^withTenant \/ bare als\.run, Node 20: /,
    file: 'context.bench.ts',
  },
]
