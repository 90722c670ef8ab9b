import { test as base, expect, type Page } from '@playwright/test';
import { mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

type Options = {
  /** Console errors a test provokes on purpose (say, the 404 of a missing page). */
  expectedConsoleErrors: RegExp[];
};

type Fixtures = {
  /**
   * Held by a test that changes the organization's own settings (impersonation settings,
   * the notification template), and by a test that impersonates in it (an approval or a
   * default mode set by another would change what it sees): such tests take turns, across
   * workers and repeated runs, so that none reads back what another has just saved.
   */
  organizationSettings: void;
};

/**
 * `page`, failing the test on any browser console error or uncaught page error
 * (hydration mismatches and failed asset loads show up there).
 */
export const test = base.extend<Options & Fixtures>({
  expectedConsoleErrors: [[], { option: true }],
  // eslint-disable-next-line no-empty-pattern
  organizationSettings: async ({}, use) => {
    const lock = path.join(process.env.E2E_DATA_DIR ?? tmpdir(), 'organization-settings.lock');
    // mkdir is atomic: whoever creates the folder holds the lock.
    for (;;) {
      try {
        mkdirSync(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    try {
      await use();
    } finally {
      rmdirSync(lock);
    }
  },
  page: async ({ page, expectedConsoleErrors, javaScriptEnabled }, use) => {
    if (javaScriptEnabled) settleAfterNavigation(page);
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = `${message.text()} (${message.location().url})`;
      if (!expectedConsoleErrors.some((pattern) => pattern.test(text))) {
        problems.push(`console: ${text}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await use(page);
    expect(problems, 'the browser reported errors').toEqual([]);
  },
});

export { expect };

/**
 * Makes `page.goto` and `page.reload` return once one of our pages is hydrated, not merely
 * loaded. Until then a button is the server's HTML: a click is lost, or a form posts
 * natively and the page shows what it shows without JavaScript (no one-time secret). Pages
 * that never hydrate (the demo application, JSON, the plain OAuth pages) carry no module
 * preload and return at once. Other navigations (a link's click, a form's redirect) are
 * the test's to wait for.
 */
function settleAfterNavigation(page: Page) {
  const hydrated = () =>
    page.waitForFunction(
      () => document.body?.hasAttribute('data-hydrated') || !document.querySelector('link[rel=modulepreload]'),
    );
  const goto = page.goto.bind(page);
  page.goto = async (...args: Parameters<Page['goto']>) => {
    const response = await goto(...args);
    await hydrated();
    return response;
  };
  const reload = page.reload.bind(page);
  page.reload = async (...args: Parameters<Page['reload']>) => {
    const response = await reload(...args);
    await hydrated();
    return response;
  };
}

/** The bootstrap administrator the test server was started with. */
export const admin = {
  username: 'admin',
  get password(): string {
    return process.env.E2E_ADMIN_PASSWORD!;
  },
};
