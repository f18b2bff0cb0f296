// The real executable as a child process, for the *.bin.test.ts files.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** This folder. */
export const here = dirname(fileURLToPath(import.meta.url))
/** The CLI entry point (TypeScript source, run through tsx). */
export const bin = resolve(here, '../src/bin.ts')
/** tsx's loader, for `--import`. */
export const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href.replace(
  /\/dist\/.*$/,
  '/dist/loader.mjs',
)

/** What a child run of the CLI did. */
export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `tenantry ...args` in `cwd` as a child process. */
export function tenantry(
  cwd: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; pipeTo?: string[] } = {},
): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--conditions=tenantry-source', '--import', tsx, bin, ...args],
      {
        cwd,
        env: { ...process.env, ...options.env, NO_COLOR: '1' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    child.stdin.end(options.stdin ?? '')
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}
