// RFC 9457 problem details: every API error has a type, a title, the status, and for bad input the fields at fault.
import { z } from 'zod';

export const problemSchema = z
  .object({
    type: z.string().describe('A URI naming the kind of problem; stable, documented in the OpenAPI document.'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.record(z.string(), z.array(z.string())).optional().describe('For validation_failed: what is wrong with each field, by its path.'),
  })
  .meta({ id: 'Problem' });

export type Problem = z.infer<typeof problemSchema>;

const TYPES = {
  unauthorized: [401, 'Missing, unknown, expired or revoked credentials'],
  insufficient_scope: [403, 'The credentials do not carry the scope this operation needs'],
  not_found: [404, 'No such resource in this organisation'],
  validation_failed: [400, 'The request is not valid'],
  malformed_json: [400, 'The body is not valid JSON'],
  idempotency_key_reused: [422, 'This Idempotency-Key was used with a different request'],
  idempotency_in_progress: [409, 'A request with this Idempotency-Key is still being answered'],
  conflict: [409, 'The request conflicts with the current state'],
  rate_limited: [429, 'Too many requests for this key'],
  payload_too_large: [413, 'The body is too large'],
} as const;

export type ProblemType = keyof typeof TYPES;

export class ApiProblem extends Error {
  constructor(
    readonly kind: ProblemType,
    readonly detail?: string,
    readonly errors?: Record<string, string[]>,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? TYPES[kind][1]);
    this.name = 'ApiProblem';
  }

  get status(): number {
    return TYPES[this.kind][0];
  }

  toJSON(): Problem {
    return {
      type: `https://carepost.dev/problems/${this.kind.replaceAll('_', '-')}`,
      title: TYPES[this.kind][1],
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** zod issues as `{ "recipients.0.channels": ["..."] }`: one entry per field path. */
export function fieldErrorsOf(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.') || '(body)';
    (out[path] ??= []).push(issue.message);
  }
  return out;
}
