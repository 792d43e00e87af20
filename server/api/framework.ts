// The API's one way of declaring an operation: its path, scope, input schemas and response schemas, and a handler.
// The Express router and the OpenAPI document are both built from this table, so they cannot drift apart.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Database, DbOrTx } from '../../db/client';
import type { ApiScope } from '../../db/schema/index';
import type { LinkKeyring } from '../links/tokens';
import type { Logger } from '../logger';
import type { KekRing } from '../messages/vault';
import { canonicalJson } from '../audit/canonical';
import { countRateEvent } from '../identity/rate-limit';
import { authenticateApiKey, type ApiPrincipal } from './keys';
import { authenticateAccessToken, issueToken } from './oauth';

export const TOKEN_PATH = '/oauth/token';
import { ApiProblem, fieldErrorsOf } from './problem';

export type ApiDeps = {
  db: Database;
  vault: KekRing;
  links: LinkKeyring;
  publicUrl: URL;
  hmacSecret: Buffer;
  logger: Logger;
  rateLimitPerMinute?: number;
  /** Outside production, webhook endpoints may be plain http (a developer's machine); in production only https. */
  allowHttpWebhooks?: boolean;
};

export type HandlerContext<P, Q, B> = { principal: ApiPrincipal; params: P; query: Q; body: B; db: DbOrTx; deps: ApiDeps; now: Date };
export type HandlerResult = { status: number; body: unknown; headers?: Record<string, string> };

