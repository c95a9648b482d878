#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd), on 127.0.0.1, delivering into a Maildir.
Usage: smtp.py --maildir DIR [--port 0] [--auth USER:PASS] [--starttls CERT KEY] [--implicit CERT KEY]
  --auth      require AUTH (PLAIN/LOGIN) with these credentials before MAIL
  --starttls  offer STARTTLS and require it before AUTH and MAIL
  --implicit  TLS from the first byte (port-465 style)
Prints "PORT <n>" once listening; each accepted message is one file in DIR/new."""
import argparse, asyncio, ssl, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--auth")
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()

    def context(pair):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*pair)
        return ctx

    user, password = (args.auth.split(":", 1) if args.auth else (None, None))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    handler = Mailbox(args.maildir)
    starttls = context(args.starttls) if args.starttls else None

    def factory():
        return SMTP(handler, hostname="clawcron-test-smtp",
                    tls_context=starttls, require_starttls=starttls is not None,
                    authenticator=authenticator if user else None,
                    auth_required=bool(user),
                    # with STARTTLS offered, AUTH before it is refused (implicit TLS is encrypted throughout)
                    auth_require_tls=starttls is not None)

    async def serve():
        server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", args.port,
            ssl=context(args.implicit) if args.implicit else None, reuse_address=True)
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
