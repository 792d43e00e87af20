// Create a topic (capability 'topics'). Bad input: 400 with field errors next to the fields and a summary; nothing changes.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { ErrorSummary } from '../components/error-summary';
import { Field } from '../components/field';
import { TextareaField } from '../components/textarea-field';
import { requireAdmin } from '../services/all.server';
import { createTopic, topicInputFrom, type TopicField } from '../services/all.server';
import { redirectTo } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'New topic · Carepost admin' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'topics', now: new Date() });
  return { slug: org.slug };
}

type Errors = Partial<Record<TopicField | 'form', string>>;

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'topics', now: new Date() });
  const input = topicInputFrom(await request.formData());
  const result = await createTopic(context.db, { orgId: org.id, input, actor: { adminId: admin.id } });
  if (result.status === 'invalid') return data({ errors: result.fieldErrors as Errors, input }, { status: 400 });
  throw redirectTo(`/admin/${org.slug}/topics/${result.topic.id}?created=1`);
}

const ORDER: TopicField[] = ['key', 'name', 'description', 'remunerated', 'thirdPartyName'];

export default function NewTopic() {
  const { slug } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Errors = result?.errors ?? {};
  const input = result?.input;
  const busy = useNavigation().state === 'submitting';
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result?.errors) summary.current?.focus();
  }, [result]);
  const list = ORDER.filter((f) => errors[f]).map((f) => ({ field: f, message: errors[f]! }));
  return (
    <main id="main" className="page" tabIndex={-1}>
      <p>
        <Link to={`/admin/${slug}/topics`}>Back to topics</Link>
      </p>
      <h1>New topic</h1>
      <ErrorSummary ref={summary} errors={list} />
      <Form method="post" noValidate>
        <Field
          id="key"
          label="Key"
          hint="Used in the API and in links, for example wellness-news. Lower-case letters, digits, - and _. It cannot change later."
          error={errors.key}
          defaultValue={input?.key}
          autoComplete="off"
          spellCheck={false}
          maxLength={63}
          required
        />
        <Field id="name" label="Name patients see" error={errors.name} defaultValue={input?.name} autoComplete="off" maxLength={120} required />
        <TextareaField id="description" label="Description" hint="One or two sentences shown on the patient's choices page." error={errors.description} defaultValue={input?.description} maxLength={500} rows={3} required />
        <fieldset className="choices" aria-describedby={errors.remunerated ? 'remunerated-error' : 'remunerated-hint'}>
          <legend>Payment</legend>
          <p id="remunerated-hint" className="field__hint">
            If a third party pays you for this marketing, every text for this topic must say so and name them (AV2).
          </p>
          {errors.remunerated ? (
            <p id="remunerated-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.remunerated}
            </p>
          ) : null}
          <label className="choice">
            <input id="remunerated" type="checkbox" name="remunerated" value="yes" defaultChecked={input?.remunerated} />A third party pays for this marketing
          </label>
        </fieldset>
        <Field id="thirdPartyName" label="Who pays (if paid)" error={errors.thirdPartyName} defaultValue={input?.thirdPartyName} autoComplete="organization" maxLength={120} />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Create topic
          </button>
          <Link to={`/admin/${slug}/topics`}>Cancel</Link>
        </div>
      </Form>
    </main>
  );
}
