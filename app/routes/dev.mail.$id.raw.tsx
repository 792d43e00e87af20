import type { LoaderFunctionArgs } from '@remix-run/node';
import { readRawMail } from '../services/all.server';

export async function loader({ params, context }: LoaderFunctionArgs) {
  const raw = context.config.isProduction ? undefined : readRawMail(context.config.dataDir, params.id ?? '');
  if (!raw) return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(new Uint8Array(raw), { headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}
