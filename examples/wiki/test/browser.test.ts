// End to end in headless Chromium: a page made through the form in one wiki is invisible in
// the other. Chromium comes from the OS (Debian's `chromium`); playwright-core only drives it.
import { expect, it } from 'vitest'
import { browserSuite, wikiInChromium } from './chromium.js'

browserSuite('wiki in headless Chromium', () => {
  const wiki = wikiInChromium()

  it('creates a page through the form in acme (by subdomain); globex (by path) does not see it', async () => {
    const page = await wiki.browser.newPage()
    try {
      await page.goto(`http://acme.localhost:${wiki.port}/`)
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

      const globex = await page.goto(`http://localhost:${wiki.port}/t/globex/`)
      expect(globex?.status()).toBe(200)
      expect(await page.textContent('header')).toContain('tenant: globex')
      expect(await page.textContent('#pages')).toContain('Welcome')
      expect(await page.textContent('main')).not.toContain('Browser Made')
      const direct = await page.goto(`http://localhost:${wiki.port}/t/globex/pages/browser-made`)
      expect(direct?.status()).toBe(404)

      // And acme by path is the same wiki as acme by subdomain.
      await page.goto(`http://localhost:${wiki.port}/t/acme/`)
      expect(await page.textContent('#pages')).toContain('Browser Made')
    } finally {
      await page.close()
    }
  }, 60_000)
})
