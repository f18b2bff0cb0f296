// Live pages end to end in headless Chromium: an edit saved in acme reloads acme's open view
// of the page, and never globex's view of its own page of the same name.
import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { browserSuite, wikiInChromium } from './chromium.js'

browserSuite('live pages in headless Chromium', () => {
  const wiki = wikiInChromium()

  /** Opens a page view and waits until its live socket is open. */
  async function view(url: string): Promise<Page> {
    const page = await wiki.browser.newPage()
    await page.goto(url)
    await page.waitForSelector('body[data-live="open"]', { timeout: 30_000 })
    return page
  }

  async function edit(url: string, body: string): Promise<void> {
    const page = await wiki.browser.newPage()
    try {
      await page.goto(`${url}/edit`)
      await page.fill('textarea[name=body]', body)
      await Promise.all([page.waitForURL(url), page.click('button:has-text("Save")')])
    } finally {
      await page.close()
    }
  }

  it('an edit in acme reaches acme’s open viewer and not globex’s', async () => {
    const acmeUrl = `http://acme.localhost:${wiki.port}/pages/welcome`
    const globexUrl = `http://localhost:${wiki.port}/t/globex/pages/welcome`
    const acmeViewer = await view(acmeUrl)
    const globexViewer = await view(globexUrl)
    try {
      await edit(acmeUrl, 'Edited **live** in acme.')
      await acmeViewer.waitForSelector('article strong:has-text("live")', { timeout: 30_000 })
      expect(await acmeViewer.getAttribute('body', 'data-revision')).toBe('2')
      expect(await acmeViewer.getAttribute('body', 'data-updates')).toBe('1')

      // globex's page of the same name then changes too; its viewer must see exactly that
      // one update (acme's was published first, so a leak would have arrived before it).
      await edit(globexUrl, 'Edited in globex.')
      await globexViewer.waitForSelector('article:has-text("Edited in globex.")', {
        timeout: 30_000,
      })
      expect(await globexViewer.getAttribute('body', 'data-updates')).toBe('1')
      expect(await globexViewer.textContent('article')).not.toContain('live')
      expect(await acmeViewer.getAttribute('body', 'data-updates')).toBe('1')
    } finally {
      await acmeViewer.close()
      await globexViewer.close()
    }
  }, 120_000)
})
