#!/usr/bin/env bash
# A WSO2-style setup, with nothing but curl and HTTP Basic, as WSO2's own documentation
# scripts it: create a user through SCIM 2.0, register an OIDC application through the
# application management API, read its client id and secret, and get a token with them.
#
#   IDP_URL=http://127.0.0.1:3000 IDP_ADMIN_PASSWORD=... scripts/examples/wso2-setup.sh
set -euo pipefail
: "${IDP_URL:?set IDP_URL to the server, e.g. http://127.0.0.1:3000}"
: "${IDP_ADMIN_PASSWORD:?set IDP_ADMIN_PASSWORD to the password of admin}"
ADMIN="admin:${IDP_ADMIN_PASSWORD}"
USERNAME="${EXAMPLE_USERNAME:-kim}"
APP_NAME="${EXAMPLE_APP_NAME:-Booking app}"

echo "1. Create the user ${USERNAME} (SCIM 2.0)"
curl --fail-with-body -sS -u "$ADMIN" "$IDP_URL/scim2/Users" \
  -H 'Content-Type: application/scim+json' \
  --data-binary @- <<JSON
{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "name": { "givenName": "Kim", "familyName": "Berry" },
  "userName": "${USERNAME}",
  "password": "MyPa33w@rd",
  "emails": [{ "type": "home", "value": "${USERNAME}@example.org", "primary": true }]
}
JSON
echo

echo "2. Register the application ${APP_NAME}"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
curl --fail-with-body -sS -u "$ADMIN" "$IDP_URL/api/server/v1/applications" \
  -H 'Content-Type: application/json' -D "$headers" -o /dev/null \
  --data-binary @- <<JSON
{
  "name": "${APP_NAME}",
  "description": "Registered by scripts/examples/wso2-setup.sh",
  "isDiscoverable": true,
  "accessUrl": "https://booking.example/",
  "inboundProtocolConfiguration": {
    "oidc": {
      "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
      "callbackURLs": ["https://booking.example/callback"],
      "publicClient": false,
      "accessToken": { "type": "JWT", "userAccessTokenExpiryInSeconds": 3600 }
    }
  },
  "advancedConfigurations": { "skipLoginConsent": true, "skipLogoutConsent": true }
}
JSON
location="$(tr -d '\r' < "$headers" | sed -n 's/^[Ll]ocation: *//p')"
echo "   created at ${location}"

echo "3. Read the client id and secret"
oidc="$(curl --fail-with-body -sS -u "$ADMIN" "$IDP_URL${location}/inbound-protocols/oidc")"
client_id="$(printf '%s' "$oidc" | sed -n 's/.*"clientId":"\([^"]*\)".*/\1/p')"
client_secret="$(printf '%s' "$oidc" | sed -n 's/.*"clientSecret":"\([^"]*\)".*/\1/p')"
[ -n "$client_id" ] && [ -n "$client_secret" ] || { echo "no client credentials in: $oidc" >&2; exit 1; }
echo "   client_id=${client_id}"

echo "4. Get an application token (client credentials)"
curl --fail-with-body -sS "$IDP_URL/oauth2/token" -u "${client_id}:${client_secret}" \
  -H 'Content-Type: application/x-www-form-urlencoded' \
  --data-urlencode 'grant_type=client_credentials'
echo
