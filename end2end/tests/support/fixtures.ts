import { test as base, expect } from '@playwright/test';

type Options = {
  /** Console errors a test provokes on purpose (say, the 404 of a missing page). */
  expectedConsoleErrors: RegExp[];
};

/**
 * `page`, failing the test on any browser console error or uncaught page error
 * (hydration mismatches and failed asset loads show up there).
 */
export const test = base.extend<Options>({
  expectedConsoleErrors: [[], { option: true }],
  page: async ({ page, expectedConsoleErrors }, use) => {
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

/** The bootstrap administrator the test server was started with. */
export const admin = {
  username: 'admin',
  get password(): string {
    return process.env.E2E_ADMIN_PASSWORD!;
  },
};
