"""Planted credentials of twenty kinds (and an e-mail), for the tests that check none
reaches an export: random but fixed (seeded), shaped as each detector expects."""

from __future__ import annotations

import base64
import random
import string


def token(prefix: str, n: int, alphabet: str, seed: int) -> str:
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
AWS = token("AKIA", 16, string.ascii_uppercase + string.digits, 1)
GITHUB = token("ghp_", 36, ALNUM, 2)
SLACK = "xoxb-240129374856-" + token("", 24, string.ascii_lowercase + string.digits, 3)
STRIPE = token("sk_live_", 24, ALNUM, 4)
API_KEY = token("", 32, ALNUM, 5)
PASSWORD = "hunter2"
KEY_BODY = [token("", 64, ALNUM + "+/", 6 + i) for i in range(4)]
PRIVATE_KEY = "\n".join(
    ["-----BEGIN RSA PRIVATE KEY-----", *KEY_BODY, "-----END RSA PRIVATE KEY-----"]
)
DISCORD = ".".join((token("M", 23, ALNUM, 7), token("", 6, ALNUM, 8), token("", 27, ALNUM, 9)))
TELEGRAM = "123456789:" + token("", 35, ALNUM, 10)
IBM_IAM = token("", 44, ALNUM, 11)
IBM_HMAC = token("", 48, "0123456789abcdef", 12)
GITLAB = token("glpat-", 20, ALNUM, 13)
SENDGRID = f"SG.{token('', 22, ALNUM, 14)}.{token('', 43, ALNUM, 15)}"

GITHUB_PAT = "github_pat_" + token("", 22, ALNUM, 20) + "_" + token("", 59, ALNUM, 21)
GOOGLE = token("AIza", 35, ALNUM + "-_", 22)
JWT = ".".join(
    [
        base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"sub":"roster-ci","iat":1700000000}').decode().rstrip("="),
        token("", 43, ALNUM, 24),
    ]
)
PLANTED = {
    "aws key id": AWS,
    "github classic token": GITHUB,
    "github fine-grained token": GITHUB_PAT,
    "google api key": GOOGLE,
    "slack token": SLACK,
    "stripe key": STRIPE,
    "private key": KEY_BODY[1],
    "password in a url": "Xq7pLm2Rt9Vw",
    "const &str password": token("", 20, ALNUM, 30),
    "static &str api key": token("", 32, ALNUM, 31),
    "let token: &str": token("", 28, ALNUM, 32),
    "String::from": token("", 24, ALNUM, 33),
    ".password(...)": token("", 18, ALNUM, 34),
    ".env in a raw string": token("", 26, ALNUM, 35),
    "export in a message": token("", 40, ALNUM + "/+", 36),
    "jwt": JWT,
    "gitlab token": GITLAB,
    "sendgrid key": SENDGRID,
    "telegram bot token": TELEGRAM,
    "token in a file name": token("ghp_", 36, ALNUM, 37),
    "e-mail in a trailer": "jane.doe@example.org",
}
P = PLANTED
TYPED = f"""use std::env;

pub const DB_PASSWORD: &str = "{P["const &str password"]}";
static API_KEY: &str = "{P["static &str api key"]}";

pub fn connect() -> Conn {{
    let token: &str = "{P["let token: &str"]}";
    let secret_key = String::from("{P["String::from"]}");
    let url = "https://admin:{P["password in a url"]}@db.internal/app";
    Conn::builder().user("app").password("{P[".password(...)"]}").open(url, token, &secret_key)
}}

pub fn dotenv() -> &'static str {{
    r#"
APP_NAME=roster
DATABASE_PASSWORD={P[".env in a raw string"]}
"#
}}

pub fn keys() -> [&'static str; 8] {{
    ["{AWS}", "{GITHUB}", "{GITHUB_PAT}", "{GOOGLE}", "{SLACK}", "{STRIPE}", "{JWT}", "{GITLAB}"]
}}

pub fn more() -> (&'static str, &'static str) {{
    ("{SENDGRID}", "{TELEGRAM}")
}}

const SIGNING_KEY: &str = "{PRIVATE_KEY}";
"""
