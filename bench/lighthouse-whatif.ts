// `node --import tsx bench/lighthouse-whatif.ts <page>[-<run>] [scenario ...]` (`a+b`: scenario a, then b)
// Lighthouse's simulated metrics (Lantern) again on what one run gathered (`npm run bench:lighthouse -- --artifacts`),
// with the network log edited: what a change would do to the simulated FCP/LCP/TBT, without the load of a shared
// machine in the comparison (the trace, and so every main-thread task, stays the recorded one). A size edit keeps
// the request and changes its bytes on the wire; a drop removes the request. Scenarios are below; `baseline` must
// give the run's own figures. Not a measurement of a real phone: it shows how Lantern weighs a change (ADR 023).
import fs from 'node:fs';
import path from 'node:path';
import lighthouse from 'lighthouse';

type DevtoolsEvent = { method: string; params: { requestId?: string; encodedDataLength?: number; dataLength?: number; request?: { url: string } } };
type Edit = (events: DevtoolsEvent[]) => DevtoolsEvent[];

const [stem, ...wanted] = process.argv.slice(2);
if (!stem) throw new Error('usage: bench/lighthouse-whatif.ts <page>[-<run>] [scenario ...]');
const source = `.cache/lighthouse/${stem}.artifacts`;
const lhr = JSON.parse(fs.readFileSync(path.join(source, 'lhr.report.json'), 'utf8')) as {
  finalDisplayedUrl: string;
  configSettings: { throttling: { cpuSlowdownMultiplier: number } };
};
const log = JSON.parse(fs.readFileSync(path.join(source, 'defaultPass.devtoolslog.json'), 'utf8')) as DevtoolsEvent[];
const urls = new Map<string, string>();
const bodyBytes = new Map<string, number>();
for (const event of log) {
  const id = event.params.requestId;
  if (!id) continue;
  if (event.method === 'Network.requestWillBeSent' && event.params.request) urls.set(id, event.params.request.url);
  if (event.method === 'Network.dataReceived') bodyBytes.set(id, (bodyBytes.get(id) ?? 0) + (event.params.dataLength ?? 0));
}
const urlOf = (event: DevtoolsEvent) => (event.params.requestId ? (urls.get(event.params.requestId) ?? '') : '');

const drop =
  (matches: (url: string) => boolean): Edit =>
  (events) =>
    events.filter((event) => !(event.params.requestId && matches(urlOf(event))));
const resize =
  (matches: (url: string) => boolean, bytes: (requestId: string, onWire: number) => number): Edit =>
  (events) =>
    events.map((event) => {
      if (!matches(urlOf(event))) return event;
      if (event.method === 'Network.loadingFinished') event.params.encodedDataLength = bytes(event.params.requestId!, event.params.encodedDataLength ?? 0);
      if (event.method === 'Network.dataReceived') event.params.encodedDataLength = 0;
      return event;
    });
const isDocument = (url: string) => url === lhr.finalDisplayedUrl;
const RESPONSE_HEADERS = 1_100; // about what our pages' headers weigh (CSP, permissions policy, cookies)

const SCENARIOS: Record<string, Edit> = {
  baseline: (events) => events,
  // The document as it was before ADR 023: its decoded body on the wire.
  'document-uncompressed': resize(isDocument, (id) => (bodyBytes.get(id) ?? 0) + RESPONSE_HEADERS),
  'document-60kB': resize(isDocument, () => 60_000),
  // The empty stand-ins for `*.server` modules and @remix-run/node (ADR 022), gone.
  'no-stand-in-chunks': drop((url) => /\/_shared\/chunk-[A-Z0-9]+\.js$/.test(url) && fs.existsSync(standInPath(url))),
  'static-headers-600B-less': resize((url) => url.includes('/build/'), (_id, onWire) => onWire - 600),
  'no-stylesheet': drop((url) => url.endsWith('.css')),
  'no-scripts': drop((url) => url.endsWith('.js')),
  'no-logo': drop((url) => url.endsWith('/logo.svg')),
  'no-catalogue': drop((url) => /\/ui-[a-z]+-[A-Z0-9]+\.js$/.test(url)),
  'largest-script-half': resize(largestScript(), (_id, onWire) => Math.round(onWire / 2)),
  // Every script in one request of their summed size: what the number of requests costs (HTTP/1.1, six connections).
  'one-script': oneScript,
  // The small shared chunks (all but React's) in one request of their summed size: a client barrel's effect.
  'app-chunks-merged': (events) => merge(events, (url) => /\/_shared\/chunk-[A-Z0-9]+\.js$/.test(url) && !largestScript()(url)),
  // Every shared chunk, React's too, in one request: a client barrel that entry.client imports as well.
  'shared-chunks-merged': (events) => merge(events, (url) => /\/_shared\/chunk-[A-Z0-9]+\.js$/.test(url)),
  // The same responses over HTTP/2 (one connection, multiplexed), as behind a TLS-terminating proxy.
  h2: (events) =>
    events.map((event) => {
      const response = (event.params as { response?: { protocol?: string } }).response;
      if (event.method === 'Network.responseReceived' && response) response.protocol = 'h2';
      return event;
    }),
};

