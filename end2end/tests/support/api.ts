import { expect, type APIRequestContext } from '@playwright/test';
import { admin } from './fixtures';

/** HTTP Basic credentials of the bootstrap administrator, as WSO2's curl examples use. */
export function adminAuth() {
  return { Authorization: 'Basic ' + Buffer.from(`${admin.username}:${admin.password}`).toString('base64') };
}

/** A short random suffix, so that tests running side by side never share names. */
export function unique(): string {
  return Math.random().toString(36).slice(2, 8);
}

/** Creates a user through SCIM and returns its id. */
export async function createUser(
  request: APIRequestContext,
  username: string,
  password: string,
  name: { givenName?: string; familyName?: string } = {},
): Promise<string> {
  const created = await request.post('/scim2/Users', {
    headers: adminAuth(),
    data: {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: username,
      password,
      name,
      emails: [{ value: `${username}@example.test`, primary: true }],
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  return (await created.json()).id;
}

/** Adds a user to a role found by its display name (Administrator, Impersonator, ...). */
export async function assignRole(request: APIRequestContext, roleName: string, userId: string) {
  const filter = encodeURIComponent(`displayName eq "${roleName}"`);
  const roles = await (await request.get(`/scim2/v2/Roles?filter=${filter}`, { headers: adminAuth() })).json();
  const roleId = roles.Resources[0].id;
  const patched = await request.patch(`/scim2/v2/Roles/${roleId}`, {
    headers: adminAuth(),
    data: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'users', value: [{ value: userId }] }],
    },
  });
  expect(patched.status(), await patched.text()).toBe(200);
}
