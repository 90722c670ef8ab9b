import { expect, test, type Locator, type Page } from '@playwright/test';

/** The sign-in form. */
export class LoginPage {
  constructor(private readonly page: Page) {}

  async signIn(username: string, password: string) {
    await expect(this.page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  get error() {
    return this.page.getByRole('alert');
  }
}

/** The Console's landing page. */
export class ConsoleHome {
  constructor(private readonly page: Page) {}

  async goto() {
    await this.page.goto('/console');
  }

  get welcome() {
    return this.page.getByRole('heading', { level: 1 });
  }

  /** Resolves once the wasm has hydrated the page. */
  async waitForHydration() {
    await expect(this.page.locator('body[data-hydrated]')).toBeAttached();
  }

  get detailsToggle() {
    return this.page.getByRole('button', { name: /session details/ });
  }

  async signOut() {
    await this.page.getByRole('button', { name: 'Sign out' }).click();
  }
}

/**
 * On a user's page in the Console: Impersonate User with `reason`, and the tab it opens
 * (My Account as that user, once the handoff is through).
 */
export async function impersonate(page: Page, reason: string): Promise<Page> {
  await expect(page.locator('body[data-hydrated]')).toBeAttached();
  await page.getByRole('button', { name: 'Impersonate User' }).click();
  await page.getByLabel('Reason').fill(reason);
  const [myAccount] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('button', { name: 'Start impersonation' }).click(),
  ]);
  return myAccount;
}

/**
 * Clicks a form's submit `button` and resolves once the server has answered: the server
 * function's response and, without JavaScript, the page the browser is sent back to. A test
 * that navigates right after a save would otherwise abort the request in flight, and one
 * that reads the page would read it before the save.
 */
export async function submit(button: Locator): Promise<void> {
  const page = button.page();
  const answered = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname.startsWith('/api/'),
  );
  if (javaScriptEnabled()) {
    await button.click();
    await answered;
  } else {
    const loaded = page.waitForEvent('load');
    await button.click();
    await answered;
    await loaded;
  }
}

/** Whether the running test's project runs pages with JavaScript. */
export function javaScriptEnabled(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}
