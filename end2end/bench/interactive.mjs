// Time until a page is interactive, as a person meets it: cold loads (cache off) in
// Chromium of the sign-in page, the Console and My Account, until the wasm has hydrated the
// page (`body[data-hydrated]`), on loopback and through Chromium's emulation of a
// 10 Mbit/s line with 40 ms latency. Prints the median of `runs` loads, the bytes
// transferred and the requests. Run by scripts/bench against a server it starts:
//   node end2end/bench/interactive.mjs <base URL> <admin password> [runs, default 5]
import { chromium } from 'playwright-core';

const [base, password, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

/** The cookies of a signed-in administrator. */
async function signedIn() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.waitForSelector('body[data-hydrated]', { state: 'attached' });
  await page.fill('#username', 'admin');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/console$/), page.click('button[type=submit]')]);
  const state = await context.storageState();
  await context.close();
  return state;
}

async function load(path, storageState, line) {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (line) {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 5e6 / 8,
    });
  }
  let bytes = 0;
  let requests = 0;
  cdp.on('Network.loadingFinished', (event) => { bytes += event.encodedDataLength; requests += 1; });
  const started = Date.now();
  await page.goto(`${base}${path}`);
  await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 30_000 });
  const ms = Date.now() - started;
  await context.close();
  return { ms, bytes, requests };
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
const admin = await signedIn();
for (const [line, label] of [[false, 'loopback'], [true, '10 Mbit/s, 40 ms']]) {
  console.log(`time until interactive, ${label}, median of ${runs} cold loads:`);
  for (const [path, state] of [['/login', undefined], ['/myaccount', admin], ['/console', admin]]) {
    const results = [];
    for (let i = 0; i < runs; i += 1) results.push(await load(path, state, line));
    const ms = median(results.map((r) => r.ms));
    const kb = median(results.map((r) => r.bytes));
    const requests = median(results.map((r) => r.requests));
    console.log(`  ${path.padEnd(12)} ${String(ms).padStart(6)} ms   ${kb.toLocaleString('en').padStart(9)} bytes in ${requests} requests`);
  }
}
await browser.close();
