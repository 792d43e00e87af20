// Renders the PWA icons (public/icons/*.png) from their SVG sources in Debian's Chromium, once; the PNGs are committed.
// Run again after changing an SVG: `node --import tsx scripts/make-icons.ts`.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from '@playwright/test';

const dir = path.resolve('public/icons');
const icons = [
  { source: 'icon.svg', size: 192, out: 'icon-192.png' },
  { source: 'icon.svg', size: 512, out: 'icon-512.png' },
  { source: 'icon-maskable.svg', size: 512, out: 'icon-maskable-512.png' },
  // iOS ignores the manifest's icons and uses this one, unmasked and square (it rounds the corners itself).
  { source: 'icon-maskable.svg', size: 180, out: 'apple-touch-icon.png' },
];

const browser = await chromium.launch({ executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  for (const icon of icons) {
    const svg = fs.readFileSync(path.join(dir, icon.source), 'utf8');
    await page.setViewportSize({ width: icon.size, height: icon.size });
    const dataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
    await page.setContent(`<html><body style="margin:0"><img src="${dataUrl}" width="${icon.size}" height="${icon.size}" style="display:block"></body></html>`);
    await page.locator('img').evaluate((img: HTMLImageElement) => img.decode());
    // Transparent outside the rounded square of the plain icon; the maskable one is full bleed anyway.
    await page.screenshot({ path: path.join(dir, icon.out), omitBackground: true, clip: { x: 0, y: 0, width: icon.size, height: icon.size } });
    console.log(`${icon.out}: ${icon.size}x${icon.size}`);
  }
} finally {
  await browser.close();
}
