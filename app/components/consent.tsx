import { useT } from '../i18n';
// Pieces shared by the consent pages.

/** The exact text of an authorisation version, as signed: its title and headed sections (AV5: the text they saw). */
// The admin console's preview renders this same component, so an admin sees exactly what the patient will; `id` only
// keeps the heading's id unique when a page shows more than one text.
// `lang`: the language the text is in, which may differ from the page's when no translation exists (WCAG 3.1.2).
export function AuthorizationTextView({
  text,
  id = 'auth-text-title',
  lang,
}: {
  text: { title: string; sections: { heading: string; paragraphs: string[] }[] };
  id?: string;
  lang?: string;
}) {
  return (
    <section className="auth-text" aria-labelledby={id} lang={lang}>
      <h2 id={id}>{text.title}</h2>
      {text.sections.map((s) => (
        <div key={s.heading}>
          <h3>{s.heading}</h3>
          {s.paragraphs.map((p, i) => (
            <p key={i}>{p}</p>
          ))}
        </div>
      ))}
    </section>
  );
}

/** What every refused link shows, whatever the reason: expired, tampered, another purpose or organisation (CX4). */
export function LinkDoesNotWork({ slug, orgName }: { slug: string; orgName: string }) {
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('link.broken.title')}</h1>
      <p>
        {`${t('link.broken.body')} `}
        <a href={`/o/${slug}/sign-in`}>{t('common.signIn')}</a>
        {` ${t('link.broken.after', { org: orgName })}`}
      </p>
    </main>
  );
}
