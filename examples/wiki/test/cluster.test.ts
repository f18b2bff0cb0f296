// The wiki under four processes (`--workers 4`, node:cluster) on one data root, loaded over
// 127.0.0.1: page creates that read then write (the route of issue 12's 500s), reads, and a
// wiki created and destroyed through the admin while the others request it. Goal: no 5xx.
// Bounded by request counts; the figures are printed.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const main = join(import.meta.dirname, '..', 'src', 'main.ts')
const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-wiki-cluster-'))
let child: ChildProcess | undefined
const serverErrors: string[] = []

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  rmSync(dataDir, { recursive: true, force: true })
})

/** Starts the cluster and resolves with its port (from the URLs the primary prints). */
function startCluster(workers: number): Promise<number> {
  child = spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--import', 'tsx', main, '--workers', String(workers)],
    {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        WIKI_DATA: dataDir,
        LOG_LEVEL: 'error',
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  return new Promise((resolve, reject) => {
    let out = ''
    child!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      for (const line of chunk.toString().split('\n'))
        if (line.includes('request failed')) serverErrors.push(line.slice(0, 1500))
      const m = /admin \(create \/ destroy wikis\): +http:\/\/localhost:(\d+)\//.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child!.once('exit', (code) => reject(new Error(`the wiki exited (${code}) before listening`)))
  })
}

/** Runs `jobs` with at most `n` at a time. */
async function pool<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++
        out[i] = await jobs[i]!()
      }
    }),
  )
  return out
}

describe('the wiki under four processes', () => {
  it('answers no 5xx to concurrent page creates, reads and a wiki created and destroyed under load', async () => {
    const port = await startCluster(4)
    const base = `http://127.0.0.1:${port}`
    const statuses: Record<string, number> = {}
    const fails: string[] = []
    const hit = async (method: 'GET' | 'POST', path: string, fields?: Record<string, string>) => {
      const res = await fetch(base + path, {
        method,
        redirect: 'manual',
        ...(fields === undefined
          ? {}
          : {
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(fields).toString(),
            }),
      })
      const body = await res.text()
      const key = `${method} ${path.replace(/\/t\/(\w+)\/.*/, '/t/$1/…')} ${res.status}`
      statuses[key] = (statuses[key] ?? 0) + 1
      if (res.status >= 500) fails.push(`${method} ${path} ${res.status} ${body.slice(0, 200)}`)
      return res.status
    }
    const jobs: (() => Promise<number>)[] = []
    for (let i = 0; i < 120; i++) {
      const wiki = i % 3 === 0 ? 'globex' : 'acme'
      // The same title on purpose: every create reads the taken slugs, then inserts.
      jobs.push(() => hit('POST', `/t/${wiki}/pages`, { title: 'Load', body: `page ${i}` }))
      if (i % 2 === 0) jobs.push(() => hit('GET', `/t/${wiki}/pages/load`))
      if (i % 4 === 0) jobs.push(() => hit('GET', `/t/churn/`))
    }
    const churn = async () => {
      for (let c = 0; c < 4; c++) {
        await hit('POST', '/admin/wikis', { name: 'churn' })
        await hit('POST', '/t/churn/pages', { title: 'Churn', body: 'x' })
        await hit('POST', '/admin/wikis/churn/destroy')
      }
    }
    await Promise.all([pool(12, jobs), churn()])
    const created = Object.entries(statuses)
      .filter(([k]) => /^POST \/t\/(acme|globex)\/… 303$/.test(k))
      .reduce((n, [, v]) => n + v, 0)
    console.log(
      `wiki, 4 processes: ${Object.values(statuses).reduce((a, b) => a + b, 0)} requests, ${fails.length} 5xx (goal 0), ${created} of 120 page creates succeeded\n  ${JSON.stringify(statuses)}`,
    )
    if (fails.length > 0) console.log(serverErrors.join('\n'))
    expect(fails.slice(0, 5)).toEqual([])
    expect(created).toBe(120)
  }, 120_000)
})
