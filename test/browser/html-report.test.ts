// Opens the self-contained HTML report in headless Chromium (Debian's `chromium` package, driven by
// playwright-core; no browser download): every chart renders offline, and the first screen answers
// (checked on its screenshot). DILBENCH_SCREENSHOT=file.png keeps that screenshot. .ci/install-chromium.sh installs it in CI; where it is
// missing locally this test is skipped with a message.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport } from '../../src/reports/report/index.js';
import { IMPLEMENTATION_STYLES } from '../../src/reports/plots/data.js';
import { decodePng, makeResultsDir, variance } from '../reports/helpers.js';

const CHROMIUM = process.env.DILBENCH_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `[dilbench] skipping the HTML report browser test: ${CHROMIUM} not found (install Debian's chromium package, e.g. .ci/install-chromium.sh)`,
  );
}

describe.skipIf(!haveChromium)('HTML report in headless Chromium', () => {
  let browser: Browser;
  let htmlPath: string;
  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'dilbench-html-'));
    await generateReport({ resultsDir: makeResultsDir(), outDir: out, formats: ['html'] });
    htmlPath = join(out, 'report.html');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('renders every chart, logs no errors and requests nothing but the file', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
    await page.waitForFunction(
      () => document.body.getAttribute('data-charts-ready') === 'true',
      null,
      { timeout: 60_000 },
    );

    const charts = await page.$$eval('.chart', (els) =>
      els.map((el) => ({
        id: el.id,
        rendered: el.getAttribute('data-rendered') === 'true',
        graphics: el.querySelectorAll('svg, canvas').length,
        marks: el.querySelectorAll('svg path, svg line, svg rect').length,
      })),
    );
    expect(charts.length).toBeGreaterThanOrEqual(14);
    for (const c of charts) {
      expect(c.rendered, c.id).toBe(true);
      expect(c.graphics, c.id).toBeGreaterThan(0);
      expect(c.marks, c.id).toBeGreaterThan(10);
    }
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);

    // tooltips: hovering a point of the visible run's latency chart shows the tooltip box
    const point = page.locator('#chart-4-latency svg path[aria-roledescription="point"]').first();
    await point.hover({ force: true });
    await page.waitForFunction(
      () => getComputedStyle(document.getElementById('dilbench-tooltip')!).display === 'block',
      null,
      { timeout: 10_000 },
    );
    expect(await page.textContent('#dilbench-tooltip')).toMatch(/median \(ms\)/);
    await page.mouse.move(0, 0);

    // tables and environment
    expect(await page.locator('table.results').count()).toBeGreaterThanOrEqual(5);
    expect(await page.textContent('#environment')).toContain('Intel(R) Xeon(R) Platinum 8488C');
    await page.close();
  }, 120_000);

  it('answers on the first screen, names runs by suite and time, and lets the reader pick a run, an implementation and a length', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
    await page.waitForFunction(
      () => document.body.getAttribute('data-charts-ready') === 'true',
      null,
      { timeout: 60_000 },
    );
    const shot = await page.screenshot({ fullPage: false });
    if (process.env.DILBENCH_SCREENSHOT) writeFileSync(process.env.DILBENCH_SCREENSHOT, shot);

    // the first screen: the answer table of the newest ranked run and its latency chart, wholly inside the viewport
    const answer = page.locator('.run-answer:not([hidden]) table.answer');
    const box = (await answer.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(900);
    const heading = await page.locator('.run-answer:not([hidden]) h2').textContent();
    expect(heading).toContain('ring 2026-11-21 12:00 UTC');
    const chart = (await page.locator('.run-answer:not([hidden]) .chart').boundingBox())!;
    expect(chart.y + chart.height).toBeLessThanOrEqual(900);
    // what the first screen shows: no run UUIDs, and the answer rows
    const visible = await page.evaluate(() => {
      const out: string[] = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement!;
        const r = el.getBoundingClientRect();
        if (r.bottom > 0 && r.top < 900 && el.offsetParent !== null && n.textContent!.trim())
          out.push(n.textContent!.trim());
      }
      return out.join(' ');
    });
    expect(visible).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
    expect(visible).toMatch(/Fastest exact attention per length/);
    // the screenshot: a real picture (not blank), with the palette colour of the implementations the chart draws
    const png = decodePng(shot);
    expect(png.width).toBe(1400);
    expect(variance(png.pixels)).toBeGreaterThan(100);
    const flash = [1, 3, 5].map((i) =>
      parseInt(IMPLEMENTATION_STYLES.flash!.color.slice(i, i + 2), 16),
    );
    let flashPixels = 0;
    for (let i = 0; i < png.pixels.length; i += png.channels) {
      if (
        png.pixels[i] === flash[0] &&
        png.pixels[i + 1] === flash[1] &&
        png.pixels[i + 2] === flash[2]
      )
        flashPixels++;
    }
    expect(flashPixels).toBeGreaterThan(20);

    // runs are named by suite and time
    const names = await page.$$eval('#pick-run option', (os) => os.map((o) => o.textContent));
    expect(names).toEqual([
      'ring 2026-11-21 12:00 UTC',
      'optimization-impact 2026-11-21 11:00 UTC',
      'sequence-ranges 2026-11-21 09:30 UTC',
      'sequence-ranges 2026-11-20 10:00 UTC',
    ]);

    // pick another run: its answer and its rows, nothing of the others
    await page.selectOption('#pick-run', { label: 'sequence-ranges 2026-11-20 10:00 UTC' });
    expect(await page.locator('.run-answer:not([hidden]) h2').textContent()).toContain(
      'sequence-ranges 2026-11-20 10:00 UTC',
    );
    expect(await page.locator('section.run:not([hidden])').count()).toBe(1);
    // pick an implementation and a length: only its rows stay
    await page.selectOption('#pick-impl', 'flash');
    const rowImpls = await page.$$eval(
      'section.run:not([hidden]) table.results tbody tr:not([hidden])',
      (trs) => trs.map((t) => t.getAttribute('data-impl')),
    );
    expect(rowImpls.length).toBeGreaterThan(0);
    expect(new Set(rowImpls)).toEqual(new Set(['flash']));
    const lens = await page.$$eval('#pick-len option', (os) =>
      os.map((o) => (o as HTMLOptionElement).value).filter((v) => v),
    );
    await page.selectOption('#pick-len', lens[0]!);
    const left = await page.$$eval(
      'section.run:not([hidden]) table.results tbody tr:not([hidden])',
      (trs) => trs.map((t) => `${t.getAttribute('data-impl')}@${t.getAttribute('data-len')}`),
    );
    expect(left).toEqual([`flash@${lens[0]}`]);
    const answerLens = await page.$$eval(
      '.run-answer:not([hidden]) tbody tr:not([hidden])',
      (trs) => trs.map((t) => t.getAttribute('data-len')),
    );
    expect(answerLens).toEqual([lens[0]]);
    await page.close();
  }, 120_000);
});
