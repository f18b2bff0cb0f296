import { getDb, getMail, getRenderer, getStorage } from '@tenantry/context'
import { withTransaction } from '@tenantry/kysely'
import { getLogger } from '@tenantry/log'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { publishPageChange } from '../live.js'
import type { PageRow } from '../migrations.js'
import { wikiSettings } from '../resources.js'
import type { WikiView } from '../views/layout.js'
import { editView, historyView, pageListView, pageView, revisionView } from '../views/pages.js'
import {
  field,
  isSlug,
  type RouteOptions,
  sendHtml,
  slugify,
  textField,
  viewOf,
  WikiHttpError,
} from './shared.js'

type SlugParams = { slug: string }

const MAX_BODY = 100_000

async function findPage(slug: string): Promise<PageRow> {
  const page = isSlug(slug)
    ? await getDb().selectFrom('pages').selectAll().where('slug', '=', slug).executeTakeFirst()
    : undefined
  if (page === undefined) throw new WikiHttpError(404, `There is no page "${slug}" in this wiki.`)
  return page
}

/** Keys of a page's attachments in the tenant's storage. */
export const attachmentPrefix = (slug: string): string => `attachments/${slug}/`

function readForm(request: FastifyRequest): { title: string; body: string; summary: string } {
  const title = field(request.body, 'title')
  const body = textField(request.body, 'body')
  const summary = field(request.body, 'summary').slice(0, 200)
  return { title, body, summary }
}

function formError(form: { title: string; body: string }): string | undefined {
  if (form.title === '') return 'A page needs a title.'
  if (form.title.length > 200) return 'The title is longer than 200 characters.'
  if (form.body.length > MAX_BODY) return `The text is longer than ${MAX_BODY} characters.`
  return undefined
}

/**
 * Mails the wiki's editors through the tenant's mailer (sender and links are the tenant's).
 * A failed notification is logged, not shown: the page is saved either way.
 */
async function notify(
  view: WikiView,
  page: { slug: string; title: string },
  what: string,
  summary: string,
) {
  const to = wikiSettings().notify
  if (to === '') return
  try {
    const mail = getMail()
    await mail.send({
      to,
      subject: `[${view.title}] ${page.title} ${what}`,
      text: `${summary === '' ? `"${page.title}" was ${what}.` : summary}\n\n${mail.tenantUrl(`/pages/${page.slug}`)}\n`,
    })
  } catch (error) {
    getLogger().error({ err: error }, 'wiki: notification failed')
  }
}

