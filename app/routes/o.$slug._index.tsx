import type { MetaFunction } from '@remix-run/node';
import { Link, useRouteLoaderData } from '@remix-run/react';
import type { loader as orgLoader } from './o.$slug';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => {
  const parent = matches.find((m) => m.id === 'routes/o.$slug')?.data as { org?: { name: string } } | undefined;
  return [{ title: parent?.org ? metaT(matches)('landing.metaTitle', { org: parent.org.name }) : 'Carepost' }];
};

export default function OrganisationLanding() {
  const { org } = useRouteLoaderData<typeof orgLoader>('routes/o.$slug')!;
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('landing.title')}</h1>
      <p>{t('landing.intro', { org: org.name })}</p>
      <section className="card" aria-labelledby="what-you-can-do">
        <h2 id="what-you-can-do">{t('landing.canDo')}</h2>
        <ul className="features">
          <li>{t('landing.canDo.read', { org: org.name })}</li>
          <li>{t('landing.canDo.consent')}</li>
          <li>{t('landing.canDo.channels')}</li>
        </ul>
      </section>
      <section className="card" aria-labelledby="getting-here">
        <h2 id="getting-here">{t('landing.notice')}</h2>
        <p>{t('landing.noticeBody', { org: org.name })}</p>
        <p>
          <Link className="button" to={`/o/${org.slug}/sign-in`}>
            {t('common.signIn')}
          </Link>
        </p>
        <p className="muted">{t('landing.careNote')}</p>
      </section>
    </main>
  );
}
