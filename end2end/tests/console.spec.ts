import { test, expect, admin } from './support/fixtures';
import { impersonate, LoginPage } from './support/pages';
import { assignRole, createUser, unique } from './support/api';

test.describe('the Users list', () => {
  test('searches by name and pages through the results @nojs', async ({ page, request }) => {
    const tag = unique();
    for (let i = 0; i < 23; i++) {
      await createUser(request, `pager-${tag}-${String(i).padStart(2, '0')}`, 'pager-Password-1', {
        givenName: 'Pat',
        familyName: `Pager${i}`,
      });
    }
    await page.goto('/console/users');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();

    await page.getByLabel('Search users').fill(`pager-${tag}`);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('status')).toHaveText('23 users');
    await expect(page.getByRole('row')).toHaveCount(1 + 20);
    await expect(page.getByRole('link', { name: `pager-${tag}-00` })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Previous' })).toHaveCount(0);
    await page.getByRole('link', { name: 'Next' }).click();
    await expect(page.getByRole('row')).toHaveCount(1 + 3);
    await expect(page.getByRole('link', { name: `pager-${tag}-22` })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Next' })).toHaveCount(0);
    await page.getByRole('link', { name: 'Previous' }).click();
    await expect(page.getByRole('row')).toHaveCount(1 + 20);
    await expect(page.getByRole('link', { name: `pager-${tag}-19` })).toBeVisible();

    // Sorting, in the database: the header sorts by its column, again the other way.
    await page.getByRole('link', { name: /^Username/ }).click();
    await expect(page.getByRole('columnheader', { name: /Username/ })).toHaveAttribute('aria-sort', 'descending');
    await expect(page.getByRole('row').nth(1)).toContainText(`pager-${tag}-22`);
    await page.getByRole('link', { name: 'Next' }).click();
    await expect(page.getByRole('row')).toHaveCount(1 + 3);
    await expect(page.getByRole('row').last()).toContainText(`pager-${tag}-00`);
    await page.getByRole('link', { name: /^Name/ }).click();
    await expect(page.getByRole('columnheader', { name: /Name/ }).first()).toHaveAttribute('aria-sort', 'ascending');
    // Family names Pager0, Pager1, Pager10, ... sort as text.
    await expect(page.getByRole('row').nth(1)).toContainText('Pat Pager0');
    await expect(page.getByRole('row').nth(2)).toContainText('Pat Pager1');
    await expect(page.getByRole('row').nth(3)).toContainText('Pat Pager10');

    await page.getByLabel('Search users').fill('no-such-user-anywhere');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('status')).toHaveText('No users match.');
  });

  test('a user page shows the profile and why Impersonate User is not available @nojs', async ({ page, request }) => {
    const name = `plain-${unique()}`;
    const id = await createUser(request, name, 'plain-Password-1', { givenName: 'Plain', familyName: 'User' });
    await page.goto(`/console/users/${id}`);
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.getByRole('heading', { name: 'Plain User', level: 1 })).toBeVisible();
    await expect(page.getByText(`${name}@example.test`)).toBeVisible();
    // The bootstrap administrator is not an impersonator until someone makes them one.
    const button = page.getByRole('button', { name: 'Impersonate User' });
    await expect(button).toBeDisabled();
    await expect(button).toHaveAccessibleDescription('You need the Impersonator role to impersonate users.');
  });
});

test.describe('Impersonate User', () => {
  test('opens My Account as the user in a new tab, and the session can be ended from the Console', async ({
    page,
    context,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `support-${tag}`;
    const target = `customer-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'support-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, target, 'customer-Password-1');

    await page.goto(`/console/users/${targetId}`);
    await new LoginPage(page).signIn(impersonator, 'support-Password-1');
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.getByRole('button', { name: 'Impersonate User' }).click();
    const dialog = page.getByRole('dialog', { name: `Impersonate ${target}` });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByText(/ends by itself after \d+ minutes/)).toBeVisible();
    await dialog.getByLabel('Reason').fill(`Ticket ${tag}: cannot see invoices`);
    const [myAccount] = await Promise.all([
      context.waitForEvent('page'),
      dialog.getByRole('button', { name: 'Start impersonation' }).click(),
    ]);

    await expect(myAccount).toHaveURL(/\/myaccount$/);
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toHaveText(
      new RegExp(`You are signed in as ${target}, impersonated by ${impersonator}`),
    );
    // The first tab is still the impersonator's own Console.
    await page.goto('/console');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${impersonator}`);

    await page.getByRole('link', { name: 'Impersonation sessions' }).click();
    const row = page.getByRole('row', { name: new RegExp(`Ticket ${tag}`) });
    await expect(row).toContainText(impersonator);
    await expect(row).toContainText(target);
    await expect(row).toContainText('Active until');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Target').fill(target);
    await page.getByLabel('Action').selectOption('impersonation-started');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/[?&]action=impersonation-started(&|$)/);
    await expect(page.getByRole('status')).toHaveText('1 record');
    await expect(page.getByRole('row', { name: /impersonation-started/ })).toContainText(impersonator);

    await page.getByRole('link', { name: 'Impersonation sessions' }).click();
    await page.getByRole('button', { name: `End the impersonation of ${target} by ${impersonator}` }).click();
    await expect(page.getByRole('row', { name: new RegExp(`Ticket ${tag}`) })).toContainText('ended by an administrator');

    await myAccount.reload();
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toHaveCount(0);
    // The tab is the impersonator's own My Account again: their name, every section.
    await expect(myAccount.getByRole('banner')).toContainText(impersonator);
    await expect(myAccount.getByRole('navigation', { name: 'My Account' }).getByRole('link', { name: 'Profile' })).toBeVisible();
  });

  test('Stop impersonating in My Account ends the session and returns to the Console', async ({
    page,
    request,
    organizationSettings: _,
  }) => {
    const tag = unique();
    const impersonator = `helper-${tag}`;
    const target = `client-${tag}`;
    const impersonatorId = await createUser(request, impersonator, 'helper-Password-1');
    await assignRole(request, 'Administrator', impersonatorId);
    await assignRole(request, 'Impersonator', impersonatorId);
    const targetId = await createUser(request, target, 'client-Password-1');

    await page.goto(`/console/users/${targetId}`);
    await new LoginPage(page).signIn(impersonator, 'helper-Password-1');
    const myAccount = await impersonate(page, `Walkthrough ${tag}`);
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toBeVisible();
    await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
    await expect(myAccount).toHaveURL(/\/console$/);
    await expect(myAccount.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${impersonator}`);

    await myAccount.goto('/console/impersonation-sessions');
    await expect(myAccount.getByRole('row', { name: new RegExp(`Walkthrough ${tag}`) })).toContainText('stopped by the impersonator');
  });
});
