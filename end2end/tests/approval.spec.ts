/**
 * Impersonation that asks first (issue 14), in the browser: where the organization asks
 * for the user's approval, an administrator requests access in the Console, the user
 * approves from the link in the mail, and the administrator impersonates, read-only by
 * the organization's default. The user's page works without JavaScript.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIRequestContext } from '@playwright/test';
import { test, expect, admin } from './support/fixtures';
import { adminAuth, assignRole, createUser, unique } from './support/api';
import { LoginPage, submit } from './support/pages';

const CONFIGS = '/api/server/v1/configs/impersonation';

/** Sets the organization's impersonation settings (the caller holds `organizationSettings`). */
async function configure(request: APIRequestContext, settings: Record<string, unknown>) {
  const operations = Object.entries(settings).map(([name, value]) => ({
    operation: 'REPLACE',
    path: `/${name}`,
    value,
  }));
  const answer = await request.patch(CONFIGS, { headers: adminAuth(), data: operations });
  expect(answer.status(), await answer.text()).toBe(200);
}

/** Back to the defaults the other tests run with. */
async function resetSettings(request: APIRequestContext) {
  expect((await request.delete(CONFIGS, { headers: adminAuth() })).status()).toBe(204);
}

/** The Access requests link of the mail to `recipient` (the server writes mail as files). */
async function accessRequestsLink(recipient: string): Promise<string> {
  const folder = path.join(process.env.E2E_DATA_DIR!, 'mail');
  let found: string | undefined;
  await expect
    .poll(
      () => {
        let names: string[] = [];
        try {
          names = readdirSync(folder);
        } catch {
          return undefined;
        }
        for (const name of names) {
          const raw = readFileSync(path.join(folder, name), 'utf8');
          if (!raw.includes(`To: ${recipient}`)) continue;
          // Quoted-printable: join soft line breaks, decode '='.
          const text = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
          found = text.match(/https?:\/\/[^\s"<]+\/myaccount\/access-requests/)?.[0];
          if (found) return found;
        }
        return undefined;
      },
      { timeout: 20_000 },
    )
    .toBeTruthy();
  return found!;
}

test.describe('approval', () => {
  test('the user approves from the mail link, the administrator impersonates read-only, and stops', async ({
    page,
    browser,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `asker-${tag}`;
    const target = `owner-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'asker-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, target, 'owner-Password-1');
    await configure(request, { approval: 'user', defaultMode: 'readOnly' });
    try {
      await test.step('the administrator requests access', async () => {
        await page.goto(`/console/users/${targetId}`);
        await new LoginPage(page).signIn(impersonator, 'asker-Password-1');
        await expect(page.locator('body[data-hydrated]')).toBeAttached();
        await expect(page.getByRole('button', { name: 'Impersonate User' })).toHaveCount(0);
        await page.getByRole('button', { name: 'Request access' }).click();
        await page.getByLabel('Reason').fill(`Invoice ${tag}`);
        await page.getByLabel('Ticket').fill('SUP-77');
        await page.getByRole('button', { name: 'Send request' }).click();
        await expect(page.getByText('Access requested: waiting for the user.')).toBeVisible();
      });

      const own = await browser.newContext();
      const userPage = await own.newPage();
      await test.step('the user approves from the link in the mail', async () => {
        const link = await accessRequestsLink(`${target}@example.test`);
        await userPage.goto(new URL(link).pathname);
        await new LoginPage(userPage).signIn(target, 'owner-Password-1');
        const asked = userPage.getByRole('article', { name: `Request from ${impersonator}` });
        await expect(asked).toContainText('asks to act as you, read-only');
        await expect(asked).toContainText(`Invoice ${tag}`);
        await expect(asked).toContainText('SUP-77');
        await asked.getByRole('button', { name: 'Approve' }).click();
        await expect(userPage.getByText('No request waits for your decision.')).toBeVisible();
        const approved = userPage.getByRole('region', { name: 'Approved, not used yet' });
        await expect(approved).toContainText(`${impersonator} may act as you once`);
        await expect(approved.getByRole('button', { name: 'Take back' })).toBeVisible();
      });

      await test.step('the administrator impersonates, read-only, and stops', async () => {
        await page.reload();
        // The button opens its dialog once the page is hydrated (after its chunks load).
        await expect(page.locator('body[data-hydrated]')).toBeAttached();
        await page.getByRole('button', { name: 'Impersonate User' }).click();
        const [myAccount] = await Promise.all([
          page.context().waitForEvent('page'),
          page.getByRole('button', { name: 'Start impersonation' }).click(),
        ]);
        await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toContainText(
          `You are signed in as ${target}, impersonated by ${impersonator}, read-only.`,
        );
        const sessions = await (
          await request.get(`/api/server/v1/impersonation-sessions?impersonator=${impersonatorId}`, {
            headers: adminAuth(),
          })
        ).json();
        expect(sessions.sessions[0].mode).toBe('readOnly');
        expect(sessions.sessions[0].reason).toBe(`Invoice ${tag}`);
        const requests = await (
          await request.get(`/api/server/v1/impersonation-requests?target=${targetId}`, { headers: adminAuth() })
        ).json();
        expect(requests.requests[0].status).toBe('used');
        await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
        await expect(myAccount).toHaveURL(/\/console$/);
      });

      await test.step('the approval is spent: the next time needs a new request', async () => {
        await page.reload();
        await expect(page.getByRole('button', { name: 'Request access' })).toBeVisible();
        await userPage.goto('/myaccount/history');
        const sessions = userPage.getByRole('table', { name: 'Impersonations' });
        await expect(sessions.getByRole('row', { name: new RegExp(`Invoice ${tag}`) })).toContainText(
          'stopped by the impersonator',
        );
        const requests = userPage.getByRole('table', { name: 'Requests and support access' });
        await expect(requests.getByRole('row', { name: /Request approved/ })).toContainText('approved by the user');
      });
      await own.close();
    } finally {
      await resetSettings(request);
    }
  });

  test('the user denies a request and grants and revokes support access in My Account @nojs', async ({
    page,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `hopeful-${tag}`;
    const target = `guarded-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'hopeful-Password-1');
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, target, 'guarded-Password-1');
    await configure(request, { approval: 'user' });
    try {
      const basic = 'Basic ' + Buffer.from(`${impersonator}:hopeful-Password-1`).toString('base64');
      const created = await request.post('/api/server/v1/impersonation-requests', {
        headers: { Authorization: basic },
        data: { target: targetId, reason: `Check ${tag}`, mode: 'full', durationMinutes: 20 },
      });
      expect(created.status(), await created.text()).toBe(201);

      await page.goto('/myaccount/access-requests');
      await new LoginPage(page).signIn(target, 'guarded-Password-1');
      const asked = page.getByRole('article', { name: `Request from ${impersonator}` });
      await expect(asked).toContainText('with full access, for up to 20 minutes');
      await asked.getByLabel('Comment').fill('Not today');
      await asked.getByRole('button', { name: 'Deny' }).click();
      await expect(page.getByText('No request waits for your decision.')).toBeVisible();
      await expect(page.getByRole('row', { name: new RegExp(`Check ${tag}`) })).toContainText('denied');
      const read = await (
        await request.get(`/api/server/v1/impersonation-requests/${(await created.json()).id}`, {
          headers: adminAuth(),
        })
      ).json();
      expect(read.comment).toBe('Not today');

      await page.getByLabel('Hours').fill('3');
      await page.getByRole('button', { name: 'Grant support access' }).click();
      await expect(page.getByText(/Support access is granted until/)).toBeVisible();
      await page.getByRole('button', { name: 'Revoke support access' }).click();
      await expect(page.getByRole('button', { name: 'Grant support access' })).toBeVisible();
      const audit = await (
        await request.get(`/api/server/v1/audit-events?action=support-access-revoked&limit=500`, {
          headers: adminAuth(),
        })
      ).json();
      expect(audit.events.some((e: { target?: string }) => e.target === targetId)).toBe(true);

      // All of it is in the Access history.
      await page.getByRole('link', { name: 'Access history' }).click();
      const history = page.getByRole('table', { name: 'Requests and support access' });
      await expect(history.getByRole('row', { name: /Asked to act as you/ })).toContainText(impersonator);
      await expect(history.getByRole('row', { name: /Request denied/ })).toContainText('denied by the user: Not today');
      await expect(history.getByRole('row', { name: /Support access granted/ })).toContainText('for 3 hours');
      await expect(history.getByRole('row', { name: /Support access revoked/ })).toBeVisible();
    } finally {
      await resetSettings(request);
    }
  });

  test("an approving administrator decides on the Console's first page, which shows the events @nojs", async ({
    page,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `second-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'second-Password-1');
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, `minded-${tag}`, 'minded-Password-1');
    await configure(request, { approval: 'administrator' });
    try {
      const basic = 'Basic ' + Buffer.from(`${impersonator}:second-Password-1`).toString('base64');
      const created = await request.post('/api/server/v1/impersonation-requests', {
        headers: { Authorization: basic },
        data: { target: targetId, reason: `Audit ${tag}` },
      });
      expect(created.status(), await created.text()).toBe(201);
      const id = (await created.json()).id;

      await page.goto('/console');
      await new LoginPage(page).signIn(admin.username, admin.password);
      const desk = page.getByRole('region', { name: 'Requests to decide' });
      const asked = desk.getByRole('article', { name: `Request from ${impersonator}` });
      await expect(asked).toContainText(`asks to impersonate minded-${tag}`);
      await expect(asked).toContainText(`Audit ${tag}`);
      await submit(asked.getByRole('button', { name: 'Approve' }));
      await expect(asked).toHaveCount(0);
      const read = await (
        await request.get(`/api/server/v1/impersonation-requests/${id}`, { headers: adminAuth() })
      ).json();
      expect(read.status).toBe('approved');
      const events = page.getByRole('region', { name: 'Latest impersonation events' });
      await expect(events.getByRole('row', { name: /impersonation-request-approved/ }).first()).toContainText(
        `minded-${tag}`,
      );
    } finally {
      await resetSettings(request);
    }
  });
});
