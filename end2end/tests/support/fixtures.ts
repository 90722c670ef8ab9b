import { test as base, expect } from '@playwright/test';

/**
 * `page`, failing the test on any browser console error or uncaught page error
 * (hydration mismatches and failed asset loads show up there).
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await use(page);
    expect(problems, 'the browser reported errors').toEqual([]);
  },
});

export { expect };

/** The bootstrap administrator the test server was started with. */
export const admin = {
  username: 'admin',
  get password(): string {
    return process.env.E2E_ADMIN_PASSWORD!;
  },
};
