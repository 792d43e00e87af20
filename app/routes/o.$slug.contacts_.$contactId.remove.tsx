import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, isRouteErrorResponse, Link, useActionData, useLoaderData, useNavigation, useParams, useRouteError } from '@remix-run/react';
import { FormError } from '../components/field';
import {
  deliverContactChangeNotices,
  getContactPointForPatient,
  listContactPoints,
  notFound,
  redirectTo,
  removeContactPoint,
  requireRecentVerification,
} from '../services/all.server';
import { pageT } from '../services/all.server';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('contactRemove.metaTitle') }];

async function signedIn(args: LoaderFunctionArgs | ActionFunctionArgs, now: Date) {
  // SE5: removing a contact point needs a verification from the last few minutes, like adding one.
  return requireRecentVerification({
    request: args.request,
    db: args.context.db,
    cookies: args.context.identity.cookies,
    slug: args.params.slug,
    now,
    returnTo: `/o/${args.params.slug}/contacts/${args.params.contactId}/remove`,
  });
}

export async function loader(args: LoaderFunctionArgs) {
  const { org, patient } = await signedIn(args, new Date());
  const db = args.context.db;
  // EN3: only this patient's own contact point; any other id is "not found".
  const point = await getContactPointForPatient({ db, orgId: org.id, patientId: patient.id, contactPointId: args.params.contactId ?? '' });
  if (!point) throw notFound();
  const all = await listContactPoints({ db, orgId: org.id, patientId: patient.id });
  const lastVerified = point.verifiedAt !== null && !all.some((p) => p.id !== point.id && p.verifiedAt !== null);
  return { slug: org.slug, point: { id: point.id, kind: point.kind, value: point.value }, lastVerified };
}

export async function action(args: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await signedIn(args, now);
  const result = await removeContactPoint({ db: args.context.db, orgId: org.id, patientId: patient.id, contactPointId: args.params.contactId ?? '', now });
  switch (result.status) {
    case 'not_found':
      throw notFound();
    case 'last_verified':
      return data({ error: pageT(args.request, args.context).t('contactRemove.lastVerified') }, { status: 400 });
    case 'removed': {
      const notices = result.notices;
      // After the commit and after answering; a failure is logged, never shown.
      const locale = pageT(args.request, args.context).locale;
      setImmediate(() => void deliverContactChangeNotices(args.context.transports, org.name, notices, locale));
      throw redirectTo(`/o/${org.slug}/contacts?done=removed`);
    }
  }
}

export default function RemoveContact() {
  const { slug, point, lastVerified } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t(point.kind === 'email' ? 'contactRemove.titleEmail' : 'contactRemove.titleSms')}</h1>
      <p>
        <strong className="contact-list__value">{point.value}</strong>
      </p>
      <FormError message={result?.error} />
      {lastVerified ? (
        <>
          <p className="notice">{t('contactRemove.lastVerified')}</p>
          <div className="button-row">
            <Link className="button" to={`/o/${slug}/contacts/new`}>
              {t('contacts.add')}
            </Link>
            <Link to={`/o/${slug}/contacts`}>{t('contactRemove.back')}</Link>
          </div>
        </>
      ) : (
        <>
          <p>{t('contactRemove.body')}</p>
          <Form method="post">
            <div className="button-row">
              <button className="button" type="submit" disabled={busy}>
                {t('contactRemove.yes')}
              </button>
              <Link to={`/o/${slug}/contacts`}>{t('contactRemove.no')}</Link>
            </div>
          </Form>
        </>
      )}
    </main>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const { slug } = useParams();
  const missing = isRouteErrorResponse(error) && error.status === 404;
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{missing ? t('contactRemove.notFoundTitle') : t('error.generic.title')}</h1>
      <p>{missing ? t('contactRemove.notFoundBody') : t('error.generic.body')}</p>
      <p>
        <Link to={`/o/${slug}/contacts`}>{t('contactRemove.back')}</Link>
      </p>
    </main>
  );
}
