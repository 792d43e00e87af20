import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData, useNavigation } from '@remix-run/react';
import { choicesOf, revokeAuthorization } from '../services/all.server';
import { redirectTo, requirePatient } from '../services/all.server';
import { metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import { topicTranslationsOf } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// RV1: one action plus a confirmation, effective when it commits. Taking permission back never needs a step-up.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('revoke.metaTitle') }];

async function activeChoice(args: LoaderFunctionArgs) {
  const { request, params, context } = args;
  const now = new Date();
  const signedIn = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const choice = (await choicesOf(context.db, signedIn.org.id, signedIn.patient.id, now)).find((c) => c.topic.key === params.topic);
  if (!choice) throw data({ reason: 'unknown_topic' }, { status: 404 });
  if (choice.status.kind !== 'active') throw redirectTo(`/o/${signedIn.org.slug}/choices`);
  return { signedIn, choice, now };
}

export async function loader(args: LoaderFunctionArgs) {
  const { signedIn, choice } = await activeChoice(args);
  const { locale } = pageT(args.request, args.context);
  const words = await topicTranslationsOf(args.context.db, signedIn.org.id, locale, [choice.topic.id]);
  return { slug: signedIn.org.slug, topicName: words.get(choice.topic.id)?.name ?? choice.topic.name, orgName: signedIn.org.name };
}

export async function action(args: ActionFunctionArgs) {
  const { request, context } = args;
  const { signedIn, choice, now } = await activeChoice(args);
  const form = await request.formData();
  if (form.get('intent') !== 'revoke') return data({ error: 'Unknown action.' }, { status: 400 });
  await revokeAuthorization(context.db, {
    orgId: signedIn.org.id,
    patientId: signedIn.patient.id,
    topicId: choice.topic.id,
    evidence: {
      method: signedIn.session.verificationMethod,
      verifiedAt: signedIn.session.verifiedAt.toISOString(),
      ipAddress: context.clientIp,
      userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null,
      via: 'portal',
    },
    now,
  });
  throw redirectTo(`/o/${signedIn.org.slug}/choices?done=revoked`);
}

export default function RevokeAuthorization() {
  const { slug, topicName, orgName } = useLoaderData<typeof loader>();
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('revoke.title', { topic: topicName })}</h1>
      <p>{t('revoke.body', { org: orgName })}</p>
      <Form method="post">
        <input type="hidden" name="intent" value="revoke" />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            {t('revoke.yes')}
          </button>
          <Link to={`/o/${slug}/choices`}>{t('revoke.no')}</Link>
        </div>
      </Form>
    </main>
  );
}
