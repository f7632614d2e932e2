// A real OpenID Provider for the tests: panva's oidc-provider (a certified implementation), with its
// development login and consent pages. tests/oidc.py copies this file next to the installed package and
// starts it with its configuration in OIDC_TEST_CONFIG (JSON):
//   issuer, port, clients (oidc-provider's client metadata), jwks (optional: signing keys shared by two
//   providers, for the foreign-issuer test), accounts ({login: {email, email_verified, ...}}),
//   shortIdTokenPrefix (logins starting with it get ID tokens that expire after one second).
// Any login and password is accepted; the login is the account's `sub`.
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG);
const accounts = config.accounts ?? {};
const short = config.shortIdTokenPrefix ?? 'short-';

const provider = new Provider(config.issuer, {
  clients: config.clients,
  ...(config.jwks ? { jwks: config.jwks } : {}),
  cookies: { keys: ['test-only-cookie-key'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  ttl: {
    IdToken: (ctx, token) => (String(token?.available?.sub ?? '').startsWith(short) ? 1 : 3600),
  },
  async findAccount(ctx, id) {
    const claims = accounts[id] ?? { email: `${id}@example.test`, email_verified: true };
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

const server = provider.listen(config.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${config.issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
