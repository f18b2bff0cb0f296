// What both browser tests share: where Chromium is, whether its absence may skip the suite, how
// it is launched, and the wiki it is pointed at. Chromium comes from the OS (Debian's `chromium`); playwright-core drives it.
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe } from 'vitest'
import { startWiki } from './helpers.js'

const executablePath = process.env.TENANTRY_CHROMIUM ?? '/usr/bin/chromium'
const present = existsSync(executablePath)
// In CI a missing browser must fail the run, not pass it quietly.
const required = process.env.CI === 'true' || process.env.TENANTRY_REQUIRE_SERVICES === '1'

/** `describe` for a browser suite: skipped, with the reason in its name, only outside CI. */
export function browserSuite(name: string, body: () => void): void {
  const suite = present || required ? describe : describe.skip
  suite(
    present
      ? name
      : `${name} (skipped: no Chromium at ${executablePath}; install it or set TENANTRY_CHROMIUM)`,
    body,
  )
}

/** Headless Chromium as this machine allows it (no sandbox as root, no outside network). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // acme.localhost → the test server, whatever the machine's resolver says.
      '--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1',
    ],
  })
}

/** The wiki listening on a free port and a Chromium to drive it, both ready inside the tests. */
export interface WikiInChromium {
  browser: Browser
  port: number
}

/** Starts the wiki and Chromium before the suite's tests and stops both after them. */
export function wikiInChromium(): WikiInChromium {
  const ctx = {} as WikiInChromium
  let stop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const started = await startWiki()
    stop = started.stop
    await started.app.listen({ host: '127.0.0.1', port: 0 })
    ctx.port = (started.app.server.address() as { port: number }).port
    ctx.browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await ctx.browser?.close()
    await stop?.()
  })
  return ctx
}
