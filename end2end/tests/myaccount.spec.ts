import type { APIRequestContext } from '@playwright/test';
import { test, expect } from './support/fixtures';
import { impersonate, javaScriptEnabled, LoginPage, submit } from './support/pages';
import { adminAuth, assignRole, createUser, unique } from './support/api';

/** Registers a discoverable application with an access URL; returns its id. */
async function discoverableApp(request: APIRequestContext, name: string, url: string): Promise<string> {
  const created = await request.post('/api/server/v1/applications', {
    headers: adminAuth(),
    data: {
      name,
      accessUrl: url,
      isDiscoverable: true,
      inboundProtocolConfiguration: { oidc: { grantTypes: ['authorization_code'], callbackURLs: [`${url}callback`] } },
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  return created.headers()['location'].split('/').pop()!;
}

test.describe('My Account', () => {
  test('applications shared with me, my profile, my sessions, and signing out everywhere @nojs', async ({ page, request }) => {
    const tag = unique();
    const user = `reader-${tag}`;
    await createUser(request, user, 'reader-Password-1', { givenName: 'Rita', familyName: 'Reader' });
    await discoverableApp(request, `Wiki ${tag}`, `https://wiki-${tag}.example.test/`);
    const payroll = await discoverableApp(request, `Payroll ${tag}`, `https://payroll-${tag}.example.test/`);
    // Payroll has a role of its own that Rita does not hold: it is not shared with her.
    const role = await request.post('/scim2/v2/Roles', {
      headers: adminAuth(),
      data: { displayName: `Payroll users ${tag}`, audience: { type: 'application', value: payroll } },
    });
    expect(role.status()).toBe(201);

    await page.goto('/myaccount');
    await new LoginPage(page).signIn(user, 'reader-Password-1');
    await expect(page.getByRole('heading', { name: 'Applications', level: 1 })).toBeVisible();
    await expect(page.getByRole('link', { name: `Launch Wiki ${tag}` })).toHaveAttribute('href', `https://wiki-${tag}.example.test/`);
    await expect(page.getByRole('link', { name: `Launch Payroll ${tag}` })).toHaveCount(0);
    await expect(page.getByRole('region', { name: 'Impersonation' })).toHaveCount(0);

    await page.getByRole('link', { name: 'Profile' }).click();
    await page.getByLabel('Given name').fill('Ritalyn');
    await submit(page.getByRole('button', { name: 'Save' }));
    // With JavaScript the page says so; without, the form posted and the browser came back.
    if (javaScriptEnabled()) await expect(page.getByRole('status')).toHaveText('Saved.');
    await expect(page).toHaveURL(/\/myaccount\/profile\??$/);
    // What the server has now, read afresh.
    await page.goto('/myaccount/profile');
    await expect(page.getByLabel('Given name')).toHaveValue('Ritalyn');

    await page.getByRole('link', { name: 'Security' }).click();
    await expect(page.getByRole('cell', { name: /\(this browser\)/ })).toBeVisible();
    await page.getByRole('link', { name: 'Access history' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'impersonated' })).toHaveText(
      'Nobody has impersonated you.',
    );
    await expect(page.getByRole('status').filter({ hasText: 'asked' })).toHaveText('Nobody has asked to act as you.');

    await page.getByRole('link', { name: 'Security' }).click();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await page.goto('/myaccount');
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  });

  test('a read-only impersonation with a ticket: the banner says read-only, the API keeps the ticket', async ({
    page,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `viewer-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'viewer-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, `looked-at-${tag}`, 'looked-Password-1');

    await page.goto(`/console/users/${targetId}`);
    await new LoginPage(page).signIn(impersonator, 'viewer-Password-1');
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.getByRole('button', { name: 'Impersonate User' }).click();
    await page.getByLabel('Reason').fill(`Look ${tag}`);
    await page.getByLabel('Ticket').fill(`SUP-${tag.replace(/\D/g, '') || '1'}`);
    await page.getByLabel('Mode').selectOption('readOnly');
    const [myAccount] = await Promise.all([
      page.context().waitForEvent('page'),
      page.getByRole('button', { name: 'Start impersonation' }).click(),
    ]);
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toContainText(', read-only.');
    const sessions = await (
      await request.get(`/api/server/v1/impersonation-sessions?impersonator=${impersonatorId}`, { headers: adminAuth() })
    ).json();
    expect(sessions.sessions[0].mode).toBe('readOnly');
    expect(sessions.sessions[0].ticket).toMatch(/^SUP-/);
    await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
    await expect(myAccount).toHaveURL(/\/console$/);
  });

  test('an impersonated session offers only Applications, and the user sees it in Access history', async ({
    page,
    browser,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `helpdesk-${tag}`;
    const target = `member-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'helpdesk-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, target, 'member-Password-1');

    await page.goto(`/console/users/${targetId}`);
    await new LoginPage(page).signIn(impersonator, 'helpdesk-Password-1');
    const myAccount = await impersonate(page, `Case ${tag}`);
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toBeVisible();
    const nav = myAccount.getByRole('navigation', { name: 'My Account' });
    await expect(nav.getByRole('link')).toHaveText(['Applications']);
    await myAccount.goto('/myaccount/profile');
    await expect(myAccount.getByText('This page is not available while impersonating.')).toBeVisible();
    await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
    await expect(myAccount).toHaveURL(/\/console$/);

    const own = await browser.newContext();
    const targetPage = await own.newPage();
    await targetPage.goto('/myaccount/history');
    await new LoginPage(targetPage).signIn(target, 'member-Password-1');
    const row = targetPage.getByRole('row', { name: new RegExp(`Case ${tag}`) });
    await expect(row).toContainText(impersonator);
    await expect(row).toContainText('My Account');
    await expect(row).toContainText('stopped by the impersonator');
    await own.close();
  });

  test('a shorter session counts down in the banner and Extend lengthens it up to the limit', async ({
    page,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `timer-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'timer-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, `timed-${tag}`, 'timed-Password-1');

    await page.goto(`/console/users/${targetId}`);
    await new LoginPage(page).signIn(impersonator, 'timer-Password-1');
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.getByRole('button', { name: 'Impersonate User' }).click();
    await page.getByLabel('Duration (minutes)').fill('5');
    const [myAccount] = await Promise.all([
      page.context().waitForEvent('page'),
      page.getByRole('button', { name: 'Start impersonation' }).click(),
    ]);
    const timer = myAccount.getByRole('region', { name: 'Impersonation' }).getByRole('timer');
    await expect(timer).toHaveText(/^4 min \d\d s left$/);
    await expect(myAccount.locator('body[data-hydrated]')).toBeAttached();
    // It counts down in the page, without a reload.
    const first = await timer.textContent();
    await expect(timer).not.toHaveText(first!);

    const session = async () =>
      (
        await (
          await request.get(`/api/server/v1/impersonation-sessions?impersonator=${impersonatorId}`, {
            headers: adminAuth(),
          })
        ).json()
      ).sessions[0];
    const before = Date.parse((await session()).expiresAt);
    await myAccount.getByRole('button', { name: 'Extend' }).click();
    await expect(timer).toHaveText(/^19 min \d\d s left$/);
    expect(Date.parse((await session()).expiresAt) - before).toBe(15 * 60 * 1000);
    // Up to the organization's limit (60 minutes from the start), then no more Extend.
    for (const expected of [/^34 min/, /^49 min/, /^(59|60) min/]) {
      await myAccount.getByRole('button', { name: 'Extend' }).click();
      await expect(timer).toHaveText(expected);
    }
    await expect(myAccount.getByRole('button', { name: 'Extend' })).toHaveCount(0);
    await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
    await expect(myAccount).toHaveURL(/\/console$/);
  });
});
