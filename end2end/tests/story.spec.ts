/**
 * The whole impersonation story in the browser, against servers this spec starts itself:
 * a real SMTP server (aiosmtpd, storing mail in a maildir), the identity server sending
 * its mail there, and two instances of the demo business application registered with
 * its own `register` command: "Demo business app" (enabled for impersonation) and
 * "Reports" (not enabled).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, expect, admin } from './support/fixtures';
import { impersonate, LoginPage } from './support/pages';
import { adminAuth, assignRole, createUser } from './support/api';
import { answers, freePort, listening, start, type Started } from './support/processes';

const smtpPort = freePort();
const idp = `http://127.0.0.1:${freePort()}`;
const demo = `http://127.0.0.1:${freePort()}`;
const reports = `http://127.0.0.1:${freePort()}`;
let maildir = '';
let dataDir = '';
const started: Started[] = [];

test.use({ baseURL: idp });
test.describe.configure({ mode: 'serial' });

/** The mail the SMTP server has received, one string per message. */
function mailbox(): string[] {
  const fresh = path.join(maildir, 'new');
  return readdirSync(fresh).map((file) => readFileSync(path.join(fresh, file), 'utf8'));
}

/** Registers a demo application instance at `url` and starts it. */
async function startDemo(bin: string, url: string, name: string, extra: string[] = []) {
  const env = { ...process.env, DEMO_IDP_URL: idp, DEMO_URL: url };
  const printed = execFileSync(bin, ['register', '--admin-password', admin.password, '--name', name, ...extra], {
    env,
  }).toString();
  const variables = Object.fromEntries(
    printed
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2)),
  );
  const app = start(`story ${name}`, bin, [], { ...variables, DEMO_IDP_URL: idp, DEMO_URL: url, DEMO_ADDR: new URL(url).host });
  started.push(app);
  await app.waitUntil(() => answers(url));
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const demoBin = process.env.IDP_DEMO_BIN;
  if (!demoBin) throw new Error('IDP_DEMO_BIN must name the demo-app binary (scripts/test sets it)');
  maildir = mkdtempSync(path.join(tmpdir(), 'idp-story-mail-'));
  dataDir = mkdtempSync(path.join(tmpdir(), 'idp-story-data-'));
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub));

  const smtp = start('story smtp', 'python3', [
    '-m',
    'aiosmtpd',
    '-n',
    '-l',
    `127.0.0.1:${smtpPort}`,
    '-c',
    'aiosmtpd.handlers.Mailbox',
    maildir,
  ]);
  started.push(smtp);
  await smtp.waitUntil(() => listening(smtpPort));

  const server = start('story identity server', process.env.IDP_SERVER_BIN!, [], {
    IDP_ADDR: new URL(idp).host,
    IDP_DATA_DIR: dataDir,
    IDP_ADMIN_PASSWORD: admin.password,
    IDP_SITE_DIR: process.env.IDP_SITE_DIR ?? path.resolve(__dirname, '..', '..', 'site'),
    IDP_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    // The demo application's back-channel logout endpoint is on http://127.0.0.1.
    IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
    RUST_LOG: process.env.E2E_RUST_LOG ?? 'info',
    NO_COLOR: '1',
  });
  started.push(server);
  await server.waitUntil(async () => (await fetch(`${idp}/health/ready`)).ok, 120_000);

  await startDemo(demoBin, demo, 'Demo business app');
  await startDemo(demoBin, reports, 'Reports', ['--without-impersonation']);
});

