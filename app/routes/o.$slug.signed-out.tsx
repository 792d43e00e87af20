import type { MetaFunction } from '@remix-run/node';
import { Link, useParams, useSearchParams } from '@remix-run/react';

export const meta: MetaFunction = () => [{ title: 'Signed out · Carepost' }];

export default function SignedOut() {
  const { slug } = useParams();
  const [search] = useSearchParams();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>You are signed out</h1>
      {search.get('reason') === 'timeout' ? <p className="notice">We signed you out because nothing happened for 15 minutes.</p> : null}
      <p>Nothing private is left in this browser. If this is a shared device, you can close the window.</p>
      <p>
        <Link className="button" to={`/o/${slug}/sign-in`}>
          Sign in again
        </Link>
      </p>
    </main>
  );
}
