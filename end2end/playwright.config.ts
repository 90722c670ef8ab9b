import { defineConfig } from '@playwright/test';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './tests/support/processes';

// The server under test is started here, once, on a free port with a fresh data folder.
// This file is evaluated again in every worker: the choice is made in the main process and
// handed down through the environment, which workers inherit.
if (!process.env.E2E_BASE_URL) {
  process.env.E2E_BASE_URL = `http://127.0.0.1:${freePort()}`;
  process.env.E2E_DATA_DIR = mkdtempSync(path.join(tmpdir(), 'idp-e2e-'));
  process.env.E2E_ADMIN_PASSWORD = 'e2e-Admin-password-1';
}
const baseURL = process.env.E2E_BASE_URL!;
// Server logs go here, beside Playwright's traces and screenshots (test-results/), so that
// a failure can be read after the run. scripts/test names the folder.
const logDir = process.env.IDP_TEST_LOG_DIR ?? path.resolve(__dirname, '..', 'test-logs');
process.env.IDP_TEST_LOG_DIR = logDir;
mkdirSync(logDir, { recursive: true });
/** What the servers under test log: requests with their status, and the product's own lines. */
process.env.E2E_RUST_LOG ??= 'info,tower_http=debug';
const serverBin = process.env.IDP_SERVER_BIN;
if (!serverBin) {
  throw new Error('IDP_SERVER_BIN must name the server binary (scripts/test sets it)');
}

const chromium = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

export default defineConfig({
  testDir: './tests',
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [['list']],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    launchOptions: chromium,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'chromium' },
    {
      // Pages that must work without JavaScript: tests tagged @nojs run here too, beside
      // the chromium project (tests that change the organization's settings take turns
      // through the organizationSettings fixture, whichever project runs them).
      name: 'no-javascript',
      grep: /@nojs/,
      use: { javaScriptEnabled: false },
    },
  ],
  webServer: {
    // Run by a shell: the server's output is appended to its log file.
    command: `exec "${serverBin}" >> "${path.join(logDir, 'e2e-server.log')}" 2>&1`,
    url: `${baseURL}/health/ready`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'ignore',
    env: {
      IDP_ADDR: new URL(baseURL).host,
      IDP_DATA_DIR: process.env.E2E_DATA_DIR!,
      IDP_ADMIN_PASSWORD: process.env.E2E_ADMIN_PASSWORD!,
      IDP_SITE_DIR: process.env.IDP_SITE_DIR ?? path.resolve(__dirname, '..', 'site'),
      RUST_LOG: process.env.E2E_RUST_LOG!,
      NO_COLOR: '1',
      // The webhook receivers of the tests listen on http://127.0.0.1.
      IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
    },
  },
});
