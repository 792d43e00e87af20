import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useParams, useSearchParams } from '@remix-run/react';
import { metaT, useT } from '../i18n';
import { localeCookie, toLocale } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('signedOut.metaTitle') }];

// Sign-out's Clear-Site-Data dropped the language cookie; `?lang=` puts the patient's language back for this browser.
export function loader({ request, context }: LoaderFunctionArgs) {
  const lang = toLocale(new URL(request.url).searchParams.get('lang'));
  return lang ? data(null, { headers: { 'Set-Cookie': localeCookie(lang, context.identity.cookies) } }) : null;
}

export default function SignedOut() {
  const { slug } = useParams();
  const [search] = useSearchParams();
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('signedOut.title')}</h1>
      {search.get('reason') === 'timeout' ? <p className="notice">{t('signedOut.timeout')}</p> : null}
      <p>{t('signedOut.body')}</p>
      <p>
        <Link className="button" to={`/o/${slug}/sign-in`}>
          {t('signedOut.again')}
        </Link>
      </p>
    </main>
  );
}
