// The OpenAPI 3.1 document, built from the same operation table and zod schemas the router validates with.
import { z } from 'zod';
import { TOKEN_PATH, type Operation } from './framework';
import { ACCESS_TOKEN_TTL_S, oauthErrorSchema, tokenResponseSchema } from './oauth';

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  // An empty registry: every schema inline, so no `$ref` points into a `$defs` the OpenAPI document does not have.
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline', metadata: z.registry() }) as Json;
}

function strip(schema: Json): Json {
  const { $schema: _drop, ...rest } = schema;
  return rest;
}

export function openApiDocument(operations: Operation[], serverUrl: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const parameters: Json[] = [];
    for (const [where, schema] of [
      ['path', op.params],
      ['query', op.query],
    ] as const) {
      if (!schema) continue;
      const json = strip(schemaOf(schema, 'input')) as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, property] of Object.entries(json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: property });
      }
    }
    if (op.method === 'post') {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Any string of 1 to 255 visible ASCII characters. The same key with the same body returns the first answer; with another body, 422.',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      });
    }
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const type = Number(status) >= 400 ? 'application/problem+json' : 'application/json';
      responses[status] = { description: r.description, ...(r.schema ? { content: { [type]: { schema: strip(schemaOf(r.schema, 'output')) } } } : {}) };
    }
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      security: [{ apiKey: [op.scope] }],
      'x-required-scope': op.scope,
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: strip(schemaOf(op.body, 'input')) } } } } : {}),
      responses,
    };
  }
  paths[TOKEN_PATH] = {
    post: {
      operationId: 'issueAccessToken',
      summary: 'An access token (OAuth 2.0 client credentials)',
      description: `Send grant_type=client_credentials with your API key's two halves: client_id is "cpk_<prefix>" and client_secret the rest, in the form or as HTTP Basic. Optional scope: space-separated, among the key's. The token lasts ${ACCESS_TOKEN_TTL_S / 60} minutes and ends when its key is revoked.`,
      tags: ['Authentication'],
      security: [],
      'x-required-scope': 'none',
      requestBody: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: { type: 'object', required: ['grant_type'], properties: { grant_type: { const: 'client_credentials' }, client_id: { type: 'string' }, client_secret: { type: 'string' }, scope: { type: 'string' } } },
          },
        },
      },
      responses: {
        200: { description: 'A token', content: { 'application/json': { schema: strip(schemaOf(tokenResponseSchema, 'output')) } } },
        400: { description: 'Bad request, grant type or scope (RFC 6749 error)', content: { 'application/json': { schema: strip(schemaOf(oauthErrorSchema, 'output')) } } },
        401: { description: 'Bad client credentials (RFC 6749 error)', content: { 'application/json': { schema: strip(schemaOf(oauthErrorSchema, 'output')) } } },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Carepost organisation API',
      version: '1.0.0',
      description:
        'Send messages, ask whether a message may be sent, mint signed links for your own emails, and keep patients in step. Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem details.',
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`cpk_...`), or an access token from /oauth/token, with the scopes the operation names.' },
      },
    },
    paths,
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A readable page for the same document: no script, so it works under the strict CSP. */
export function docsPage(doc: Json): string {
  const info = doc.info as { title: string; description: string };
  const paths = doc.paths as Record<string, Record<string, { summary: string; description?: string; 'x-required-scope': string; requestBody?: Json; responses: Record<string, Json> }>>;
  const sections = Object.entries(paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(
        ([method, op]) => `<section>
  <h2><code>${method.toUpperCase()} /api/v1${escape(path)}</code></h2>
  <p><strong>${escape(op.summary)}</strong>${op.description ? ` ${escape(op.description)}` : ''}</p>
  <p>Scope: <code>${escape(op['x-required-scope'])}</code>. Responses: ${Object.keys(op.responses).map((s) => `<code>${s}</code>`).join(', ')}.</p>
  ${op.requestBody ? `<details><summary>Request body schema</summary><pre>${escape(JSON.stringify(Object.values((op.requestBody as { content: Record<string, { schema: Json }> }).content)[0]?.schema, null, 2))}</pre></details>` : ''}
</section>`,
      ),
    )
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(info.title)}</title></head>
<body><main><h1>${escape(info.title)}</h1><p>${escape(info.description)}</p><p>The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
${sections}</main></body></html>`;
}
