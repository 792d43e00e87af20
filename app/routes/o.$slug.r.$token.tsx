import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';
import { choicesOf, openPatientLink } from '../services/all.server';
import { optionalPatient, redirectTo, requireOrganisation } from '../services/all.server';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// A renewal link: it lands on the renewal flow after sign-in. It signs nobody in, and renews nothing by itself.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('renewLink.metaTitle') }, { name: 'robots', content: 'noindex' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const now = new Date();
  const opened = await openPatientLink(context.db, context.links.keyring, { purpose: 'renewal', orgId: org.id, token: params.token ?? '', now });
  const topicId = opened.ok ? opened.claims.context.topicId : undefined;
  const choice = opened.ok && topicId ? (await choicesOf(context.db, org.id, opened.claims.patientId, now)).find((c) => c.topic.id === topicId) : undefined;
  if (!opened.ok || !choice) {
    context.logger.info({ reason: opened.ok ? 'unknown_topic' : opened.reason }, 'renewal link refused');
    return data({ slug: org.slug, orgName: org.name, wrongPatient: false }, { status: 404 });
  }
  const target = `/o/${org.slug}/choices/${choice.topic.key}/sign`;
  const signedIn = await optionalPatient({ request, db: context.db, cookies: context.identity.cookies, org, now });
  if (!signedIn) throw redirectTo(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(target)}`);
  // Someone else is signed in on this browser: do not show or renew their choices from this link.
  if (signedIn.patient.id !== opened.claims.patientId) return data({ slug: org.slug, orgName: org.name, wrongPatient: true }, { status: 403 });
  throw redirectTo(target);
}

export default function RenewalLink() {
  const { slug, orgName, wrongPatient } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{wrongPatient ? t('renewLink.wrongTitle') : t('link.broken.title')}</h1>
      <p>
        {`${wrongPatient ? t('renewLink.wrongBody') : t('renewLink.brokenBody', { org: orgName })} `}
        <a href={`/o/${slug}/${wrongPatient ? 'account' : 'sign-in'}`}>{wrongPatient ? t('renewLink.account') : t('common.signIn')}</a>
      </p>
    </main>
  );
}