test.afterAll(async () => {
  for (const program of started.reverse()) await program.stop();
  for (const dir of [maildir, dataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an administrator impersonates a user, uses a business application as them, and stops', async ({
  page,
  context,
  browser,
  request,
}) => {
  test.setTimeout(120_000);
  const alexId = await createUser(request, 'alex', 'alex-Password-1', { givenName: 'Alex' });
  await assignRole(request, 'Administrator', alexId);
  await assignRole(request, 'Impersonator', alexId);
  const taylorId = await createUser(request, 'taylor', 'taylor-Password-1', { givenName: 'Taylor' });
  const jordanId = await createUser(request, 'jordan', 'jordan-Password-1');

  // The browser's sign-in cookie: a new value whenever it starts or stops impersonating.
  const sessionCookie = async () => (await context.cookies()).find((c) => c.name === 'idp_session')?.value;
  let signedIn: string | undefined;
  const myAccount = await test.step('1. the administrator opens the user in the Console and impersonates them, with a reason', async () => {
    await page.goto(`/console/users/${taylorId}`);
    await new LoginPage(page).signIn('alex', 'alex-Password-1');
    signedIn = await sessionCookie();
    return impersonate(page, 'Ticket 4711: payslip missing');
  });

  let impersonating: string | undefined;
  await test.step('2. the new tab is My Account as the user, under the banner, listing the demo application', async () => {
    await expect(myAccount).toHaveURL(`${idp}/myaccount`);
    impersonating = await sessionCookie();
    expect(signedIn).toBeTruthy();
    expect(impersonating).toBeTruthy();
    expect(impersonating).not.toBe(signedIn);
    await expect(myAccount.getByRole('region', { name: 'Impersonation' })).toContainText(
      'You are signed in as taylor, impersonated by alex',
    );
    await expect(myAccount.getByRole('link', { name: 'Launch Demo business app' })).toHaveAttribute('href', `${demo}/`);
    // Reports does not allow impersonation: listed, but not offered.
    const reportsCard = myAccount.getByRole('listitem').filter({ hasText: 'Reports' });
    await expect(reportsCard).toContainText('Does not allow impersonation.');
    await expect(myAccount.getByRole('link', { name: 'Launch Reports' })).toHaveCount(0);
  });

  await test.step('3. Launch: the demo application signs in as the user, impersonated by the administrator', async () => {
    await myAccount.getByRole('link', { name: 'Launch Demo business app' }).click();
    await expect(myAccount).toHaveURL(`${demo}/`);
    await expect(myAccount.locator('#user')).toHaveText('taylor');
    await expect(myAccount.getByRole('status')).toHaveText(`Impersonated by ${alexId}`);
    await expect(myAccount.locator('#token-state')).toHaveText('active');

    // An impersonated token may read the account but never rewrite it.
    await myAccount.getByLabel('Given name').fill('Tay');
    await myAccount.getByRole('button', { name: 'Change my name' }).click();
    await expect(myAccount.getByRole('status')).toHaveText('The identity server refused the change (403 Forbidden).');
    const taylor = await (await request.get(`/scim2/Users/${taylorId}`, { headers: adminAuth() })).json();
    expect(taylor.name.givenName).toBe('Taylor');
  });

  await test.step('refused: an application not enabled for impersonation shows a clear error and gets no token', async () => {
    await myAccount.goto(`${reports}/`);
    await expect(myAccount.getByRole('heading', { level: 1 })).toHaveText('Impersonation not allowed');
    await expect(myAccount.getByText('This application does not allow impersonation')).toBeVisible();
    // The browser stayed at the identity server: Reports never received a code.
    expect(myAccount.url().startsWith(`${idp}/oauth2/authorize`)).toBe(true);
  });

  await test.step('refused: no second impersonation while this one runs', async () => {
    await page.goto(`/console/users/${jordanId}`);
    await expect(page.getByRole('button', { name: 'Impersonate User' })).toBeDisabled();
    await expect(page.getByRole('button', { name: 'Impersonate User' })).toHaveAccessibleDescription(
      'Stop your current impersonation first.',
    );
    // Going around the button: the authorization server refuses the subject token.
    // A link never starts one.
    const linked = await page.request.get(`/console/impersonate?user=${jordanId}&reason=again`, {
      maxRedirects: 0,
    });
    expect(linked.status()).toBe(405);
    // The form posted from our own page all the same: the authorization server refuses.
    const forced = await context.newPage();
    await forced.goto(`/console/users/${jordanId}`);
    await forced.evaluate((user) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/console/impersonate';
      for (const [name, value] of [['user', user], ['reason', 'again']]) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }, jordanId);
    await expect(forced.getByRole('heading', { level: 1 })).toHaveText('Impersonation did not start');
    await forced.close();
  });

  await test.step('4. the user received exactly one notification mail, naming the administrator', async () => {
    await expect.poll(() => mailbox().length, { timeout: 20_000 }).toBe(1);
    const [mail] = mailbox();
    expect(mail).toContain('To: taylor@example.test');
    expect(mail).toContain('Subject: User Impersonation Session Started');
    expect(mail).toContain('alex started a session');
    await page.waitForTimeout(2_000);
    expect(mailbox()).toHaveLength(1);
  });

  await test.step("5. the Console's audit log shows the start, the token issue and the refused modification", async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    const expectations: [string, RegExp][] = [
      ['impersonation-started', /^1 record$/],
      ['impersonated-token-issued', /records?$/],
      ['resource-modification-via-impersonation', /^1 record$/],
    ];
    for (const [action, count] of expectations) {
      await page.getByLabel('Target').fill('taylor');
      await page.getByLabel('Action').selectOption(action);
      await page.getByRole('button', { name: 'Filter' }).click();
      // The filter is a GET form: the page of this filter, not the previous one, is read.
      await expect(page).toHaveURL(new RegExp(`[?&]action=${action}(&|$)`));
      await expect(page.getByRole('status')).toHaveText(count);
      await expect(page.getByRole('row', { name: new RegExp(action) }).first()).toContainText('alex');
    }
    const refused = page.getByRole('row', { name: /resource-modification-via-impersonation/ });
    await expect(refused).toContainText('taylor (impersonated by alex)');
    await expect(refused).toContainText('failure');
  });

  const own = await browser.newContext({ baseURL: idp });
  const taylorPage = await own.newPage();
  await test.step("5. the user's Access history shows the session", async () => {
    await taylorPage.goto('/myaccount/history');
    await new LoginPage(taylorPage).signIn('taylor', 'taylor-Password-1');
    const row = taylorPage.getByRole('row', { name: /Ticket 4711/ });
    await expect(row).toContainText('alex');
    await expect(row).toContainText('Demo business app');
  });

  await test.step("6. Stop impersonating: the demo application's token is no longer active, the first tab is still the Console", async () => {
    await myAccount.goto('/myaccount');
    await myAccount.getByRole('button', { name: 'Stop impersonating' }).click();
    await expect(myAccount).toHaveURL(`${idp}/console`);
    await expect(myAccount.getByRole('heading', { level: 1 })).toHaveText('Welcome, Alex');
    const stopped = await sessionCookie();
    expect(stopped).toBeTruthy();
    expect(stopped).not.toBe(impersonating);

    // The identity server told the demo application (back-channel logout): its next page
    // says the impersonated session was signed out.
    await myAccount.goto(`${demo}/`);
    await expect(async () => {
      await myAccount.reload();
      await expect(myAccount.locator('#signed-out')).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    await expect(myAccount.locator('#signed-out')).toContainText('taylor was signed out');
    await expect(myAccount.getByText('Impersonated by')).toHaveCount(0);

    await page.goto('/console');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome, Alex');
    await taylorPage.reload();
    await expect(taylorPage.getByRole('row', { name: /Ticket 4711/ })).toContainText('stopped by the impersonator');
  });
  await own.close();
});

test('an administrator without the Impersonator role sees the button disabled, with the reason', async ({
  page,
  request,
}) => {
  const caseyId = await createUser(request, 'casey', 'casey-Password-1');
  await assignRole(request, 'Administrator', caseyId);
  const robinId = await createUser(request, 'robin', 'robin-Password-1');

  await page.goto(`/console/users/${robinId}`);
  await new LoginPage(page).signIn('casey', 'casey-Password-1');
  const button = page.getByRole('button', { name: 'Impersonate User' });
  await expect(button).toBeDisabled();
  await expect(button).toHaveAccessibleDescription('You need the Impersonator role to impersonate users.');
});

test("an administrator ends an impersonation in the Console and the demo application's tab shows signed out on reload", async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  const morganId = await createUser(request, 'morgan', 'morgan-Password-1', { givenName: 'Morgan' });
  await assignRole(request, 'Administrator', morganId);
  await assignRole(request, 'Impersonator', morganId);
  const rileyId = await createUser(request, 'riley', 'riley-Password-1', { givenName: 'Riley' });

  await page.goto(`/console/users/${rileyId}`);
  await new LoginPage(page).signIn('morgan', 'morgan-Password-1');
  const demoTab = await impersonate(page, 'Ticket 5150: export fails');
  await demoTab.getByRole('link', { name: 'Launch Demo business app' }).click();
  await expect(demoTab).toHaveURL(`${demo}/`);
  await expect(demoTab.locator('#user')).toHaveText('riley');
  await expect(demoTab.getByRole('status')).toHaveText(`Impersonated by ${morganId}`);

  // The first tab ends the session in the Console; nothing is done in the demo tab.
  await page.goto('/console');
  await page.getByRole('link', { name: 'Impersonation sessions' }).click();
  await page.getByRole('button', { name: 'End the impersonation of riley by morgan' }).click();
  await expect(page.getByRole('row', { name: /Ticket 5150/ })).toContainText('ended by an administrator');

  await expect(async () => {
    await demoTab.reload();
    await expect(demoTab.locator('#signed-out')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(demoTab.locator('#signed-out')).toContainText('riley was signed out: the identity server ended the session');
  await expect(demoTab.getByText('Impersonated by')).toHaveCount(0);
});
