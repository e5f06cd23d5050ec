// A real OpenID Connect provider for staffgate's tests: panva's oidc-provider on a random
// loopback port, with back-channel logout, RP-initiated logout, dev interactions (a plain
// HTML login form: any password) and client credentials. Accounts and clients live in
// memory and are set by the test over /__test/* (never exposed outside the test machine).
// Prints `READY <issuer>` once it listens.

import http from 'node:http';
import Provider from 'oidc-provider';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHmac } from 'node:crypto';

const stores = new Map();
const clients = new Map();
const accounts = new Map();
// How each account authenticates (`amr`, `acr`), as a test sets it: session facts, not claims.
const authn = new Map();

class MemoryAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }
  async upsert(id, payload) { this.store.set(id, payload); }
  async find(id) { return this.name === 'Client' ? clients.get(id) : this.store.get(id); }
  async findByUserCode(code) { return [...this.store.values()].find((v) => v.userCode === code); }
  async findByUid(uid) { return [...this.store.values()].find((v) => v.uid === uid); }
  async consume(id) { const v = this.store.get(id); if (v) v.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.store.delete(id); }
  async revokeByGrantId(grantId) {
    for (const [k, v] of this.store) if (v.grantId === grantId) this.store.delete(k);
  }
}

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [],
  jwks: { keys: [jwk] },
  cookies: { keys: ['staffgate-test-cookie-key'] },
  pkce: { required: () => true },
  // A refresh token for every code flow (offline_access is not asked for): staffgate asks
  // the provider on an interval whether the person is still there.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600,
    Interaction: 600, RefreshToken: 86400, Session: 86400, ClientCredentials: 600,
  },
  findAccount: async (_ctx, id) => {
    const claims = accounts.get(id);
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  // The ID token is masked by the scopes' claims: `amr` and `acr` go out with `openid`.
  claims: {
    openid: ['sub', 'amr', 'acr'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'groups', 'department'],
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    clientCredentials: { enabled: true },
  },
  // The test's staffgate listens on loopback, which the provider's SSRF guard refuses; the
  // guard stays on everywhere else.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  // Consent is implied: a test signs in, it does not click through a consent page.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

// The dev interaction's login form finishes with `{ login: { accountId } }`; the account's
// authentication methods and level, as the test set them, join it here.
const finished = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  const how = authn.get(result?.login?.accountId);
  const login = how ? { ...result.login, ...how } : result?.login;
  return finished(req, res, { ...result, login }, options);
};

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

function answer(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

// Sends a back-channel logout for every session of `accountId` with `clientId`.
async function logout({ clientId, accountId }) {
  const client = await provider.Client.find(clientId);
  const sessions = [...(stores.get('Session') ?? new Map()).values()]
    .filter((s) => s.accountId === accountId);
  let sent = 0;
  for (const s of sessions) {
    const auth = s.authorizations?.[clientId];
    if (!auth) continue;
    await client.backchannelLogout(accountId, auth.sid);
    sent += 1;
  }
  return sent;
}

// A test may have the token endpoint hand out, to one client, a forged ID token instead:
// `none` (unsigned), `hs256` (an HMAC keyed with the provider's public key), `rogue` (signed
// with a key the provider does not publish), `expired` (the real key, an exp in the past),
// `nonce` (the real key, another sign-in's nonce); or fail: `unavailable` (503).
const tamper = new Map(); // client id -> mode
const { privateKey: rogueKey } = await generateKeyPair('RS256');
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
async function forge(mode, real) {
  const claims = decodeJwt(real);
  switch (mode) {
    case 'none':
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    case 'hs256': {
      const input = `${b64({ alg: 'HS256', kid: jwk.kid })}.${b64(claims)}`;
      const publicJwk = JSON.stringify({ kty: jwk.kty, n: jwk.n, e: jwk.e });
      const sig = createHmac('sha256', publicJwk).update(input).digest('base64url');
      return `${input}.${sig}`;
    }
    case 'rogue':
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'rogue' }).sign(rogueKey);
    case 'nonce':
      return new SignJWT({ ...claims, nonce: 'another-sign-ins-nonce' })
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
        .sign(privateKey);
    case 'expired':
      return new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
        .sign(privateKey);
    default:
      return real;
  }
}
provider.use(async (ctx, next) => {
  if (ctx.path === '/token' && tamper.size) {
    // The client is not known before the provider parses the request: read its id from
    // the Basic credentials.
    const basic = (ctx.get('authorization') || '').replace(/^Basic /, '');
    const id = decodeURIComponent(Buffer.from(basic, 'base64').toString().split(':')[0] || '');
    if (tamper.get(id) === 'unavailable') {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable' };
      return;
    }
  }
  await next();
  const mode = tamper.get(ctx.oidc?.client?.clientId);
  if (mode && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: await forge(mode, ctx.body.id_token) };
  }
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (!req.url.startsWith('/__test/')) return callback(req, res);
  try {
    const input = req.method === 'POST' ? await body(req) : {};
    switch (req.url) {
      case '/__test/clients':
        for (const c of input) clients.set(c.client_id, c);
        return answer(res, 200, { ok: true });
      case '/__test/accounts':
        for (const [id, value] of Object.entries(input)) {
          if (value === null) { accounts.delete(id); authn.delete(id); continue; }
          const { amr, acr, ...claims } = value;
          accounts.set(id, claims);
          if (amr || acr) authn.set(id, { amr, acr }); else authn.delete(id);
        }
        return answer(res, 200, { ok: true });
      case '/__test/logout':
        return answer(res, 200, { sent: await logout(input) });
      case '/__test/tamper':
        if (input.mode) tamper.set(input.clientId, input.mode); else tamper.delete(input.clientId);
        return answer(res, 200, { ok: true });
      case '/__test/sign': {
        // A JWT signed with the provider's own key: for logout tokens the provider would
        // never send (a nonce, a replayed jti, a wrong typ).
        const jwt = await new SignJWT(input.claims)
          .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, ...input.header })
          .sign(privateKey);
        return answer(res, 200, { jwt });
      }
      default:
        return answer(res, 404, { error: 'no such test endpoint' });
    }
  } catch (e) {
    return answer(res, 500, { error: String(e) });
  }
});

// Ends with the test binary that started it.
const parent = Number(process.env.STAFFGATE_TEST_PARENT || 0);
if (parent) {
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.exit(0); }
  }, 1000).unref();
}

console.log(`READY ${issuer}`);
