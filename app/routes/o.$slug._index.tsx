import type { MetaFunction } from '@remix-run/node';
import { Link, useRouteLoaderData } from '@remix-run/react';
import type { loader as orgLoader } from './o.$slug';

export const meta: MetaFunction = ({ matches }) => {
  const parent = matches.find((m) => m.id === 'routes/o.$slug')?.data as { org?: { name: string } } | undefined;
  return [{ title: parent?.org ? `${parent.org.name} · Secure messages and your choices` : 'Carepost' }];
};

export default function OrganisationLanding() {
  const { org } = useRouteLoaderData<typeof orgLoader>('routes/o.$slug')!;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Secure messages and your choices</h1>
      <p>
        This is {org.name}&apos;s secure page on Carepost. Messages that could not be sent to you safely by email wait
        here until you prove who you are.
      </p>
      <section className="card" aria-labelledby="what-you-can-do">
        <h2 id="what-you-can-do">What you can do here</h2>
        <ul className="features">
          <li>Read secure messages from {org.name}.</li>
          <li>Give, renew or take back permission for marketing messages, one topic at a time.</li>
          <li>Choose email, text message or this portal, how often, and quiet hours.</li>
        </ul>
      </section>
      <section className="card" aria-labelledby="getting-here">
        <h2 id="getting-here">Got a notice from us?</h2>
        <p>
          Open the link in the notice. We will send a one-time code to an email address or phone number {org.name} has on
          record for you, or you can use a passkey.
        </p>
        <p>
          <Link className="button" to={`/o/${org.slug}/sign-in`}>
            Sign in
          </Link>
        </p>
        <p className="muted">Your care never depends on agreeing to marketing messages.</p>
      </section>
    </main>
  );
}