/** Keeps the first matching request with every matching request's bytes, and drops the others. */
function merge(events: DevtoolsEvent[], matches: (url: string) => boolean): DevtoolsEvent[] {
  let total = 0;
  let first = '';
  for (const event of events) {
    if (event.method !== 'Network.loadingFinished' || !matches(urlOf(event))) continue;
    total += event.params.encodedDataLength ?? 0;
    first ||= urlOf(event);
  }
  return resize((url) => url === first, () => total)(drop((url) => matches(url) && url !== first)(events));
}

/** Keeps the largest script's request with every script's bytes, and drops the other scripts. */
function oneScript(events: DevtoolsEvent[]): DevtoolsEvent[] {
  const largest = largestScript();
  let total = 0;
  for (const event of events) if (event.method === 'Network.loadingFinished' && urlOf(event).endsWith('.js')) total += event.params.encodedDataLength ?? 0;
  return resize(largest, () => total)(drop((url) => url.endsWith('.js') && !largest(url))(events));
}

/** A stand-in chunk is the one whose whole text is an empty CommonJS module (`e.exports={}`). */
function standInPath(url: string): string {
  const file = path.join('public', new URL(url).pathname);
  try {
    return /^import\{[^}]+\}from"[^"]+";var \w=\w\(\(\w,\w\)=>\{\w\.exports=\{\}\}\);export\{\w as \w\};\s*$/.test(fs.readFileSync(file, 'utf8')) ? file : '';
  } catch {
    return '';
  }
}

function largestScript(): (url: string) => boolean {
  let largest = '';
  let size = 0;
  for (const event of log) {
    const url = urlOf(event);
    if (event.method === 'Network.loadingFinished' && url.endsWith('.js') && (event.params.encodedDataLength ?? 0) > size) {
      size = event.params.encodedDataLength ?? 0;
      largest = url;
    }
  }
  return (url) => url === largest;
}

for (const name of wanted.length > 0 ? wanted : Object.keys(SCENARIOS)) {
  // `a+b` applies scenario a, then b.
  const parts = name.split('+').map((part) => SCENARIOS[part]);
  if (parts.some((part) => !part)) throw new Error(`no scenario ${name}: ${Object.keys(SCENARIOS).join(', ')}`);
  const edit: Edit = (events) => parts.reduce((edited, part) => part!(edited), events);
  const dir = `.cache/lighthouse/whatif-${stem}-${name}`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(source, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'defaultPass.devtoolslog.json'), JSON.stringify(edit(structuredClone(log))));
  try {
    // The settings must be the gathered ones (Lighthouse refuses others in audit mode).
    const flags = { auditMode: dir, logLevel: 'error', onlyCategories: ['performance', 'accessibility', 'best-practices'], throttling: { cpuSlowdownMultiplier: lhr.configSettings.throttling.cpuSlowdownMultiplier } };
    const result = await lighthouse(lhr.finalDisplayedUrl, flags as Parameters<typeof lighthouse>[1]);
    const audits = result!.lhr.audits;
    const ms = (id: string) => Math.round(audits[id]?.numericValue ?? NaN);
    const score = result!.lhr.categories.performance?.score ?? 0;
    console.log(`${stem} ${name.padEnd(26)} performance ${score.toFixed(2)}  FCP ${ms('first-contentful-paint')} ms  LCP ${ms('largest-contentful-paint')} ms  TBT ${ms('total-blocking-time')} ms  SI ${ms('speed-index')} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
