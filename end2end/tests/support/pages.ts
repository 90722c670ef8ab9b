import { expect, type Page } from '@playwright/test';

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
