// End to end in headless Chromium: a page made through the form in one wiki is invisible in
// the other. Chromium comes from the OS (Debian's `chromium`); playwright-core only drives it.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { WikiApp } from '../src/app.js'
import { browserSuite, launchChromium } from './chromium.js'
import { startWiki } from './helpers.js'

browserSuite('wiki in headless Chromium', () => {
  let app: WikiApp
  let stop: () => Promise<void>
  let browser: Browser
  let port: number

  beforeAll(async () => {
    ;({ app, stop } = await startWiki())
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await stop?.()
  })

  it('creates a page through the form in acme (by subdomain); globex (by path) does not see it', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(`http://acme.localhost:${port}/`)
      await page.click('text=New page')
      await page.fill('input[name=title]', 'Browser Made')
      await page.fill('textarea[name=body]', 'Typed in **Chromium**.')
      await Promise.all([
        page.waitForURL(/\/pages\/browser-made$/),
        page.click('button:has-text("Save")'),
      ])
      expect(await page.textContent('main h1')).toBe('Browser Made')
      expect(await page.innerHTML('article')).toContain('<strong>Chromium</strong>')
      expect(await page.textContent('header')).toContain('tenant: acme')

      const globex = await page.goto(`http://localhost:${port}/t/globex/`)
      expect(globex?.status()).toBe(200)
      expect(await page.textContent('header')).toContain('tenant: globex')
      expect(await page.textContent('#pages')).toContain('Welcome')
      expect(await page.textContent('main')).not.toContain('Browser Made')
      const direct = await page.goto(`http://localhost:${port}/t/globex/pages/browser-made`)
      expect(direct?.status()).toBe(404)

      // And acme by path is the same wiki as acme by subdomain.
      await page.goto(`http://localhost:${port}/t/acme/`)
      expect(await page.textContent('#pages')).toContain('Browser Made')
    } finally {
      await page.close()
    }
  }, 60_000)
})
