// Writes a brotli (.br) and a gzip (.gz) copy beside each text file the browser loads from public/ (the Remix build,
// the service worker, the offline page, the manifest); server/http/static-files.ts serves them. Part of `npm run build`.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const TEXT = /\.(js|css|html|svg|webmanifest|json)$/;
// Below this size a compressed copy saves less than its headers cost.
const MIN_BYTES = 1024;

export function compressStaticFiles(publicDir = 'public'): { files: number; bytes: number; brotliBytes: number } {
  let files = 0;
  let bytes = 0;
  let brotliBytes = 0;
  for (const file of walk(publicDir)) {
    if (!TEXT.test(file)) continue;
    const content = fs.readFileSync(file);
    if (content.length < MIN_BYTES) continue;
    const br = zlib.brotliCompressSync(content, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: content.length } });
    fs.writeFileSync(`${file}.br`, br);
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(content, { level: 9 }));
    files += 1;
    bytes += content.length;
    brotliBytes += br.length;
  }
  return { files, bytes, brotliBytes };
}

function* walk(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else yield full;
  }
}
