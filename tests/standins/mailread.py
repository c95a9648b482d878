#!/usr/bin/env python3
"""Reads every message of a Maildir (as written by smtp.py) and prints them as one JSON array:
headers (all, in order), and each leaf MIME part's content type, file name and decoded text.
Usage: mailread.py DIR"""
import email, email.policy, json, mailbox, sys


def main():
    out = []
    for _key, msg in sorted(mailbox.Maildir(sys.argv[1], create=False).items()):
        m = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
        parts = []
        for part in m.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "filename": part.get_filename(),
                          "content": part.get_content() if part.get_content_maintype() == "text" else None})
        out.append({"headers": [[k, str(v)] for k, v in m.items()], "content_type": m.get_content_type(),
                    "parts": parts})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
