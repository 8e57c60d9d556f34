// Opens the self-contained HTML report in headless Chromium (Debian's `chromium` package, driven by
// playwright-core; no browser download). .ci/install-chromium.sh installs it in CI; where it is
// missing locally this test is skipped with a message.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport } from '../../src/reports/report/index.js';
import { makeResultsDir } from '../reports/helpers.js';

const CHROMIUM = process.env.DILBENCH_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`[dilbench] skipping the HTML report browser test: ${CHROMIUM} not found (install Debian's chromium package, e.g. .ci/install-chromium.sh)`);
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
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
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
    await page.waitForFunction(() => document.body.getAttribute('data-charts-ready') === 'true', null, { timeout: 60_000 });

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

    if (process.env.DILBENCH_SCREENSHOT) await page.screenshot({ path: process.env.DILBENCH_SCREENSHOT, fullPage: false });

    // tooltips: hovering a point of the latency chart shows the tooltip box
    const point = page.locator('#chart-1-latency svg path[aria-roledescription="point"]').first();
    await point.hover({ force: true });
    await page.waitForFunction(() => getComputedStyle(document.getElementById('dilbench-tooltip')!).display === 'block', null, { timeout: 10_000 });
    expect(await page.textContent('#dilbench-tooltip')).toMatch(/median \(ms\)/);

    // tables and environment
    expect(await page.locator('table.results').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('tr.is-latest').count()).toBeGreaterThan(0);
    expect(await page.textContent('#environment')).toContain('Intel(R) Xeon(R) Platinum 8488C');
    await page.close();
  }, 120_000);
});
