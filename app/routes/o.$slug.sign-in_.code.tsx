import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { CodeField, FormError } from '../components/field';
import { codeFailure } from '../utils/code-errors';
import { attemptCookieName, readCookie, requireOrganisation, signedInRedirect, verifyCode } from '../services/all.server';
import { metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('code.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  return { slug: org.slug, orgName: org.name, hasAttempt: readCookie(request, attemptCookieName(context.identity.cookies)) !== undefined };
}

type ActionErrors = { code?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const form = await request.formData();
  const { t } = pageT(request, context);
  const code = String(form.get('code') ?? '').replace(/[\s-]/g, '');
  if (!/^\d{6}$/.test(code)) {
    return data<{ errors: ActionErrors }>({ errors: { code: t('code.formatError') } }, { status: 400 });
  }
  const now = new Date();
  const result = await verifyCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    attemptToken: readCookie(request, attemptCookieName(cookies)),
    code,
    now,
  });
  switch (result.status) {
    case 'verified':
      throw await signedInRedirect({
        db: context.db,
        request,
        cookies,
        orgId: org.id,
        patientId: result.patientId,
        method: result.method,
        location: `/o/${org.slug}/account`,
        followReturnCookie: { slug: org.slug },
        now,
      });
    default: {
      const failure = codeFailure(result, org.name, t);
      return data<{ errors: ActionErrors }>(
        { errors: { code: failure.field, form: failure.form } },
        { status: failure.status, headers: failure.retryAfter ? { 'Retry-After': String(failure.retryAfter) } : undefined },
      );
    }
  }
}

export default function EnterCode() {
  const { slug, hasAttempt } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: ActionErrors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('code.title')}</h1>
      {hasAttempt ? (
        <p className="notice">{t('code.sent')}</p>
      ) : (
        <p className="notice">
          {`${t('code.noAttempt')} `}
          <Link to={`/o/${slug}/sign-in`}>{t('code.ask')}</Link>.
        </p>
      )}
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <CodeField label={t('code.label')} hint={t('code.hint')} error={errors.code} />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            {t('common.signIn')}
          </button>
          <Link to={`/o/${slug}/sign-in`}>{t('code.askNew')}</Link>
        </div>
      </Form>
    </main>
  );
}
