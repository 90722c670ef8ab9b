import type { APIRequestContext } from '@playwright/test';
import { test, expect, admin } from './support/fixtures';
import { LoginPage } from './support/pages';
import { unique } from './support/api';

/** Registers a confidential application whose callback is a page of the test server. */
async function registerApp(request: APIRequestContext, baseURL: string, name: string) {
  const callback = `${baseURL}/health/live`;
  const auth = { Authorization: 'Basic ' + Buffer.from(`admin:${admin.password}`).toString('base64') };
  const created = await request.post('/api/server/v1/applications', {
    headers: auth,
    data: {
      name,
      inboundProtocolConfiguration: {
        oidc: { grantTypes: ['authorization_code'], callbackURLs: [callback] },
      },
    },
  });
  expect(created.status()).toBe(201);
  const oidc = await (await request.get(`${created.headers()['location']}/inbound-protocols/oidc`, { headers: auth })).json();
  return { clientId: oidc.clientId as string, callback };
}

function authorizeUrl(clientId: string, callback: string, state: string) {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: callback,
    scope: 'openid profile email',
    state,
  });
  return `/oauth2/authorize?${params}`;
}

test.describe('signing in to an application', () => {
  test('the user signs in, allows access, and the application gets a code @nojs', async ({ page, request, baseURL }, info) => {
    const app = await registerApp(request, baseURL!, `Consent ${info.project.name} ${unique()}`);
    await page.goto(authorizeUrl(app.clientId, app.callback, 'xyz'));
    await new LoginPage(page).signIn(admin.username, admin.password);

    await expect(page.getByRole('heading', { name: /wants to access your account/ })).toBeVisible();
    await expect(page.getByText('See your email address')).toBeVisible();
    await page.getByRole('button', { name: 'Allow' }).click();

    await expect(page).toHaveURL(/\/health\/live\?code=[^&]+&state=xyz&iss=/);
  });

  test('denying access sends access_denied back to the application @nojs', async ({ page, request, baseURL }, info) => {
    const app = await registerApp(request, baseURL!, `Denied ${info.project.name} ${unique()}`);
    await page.goto(authorizeUrl(app.clientId, app.callback, 'no'));
    await new LoginPage(page).signIn(admin.username, admin.password);
    await page.getByRole('button', { name: 'Deny' }).click();
    await expect(page).toHaveURL(/\/health\/live\?error=access_denied&/);
  });
});

test.describe('a request that cannot be trusted', () => {
  // The browser logs the page's own 400.
  test.use({ expectedConsoleErrors: [/status of 400/] });

  test('an unknown application gets an error page, not a redirect @nojs', async ({ page }) => {
    const response = await page.goto(authorizeUrl('no-such-client', 'https://evil.example/', 's'));
    expect(response?.status()).toBe(400);
    await expect(page.getByRole('alert')).toContainText('No application with this client_id');
  });
});
