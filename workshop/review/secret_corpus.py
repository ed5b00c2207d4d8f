"""The labelled corpus the secret detector is measured on (`workshop bench review`):
`secrets_corpus.tsv`, one line per row (label 1 = holds a secret, 0 = does not; the file name
gives the context: .env, YAML, Python, JavaScript, shell, Markdown, PEM).

Every value is synthetic: drawn from a seeded random generator by `generate()` (a test checks
that the stored file is exactly its output, so nothing was pasted in), never a real credential.
GitHub tokens carry a deliberately wrong checksum, and each drawn value is stored "defanged",
with `<|>` after its second character (`AK<|>IA...`, `gh<|>p_...`), so no secret scanner (GitHub
push protection, gitleaks) reads the file as holding live keys; `load()` takes the marks out.

Positives: the formats leaks come in (AWS, GitHub, GitLab, Stripe, Slack, Google, OpenAI,
SendGrid, npm, JWTs, private keys, passwords in URLs, .env and YAML values without quotes,
short 16-20 character keys). Negatives: what looks like them (hashes, UUIDs, ids, public keys
and certificates, publishable keys, documented example keys, placeholders, templates,
environment look-ups, test fixtures' throwaway passwords, long digit strings).

Regenerate after changing a template: python -m workshop.review.secret_corpus
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).with_name("secrets_corpus.tsv")
DEFANG = "<|>"
SEED = 20261202
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Row:
    label: int  # 1: the line holds a secret
    file: str  # the file it would be in (its suffix is the context a scanner sees)
    line: str


class Draw:
    """Random values in real formats, each defanged as it is drawn."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def mixed(self, alphabet: str, n: int) -> str:
        """A random string holding each of lower case, upper case and digits the alphabet has
        (a generated key, never a word)."""
        wanted = [set(c) & set(alphabet) for c in (string.ascii_lowercase, string.ascii_uppercase, string.digits)]
        while True:
            value = self.chars(alphabet, n)
            if all(set(value) & c for c in wanted if c):
                return value

    def defang(self, value: str) -> str:
        return value[:2] + DEFANG + value[2:]

    def key(self, prefix: str, alphabet: str, n: int) -> str:
        return self.defang(prefix + self.mixed(alphabet, n))

    def github(self, prefix: str = "ghp_") -> str:
        body = self.mixed(ALNUM, 30)
        wrong = (zlib.crc32(body.encode()) + 1) & 0xFFFFFFFF  # never the token's real CRC32 checksum
        return self.defang(prefix + body + base62(wrong).rjust(6, "0")[-6:])

    def password(self, n: int) -> str:
        """A strong human-made-looking password: letters, digits and a symbol."""
        while True:
            value = self.chars(ALNUM + "!%&*+-=?^_", n)
            if any(c.isdigit() for c in value) and any(c.isalpha() for c in value) and value[0].isalnum():
                return self.defang(value)

    def jwt(self, alg: str, signature: int) -> str:
        """A JSON web token whose header and claims decode as JSON (as a real one's do)."""

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

        claims = {"sub": self.digits(8).replace(DEFANG, ""), "iat": 1_760_000_000 + self.rng.randint(0, 10**7)}
        return self.defang(f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}.{self.mixed(URLSAFE, signature)}")

    def hexa(self, n: int) -> str:
        return self.defang(self.chars(HEX, n))

    def uuid(self) -> str:
        return self.defang(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))

    def digits(self, n: int) -> str:
        return self.defang(str(self.rng.randint(1, 9)) + self.chars(string.digits, n - 1))

    def b64(self, n_bytes: int) -> str:
        return self.defang(base64.b64encode(self.rng.randbytes(n_bytes)).decode())

    def host(self) -> str:
        return self.rng.choice(
            ["db.prod.internal", "shop-db.c9x2k.eu-west-1.rds.amazonaws.com", "cache.internal", "mq.corp.net"]
        )

    def word(self) -> str:
        return self.rng.choice(["shop", "app", "deploy", "billing", "svc_orders", "etl", "admin", "reporting"])


def base62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = ALNUM[r] + out
    return out or "0"


