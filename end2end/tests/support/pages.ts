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
