// Usage: node screenshot.mjs CHROMIUM URL OUT.png
// Opens an OHIF viewer URL, clicks "Yes" on the "open this segmentation?" prompt, waits for the overlay,
// saves a screenshot and prints one JSON line: the viewport canvas rectangle and what was clicked.
import { createRequire } from 'module';
const require = createRequire(process.cwd() + '/');
const puppeteer = require('puppeteer-core');

const [chromium, url, out] = process.argv.slice(2);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--window-size=1400,900',
         '--disable-dev-shm-usage'],
  defaultViewport: { width: 1400, height: 900 },
});
const result = { clicked: null, dismissed: null, canvas: null };
try {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: 'networkidle2', timeout: 90000 });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && !result.clicked) {
    result.clicked = await page.evaluate(() => {
      const buttons = [...document.querySelectorAll('button')];
      const yes = buttons.find(b => /^\s*yes\s*$/i.test(b.textContent));
      if (yes) { yes.click(); return yes.textContent.trim(); }
      return null;
    });
    if (!result.clicked) await sleep(500);
  }
  // let the segmentation load and render, then close the onboarding tour and the disclaimer banner
  await sleep(8000);
  result.dismissed = await page.evaluate(() => {
    const wanted = /^\s*(skip all|confirm and hide)\s*$/i;
    const hits = [...document.querySelectorAll('button, a, [role="button"], span, div')]
      .filter(e => e.children.length === 0 && wanted.test(e.textContent));
    hits.forEach(e => (e.closest('button, a, [role="button"]') || e).click());
    return hits.map(e => e.textContent.trim());
  });
  try { await page.waitForNetworkIdle({ idleTime: 1500, timeout: 30000 }); } catch (e) { /* keep going */ }
  await sleep(2000);
  result.canvas = await page.evaluate(() => {
    const canvases = [...document.querySelectorAll('canvas')]
      .map(c => c.getBoundingClientRect())
      .filter(r => r.width > 100 && r.height > 100)
      .sort((a, b) => b.width * b.height - a.width * a.height);
    const r = canvases[0];
    return r ? { x: r.x, y: r.y, width: r.width, height: r.height } : null;
  });
  await page.screenshot({ path: out });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