def positives(d: Draw) -> list[Row]:
    rows: list[Row] = []

    def add(file: str, *lines: str) -> None:
        rows.extend(Row(1, file, line) for line in lines)

    for _ in range(4):  # AWS
        kid, secret = d.key("AKIA", UPPER_DIGITS, 16), d.key("", B64, 40)
        add(".env", f"AWS_ACCESS_KEY_ID={kid}", f"AWS_SECRET_ACCESS_KEY={secret}")
    add("config/aws.yaml", f"aws_access_key_id: {d.key('AKIA', UPPER_DIGITS, 16)}")
    add("config/aws.yaml", f"aws_secret_access_key: {d.key('', B64, 40)}")
    add("deploy/credentials", f"aws_access_key_id = {d.key('ASIA', UPPER_DIGITS, 16)}")
    add("deploy/credentials", f"aws_secret_access_key = {d.key('', B64, 40)}")
    add(
        "app/storage.py",
        f's3 = boto3.client("s3", aws_access_key_id="{d.key("AKIA", UPPER_DIGITS, 16)}", region_name="eu-west-1")',
    )
    add("app/storage.py", f'    aws_secret_access_key="{d.key("", B64, 40)}",')
    add("scripts/sync.sh", f"export AWS_SECRET_ACCESS_KEY={d.key('', B64, 40)}")
    for prefix in ("ghp_", "gho_", "ghs_", "ghu_", "ghp_", "ghp_"):  # GitHub
        add(".env", f"GITHUB_TOKEN={d.github(prefix)}")
    add(".github/workflows/release.yml", f"          token: {d.github()}")
    add("scripts/release.sh", f'curl -H "Authorization: token {d.github()}" https://api.github.com/user')
    add("scripts/clone.sh", f"git clone https://x-access-token:{d.github('ghs_')}@github.com/shop/shop.git")
    add("app/github.py", f'GITHUB = "{d.github()}"')
    add("app/github.py", f"client = Github('{d.github()}')")
    pat = d.defang("github_pat_" + d.mixed(ALNUM, 22) + "_" + d.mixed(ALNUM, 59))
    add("README.md", f"    export GH_TOKEN={pat}")
    add(".env", f"GITLAB_TOKEN={d.key('glpat-', URLSAFE, 20)}")
    add(".gitlab-ci.yml", f"    PRIVATE_TOKEN: {d.key('glpat-', URLSAFE, 20)}")
    for _ in range(3):  # Stripe
        add(".env", f"STRIPE_SECRET_KEY={d.key('sk_live_', ALNUM, 24)}")
    add("shop/payments.py", f'stripe.api_key = "{d.key("sk_live_", ALNUM, 99)}"')
    add("web/checkout.js", f"const stripe = require('stripe')('{d.key('sk_live_', ALNUM, 24)}');")
    add("config/stripe.yaml", f"restricted_key: {d.key('rk_live_', ALNUM, 24)}")
    add("shop/settings.py", f"STRIPE = {{'secret': '{d.key('sk_live_', ALNUM, 24)}', 'currency': 'eur'}}")
    for kind in ("xoxb", "xoxp", "xoxb"):  # Slack
        token = d.defang(f"{kind}-{d.chars(string.digits, 12)}-{d.chars(string.digits, 13)}-{d.mixed(ALNUM, 24)}")
        add(".env", f"SLACK_BOT_TOKEN={token}")
    token = d.defang(f"xoxb-{d.chars(string.digits, 12)}-{d.chars(string.digits, 13)}-{d.mixed(ALNUM, 24)}")
    add("app/notify.py", f'slack = WebClient(token="{token}")')
    for _ in range(3):
        hook = d.defang(
            f"https://hooks.slack.com/services/T{d.chars(UPPER_DIGITS, 10)}/B{d.chars(UPPER_DIGITS, 10)}/"
            f"{d.mixed(ALNUM, 24)}"
        )
        add("config/alerts.yaml", f"webhook_url: {hook}")
    for header in (  # private keys: the header line is what a scanner sees first
        "RSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "EC PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "DSA PRIVATE KEY",
    ):
        add("deploy/id.pem", d.defang(f"-----BEGIN {header}-----"))
    add("config/service-account.json", '  "private_key": "' + d.defang("-----BEGIN PRIVATE KEY-----") + '\\nMIIEv...",')
    add("deploy/key.yaml", "  " + d.defang("-----BEGIN OPENSSH PRIVATE KEY-----"))
    for scheme, port in (  # passwords in URLs
        ("postgres", 5432),
        ("postgresql", 5432),
        ("mysql", 3306),
        ("mongodb", 27017),
        ("amqp", 5672),
        ("postgres", 5432),
    ):
        add(".env", f"DATABASE_URL={scheme}://{d.word()}:{d.password(14)}@{d.host()}:{port}/shop")
    add(".env", f"REDIS_URL=redis://:{d.password(20)}@cache.internal:6379/0")
    add(
        "shop/settings.py",
        f'DATABASES = {{"default": dj_database_url.parse("postgres://shop:{d.password(16)}@db.prod.internal/shop")}}',
    )
    add("config/app.yaml", f"  url: postgresql://reporting:{d.password(12)}@{d.host()}/warehouse")
    add("docker-compose.yml", f"      - BROKER_URL=amqp://celery:{d.password(18)}@mq.corp.net:5672//")
    add("pip.conf", f"index-url = https://deploy:{d.password(24)}@nexus.corp.net/repository/pypi/simple")
    add("README.md", f"    mongosh 'mongodb+srv://admin:{d.password(15)}@cluster0.x7kq2.mongodb.net/shop'")
    add("scripts/backup.sh", f"pg_dump postgres://backup:{d.password(10)}@{d.host()}/shop > dump.sql")
    for name, n in (  # .env values, no quotes
        ("DB_PASSWORD", 14),
        ("POSTGRES_PASSWORD", 20),
        ("REDIS_PASSWORD", 24),
        ("SMTP_PASSWORD", 12),
        ("ADMIN_PASSWORD", 16),
        ("MYSQL_ROOT_PASSWORD", 18),
    ):
        add(".env", f"{name}={d.password(n)}")
    for name, n in (
        ("SECRET_KEY", 50),
        ("JWT_SECRET", 32),
        ("API_TOKEN", 16),
        ("API_KEY", 16),
        ("ENCRYPTION_KEY", 20),
        ("SESSION_SECRET", 20),
        ("MAPS_API_KEY", 16),
        ("WEBHOOK_SECRET", 24),
        ("INTERNAL_API_KEY", 20),
        ("AUTH_TOKEN", 16),
    ):
        add(".env", f"{name}={d.key('', ALNUM, n)}")
    add(".env", f"DJANGO_SECRET_KEY={d.key('', ALNUM + '!@#%^&*(-_=+)', 50)}")
    add(".env", f"TWILIO_AUTH_TOKEN={d.hexa(32)}")
    add(".env", f"MAILGUN_API_KEY=key-{d.hexa(32)}")
    add(".env", f"SENDGRID_API_KEY={d.key('SG.', URLSAFE, 22)}.{d.mixed(URLSAFE, 43)}")
    add(".env", f"OPENAI_API_KEY={d.key('sk-proj-', URLSAFE, 48)}")
    add(".env", f"NPM_TOKEN={d.key('npm_', ALNUM, 36)}")
    add(".npmrc", f"//registry.npmjs.org/:_authToken={d.key('npm_', ALNUM, 36)}")
    add(".env", f"export PYPI_TOKEN={d.key('pypi-AgEIcHlwaS5vcmc', URLSAFE, 60)}")
    add(".env", f"GOOGLE_API_KEY={d.key('AIza', URLSAFE, 35)}")
    add("web/maps.js", f"const MAPS = '{d.key('AIza', URLSAFE, 35)}';")
    for key, n in (  # YAML, unquoted and quoted
        ("password", 14),
        ("db_password", 16),
        ("client_secret", 32),
        ("api_key", 16),
        ("api_key", 20),
        ("token", 24),
        ("secret", 20),
        ("access_token", 40),
        ("auth_token", 16),
        ("private_key", 44),
    ):
        value = d.password(n) if "password" in key else d.key("", ALNUM, n)
        add("config/settings.yaml", f"  {key}: {value}")
    add("config/settings.yaml", f'  password: "{d.password(12)}"')
    add("config/settings.yaml", f"  client_secret: '{d.key('', ALNUM, 20)}'")
    add("k8s/secret.yaml", f"  DB_PASSWORD: {d.password(16)}")
    add("k8s/secret.yaml", f"  api-key: {d.key('', ALNUM, 20)}")
    add("ansible/vars.yml", f"mysql_root_password: {d.password(14)}")
    add("docker-compose.yml", f"      POSTGRES_PASSWORD: {d.password(16)}")
    add("docker-compose.yml", f"      - SECRET_KEY={d.key('', ALNUM, 40)}")
    for name, n in (  # code
        ("API_KEY", 16),
        ("API_KEY", 20),
        ("SECRET", 24),
        ("token", 32),
        ("password", 14),
        ("client_secret", 20),
    ):
        value = d.password(n) if "password" in name else d.key("", ALNUM, n)
        add("app/client.py", f'{name} = "{value}"')
    add("app/client.py", f'session = requests.Session(); session.auth = ("shop", "{d.password(14)}")')
    add("app/client.py", f'connect(host="db.prod.internal", user="shop", password="{d.password(13)}")')
    add("app/client.py", f'headers = {{"Authorization": "Bearer {d.key("", ALNUM, 40)}"}}')
    add("app/client.py", f"headers['X-Api-Key'] = '{d.key('', ALNUM, 32)}'")
    add("app/client.py", f'"client_secret": "{d.hexa(32)}",')
    add("app/client.py", f"API_KEY = '{d.hexa(40)}'")
    add("web/config.js", f'export const apiKey = "{d.key("", ALNUM, 32)}";')
    add("web/config.js", f"  password: '{d.password(15)}',")
    add("web/config.js", f"const token = `{d.key('', ALNUM, 24)}`;")
    add("config/app.json", f'  "apiKey": "{d.key("", ALNUM, 32)}",')
    add("config/app.json", f'  "password": "{d.password(16)}",')
    add("settings.ini", f"password = {d.password(14)}")
    add("settings.ini", f"secret_key = {d.key('', ALNUM, 32)}")
    add("Dockerfile", f"ENV API_TOKEN={d.key('', ALNUM, 24)}")
    add("scripts/deploy.sh", f"mysql -u root -p{d.password(14)} shop < schema.sql")
    add("scripts/deploy.sh", f'curl -u "deploy:{d.password(16)}" https://nexus.corp.net/upload')
    add("tests/fixtures/session.txt", f"Authorization: Bearer {d.jwt('HS256', 43)}")
    add("app/client.py", f'jwt = "{d.jwt("RS256", 342)}"')
    # Formats detect-secrets knows and this detector does not (kept to show where it wins).
    add(
        "config/azure.env",
        "AZURE_STORAGE=DefaultEndpointsProtocol=https;AccountName=shopfiles;"
        f"AccountKey={d.b64(64)};EndpointSuffix=core.windows.net",
    )
    add("app/sms.py", f'client = Client("{d.defang("SK" + d.chars(HEX, 32))}", sms_secret)')
    add("app/newsletter.py", f'MAILCHIMP = "{d.hexa(32)}-us12"')
    add("app/bot.py", f'bot = telebot.TeleBot("{d.digits(10)}:{d.mixed(URLSAFE, 35)}")')
    add(
        "app/bot.py",
        f'client.run("{d.defang("M" + d.mixed(ALNUM, 25) + "." + d.mixed(URLSAFE, 6) + "." + d.mixed(URLSAFE, 27))}")',
    )
    return rows