export type Operation<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> = {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI style, under /api/v1: `/messages/{messageId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  scope: ApiScope;
  /** A POST that changes nothing (the preflight): no transaction unless an Idempotency-Key asks for a record. */
  readOnly?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler: (ctx: HandlerContext<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<HandlerResult>;
};

/** Keeps each operation's handler typed by its own schemas inside one heterogeneous table. */
export function operation<P extends z.ZodType = z.ZodObject<{}>, Q extends z.ZodType = z.ZodObject<{}>, B extends z.ZodType = z.ZodUndefined>(op: Operation<P, Q, B>): Operation {
  return op as unknown as Operation;
}

const PER_MINUTE_DEFAULT = 1_200;

const API_WINDOW = { name: 'api', windowSeconds: 60 } as const;

/** Per key, in the same fixed-window counters as code sending (shared by every web process); the count feeds the headers. */
function rateLimitAnswer(counted: { count: number; resetSeconds: number }, limit: number): { headers: Record<string, string>; allowed: boolean; retryAfter: number } {
  const headers = {
    'RateLimit-Policy': `"per-key";q=${limit};w=${API_WINDOW.windowSeconds}`,
    RateLimit: `"per-key";r=${Math.max(0, limit - counted.count)};t=${counted.resetSeconds}`,
  };
  return { headers, allowed: counted.count <= limit, retryAfter: counted.resetSeconds };
}

/**
 * Writes a JSON answer straight to Node's response: status, type, length and body in one write. Express's res.send
 * would also hash the body for an ETag (a SHA-1 per request, for answers that are never cached: Cache-Control is
 * no-store) and re-parse the Content-Type to add the charset (issue 7's benchmark, ADR 021).
 */
function sendJson(res: Response, status: number, type: 'application/json' | 'application/problem+json', body: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', `${type}; charset=utf-8`);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function sendProblem(res: Response, problem: ApiProblem) {
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  sendJson(res, problem.status, 'application/problem+json', problem.toJSON());
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = fieldErrorsOf(result.error);
    throw new ApiProblem('validation_failed', `Some ${where} fields are not valid.`, Object.fromEntries(Object.entries(errors).map(([k, v]) => [`${where}.${k}`, v])));
  }
  return result.data;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Runs a POST inside one transaction with its Idempotency-Key record: the first request inserts the record, runs,
 * and stores its answer; a concurrent second one waits on the key's row and then replays it. A crash rolls back the
 * record with the work, so a retry simply runs again. The same key with a different request is a 422.
 */
async function withIdempotency(deps: ApiDeps, req: Request, orgId: string, run: (db: DbOrTx) => Promise<HandlerResult>): Promise<HandlerResult> {
  const key = req.get('idempotency-key');
  if (key === undefined) return deps.db.transaction((tx) => run(tx));
  if (!IDEMPOTENCY_KEY.test(key)) throw new ApiProblem('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters.', { 'header.Idempotency-Key': ['Invalid.'] });
  const requestHash = createHash('sha256')
    .update(`${req.method} ${req.baseUrl}${req.path}\n`)
    .update(canonicalJson(req.body ?? null))
    .digest('base64url');
  try {
    return await deps.db.transaction(async (tx) => {
      const inserted = await tx.execute<{ key: string }>(sql`
        insert into idempotency_records (org_id, key, method, path, request_hash, created_at)
        values (${orgId}, ${key}, ${req.method}, ${req.baseUrl + req.path}, ${requestHash}, now())
        on conflict (org_id, key) do nothing returning key`);
      if (inserted.length === 0) {
        const [first] = await tx.execute<{ request_hash: string; status: number | null; body: unknown }>(
          sql`select request_hash, status, body from idempotency_records where org_id = ${orgId} and key = ${key}`,
        );
        if (!first || first.request_hash !== requestHash) throw new ApiProblem('idempotency_key_reused');
        if (first.status === null) throw new ApiProblem('idempotency_in_progress');
        return { status: first.status, body: first.body, headers: { 'Idempotent-Replayed': 'true' } };
      }
      const result = await run(tx);
      await tx.execute(sql`update idempotency_records set status = ${result.status}, body = ${JSON.stringify(result.body)}::jsonb where org_id = ${orgId} and key = ${key}`);
      return result;
    });
  } catch (error) {
    // A problem found by the handler (400, 404, 409) is an answer too: stored for the replay, like a success.
    if (error instanceof ApiProblem && error.status < 500 && !['idempotency_key_reused', 'idempotency_in_progress'].includes(error.kind)) {
      await deps.db.execute(sql`
        insert into idempotency_records (org_id, key, method, path, request_hash, status, body, created_at)
        values (${orgId}, ${key}, ${req.method}, ${req.baseUrl + req.path}, ${requestHash}, ${error.status}, ${JSON.stringify(error.toJSON())}::jsonb, now())
        on conflict (org_id, key) do nothing`);
    }
    throw error;
  }
}

export function buildRouter(deps: ApiDeps, operations: Operation[]): Router {
  const router = express.Router();
  router.use(express.json({ limit: '15mb', type: ['application/json', 'application/*+json'] }));

  // OAuth 2.0 client credentials: form-encoded in, JSON out, errors in RFC 6749's shape (not problem details).
  router.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '10kb' }), async (req: Request, res: Response) => {
    try {
      const basic = /^Basic (\S+)$/.exec(req.get('authorization') ?? '')?.[1];
      const answer = await issueToken(deps.db, deps.hmacSecret, (req.body ?? {}) as Record<string, string>, basic, new Date());
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      res.status(answer.status).type('application/json').send(JSON.stringify(answer.body));
    } catch (error) {
      deps.logger.error({ errorName: (error as Error).name }, 'token endpoint failed');
      res.status(500).type('application/json').send(JSON.stringify({ error: 'server_error' }));
    }
  });

  for (const op of operations) {
    const expressPath = op.path.replace(/\{(\w+)\}/g, ':$1');
    router[op.method](expressPath, async (req: Request, res: Response) => {
      const now = new Date();
      try {
        const bearer = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '')?.[1];
        if (!bearer) throw new ApiProblem('unauthorized', 'Send an API key as "Authorization: Bearer <key>".', undefined, { 'WWW-Authenticate': 'Bearer realm="carepost"' });
        // An API key, or an OAuth access token made from one (server/api/oauth.ts).
        // A key is checked and counted in one statement; a token is verified here, then its key is read and counted.
        const check: { ok: true; principal: ApiPrincipal; counted?: { count: number; resetSeconds: number } } | { ok: false; reason: string } = bearer.startsWith('cpk_')
          ? await authenticateApiKey(deps.db, deps.hmacSecret, bearer, now, API_WINDOW)
          : await authenticateAccessToken(deps.db, deps.hmacSecret, bearer, now);
        if (!check.ok) {
          deps.logger.info({ reason: check.reason }, 'api credentials refused');
          throw new ApiProblem('unauthorized', 'The API key or access token is not valid.', undefined, { 'WWW-Authenticate': 'Bearer realm="carepost", error="invalid_token"' });
        }
        const { principal } = check;
        const counted = check.counted ?? (await countRateEvent(deps.db, API_WINDOW, principal.keyId, now));
        const limit = rateLimitAnswer(counted, deps.rateLimitPerMinute ?? PER_MINUTE_DEFAULT);
        for (const [k, v] of Object.entries(limit.headers)) res.setHeader(k, v);
        if (!limit.allowed) throw new ApiProblem('rate_limited', `Try again in ${limit.retryAfter} seconds.`, undefined, { 'Retry-After': String(limit.retryAfter) });
        if (!principal.scopes.includes(op.scope)) {
          throw new ApiProblem('insufficient_scope', `This operation needs the "${op.scope}" scope.`, undefined, {
            'WWW-Authenticate': `Bearer realm="carepost", error="insufficient_scope", scope="${op.scope}"`,
          });
        }
        const params = parse(op.params, req.params, 'path');
        const query = parse(op.query, req.query, 'query');
        const body = parse(op.body, req.body, 'body');
        const run = (db: DbOrTx) => op.handler({ principal, params, query, body, db, deps, now });
        // Reads run on the pool; every write runs in one transaction (with its Idempotency-Key record, for POST).
        const result =
          op.method === 'get' || (op.readOnly && req.get('idempotency-key') === undefined)
            ? await run(deps.db)
            : op.method === 'post'
              ? await withIdempotency(deps, req, principal.orgId, run)
              : await deps.db.transaction((tx) => run(tx));
        for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
        if (result.status === 204) res.status(204).end();
        else sendJson(res, result.status, result.status >= 400 ? 'application/problem+json' : 'application/json', result.body);
      } catch (error) {
        if (error instanceof ApiProblem) return sendProblem(res, error);
        deps.logger.error({ errorName: (error as Error).name, operation: op.operationId }, 'api handler failed');
        sendJson(res, 500, 'application/problem+json', { type: 'about:blank', title: 'Internal error', status: 500 });
      }
    });
  }

  router.use((req: Request, res: Response) => sendProblem(res, new ApiProblem('not_found', `No operation ${req.method} ${req.baseUrl}${req.path}.`)));
  // Body-parser errors: bad JSON and oversized bodies get problem answers too.
  router.use((error: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (error.type === 'entity.parse.failed') return sendProblem(res, new ApiProblem('malformed_json'));
    if (error.type === 'entity.too.large') return sendProblem(res, new ApiProblem('payload_too_large', 'A request body may be 15 MB at most.'));
    next(error);
  });
  return router;
}
