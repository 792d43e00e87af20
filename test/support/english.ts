// Finds English left on a page that should be Spanish (issue 9, item 3): the visible text and the accessible names
// (aria-label, title, placeholder, alt), less scripts, styles, the language switcher (which names each language in
// itself), what the patient typed (a textarea echoed back) and IANA time-zone names, split into text runs; a run with a common English function word is reported. Spanish never uses these
// words, so a hit means a hard-coded English sentence.
const ENGLISH = /\b(the|your|you|this|that|these|with|and|to|of|is|are|was|has|have|not|from|for|here|please|sign in|it)\b/i;

const TIME_ZONE = /^[A-Z][A-Za-z_-]+(?:\/[A-Z][A-Za-z_ -]+)+$/;

function decode(text: string): string {
  return text
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

export function englishLeft(html: string): string[] {
  const page = html
    .replace(/<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<form[^>]*class="language-switcher[\s\S]*?<\/form>/gi, ' ')
    .replace(/(<textarea[^>]*>)[\s\S]*?<\/textarea>/gi, '$1</textarea>')
    .replace(/<!--[\s\S]*?-->/g, '');
  const labels = [...page.matchAll(/\s(?:aria-label|title|placeholder|alt)="([^"]*)"/gi)].map((m) => m[1]!);
  const text = page.split(/<[^>]*>/);
  return [...text, ...labels]
    .map((run) => decode(run).replace(/\s+/g, ' ').trim())
    .filter((run) => run !== '' && !TIME_ZONE.test(run) && ENGLISH.test(run));
}
