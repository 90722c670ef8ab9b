"""An event receiver for the integration tests, independent of the server's code.

It verifies what arrives with implementations that are not ours: webhook signatures with
the Standard Webhooks reference library (`standardwebhooks`), Security Event Tokens and
logout tokens with PyJWT against the server's published JWKS. It keeps what it received,
and answers GET /received with it as JSON.

    python3 receiver.py --port P --issuer ISS --jwks URL --audience AUD \
        [--webhook-secret whsec_...] [--mode ok|redirect|hang|fail]

Paths: POST /webhook, POST /ssf (RFC 8935 push), POST /logout (back-channel logout).
"""

import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from standardwebhooks.webhooks import Webhook

BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
SUBJECT_FORMATS = {"iss_sub", "opaque", "email", "complex"}

args = None
received = []
lock = threading.Lock()
jwks = None


def keep(record):
    with lock:
        received.append(record)


def verify_jwt(token, typ, required):
    header = jwt.get_unverified_header(token)
    if header.get("typ") != typ:
        raise ValueError(f"typ is {header.get('typ')!r}, not {typ!r}")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256", "ES256", "EdDSA"],
        audience=args.audience,
        issuer=args.issuer,
        options={"require": required},
    )


def check_subject(sub_id):
    if not isinstance(sub_id, dict) or sub_id.get("format") not in SUBJECT_FORMATS:
        raise ValueError(f"bad sub_id {sub_id!r}")
    if sub_id["format"] == "iss_sub" and not (sub_id.get("iss") and sub_id.get("sub")):
        raise ValueError("iss_sub needs iss and sub")
    if sub_id["format"] == "opaque" and not sub_id.get("id"):
        raise ValueError("opaque needs id")
    if sub_id["format"] == "complex":
        for member in ("user", "session"):
            if member in sub_id:
                check_subject(sub_id[member])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/received":
            with lock:
                body = json.dumps(received).encode()
            self.answer(200, body, [("Content-Type", "application/json")])
        else:
            self.answer(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/followed":
            keep({"channel": "followed"})
            return self.answer(200)
        if args.mode == "redirect":
            keep({"channel": "redirected", "path": self.path})
            return self.answer(302, headers=[("Location", "/followed")])
        if args.mode == "hang":
            keep({"channel": "hung", "path": self.path})
            time.sleep(15)
            return self.answer(200)
        if args.mode == "fail":
            keep({"channel": "failed", "path": self.path})
            return self.answer(503)
        try:
            if self.path == "/webhook":
                self.webhook(body)
            elif self.path == "/ssf":
                self.security_event(body)
            elif self.path == "/logout":
                self.logout(body)
            else:
                self.answer(404)
        except Exception as error:  # what failed verification is kept too
            keep({"channel": self.path.strip("/"), "valid": False, "error": str(error)})
            self.answer(400, json.dumps({"err": "invalid_request", "description": str(error)}).encode(),
                        [("Content-Type", "application/json")])

    def webhook(self, body):
        headers = {k.lower(): v for k, v in self.headers.items()}
        payload = Webhook(args.webhook_secret).verify(body, headers)
        keep({
            "channel": "webhook",
            "valid": True,
            "id": headers["webhook-id"],
            "signatures": len(headers["webhook-signature"].split()),
            "type": payload["type"],
            "timestamp": payload["timestamp"],
            "data": payload["data"],
        })
        self.answer(204)

    def security_event(self, body):
        if self.headers.get("Content-Type") != "application/secevent+jwt":
            raise ValueError("Content-Type must be application/secevent+jwt")
        claims = verify_jwt(body.decode(), "secevent+jwt", ["iss", "iat", "jti", "aud"])
        if "sub" in claims or "exp" in claims:
            raise ValueError("a SET carries neither sub nor exp")
        check_subject(claims.get("sub_id"))
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1:
            raise ValueError("events must hold exactly one event")
        keep({
            "channel": "ssf",
            "valid": True,
            "authorization": self.headers.get("Authorization"),
            "claims": claims,
        })
        self.answer(202)

    def logout(self, body):
        form = urllib.parse.parse_qs(body.decode())
        token = form["logout_token"][0]
        claims = verify_jwt(token, "logout+jwt", ["iss", "aud", "iat", "exp", "jti"])
        if claims.get("events", {}).get(BACKCHANNEL_LOGOUT) != {}:
            raise ValueError("events must hold the back-channel logout event")
        if "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
            raise ValueError("a logout token has sid or sub and no nonce")
        keep({"channel": "logout", "valid": True, "claims": claims})
        self.answer(200)


def main():
    global args, jwks
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--audience", default="")
    parser.add_argument("--webhook-secret", default="whsec_" + "A" * 32)
    parser.add_argument("--mode", default="ok", choices=["ok", "redirect", "hang", "fail"])
    args = parser.parse_args()
    jwks = jwt.PyJWKClient(args.jwks, cache_keys=False)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
