// Pieces shared by the consent pages.

/** The exact text of an authorisation version, as signed: its title and headed sections (AV5: the text they saw). */
// The admin console's preview renders this same component, so an admin sees exactly what the patient will; `id` only
// keeps the heading's id unique when a page shows more than one text.
export function AuthorizationTextView({ text, id = 'auth-text-title' }: { text: { title: string; sections: { heading: string; paragraphs: string[] }[] }; id?: string }) {
  return (
    <section className="auth-text" aria-labelledby={id}>
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
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>This link does not work</h1>
      <p>
        It may have expired or been copied wrongly. <a href={`/o/${slug}/sign-in`}>Sign in</a> to change how {orgName} contacts you.
      </p>
    </main>
  );
}
