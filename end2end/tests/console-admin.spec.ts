import { test, expect, admin } from './support/fixtures';
import { LoginPage, submit } from './support/pages';
import { createUser, unique } from './support/api';

test.describe('managing users', () => {
  // A refused form is answered 400, which Chromium logs.
  test.use({ expectedConsoleErrors: [/status of 400/] });

  test('create a user, edit the profile, lock, unlock and delete @nojs', async ({ page }) => {
    const name = `newbie-${unique()}`;
    await page.goto('/console/users');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await page.locator('summary', { hasText: 'Create user' }).click();
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Email').fill(`${name}@example.test`);
    await page.getByLabel('Given name').fill('New');
    await page.getByLabel('Family name').fill('Comer');
    await page.getByLabel('Password').fill('newbie-Password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await expect(page.getByRole('heading', { name: 'New Comer', level: 1 })).toBeVisible();

    await page.getByLabel('Given name').fill('Renamed');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await expect(page.getByRole('heading', { name: 'Renamed Comer', level: 1 })).toBeVisible();

    await page.getByRole('button', { name: 'Lock' }).click();
    await expect(page.getByRole('button', { name: 'Unlock' })).toBeVisible();
    await expect(page.getByText('Locked', { exact: true })).toBeVisible();
    await page.getByRole('button', { name: 'Unlock' }).click();
    await expect(page.getByRole('button', { name: 'Lock' })).toBeVisible();

    await page.getByText('Delete user').click();
    await page.getByRole('button', { name: 'Delete permanently' }).click();
    await expect(page).toHaveURL(/\/console\/users$/);
    await page.getByLabel('Search users').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('status')).toHaveText('No users match.');
  });

  test('a taken username is refused next to the field and nothing is created', async ({ page, request }) => {
    const name = `taken-${unique()}`;
    await createUser(request, name, 'taken-Password-1');
    await page.goto('/console/users');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.locator('summary', { hasText: 'Create user' }).click();
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill('other-Password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await expect(page.locator('#new-username-error')).toHaveText(`The username ${name} is taken.`);
    await page.getByLabel('Search users').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('status')).toHaveText('1 user');
  });
});

