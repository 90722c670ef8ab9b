import { test, expect, admin } from './support/fixtures';
import { ConsoleHome, LoginPage } from './support/pages';
import { createUser, unique } from './support/api';

test.describe('signing in to the Console', () => {
  test('the Console sends a visitor to sign in and back @nojs', async ({ page }) => {
    await page.goto('/console');
    await expect(page).toHaveURL(/\/login\?return_to=%2Fconsole$/);
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page).toHaveURL(/\/console$/);
    await expect(new ConsoleHome(page).welcome).toHaveText('Welcome, Administrator');
  });

  test('a wrong password gets one message and no session @nojs', async ({ page, request }) => {
    // A user of its own: wrong passwords for admin, from every run of this test, would add
    // up to a lockout that the tests beside it would meet.
    const name = `mistyped-${unique()}`;
    await createUser(request, name, 'mistyped-Password-1');
    await page.goto('/login');
    const login = new LoginPage(page);
    await login.signIn(name, 'not-the-password');
    await expect(login.error).toHaveText('Invalid username or password.');
    await page.goto('/console');
    await expect(page).toHaveURL(/\/login/);
  });

  test('an unknown user gets the very same message @nojs', async ({ page }) => {
    await page.goto('/login');
    const login = new LoginPage(page);
    await login.signIn('nobody-by-this-name', 'whatever');
    await expect(login.error).toHaveText('Invalid username or password.');
  });

  test('signing out ends the session @nojs', async ({ page }) => {
    await page.goto('/login');
    await new LoginPage(page).signIn(admin.username, admin.password);
    const home = new ConsoleHome(page);
    await expect(home.welcome).toBeVisible();
    await home.signOut();
    await expect(page).toHaveURL(/\/login$/);
    await home.goto();
    await expect(page).toHaveURL(/\/login\?return_to=/);
  });
});

test.describe('hydration', () => {
  test.use({ expectedConsoleErrors: [/status of 404 .*\/no\/such\/page\)$/] });
  test('the Console landing page becomes interactive', async ({ page }) => {
    await page.goto('/login');
    await new LoginPage(page).signIn(admin.username, admin.password);
    const home = new ConsoleHome(page);
    await home.waitForHydration();
    const details = page.locator('#session-details');
    await expect(details).toBeHidden();
    await expect(home.detailsToggle).toHaveAttribute('aria-expanded', 'false');

    await home.detailsToggle.click();

    await expect(home.detailsToggle).toHaveText('Hide session details');
    await expect(home.detailsToggle).toHaveAttribute('aria-expanded', 'true');
    await expect(details).toBeVisible();
    await expect(details).toContainText('admin@localhost');
  });

  test('the sign-in page downloads its own chunks, not the Console; the Console loads its own', async ({ page }) => {
    // The wasm is split at lazy routes (app/src/routes.rs): each page fetches the main
    // module and the chunks of its split point, and the server preloads those.
    const wasm: string[] = [];
    page.on('request', (request) => {
      const name = new URL(request.url()).pathname.split('/').pop()!;
      if (name.endsWith('.wasm')) wasm.push(name);
    });
    await page.goto('/login');
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    expect(wasm).toContain('frontend_bg.wasm');
    expect(wasm.some((name) => name.startsWith('split_login_page_'))).toBe(true);
    expect(wasm.filter((name) => name.startsWith('split_console_page_'))).toEqual([]);
    expect(wasm.filter((name) => name.startsWith('split_my_account_page_'))).toEqual([]);

    await new LoginPage(page).signIn(admin.username, admin.password);
    const home = new ConsoleHome(page);
    await home.waitForHydration();
    expect(wasm.some((name) => name.startsWith('split_console_page_'))).toBe(true);
    expect(wasm.filter((name) => name.startsWith('split_my_account_page_'))).toEqual([]);
    // And the Console works: a button of its chunk's code answers.
    await home.detailsToggle.click();
    await expect(home.detailsToggle).toHaveAttribute('aria-expanded', 'true');
  });

  test('an unknown page answers 404 with a page, and hydrates without errors', async ({ page }) => {
    const response = await page.goto('/no/such/page');
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
  });
});
