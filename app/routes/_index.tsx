import type { MetaFunction } from '@remix-run/node';

export const meta: MetaFunction = () => [
  { title: 'Carepost: secure messages and your communication choices' },
  { name: 'description', content: 'Read secure messages from your care provider and choose how they contact you.' },
];

export default function Index() {
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <h1>Carepost</h1>
      <p>
        Carepost is where your care provider keeps secure messages for you, and where you choose how, when and about
        what they contact you.
      </p>
      <div className="card">
        <h2>Looking for a message?</h2>
        <p>
          Open the link in the notice your provider sent you. It takes you to your provider&apos;s own Carepost page,
          where you prove who you are before anything private is shown.
        </p>
      </div>
    </main>
  );
}
