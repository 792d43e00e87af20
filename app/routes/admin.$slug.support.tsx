// Patient support: find a patient by exact email, mobile number or reference (POSTed, so never in a URL), see whether
// their sign-in is locked, and unlock it; see their recent notices as metadata (when, what kind, how it went) and ask
// for one again (ADR 016). No subjects or bodies, no consent details, no full contact values.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import {
  findPatientsForSupport,
  getOrganisationSettings,
  noticesForSupport,
  patientForSupport,
  requireAdmin,
  resendNotice,
  RESENDS_PER_MESSAGE_PER_DAY,
  unlockContactForSupport,
  type SupportNotice,
} from '../services/all.server';
import { reasonLabel } from '../utils/campaign-words';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Patient support · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'support', now: new Date() });
  return null;
}

type Outcome = { status: string; decision: string | null; reason: string | null; route: string | null; dueAt: string };
type NoticeView = Outcome & {
  deliveryId: string;
  channel: 'email' | 'sms';
  category: string;
  messageCreatedAt: string;
  messageState: string;
  lastResend: (Outcome & { resendNo: number }) | null;
  nextResendNo: number;
  resendsToday: number;
};
type PatientView = {
  id: string;
  displayName: string;
  externalRef: string;
  contacts: { id: string; kind: 'email' | 'sms'; masked: string; verified: boolean; lockedUntil: string | null; failures: number }[];
  notices: NoticeView[];
};
type ActionResult = { fieldErrors: Record<string, string>; message?: string; error?: string; searched?: boolean; patients: PatientView[]; timeZone?: string };

const outcome = (o: Omit<Outcome, 'dueAt'> & { dueAt: Date }): Outcome => ({ status: o.status, decision: o.decision, reason: o.reason, route: o.route, dueAt: o.dueAt.toISOString() });
const noticeView = (n: SupportNotice): NoticeView => ({
  ...outcome(n),
  deliveryId: n.deliveryId,
  channel: n.channel,
  category: n.category,
  messageCreatedAt: n.messageCreatedAt.toISOString(),
  messageState: n.messageState,
  lastResend: n.lastResend ? { ...outcome(n.lastResend), resendNo: n.lastResend.resendNo } : null,
  nextResendNo: n.nextResendNo,
  resendsToday: n.resendsToday,
});

