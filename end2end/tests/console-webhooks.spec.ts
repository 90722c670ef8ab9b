/**
 * Console > Webhooks: an administrator adds a webhook (the secret shown once), sees a
 * failed delivery in the delivery log with the receiver's answer, and sends it again
 * with Redeliver once the receiver is back. The receiver is a real HTTP server started
 * here.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { test, expect, admin } from './support/fixtures';
import { LoginPage } from './support/pages';
import { adminAuth } from './support/api';

/** A receiver answering `status`, keeping what it got. */
class Receiver {
  status = 503;
  readonly got: { headers: IncomingHttpHeaders; body: string }[] = [];
  private server: Server | undefined;
  port = 0;

  async start() {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        this.got.push({ headers: request.headers, body });
        response.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop() {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

// The refused inside address is a 400 of the server function, on purpose.
test.use({ expectedConsoleErrors: [/status of 400 .*\/api\/create_webhook/] });

test('an administrator adds a webhook, reads a failed delivery in its log and redelivers it', async ({ page, request }) => {
  test.setTimeout(60_000);
  const receiver = new Receiver();
  await receiver.start();
  try {
    await page.goto('/console/webhooks');
    await new LoginPage(page).signIn(admin.username, admin.password);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Webhooks');

    // Inside addresses are refused (SSRF).
    await page.getByLabel('Endpoint URL').fill('https://10.0.0.1/hook');
    await page.getByLabel(/^signing-key\.rotated/).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.getByRole('alert')).toContainText('non-public address');

    const url = `http://127.0.0.1:${receiver.port}/hook`;
    await page.getByLabel('Endpoint URL').fill(url);
    await page.getByLabel(/^signing-key\.rotated/).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(url);
    const secret = page.getByTestId('webhook-secret');
    await expect(secret).toHaveText(/^whsec_/);
    // Shown once.
    await page.reload();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(url);
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

    // An event; the receiver answers 503: the log says so.
    const rotated = await request.post('/api/server/v1/keys/rotate', { headers: adminAuth() });
    expect(rotated.status()).toBe(200);
    const log = page.getByRole('region', { name: 'Delivery log' });
    await expect(async () => {
      await page.reload();
      await expect(log.getByRole('row').filter({ hasText: '503' }).first()).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    const failed = log.getByRole('row').filter({ hasText: '503' }).first();
    await expect(failed).toContainText('signing-key.rotated');
    await expect(failed).toContainText('retrying');

    // The receiver is back: Redeliver sends it now.
    receiver.status = 204;
    await failed.getByRole('button', { name: /^Redeliver/ }).click();
    await expect(async () => {
      await page.reload();
      await expect(log.getByRole('row').filter({ hasText: 'delivered' }).first()).toContainText('204', { timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    const delivered = receiver.got.filter((r) => r.headers['webhook-id']);
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    // Every attempt is the same message (one webhook-id), signed in the Standard Webhooks form.
    expect(new Set(delivered.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(delivered[0].headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(JSON.parse(delivered[0].body).type).toBe('signing-key.rotated');
  } finally {
    await receiver.stop();
  }
});
