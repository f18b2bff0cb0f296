// Four real app processes on one data root (issue 12): read-then-write transactions on one hot
// tenant and across 50, a tenant the others serve destroyed and re-created under them,
// migrate-all while they write, and SIGKILL of any of them at random points (each killed one is
// replaced). Every request's outcome comes back as a line; the figures are printed, and the
// goals are 0 BUSY reaching a caller and 0 acknowledged writes missing. Bounded by request
// counts, never by time.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import type { ProcConfig } from './fixtures/proc.js'
import { procMigrations } from './fixtures/proc-migrations.js'

const fixture = join(import.meta.dirname, 'fixtures', 'proc.ts')
const tenants = Array.from({ length: 50 }, (_, i) => `t${String(i).padStart(2, '0')}`)
const HOT = 'hot'
const CHURN = 'churn'

type Line = Record<string, any> & { k: string }

interface Child {
  proc: ChildProcess
  config: ProcConfig
  exited: Promise<number | null>
  killed: boolean
}

function spawnProc(config: ProcConfig, onLine: (l: Line) => void): Child {
  const proc = spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--import', 'tsx', fixture],
    {
      env: { ...process.env, TENANTRY_PROC: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let buf = ''
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString()
    const lines = buf.split('\n')
    buf = lines.pop()!
    for (const l of lines) if (l.startsWith('{')) onLine(JSON.parse(l) as Line)
  })
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  return { proc, config, exited, killed: false }
}

/** Reads every note of every tenant file left on disk, straight from SQLite. */
function finalState(root: string): Map<string, { gen: string | undefined; ids: Set<string> }> {
  const out = new Map<string, { gen: string | undefined; ids: Set<string> }>()
  for (const t of [HOT, CHURN, ...tenants]) {
    const file = join(root, 'tenants', t, 'db.sqlite3')
    if (!existsSync(file)) continue
    const raw = new Database(file, { readonly: true })
    try {
      const gen = (raw.prepare('select gen from meta').get() as { gen: string } | undefined)?.gen
      const ids = new Set(
        (raw.prepare('select id from note').all() as { id: string }[]).map((r) => r.id),
      )
      const cols = (raw.prepare('pragma table_info(note)').all() as { name: string }[]).map(
        (c) => c.name,
      )
      if (!cols.includes('flag')) ids.add(`!unmigrated:${t}`)
      out.set(t, { gen, ids })
    } finally {
      raw.close()
    }
  }
  return out
}