/** Patients with their contact points and notices (one statement for the notices of all of them). */
async function views(db: Parameters<typeof noticesForSupport>[0], orgId: string, found: Awaited<ReturnType<typeof findPatientsForSupport>>, now: Date): Promise<PatientView[]> {
  const notices = await noticesForSupport(db, orgId, found.map((p) => p.id), now);
  return found.map((p) => ({
    ...p,
    contacts: p.contacts.map((c) => ({ ...c, lockedUntil: c.lockedUntil?.toISOString() ?? null })),
    notices: (notices.get(p.id) ?? []).map(noticeView),
  }));
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'support', now });
  const form = await request.formData();
  const secret = context.identity.codeSecret;
  const { timeZone } = await getOrganisationSettings(context.db, org.id);
  const patientView = async (patientId: string) => {
    const patient = await patientForSupport(context.db, secret, org.id, patientId, now);
    return patient ? views(context.db, org.id, [patient], now) : [];
  };
  if (form.get('intent') === 'unlock') {
    const result = await unlockContactForSupport(context.db, secret, { orgId: org.id, contactPointId: String(form.get('contactPointId') ?? ''), actor: { type: 'admin', id: admin.id }, now });
    if (result.status === 'not_found') return data<ActionResult>({ fieldErrors: {}, error: 'That contact point is not on record here.', patients: [], timeZone }, { status: 404 });
    return data<ActionResult>({ fieldErrors: {}, message: 'Sign-in is unlocked. The patient can ask for a new code now.', patients: await patientView(result.patientId), timeZone });
  }
  if (form.get('intent') === 'resend') {
    const result = await resendNotice(context.db, { orgId: org.id, deliveryId: String(form.get('deliveryId') ?? ''), resendNo: String(form.get('resendNo') ?? ''), actor: { type: 'admin', id: admin.id }, now });
    if (result.status === 'not_found') return data<ActionResult>({ fieldErrors: {}, error: 'That notice is not on record here.', patients: [], timeZone }, { status: 404 });
    const patients = await patientView(result.patientId);
    const answer = (status: number, error: string) => data<ActionResult>({ fieldErrors: {}, error, patients, timeZone }, { status });
    switch (result.status) {
      case 'invalid':
        return answer(400, `Nothing was resent. ${result.error}`);
      case 'already_requested':
        return answer(409, 'This resend was already requested (the button was pressed twice, or the page was out of date). Nothing more was sent.');
      case 'pending':
        return answer(409, 'An earlier resend of this notice is still waiting to go out. Nothing more was sent.');
      case 'rate_limited':
        return answer(429, `At most ${RESENDS_PER_MESSAGE_PER_DAY} resends of one message a day. Nothing was resent. Try again after ${formatDateTime(result.retryAt.toISOString(), timeZone)}.`);
    }
    const p = result.preview;
    const expect =
      p.kind === 'allow'
        ? 'It goes out within a minute.'
        : p.kind === 'defer'
          ? `It is held until ${formatDateTime(p.until.toISOString(), timeZone)}: ${reasonLabel(p.reason).toLowerCase()}.`
          : `It will not be sent: ${reasonLabel(p.reason).toLowerCase()}. The patient’s choices and our rules apply to resends too.`;
    return data<ActionResult>({ fieldErrors: {}, message: `Resend requested. ${expect}`, patients, timeZone });
  }
  const query = String(form.get('query') ?? '');
  if (query.trim().length === 0) return data<ActionResult>({ fieldErrors: { query: 'Enter an email address, a mobile number or a patient reference.' }, patients: [] }, { status: 400 });
  const found = await findPatientsForSupport(context.db, secret, org.id, query, now);
  return data<ActionResult>({ fieldErrors: {}, searched: true, patients: await views(context.db, org.id, found, now), timeZone });
}

const CATEGORY_WORDS: Record<string, string> = { treatment: 'Care', operations: 'Account', marketing: 'Marketing' };
const ROUTE_WORDS: Record<string, string> = {
  pgp: 'encrypted with PGP',
  tls: 'over TLS',
  portal_notice: 'as a notice',
  sms_notice: 'as a text notice',
  push_notice: 'as a notification',
  portal: 'in the portal',
};

/** How a notice (or its resend) went, for support: the engine's stable reason, in words. */
function outcomeWords(o: Outcome, timeZone: string): string {
  if (o.status === 'sent') return `Sent ${o.route ? (ROUTE_WORDS[o.route] ?? '') : ''}`.trim();
  if (o.status === 'blocked') return `Not sent: ${reasonLabel(o.reason ?? 'unknown').toLowerCase()}`;
  if (o.status === 'failed') return 'Could not be delivered';
  if (o.decision === 'defer' && o.reason) return `Held until ${formatDateTime(o.dueAt, timeZone)}: ${reasonLabel(o.reason).toLowerCase()}`;
  return 'Waiting to be sent';
}