test.describe('roles', () => {
  test('give a colleague the Impersonator role, which stays read-only but for its users @nojs', async ({ page, request }) => {
    const colleague = `colleague-${unique()}`;
    await createUser(request, colleague, 'colleague-Password-1');
    await page.goto('/console/roles');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await page.getByRole('link', { name: 'Impersonator', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Impersonator', level: 1 })).toBeVisible();
    await expect(page.getByText('A built-in role')).toBeVisible();
    await expect(page.getByRole('button', { name: /^Withdraw / })).toHaveCount(0);
    await page.getByLabel('Username to assign').fill(colleague);
    await page.getByRole('button', { name: 'Assign user' }).click();
    await expect(page.getByRole('link', { name: colleague })).toBeVisible();
    await page.getByRole('button', { name: `Remove ${colleague}` }).click();
    await expect(page.getByRole('link', { name: colleague })).toHaveCount(0);
  });

  test('create an organization role and grant it a scope', async ({ page }) => {
    const role = `Auditors ${unique()}`;
    await page.goto('/console/roles');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await page.locator('summary', { hasText: 'Create role' }).click();
    await page.getByLabel('Role name').fill(role);
    await page.getByLabel('Audience').selectOption('organization');
    await page.getByRole('button', { name: 'Create role' }).click();
    await expect(page.getByRole('heading', { name: role, level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Grant internal_audit_view' }).click();
    await expect(page.getByRole('button', { name: 'Withdraw internal_audit_view' })).toBeVisible();
  });
});

test.describe('impersonation settings', () => {
  // A refused form is answered 400, which Chromium logs.
  test.use({ expectedConsoleErrors: [/status of 400/] });

  test('turn notifications off and on, and require a reason @nojs', async ({ page, organizationSettings: _ }) => {
    await page.goto('/console/settings/impersonation');
    await new LoginPage(page).signIn(admin.username, admin.password);
    const notify = page.getByLabel('Notify the user by email when an impersonation starts');
    const reason = page.getByLabel('Require a reason to impersonate');
    const duration = page.getByLabel('Maximum session duration (minutes)');
    const save = page.getByRole('button', { name: 'Save' });
    // These settings are the organization's, shared with the tests running beside this one:
    // every impersonation in this suite gives a reason, and none counts this server's mail.
    // Each save is read back from a fresh page: with JavaScript the form is drawn anew when
    // the saved settings come back, which could otherwise undo what the test types next.
    await expect(notify).toBeChecked();
    await notify.uncheck();
    await submit(save);
    await page.reload();
    await expect(notify).not.toBeChecked();

    await notify.check();
    await reason.check();
    await duration.fill('45');
    await submit(save);
    await page.reload();
    await expect(notify).toBeChecked();
    await expect(reason).toBeChecked();
    await expect(duration).toHaveValue('45');

    // Back to the defaults that the other tests run with.
    await reason.uncheck();
    await duration.fill('60');
    await submit(save);
    await page.reload();
    await expect(reason).not.toBeChecked();
    await expect(duration).toHaveValue('60');
  });

  test('ask for a fresh password and a ticket in a format, and default to read-only @nojs', async ({
    page,
    organizationSettings: _,
  }) => {
    await page.goto('/console/settings/impersonation');
    await new LoginPage(page).signIn(admin.username, admin.password);
    const fresh = page.getByLabel('Ask for the password again (minutes)');
    const format = page.getByLabel('Ticket format');
    const mode = page.getByLabel('Default mode');
    const save = page.getByRole('button', { name: 'Save' });
    // A ticket stays optional here (the tests beside this one give none), a given one
    // must match.
    await fresh.fill('30');
    await format.fill('SUP-[0-9]+');
    await mode.selectOption('readOnly');
    await submit(save);
    await page.reload();
    await expect(fresh).toHaveValue('30');
    await expect(format).toHaveValue('SUP-[0-9]+');
    await expect(mode).toHaveValue('readOnly');

    // A format that is no regular expression is refused, naming it; nothing is saved.
    await format.fill('SUP-(');
    await submit(save);
    await expect(page.getByText(/ticketPattern is not a regular expression/)).toBeVisible();
    await page.goto('/console/settings/impersonation');
    await expect(format).toHaveValue('SUP-[0-9]+');

    // Back to the defaults.
    await fresh.fill('0');
    await format.fill('');
    await mode.selectOption('full');
    await submit(save);
    await page.reload();
    await expect(fresh).toHaveValue('0');
    await expect(format).toHaveValue('');
    await expect(mode).toHaveValue('full');
  });

  test('add a rule of who may impersonate whom, keep it through a save, and remove it @nojs', async ({
    page,
    organizationSettings: _,
  }) => {
    await page.goto('/console/settings/impersonation');
    await new LoginPage(page).signIn(admin.username, admin.password);
    const rules = page.getByRole('region', { name: 'Who may impersonate whom' });
    await expect(rules.getByText('No rules.')).toBeVisible();
    await rules.getByLabel('Members of', { exact: true }).selectOption({ label: 'Impersonator' });
    await rules.getByLabel('May').selectOption('deny');
    await rules.getByLabel('Members of role').selectOption({ label: 'Administrator' });
    await submit(rules.getByRole('button', { name: 'Add rule' }));
    const listed = rules.getByRole('list', { name: 'Rules' });
    await expect(listed).toContainText('Members of Impersonator may not impersonate members of Administrator.');

    // Saving the other settings keeps the rules.
    await submit(page.getByRole('button', { name: 'Save' }));
    await page.reload();
    await expect(listed.getByRole('listitem')).toHaveCount(1);

    await submit(listed.getByRole('button', { name: 'Remove' }));
    await expect(rules.getByText('No rules.')).toBeVisible();
  });
});

test.describe('the notification template', () => {
  // The HTML preview is a sandboxed frame: Chromium reports the test driver's own scripts
  // being refused there, which is the sandbox doing its work.
  test.use({ expectedConsoleErrors: [/Blocked script execution in 'about:srcdoc'/] });

  test('edit the template with a live preview, save it, and reset it to the default', async ({
    page,
    organizationSettings: _,
  }) => {
    await page.goto('/console/email-templates');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.locator('body[data-hydrated]')).toBeAttached();
    await expect(page.getByRole('list', { name: 'Placeholders' })).toContainText('{{impersonator-user-name}}');
    await expect(page.getByTestId('preview-subject')).toHaveText('User Impersonation Session Started');

    await page.getByLabel('Subject').fill('Heads up, {{user-name}}: {{impersonator-user-name}} <is> in');
    await expect(page.getByTestId('preview-subject')).toHaveText('Heads up, jane.doe: sam.support <is> in');
    await page.getByLabel('HTML body').fill('<p>{{impersonator-user-name}} at {{login-time}}</p>');
    // The preview is a sandboxed frame (no script runs in it, not even the test's): its document.
    await expect(page.getByTitle('HTML preview')).toHaveAttribute('srcdoc', '<p>sam.support at 2026-11-21T09:30:00Z</p>');
    await page.getByRole('button', { name: 'Save template' }).click();
    await expect(page.getByRole('status')).toHaveText('Saved.');
    await page.reload();
    await expect(page.getByLabel('Subject')).toHaveValue('Heads up, {{user-name}}: {{impersonator-user-name}} <is> in');
    await expect(page.getByText("Your organization's version.")).toBeVisible();

    await page.getByRole('button', { name: 'Reset to default' }).click();
    await expect(page.getByLabel('Subject')).toHaveValue('User Impersonation Session Started');
    await expect(page.getByText('The built-in version.')).toBeVisible();

    // The request for a user's decision has a template of its own.
    await page.getByRole('navigation', { name: 'Templates' }).getByRole('link', { name: 'Impersonation request' }).click();
    await expect(page.getByRole('heading', { name: 'Impersonation request' })).toBeVisible();
    await expect(page.getByRole('list', { name: 'Placeholders' })).toContainText('{{access-requests-url}}');
    await expect(page.getByTestId('preview-subject')).toHaveText('Someone asks to access your account');
    await expect(page.locator('pre[aria-label="Text preview"]')).toContainText(
      'https://id.example.com/myaccount/access-requests',
    );
  });
});

test.describe('organizations', () => {
  test('create a sub-organization and invite a user into it @nojs', async ({ page, request }) => {
    const tag = unique();
    const member = `member-${tag}`;
    await createUser(request, member, 'member-Password-1');
    await page.goto('/console/organizations');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await page.getByLabel('Parent').selectOption({ label: 'Root' });
    await page.getByLabel('Name', { exact: true }).fill(`Branch ${tag}`);
    await page.getByRole('button', { name: 'Create organization' }).click();
    const branch = page.getByRole('list', { name: 'Organizations' }).getByRole('listitem').filter({ hasText: `Branch ${tag}` });
    await expect(branch).toBeVisible();
    await page.getByLabel('Organization', { exact: true }).selectOption({ label: `— Branch ${tag}` });
    await page.getByLabel('Username').fill(member);
    await page.getByRole('button', { name: 'Invite' }).click();
    await expect(branch).toContainText(`Invited: ${member}`);
    // The member's page lists the organization.
    await page.goto('/console/users');
    await page.getByLabel('Search users').fill(member);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: member }).click();
    await expect(page.getByRole('definition').filter({ hasText: `Branch ${tag}` })).toBeVisible();
  });
});
