import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';
import { LanguageSwitcher, useT } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export function loader({ request, context }: LoaderFunctionArgs) {
  const { t } = pageT(request, context);
  return { title: t('home.metaTitle'), description: t('home.metaDescription') };
}

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.title ?? 'Carepost' },
  { name: 'description', content: data?.description ?? '' },
];

export default function Index() {
  useLoaderData<typeof loader>();
  const t = useT();
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <LanguageSwitcher />
      <h1>Carepost</h1>
      <p>{t('home.intro')}</p>
      <div className="card">
        <h2>{t('home.lookingTitle')}</h2>
        <p>{t('home.lookingBody')}</p>
      </div>
    </main>
  );
}