export default function Support() {
  const result = useActionData<ActionResult>();
  const busy = useNavigation().state === 'submitting';
  const timeZone = result?.timeZone ?? 'UTC';
  const focusTarget = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) focusTarget.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <h1>Patient support</h1>
      <p>
        Find a patient who contacted you, to check or unlock their sign-in, or to send a notice again. You see masked contact points and when notices went out,
        never what a message says.
      </p>
      <Form method="post" noValidate className="card">
        <input type="hidden" name="intent" value="search" />
        <Field
          id="query"
          label="Email address, mobile number or patient reference"
          hint="An exact match. The search is not kept in any address or log."
          error={result?.fieldErrors.query}
          autoComplete="off"
          spellCheck={false}
          maxLength={254}
        />
        <button className="button" type="submit" disabled={busy}>
          Find patient
        </button>
      </Form>
      <div ref={focusTarget} tabIndex={-1} aria-live="polite">
        <FormError message={result?.fieldErrors.query ? 'Please fix the problem above.' : result?.error} />
        {result?.message ? (
          <p className="notice" role="status">
            {result.message}
          </p>
        ) : null}
        {result?.searched && result.patients.length === 0 ? <p>No patient matches exactly.</p> : null}
        {result?.patients.map((p) => (
          <section key={p.id} className="card" aria-labelledby={`patient-${p.id}`}>
            <h2 id={`patient-${p.id}`}>{p.displayName}</h2>
            <p className="muted">{`Reference ${p.externalRef}`}</p>
            <table className="data-table">
              <caption className="visually-hidden">{`Sign-in for ${p.displayName}`}</caption>
              <thead>
                <tr>
                  <th scope="col">Contact point</th>
                  <th scope="col">Sign-in</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {p.contacts.map((c) => (
                  <tr key={c.id}>
                    <td>{`${c.kind === 'email' ? 'Email' : 'Mobile'} ${c.masked}${c.verified ? '' : ' (not confirmed)'}`}</td>
                    <td>{c.lockedUntil ? `Locked until ${formatDateTime(c.lockedUntil, timeZone)}` : c.failures > 0 ? `${c.failures} wrong code${c.failures === 1 ? '' : 's'} in a row` : 'Not locked'}</td>
                    <td>
                      {c.lockedUntil || c.failures > 0 ? (
                        <Form method="post">
                          <input type="hidden" name="intent" value="unlock" />
                          <input type="hidden" name="contactPointId" value={c.id} />
                          <button className="button button--secondary" type="submit" aria-label={`Unlock sign-in with ${c.masked}`}>
                            Unlock
                          </button>
                        </Form>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3 id={`notices-${p.id}`}>Recent notices</h3>
            {p.notices.length === 0 ? (
              <p>No email or text-message notices of messages waiting in the portal in the last 30 days.</p>
            ) : (
              <div className="table-scroll" role="region" aria-labelledby={`notices-${p.id}`} tabIndex={0}>
                <table className="data-table">
                  <caption className="visually-hidden">{`Notices for ${p.displayName}: when, what kind and how they went; never their content`}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Message from</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Notice by</th>
                      <th scope="col">Status</th>
                      <th scope="col">Last resend</th>
                      <th scope="col">Action</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.notices.map((n) => {
                      const when = formatDateTime(n.messageCreatedAt, timeZone);
                      const by = n.channel === 'email' ? 'Email' : 'Text message';
                      return (
                        <tr key={n.deliveryId}>
                          <td>{when}</td>
                          <td>{CATEGORY_WORDS[n.category] ?? n.category}</td>
                          <td>{by}</td>
                          <td>{n.messageState === 'available' ? outcomeWords(n, timeZone) : `${outcomeWords(n, timeZone)} (message ${n.messageState})`}</td>
                          <td>{n.lastResend ? `${outcomeWords(n.lastResend, timeZone)} (resend ${n.lastResend.resendNo}; ${n.resendsToday} today)` : 'None'}</td>
                          <td>
                            {n.messageState === 'available' ? (
                              <Form method="post">
                                <input type="hidden" name="intent" value="resend" />
                                <input type="hidden" name="deliveryId" value={n.deliveryId} />
                                <input type="hidden" name="resendNo" value={n.nextResendNo} />
                                <button className="button button--secondary" type="submit" disabled={busy} aria-label={`Resend the ${by.toLowerCase()} notice of ${when}`}>
                                  Resend notice
                                </button>
                              </Form>
                            ) : null}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        ))}
      </div>
    </main>
  );
}
