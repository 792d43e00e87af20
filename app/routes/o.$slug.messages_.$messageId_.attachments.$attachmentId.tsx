import type { LoaderFunctionArgs } from '@remix-run/node';
import { notFound } from '../services/all.server';
import { openAttachment, requireReader } from '../services/all.server';
import { pageT } from '../services/all.server';

// An attachment of a secure message: always a download (Content-Disposition: attachment) with a type from the
// allow-list, never cached (PW1: Cache-Control no-store and nosniff come from the security headers on every
// response), each download recorded (AU1).

/** RFC 6266: an ASCII fallback name and the exact name in UTF-8. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const messagePage = `/o/${params.slug}/messages/${params.messageId}`;
  const { reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: messagePage });
  const file = await openAttachment(context.db, context.vault, reader, params.messageId ?? '', params.attachmentId ?? '', now);
  if (file.status === 'not_found') throw notFound();
  if (file.status !== 'available') {
    const { locale, t } = pageT(request, context);
    return new Response(t('message.attachmentGone'), {
      status: 410,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Language': locale },
    });
  }
  return new Response(new Uint8Array(file.content), {
    headers: {
      'Content-Type': file.contentType,
      'Content-Length': String(file.content.length),
      'Content-Disposition': contentDisposition(file.name),
    },
  });
}
