import { extname } from 'node:path'
import { getDb, getStorage, isTenantryError } from '@tenantry/context'
import type { Storage } from '@tenantry/storage'
import type { FastifyPluginAsync } from 'fastify'
import { attachmentPrefix } from './pages.js'
import { isSlug, type RouteOptions, viewOf, WikiHttpError } from './shared.js'

/** Largest attachment accepted (the multipart body limit). */
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024

/** A file name safe as one storage key segment: `../My Photo.PNG` → `My_Photo.PNG`. */
export function attachmentName(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1)
  const safe = base
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, 100)
  return safe === '' ? 'file' : safe
}

// Shown inline only when a browser cannot run anything in them (no HTML, no SVG).
const INLINE: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.pdf': 'application/pdf',
}

// Structural: undici's File class is not always the global one on Node 20.
function isUpload(v: unknown): v is { name: string; arrayBuffer(): Promise<ArrayBuffer> } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { name?: unknown }).name === 'string' &&
    typeof (v as { arrayBuffer?: unknown }).arrayBuffer === 'function'
  )
}

async function requirePage(slug: string): Promise<void> {
  const found = isSlug(slug)
    ? await getDb().selectFrom('pages').select('slug').where('slug', '=', slug).executeTakeFirst()
    : undefined
  if (found === undefined) throw new WikiHttpError(404, `There is no page "${slug}" in this wiki.`)
}

/**
 * Attachments in the tenant's storage (`@tenantry/storage`): uploaded with a plain HTML
 * multipart form, parsed by Node's own `Response.formData()` (no multipart dependency).
 */
export const attachmentRoutes: FastifyPluginAsync<RouteOptions> = async (app, { pathForm }) => {
  app.post<{ Params: { slug: string } }>('/pages/:slug/attachments', async (request, reply) => {
    const { slug } = request.params
    await requirePage(slug)
    const type = request.headers['content-type'] ?? ''
    if (!type.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body))
      throw new WikiHttpError(400, 'Upload a file with a multipart/form-data form.')
    let file: unknown
    try {
      file = (
        await new Response(request.body, { headers: { 'content-type': type } }).formData()
      ).get('file')
    } catch {
      throw new WikiHttpError(400, 'The upload is not a valid multipart form.')
    }
    if (!isUpload(file)) throw new WikiHttpError(400, 'The form has no file in its "file" field.')
    const key = `${attachmentPrefix(slug)}${attachmentName(file.name)}`
    await getStorage().put(key, new Uint8Array(await file.arrayBuffer()))
    return reply.redirect(`${viewOf(request, pathForm).base}/pages/${slug}`, 303)
  })

  app.get<{ Params: { slug: string; name: string } }>(
    '/pages/:slug/attachments/:name',
    async (request, reply) => {
      const { slug, name } = request.params
      if (!isSlug(slug) || attachmentName(name) !== name)
        throw new WikiHttpError(404, `There is no attachment "${name}".`)
      let stream: Awaited<ReturnType<Storage['getStream']>>
      try {
        stream = await getStorage().getStream(`${attachmentPrefix(slug)}${name}`)
      } catch (error) {
        if (isTenantryError(error, 'TENANTRY_STORAGE_NOT_FOUND'))
          throw new WikiHttpError(404, `There is no attachment "${name}".`)
        throw error
      }
      const inline = INLINE[extname(name).toLowerCase()]
      reply.header('x-content-type-options', 'nosniff')
      reply.header('content-security-policy', "default-src 'none'; img-src 'self'; sandbox")
      if (inline !== undefined) reply.type(inline)
      else
        reply
          .type('application/octet-stream')
          .header('content-disposition', `attachment; filename="${name}"`)
      return reply.send(stream)
    },
  )
}