def negatives(d: Draw) -> list[Row]:
    rows: list[Row] = []

    def add(file: str, *lines: str) -> None:
        rows.extend(Row(0, file, line) for line in lines)

    for _ in range(3):  # hashes
        add("requirements.txt", f"django==5.2.1 --hash=sha256:{d.hexa(64)}")
    add("package-lock.json", f'      "integrity": "sha512-{d.b64(64)}",')
    add("package-lock.json", f'      "integrity": "sha512-{d.b64(64)}",')
    add("poetry.lock", f'    {{file = "Django-5.2.1.tar.gz", hash = "sha256:{d.hexa(64)}"}},')
    add("app/files.py", f'EXPECTED_SHA256 = "{d.hexa(64)}"')
    add("app/files.py", f'checksum = "{d.hexa(32)}"')
    add("app/files.py", f'md5 = "{d.hexa(32)}"')
    add("config/release.yaml", f"commit: {d.hexa(40)}")
    add("config/release.yaml", f"sha: {d.hexa(40)}")
    add("Dockerfile", f"FROM python:3.12-slim@sha256:{d.hexa(64)}")
    add("CHANGELOG.md", f"* Fixed rounding ({d.hexa(40)})")
    add("app/cache.py", f'etag = "W/{d.hexa(32)}"')
    add("app/models.py", f'password_hash = "pbkdf2_sha256$870000${d.key("", ALNUM, 22)}${d.b64(32)}"')
    add("app/tokens.py", f'token_hash = "{d.hexa(64)}"')
    add("app/tokens.py", f'token_sha256 = "{d.hexa(64)}"')
    add("web/index.html", f'<script src="/static/main.{d.hexa(8)}.js" integrity="sha384-{d.b64(48)}"></script>')
    for _ in range(4):  # UUIDs
        add("app/views.py", f'request_id = "{d.uuid()}"')
    add("config/app.yaml", f"trace_id: {d.uuid()}")
    add("app/payments.py", f'idempotency_key = "{d.uuid()}"')
    add("app/payments.py", f'headers = {{"Idempotency-Key": "{d.uuid()}"}}')
    add("tests/fixtures/order.json", f'  "id": "{d.uuid()}",')
    add("config/app.yaml", f"tenant_id: {d.uuid()}")
    add("config/app.yaml", f"client_id: {d.uuid()}")
    add(".env", f"AZURE_TENANT_ID={d.uuid()}")
    add(".env", f"AZURE_CLIENT_ID={d.uuid()}")
    add("app/keys.py", f'api_key_id = "{d.uuid()}"')
    for _ in range(3):  # ids and numbers
        add("tests/fixtures/users.py", f"user_id = {d.digits(20)}")
    add("config/app.yaml", f"aws_account_id: {d.digits(12)}")
    add("app/orders.py", f'order_number = "{d.digits(16)}"')
    add("app/orders.py", f"token_expiry_ms = {d.digits(13)}")
    add("app/auth.py", f"PASSWORD_RESET_TIMEOUT = {d.digits(6)}")
    add("app/auth.py", f"token_ttl_seconds = {d.digits(5)}")
    add("config/app.yaml", f"session_token_lifetime: {d.digits(7)}")
    add("tests/fixtures/cards.py", 'card_number = "4242424242424242"  # Stripe\'s test card')
    add("config/app.yaml", f"phone: '+1415555{d.digits(4)}'")
    add("app/analytics.js", f"gtag('config', 'G-{d.chars(UPPER_DIGITS, 10)}');")
    add("app/analytics.js", f"const GA = 'UA-{d.digits(8)}-1';")
    add(".env", f"STRIPE_PUBLISHABLE_KEY={d.key('pk_live_', ALNUM, 24)}")
    add("web/checkout.js", f"const stripe = Stripe('{d.key('pk_live_', ALNUM, 24)}');")
    add("shop/payments.py", f'customer = "{d.key("cus_", ALNUM, 14)}"')
    add("shop/payments.py", f'price = "{d.key("price_", ALNUM, 24)}"')
    add("shop/payments.py", f'STRIPE_PRODUCT_ID = "{d.key("prod_", ALNUM, 14)}"')
    add("deploy/iam.yaml", f"role: arn:aws:iam::{d.digits(12)}:role/deploy")
    add("deploy/iam.yaml", f"kms_key_arn: arn:aws:kms:eu-west-1:{d.digits(12)}:key/{d.uuid()}")
    add("app/keys.py", f'public_key = "ssh-ed25519 {d.b64(51)} deploy@ci"')
    add("deploy/authorized_keys", f"ssh-rsa {d.b64(279)} ada@laptop")
    add("deploy/server.pem", "-----BEGIN CERTIFICATE-----")
    add("deploy/public.pem", "-----BEGIN PUBLIC KEY-----")
    add("deploy/public.pem", "-----BEGIN PGP PUBLIC KEY BLOCK-----")
    add("web/app.css", f"  background: url(data:image/png;base64,{d.b64(60)});")
    add("app/models.py", f'slug = "{d.key("", string.ascii_lowercase + string.digits, 12)}"')
    add("app/views.py", f'csrf_cookie_name = "{d.key("", ALNUM, 20)}"')
    add(
        "tests/test_views.py",
        f'client.cookies["sessionid"] = "{d.key("", string.ascii_lowercase + string.digits, 32)}"',
    )
    add("web/app.js", f"const nonce = '{d.b64(16)}';")
    add("config/app.yaml", f"build: {d.hexa(12)}")
    add("README.md", f"Download: https://github.com/shop/shop/releases/download/v1.2.0/shop-{d.hexa(7)}.tar.gz")
    # documented example keys, placeholders, templates, look-ups, test fixtures
    fixed = [
        (".env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
        (".env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        (".env.example", "DB_PASSWORD=changeme"),
        (".env.example", "SECRET_KEY=your-secret-key-here"),
        (".env.example", "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        (".env.example", "GITHUB_TOKEN=<your-github-token>"),
        (".env.example", "API_KEY="),
        (".env.example", "API_KEY=REPLACE_ME"),
        (".env.example", "SLACK_BOT_TOKEN=xoxb-your-token"),
        (".env.example", "DATABASE_URL=postgres://user:password@localhost:5432/shop"),
        (".env.example", "REDIS_URL=redis://localhost:6379/0"),
        (".env.example", "OPENAI_API_KEY=sk-..."),
        (".env", "DB_PASSWORD=${DB_PASSWORD}"),
        (".env", "SECRET_KEY=$DJANGO_SECRET_KEY"),
        ("config/settings.yaml", "  password: ${POSTGRES_PASSWORD}"),
        ("config/settings.yaml", '  password: "{{ vault_db_password }}"'),
        ("config/settings.yaml", "  api_key: !vault |"),
        ("config/settings.yaml", "  token: null"),
        ("config/settings.yaml", "  secret: ''"),
        ("config/settings.yaml", "  password: '********'"),
        ("config/settings.yaml", "  private_key_path: /etc/ssl/private/server.key"),
        ("config/settings.yaml", "  password_file: /run/secrets/db_password"),
        ("config/settings.yaml", "  token_type: bearer"),
        ("config/settings.yaml", "  auth: basic"),
        ("config/settings.yaml", "  api_key_header: X-Api-Key"),
        ("k8s/deployment.yaml", "        - name: DB_PASSWORD"),
        ("k8s/deployment.yaml", "              key: db-password"),
        ("k8s/deployment.yaml", "              name: shop-secrets"),
        ("shop/settings.py", 'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]'),
        ("shop/settings.py", 'DB_PASSWORD = os.getenv("DB_PASSWORD", "")'),
        ("shop/settings.py", "API_TOKEN = env('API_TOKEN')"),
        ("shop/settings.py", "STRIPE_KEY = settings.STRIPE_SECRET_KEY"),
        ("shop/settings.py", 'AUTH_USER_MODEL = "accounts.User"'),
        ("shop/settings.py", 'PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]'),
        ("shop/settings.py", "SECRET_KEY_FALLBACKS = []"),
        ("shop/settings.py", 'AUTH_PASSWORD_VALIDATORS = [{"NAME": "UserAttributeSimilarityValidator"}]'),
        ("shop/settings.py", 'SESSION_COOKIE_NAME = "shop_sessionid"'),
        ("shop/forms.py", 'password_field = "new_password1"'),
        ("shop/forms.py", 'token_generator = "default_token_generator"'),
        ("shop/forms.py", "password = forms.CharField(widget=forms.PasswordInput)"),
        ("shop/views.py", 'token = request.headers.get("Authorization", "").removeprefix("Bearer ")'),
        ("shop/views.py", "api_key = get_secret('stripe')"),
        ("shop/views.py", "secret = hmac.new(key, msg, hashlib.sha256).hexdigest()"),
        ("shop/views.py", 'return JsonResponse({"token": token.key})'),
        ("shop/views.py", 'author = "Ada Lovelace"'),
        ("shop/views.py", 'error = "refresh_token_expired"'),
        ("shop/views.py", 'password = "correct horse battery staple"  # the xkcd example'),
        ("shop/cache.py", 'cache_key = f"product:{product_id}:v2"'),
        ("shop/cache.py", 'sort_key = "created_at"'),
        ("tests/test_auth.py", 'password = "password123"'),
        ("tests/test_auth.py", 'user = User.objects.create_user("ada", password="test-password")'),
        ("tests/test_auth.py", 'client.login(username="ada", password="secret")'),
        ("tests/test_auth.py", 'token = "test-token"'),
        ("tests/test_auth.py", 'API_KEY = "fake-api-key-for-tests"'),
        ("tests/test_auth.py", 'api_key = "dummy"'),
        ("tests/test_auth.py", 'SECRET_KEY = "django-insecure-test-only"'),
        ("tests/test_auth.py", 'password = "abcdefgh12345678"'),
        ("tests/test_auth.py", 'token = "0123456789abcdef"'),
        ("tests/test_auth.py", 'secret = "aaaaaaaaaaaaaaaaaaaaaaaa"'),
        ("tests/conftest.py", 'DATABASE_URL = "postgres://postgres:postgres@localhost:5432/test_shop"'),
        ("tests/conftest.py", 'BROKER = "amqp://guest:guest@localhost:5672//"'),
        ("tests/conftest.py", 'URL = "https://user:pass@example.com/path"'),
        ("docker-compose.yml", "      POSTGRES_PASSWORD: postgres"),
        ("docker-compose.yml", "      - POSTGRES_PASSWORD=${POSTGRES_PASSWORD:?set it in .env}"),
        ("README.md", "Set `GITHUB_TOKEN` to a personal access token (`ghp_...`) with the `repo` scope."),
        ("README.md", "    export STRIPE_SECRET_KEY=sk_live_..."),
        ("README.md", "Passwords are hashed with Argon2; tokens expire after 3600 seconds."),
        ("README.md", "    psql postgres://$PGUSER:$PGPASSWORD@$PGHOST/shop"),
        ("scripts/deploy.sh", 'curl -H "Authorization: Bearer $API_TOKEN" https://api.shop.test/orders'),
        ("scripts/deploy.sh", "export DB_PASSWORD=$(vault kv get -field=password secret/shop/db)"),
        ("web/login.js", "const password = document.querySelector('#password').value;"),
        ("web/login.js", "const apiKey = process.env.API_KEY;"),
        ("web/login.js", "headers: { Authorization: `Bearer ${token}` },"),
        ("app/crypto.py", "private_key = load_pem_private_key(data, password=None)"),
        ("deploy/key.yaml", "ssh_key: |"),  # a YAML block's first line: the key is on the next
        ("app/crypto.py", 'PRIVATE_KEY_HEADER = "-----BEGIN PRIVATE KEY-----"  # what the parser looks for'),
        ("app/models.py", "primary_key = True"),
        ("app/models.py", "password = models.CharField(max_length=128)"),
        ("app/tokens.py", "token = secrets.token_urlsafe(32)"),
        ("config/app.json", '  "passwordMinLength": 12,'),
        ("config/app.json", '  "tokenUrl": "https://auth.shop.test/oauth/token",'),
    ]
    add_fixed = [Row(0, file, line) for file, line in fixed]
    return rows + add_fixed


def generate() -> list[Row]:
    draw = Draw()
    return positives(draw) + negatives(draw)


def dump(rows: list[Row]) -> str:
    header = (
        "# label\tfile\tline  (generated by workshop/review/secret_corpus.py; values synthetic, defanged with <|>)\n"
    )
    return header + "".join(f"{r.label}\t{r.file}\t{r.line}\n" for r in rows)


def load(path: Path = CORPUS) -> list[Row]:
    """The stored corpus, marks taken out: the lines a scanner would meet."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("#") or not line:
            continue
        label, file, text = line.split("\t", 2)
        rows.append(Row(int(label), file, text.replace(DEFANG, "")))
    return rows


if __name__ == "__main__":
    CORPUS.write_text(dump(generate()), "utf-8")
    print(f"wrote {CORPUS} ({len(generate())} rows)", file=sys.stderr)
