import { Link } from '@remix-run/react';

/** Newer / older links under a newest-first list; `?page=N` from 2 on. */
// Every word comes from the caller, in the page's language: `label` names the navigation, `newer` and `older` are the
// link texts ("Newer messages"), `pageWord` says which page this is ("Page 2" / "Página 2").
export function Pager({ base, page, hasNext, label, newer, older, pageWord }: { base: string; page: number; hasNext: boolean; label: string; newer: string; older: string; pageWord: (n: number) => string }) {
  if (page <= 1 && !hasNext) return null;
  return (
    <nav className="pager" aria-label={label}>
      <ul>
        {page > 1 ? (
          <li>
            <Link to={page === 2 ? base : `${base}?page=${page - 1}`} rel="prev">
              {newer}
            </Link>
          </li>
        ) : null}
        <li>{pageWord(page)}</li>
        {hasNext ? (
          <li>
            <Link to={`${base}?page=${page + 1}`} rel="next">
              {older}
            </Link>
          </li>
        ) : null}
      </ul>
    </nav>
  );
}

/** `?page=N` for a whole number from 1; anything else is the first page. */
export function pageOf(url: URL): number {
  const raw = url.searchParams.get('page');
  return raw !== null && /^[1-9][0-9]{0,5}$/.test(raw) ? Number(raw) : 1;
}