describe('four processes on one data root', () => {
  it('serve, churn, migrate and get SIGKILLed: no BUSY reaches a caller, no acknowledged write is lost', async () => {
    const root = tempDir('tenantry-procs-')
    const setup = createTenancy()
    const seed = createTenantDatabases({
      root,
      migrations: procMigrations(false),
      tenancy: setup,
    }).install(setup)
    for (const t of [HOT, CHURN, ...tenants]) await seed.createTenant(t)
    await seed.close()

    const base = { root, hot: HOT, churn: CHURN, tenants, loops: 3 }
    const roles: Omit<ProcConfig, keyof typeof base | 'name'>[] = [
      { requests: 45, churnCycles: 0, migrateAfter: 20 },
      { requests: 45, churnCycles: 10, migrateAfter: -1 },
      { requests: 45, churnCycles: 0, migrateAfter: -1 },
      { requests: 45, churnCycles: 0, migrateAfter: -1 },
    ]
    const lines: Line[] = []
    const children: Child[] = []
    const totalPlanned = roles.length * base.loops * 45
    // Three SIGKILLs at random points of the run, each replaced by a smaller process.
    const killAt = Array.from({ length: 3 }, () =>
      Math.floor(30 + Math.random() * totalPlanned * 0.6),
    ).sort((x, y) => x - y)
    let seen = 0
    const start = (config: ProcConfig) => {
      const child = spawnProc(config, (l) => {
        lines.push(l)
        if (l.k === 'ack' || l.k === 'err' || l.k === 'read') seen++
        while (killAt.length > 0 && seen >= killAt[0]!) {
          killAt.shift()
          // Originals only: a replacement always finishes, so the run's migrate-all does too.
          const live = children.filter(
            (c) => !c.killed && c.proc.exitCode === null && !c.config.name.endsWith('r'),
          )
          const victim = live[Math.floor(Math.random() * live.length)]
          if (victim === undefined) continue
          victim.killed = true
          victim.proc.kill('SIGKILL')
          lines.push({ k: 'killed', name: victim.config.name })
          start({
            ...victim.config,
            name: `${victim.config.name}r`,
            requests: 12,
            churnCycles: Math.min(victim.config.churnCycles, 2),
            migrateAfter: victim.config.migrateAfter < 0 ? -1 : 3,
          })
        }
      })
      children.push(child)
    }
    for (const [i, role] of roles.entries()) start({ ...base, ...role, name: `p${i}` })
    // Wait for every process, including replacements spawned while waiting.
    for (let i = 0; i < children.length; i++) {
      const code = await children[i]!.exited
      if (!children[i]!.killed) expect(code, `${children[i]!.config.name} exit code`).toBe(0)
    }

    const state = finalState(root)
    const acks = lines.filter((l) => l.k === 'ack')
    const reads = lines.filter((l) => l.k === 'read')
    const errors = lines.filter((l) => l.k === 'err')
    const destroyed = new Map(lines.filter((l) => l.k === 'destroyed').map((l) => [l.gen, l.e]))
    const snaps = new Map(lines.filter((l) => l.k === 'snap').map((l) => [l.gen, l]))
    const missing: Line[] = []
    let afterDestroy = 0
    let concurrentWithDestroy = 0
    for (const a of acks) {
      const gone = destroyed.get(a.gen)
      if (a.t === CHURN && gone !== undefined && a.s > gone) {
        afterDestroy++ // acknowledged into an incarnation destroyed before the request began
        continue
      }
      const final = state.get(a.t)
      if (final !== undefined && final.gen === a.gen) {
        if (!final.ids.has(a.id)) missing.push(a)
      } else if (a.t !== CHURN) missing.push(a)
      else {
        const snap = snaps.get(a.gen)
        if (snap !== undefined && a.e < snap.s) {
          if (!snap.ids.includes(a.id)) missing.push(a)
        } else concurrentWithDestroy++
      }
    }
    const staleReads = reads.filter(
      (r) => destroyed.get(r.gen) !== undefined && r.s > destroyed.get(r.gen)!,
    ).length
    const byCode: Record<string, number> = {}
    for (const e of errors)
      byCode[`${e.t === CHURN ? 'churn' : 'other'}:${e.code}`] =
        1 + (byCode[`${e.t === CHURN ? 'churn' : 'other'}:${e.code}`] ?? 0)
    const busy = errors.filter((e) => /BUSY/.test(e.code))
    // A request for the churned tenant may find it absent, or destroyed under its scope.
    const expected = new Set(['TENANTRY_UNKNOWN_TENANT', 'TENANTRY_TENANT_GONE'])
    const unexpected = errors.filter((e) => e.t !== CHURN || !expected.has(e.code))
    const migrated = lines.filter((l) => l.k === 'migrated')
    const unmigrated = [...state.values()].flatMap((s) =>
      [...s.ids].filter((id) => id.startsWith('!unmigrated')),
    )

    // What the SIGKILLs left behind (orphan locks, half-built files), found and fixed.
    const doctorTenancy = createTenancy()
    const doctor = createTenantDatabases({
      root,
      migrations: procMigrations(true),
      tenancy: doctorTenancy,
    })
    const debris = await doctor.repair({ fix: true })
    const after = await doctor.repair()
    await doctor.close()

    console.log(
      [
        `four processes on one root (${children.length} spawned, ${lines.filter((l) => l.k === 'killed').length} SIGKILLed):`,
        `  requests ${acks.length + reads.length + errors.length}: ${acks.length} writes acknowledged, ${reads.length} read-only, ${errors.length} errors`,
        `  errors by tenant:code ${JSON.stringify(byCode)}`,
        `  BUSY reaching a caller ${busy.length} (goal 0); unexpected errors ${unexpected.length} (goal 0)`,
        `  acknowledged writes missing ${missing.length} (goal 0); acknowledged after their tenant was destroyed ${afterDestroy} (goal 0); stale reads ${staleReads} (goal 0)`,
        `  churn: ${destroyed.size} destroys, ${lines.filter((l) => l.k === 'created').length} re-creates; ${concurrentWithDestroy} writes raced a destroy (kept or destroyed with it, both correct)`,
        `  migrate-all runs finished ${migrated.length}: ${JSON.stringify(migrated.map((m) => ({ ok: m.ok, failed: m.failed })))}`,
        `  repair after the kills: ${debris.length} finding(s) ${JSON.stringify(debris.map((f) => `${f.kind} ${f.path}${f.fixed ? ' fixed' : ''}`))}; left after --fix: ${after.length}`,
      ].join('\n'),
    )
    expect(unexpected.slice(0, 5)).toEqual([])
    expect(busy).toEqual([])
    expect(missing.slice(0, 5)).toEqual([])
    expect(afterDestroy).toBe(0)
    expect(staleReads).toBe(0)
    expect(unmigrated).toEqual([])
    expect(migrated.length).toBeGreaterThan(0)
    // The churned tenant may be destroyed between migrate-all's listing and its turn: unknown
    // then, which is no failure of the migration. Nothing else may fail.
    expect(
      migrated.flatMap((m) => m.failed).filter((c) => c !== 'TENANTRY_UNKNOWN_TENANT'),
    ).toEqual([])
    expect(acks.filter((a) => a.t === HOT).length).toBeGreaterThan(0)
    expect(debris.filter((f) => !f.fixed)).toEqual([])
    expect(after).toEqual([])
  }, 120_000)
})