/** Page routes: list, view, create, edit, history and old revisions. */
export const pageRoutes: FastifyPluginAsync<RouteOptions> = async (app, { pathForm, services }) => {
  app.get('/', async (request, reply) => {
    const pages = await getDb()
      .selectFrom('pages')
      .select(['slug', 'title', 'updated_at', 'revision'])
      .orderBy('title')
      .execute()
    return sendHtml(reply, pageListView(viewOf(request, pathForm), pages))
  })

  app.get('/pages/new', async (request, reply) =>
    sendHtml(reply, editView(viewOf(request, pathForm), { title: '', body: '' })),
  )

  app.post('/pages', async (request, reply) => {
    const view = viewOf(request, pathForm)
    const form = readForm(request)
    const error = formError(form)
    if (error !== undefined) return sendHtml(reply, editView(view, form, error), 400)
    const now = new Date().toISOString()
    const base = slugify(form.title)
    // withTransaction, not getDb().transaction(): inside it getDb() is the transaction, and it
    // nests as a savepoint when a caller (a test, a job) already holds one.
    const slug = await withTransaction(async () => {
      const db = getDb()
      const taken = new Set(
        (
          await db
            .selectFrom('pages')
            .select('slug')
            .where((eb) => eb.or([eb('slug', '=', base), eb('slug', 'like', `${base}-%`)]))
            .execute()
        ).map((r) => r.slug),
      )
      let slug = base
      for (let i = 2; taken.has(slug); i++) slug = `${base}-${i}`
      const row = { slug, title: form.title, body: form.body }
      await db
        .insertInto('pages')
        .values({ ...row, revision: 1, created_at: now, updated_at: now })
        .execute()
      await db
        .insertInto('revisions')
        .values({ ...row, revision: 1, summary: form.summary || 'created', created_at: now })
        .execute()
      return slug
    })
    await notify(view, { slug, title: form.title }, 'created', form.summary)
    return reply.redirect(`${view.base}/pages/${slug}`, 303)
  })

  app.get<{ Params: SlugParams }>('/pages/:slug', async (request, reply) => {
    const page = await findPage(request.params.slug)
    const storage = getStorage()
    const keys = await storage.list(attachmentPrefix(page.slug))
    const attachments = await Promise.all(
      keys.map(async (key) => ({
        name: key.slice(attachmentPrefix(page.slug).length),
        size: (await storage.stat(key)).size,
      })),
    )
    const rendered = getRenderer().render(page.body)
    return sendHtml(reply, pageView(viewOf(request, pathForm), page, rendered, attachments))
  })

  app.get<{ Params: SlugParams }>('/pages/:slug/edit', async (request, reply) => {
    const page = await findPage(request.params.slug)
    return sendHtml(reply, editView(viewOf(request, pathForm), page))
  })

  app.post<{ Params: SlugParams }>('/pages/:slug', async (request, reply) => {
    const view = viewOf(request, pathForm)
    const page = await findPage(request.params.slug)
    const form = readForm(request)
    const seen = Number(field(request.body, 'revision') || page.revision)
    const error = formError(form)
    if (error !== undefined)
      return sendHtml(
        reply,
        editView(view, { ...form, slug: page.slug, revision: seen }, error),
        400,
      )
    const now = new Date().toISOString()
    const revision = seen + 1
    const saved = await withTransaction(async () => {
      const db = getDb()
      // Only on top of the revision the editor started from: no silent lost update.
      const result = await db
        .updateTable('pages')
        .set({ title: form.title, body: form.body, revision, updated_at: now })
        .where('slug', '=', page.slug)
        .where('revision', '=', seen)
        .executeTakeFirst()
      if (result.numUpdatedRows === 0n) return false
      await db
        .insertInto('revisions')
        .values({
          slug: page.slug,
          revision,
          title: form.title,
          body: form.body,
          summary: form.summary || 'edited',
          created_at: now,
        })
        .execute()
      return true
    })
    if (!saved) {
      const current = await findPage(page.slug)
      const message = `Someone saved revision ${current.revision} while you were editing revision ${seen}. Your text is below; the saved one is on the page.`
      return sendHtml(
        reply,
        editView(view, { ...form, slug: page.slug, revision: current.revision }, message),
        409,
      )
    }
    await publishPageChange(services.live, { slug: page.slug, revision, title: form.title })
    await notify(
      view,
      { slug: page.slug, title: form.title },
      `edited (revision ${revision})`,
      form.summary,
    )
    return reply.redirect(`${view.base}/pages/${page.slug}`, 303)
  })

  app.get<{ Params: SlugParams }>('/pages/:slug/history', async (request, reply) => {
    const page = await findPage(request.params.slug)
    const revisions = await getDb()
      .selectFrom('revisions')
      .selectAll()
      .where('slug', '=', page.slug)
      .orderBy('revision', 'desc')
      .execute()
    return sendHtml(reply, historyView(viewOf(request, pathForm), page, revisions))
  })

  app.get<{ Params: SlugParams & { revision: string } }>(
    '/pages/:slug/revisions/:revision',
    async (request, reply) => {
      const { slug } = request.params
      const n = Number(request.params.revision)
      const revision =
        isSlug(slug) && Number.isSafeInteger(n)
          ? await getDb()
              .selectFrom('revisions')
              .selectAll()
              .where('slug', '=', slug)
              .where('revision', '=', n)
              .executeTakeFirst()
          : undefined
      if (revision === undefined)
        throw new WikiHttpError(404, `Page "${slug}" has no revision ${request.params.revision}.`)
      const rendered = getRenderer().render(revision.body)
      return sendHtml(reply, revisionView(viewOf(request, pathForm), revision, rendered))
    },
  )
}
