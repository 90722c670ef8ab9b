import { test, expect, admin } from './support/fixtures';
import { LoginPage } from './support/pages';
import { adminAuth, createUser, unique } from './support/api';

test.describe('applications', () => {
  // A refused form is answered 400, which Chromium logs.
  test.use({ expectedConsoleErrors: [/status of 400/] });

  test('the readiness panel guides an application to be ready for impersonation @nojs', async ({ page, request }) => {
    const tag = unique();
    const name = `Support desk ${tag}`;
    const agent = `agent-${tag}`;
    await createUser(request, agent, 'agent-Password-1');
    await page.goto('/console/applications');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await page.locator('summary', { hasText: 'Create application' }).click();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Callback URL').fill(`https://desk-${tag}.example.test/callback`);
    await page.getByRole('button', { name: 'Create application' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    // The secret is shown once, then never again.
    await expect(page.getByTestId('client-secret')).toHaveText(/\S{20,}/);
    await page.reload();
    await expect(page.getByTestId('client-secret')).toHaveCount(0);

    const from = page.getByRole('list', { name: 'Impersonating from this application' });
    await expect(from.locator('li.unmet')).toHaveCount(5);
    await page.getByLabel('Token exchange (impersonation)').check();
    await page.getByLabel('Issue subject tokens (impersonation)').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(from.locator('li.unmet')).toHaveCount(3);

    await page.getByLabel('API to authorize').selectOption({ label: 'User Impersonation (system:impersonation)' });
    await page.getByRole('button', { name: 'Authorize' }).click();
    await expect(from.locator('li.unmet')).toHaveCount(2);

    // The role: its Fix link leads to the roles, where an application role is made.
    await from.locator('li.unmet', { hasText: 'grants internal_user_impersonate' }).getByRole('link', { name: 'Fix' }).click();
    await expect(page).toHaveURL(/\/console\/roles$/);
    await page.locator('summary', { hasText: 'Create role' }).click();
    await page.getByLabel('Role name').fill(`Desk impersonators ${tag}`);
    await page.getByLabel('Audience').selectOption({ label: `Application: ${name}` });
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('button', { name: 'Grant internal_user_impersonate' }).click();
    await expect(page.getByRole('button', { name: 'Withdraw internal_user_impersonate' })).toBeVisible();
    await page.getByLabel('Username to assign').fill(agent);
    await page.getByRole('button', { name: 'Assign user' }).click();
    await expect(page.getByRole('link', { name: agent })).toBeVisible();

    await page.goto('/console/applications');
    await page.getByRole('link', { name }).click();
    await expect(page.getByRole('heading', { name: 'Ready to impersonate from this application' })).toBeVisible();
    await expect(from.locator('li.unmet')).toHaveCount(0);

    const during = page.getByRole('list', { name: 'Used while impersonating' });
    await expect(during.locator('li.unmet')).toHaveCount(2);
    await page.getByLabel('Allow impersonated sign-in').check();
    await page.getByLabel('Discoverable in My Account').check();
    await page.getByLabel('Access URL').fill(`https://desk-${tag}.example.test/`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('heading', { name: 'Ready to be used while impersonating' })).toBeVisible();
  });

  test('an invalid callback URL is refused next to its field and nothing is saved', async ({ page }) => {
    const name = `Refused ${unique()}`;
    await page.goto('/console/applications');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.locator('summary', { hasText: 'Create application' }).click();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Callback URL').fill('https://ok.example.test/cb');
    await page.getByRole('button', { name: 'Create application' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();

    await page.getByLabel('Callback URLs (one per line)').fill('https://ok.example.test/cb\nhttps://bad.example.test/cb#fragment');
    await page.getByLabel('Name').fill(`${name} renamed`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('https://bad.example.test/cb#fragment is not an absolute http(s) URL without a fragment.')).toBeVisible();
    await page.reload();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();

    await page.getByRole('button', { name: 'Regenerate secret' }).click();
    await expect(page.getByTestId('client-secret')).toHaveText(/\S{20,}/);
  });

  test('the signing algorithms are chosen in the form and sign what the application gets', async ({ page, request }) => {
    const name = `Signed ${unique()}`;
    await page.goto('/console/applications');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.locator('summary', { hasText: 'Create application' }).click();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Callback URL').fill('https://signed.example.test/cb');
    await page.getByRole('button', { name: 'Create application' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    const id = page.url().split('/').pop()!;

    const accessAlg = page.getByLabel('Access token signing algorithm');
    const idAlg = page.getByLabel('ID token signing algorithm');
    await expect(accessAlg).toHaveValue('RS256');
    await expect(idAlg).toHaveValue('RS256');
    await page.getByLabel('Client credentials').check();
    await accessAlg.selectOption('EdDSA');
    await idAlg.selectOption('ES256');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('Saved.')).toBeVisible();
    await page.reload();
    await expect(accessAlg).toHaveValue('EdDSA');
    await expect(idAlg).toHaveValue('ES256');

    // What the application now gets over the wire is signed as chosen.
    const oidc = await request.get(`/api/server/v1/applications/${id}/inbound-protocols/oidc`, {
      headers: adminAuth(),
    });
    const config = await oidc.json();
    expect(config.idToken.idTokenSignedResponseAlg).toBe('ES256');
    await page.getByRole('button', { name: 'Regenerate secret' }).click();
    const secret = (await page.getByTestId('client-secret').textContent())!.trim();
    const token = await request.post('/oauth2/token', {
      form: { grant_type: 'client_credentials' },
      headers: { authorization: `Basic ${Buffer.from(`${config.clientId}:${secret}`).toString('base64')}` },
    });
    expect(token.status()).toBe(200);
    const jwt: string = (await token.json()).access_token;
    const header = JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
    expect(header.alg).toBe('EdDSA');
  });
});
