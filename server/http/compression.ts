// The Remix handler, with its documents and data compressed per request when no other site can have caused the
// request (ADR 023). Pages carry secrets (CSRF tokens, nonces, PHI) beside reflected input, so compressing a response
// to a request another site started would give that site a BREACH-style length oracle: the session cookie is
// SameSite=Lax, so a cross-site top-level GET carries it. Sec-Fetch-Site says who started a request: `same-origin`
// (our own pages) or `none` (typed, bookmarked, opened from another app) are compressed; `cross-site`, `same-site`
// (a sibling host may be someone else's) and a request without the header (an old browser, a program) never are.
// Static files are compressed at build time instead (static-files.ts); /api/v1 is mounted before and never gets here.
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
// The adapter's own request and response conversion (exported by its module, not its index; the version is pinned).
import { createRemixRequest, sendRemixResponse } from '@remix-run/express/dist/server';
import { createRequestHandler, type AppLoadContext, type ServerBuild } from '@remix-run/node';
import type { NextFunction, Request, Response } from 'express';

export type Encoding = 'br' | 'gzip';

// Documents, single-fetch data (`*.data`, turbo-stream) and Remix's JSON (`/__manifest`). Not CSV exports, the SVG
// logo or anything else a resource route streams: those are either downloads paced by the client or tiny.
const COMPRESSIBLE_TYPE = /^\s*(text\/html|text\/x-script|application\/json)\s*(;|$)/i;
const NO_BODY_STATUS = new Set([204, 205, 206, 304]);

// Fast settings: the web processes are CPU-bound on two cores. Brotli 4 is about as fast as gzip 6 on an 11 KB page
// and smaller; a 256 KB window (lgwin 18) is plenty for a page and keeps each stream's memory small.
const BROTLI: zlib.BrotliOptions = {
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_LGWIN]: 18, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT },
};
const GZIP: zlib.ZlibOptions = { level: 6 };

/** The request side of the rule: a GET that only our own pages or the patient can have started, and what it accepts. */
export function compressionFor(headers: { 'sec-fetch-site'?: string | string[]; 'accept-encoding'?: string | string[] }, method: string): Encoding | undefined {
  if (method !== 'GET') return undefined;
  const site = headers['sec-fetch-site'];
  if (site !== 'same-origin' && site !== 'none') return undefined;
  const accepted = headers['accept-encoding'];
  return preferredEncoding(Array.isArray(accepted) ? accepted.join(',') : accepted);
}

/** Brotli if the client accepts it, else gzip; `q=0` refuses, `*` stands for anything not named. */
export function preferredEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  return acceptedEncodings(acceptEncoding)[0];
}

/**
 * The encodings we have (brotli, then gzip) that an Accept-Encoding header accepts, best first: a name or `*` with a
 * weight above zero (RFC 9110, 12.5.3). `br;q=0` refuses brotli even when a bare `br` appears nowhere else.
 */
export function acceptedEncodings(acceptEncoding: string | undefined): Encoding[] {
  const weights = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    weights.set(name, q === undefined ? 1 : Number(q.slice(2)));
  }
  const weight = (name: string) => weights.get(name) ?? weights.get('*') ?? 0;
  return (['br', 'gzip'] as const).filter((name) => weight(name) > 0);
}

export function isCompressible(response: globalThis.Response): boolean {
  const status = response.status;
  if (!response.body || status < 200 || (status >= 300 && status < 400) || NO_BODY_STATUS.has(status)) return false;
  if (response.headers.has('content-encoding')) return false;
  return COMPRESSIBLE_TYPE.test(response.headers.get('content-type') ?? '');
}

/** createRequestHandler of @remix-run/express, plus the compression rule above. */
export function remixRequestHandler(options: { build: ServerBuild; mode: string; getLoadContext: (req: Request, res: Response) => AppLoadContext }) {
  const handleRequest = createRequestHandler(options.build, options.mode);
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const request = createRemixRequest(req, res);
      const response = await handleRequest(request, options.getLoadContext(req, res));
      if (!isCompressible(response)) return await sendRemixResponse(res, response);
      // The body depends on these two request headers: no shared cache may hand one answer to the other request.
      response.headers.append('Vary', 'Sec-Fetch-Site, Accept-Encoding');
      const encoding = compressionFor(req.headers, req.method);
      if (!encoding) return await sendRemixResponse(res, response);
      await sendCompressed(res, response, encoding);
    } catch (error) {
      next(error);
    }
  };
}

/**
 * Streams the body through the compressor. Each burst of writes (React writes the shell, then each deferred part, in
 * one turn of the event loop) is flushed once the producer goes quiet, so a streamed page reaches the browser part by
 * part; a sync flush keeps the compression window, so flushing costs a few bytes, not the ratio.
 */
export async function sendCompressed(res: Response, response: globalThis.Response, encoding: Encoding) {
  res.statusMessage = response.statusText;
  res.status(response.status);
  for (const [key, value] of response.headers.entries()) res.append(key, value);
  res.removeHeader('Content-Length');
  res.setHeader('Content-Encoding', encoding);
  const compressor = encoding === 'br' ? zlib.createBrotliCompress(BROTLI) : zlib.createGzip(GZIP);
  const flushKind = encoding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH;
  let flushScheduled = false;
  const flushSoon = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (!compressor.writableEnded && !compressor.destroyed) compressor.flush(flushKind);
    });
  };
  // Caught at once (a rejection nobody awaits yet would be an unhandled one): a client that hangs up mid-stream is not
  // our error (Remix's own request signal aborts the render, as without compression).
  const sent = pipeline(compressor, res).catch(() => {});
  const reader = response.body!.getReader();
  let failure: Error | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!compressor.write(value) && !compressor.destroyed) await drained(compressor);
      if (compressor.destroyed) break;
      flushSoon();
    }
    if (!compressor.destroyed) compressor.end();
  } catch (error) {
    // The body failed mid-stream (a render error): the response cannot be completed, as without compression.
    failure = error as Error;
    compressor.destroy(failure);
  }
  if (compressor.destroyed) await reader.cancel().catch(() => {});
  await sent;
  if (failure) throw failure;
}

async function drained(stream: zlib.Gzip | zlib.BrotliCompress) {
  const stop = new AbortController();
  try {
    await Promise.race([once(stream, 'drain', { signal: stop.signal }), once(stream, 'close', { signal: stop.signal })]);
  } finally {
    stop.abort();
  }
}
