// A real OpenID provider on loopback for tests/test_oidc.py: panva's oidc-provider (OpenID
// Certified), with one static client (aimsgraph), four users and a plain sign-in form.
//
//   node tests/oidc/provider.js --port 9000 --client-id aimsgraph --client-secret S \
//        --redirect-uri http://127.0.0.1:8042/login/oidc/callback --post-logout-redirect-uri http://127.0.0.1:8042/
//
// The issuer is http://127.0.0.1:<port>. Users sign in by name (no password: the provider is
// the thing under test's counterpart, not a directory). Their `groups` claim is what aimsgraph
// maps to roles. A few extra "users" make the token endpoint hand out bad ID tokens, the way a
// forger or a broken provider would, so that the tests can check that aimsgraph refuses them:
// a signature by a key the JWKS does not hold, another audience, another issuer, an expired
// token, an unsigned one. Every page this script serves is self-contained (the provider's own
// pages load web fonts from elsewhere; a test machine reaches nothing but loopback).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { SignJWT, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'post-logout-redirect-uri': { type: 'string' },
  },
});
for (const name of ['port', 'client-id', 'client-secret', 'redirect-uri', 'post-logout-redirect-uri']) {
  if (!args[name]) {
    console.error(`provider.js: --${name} is required`);
    process.exit(2);
  }
}
const issuer = `http://127.0.0.1:${args.port}`;

const USERS = {
  alice: { name: 'Alice Example', groups: ['staff', 'aims-editors'] },
  bob: { name: 'Bob Example', groups: ['staff'] },
  carol: { name: 'Carol Example', groups: ['staff', 'aims-editors', 'aims-admins'] },
  dave: { name: 'Dave Example', groups: ['contractors'] },
};

// The provider's signing key, and a key of the same id that the JWKS does not publish.
function rsaKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
const signingKey = rsaKey('test-key');
const strangerKey = rsaKey('test-key');

async function resign(token, jwk, changes) {
  const claims = { ...decodeJwt(token), ...changes };
  const { alg, kid } = decodeProtectedHeader(token);
  return new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(await importJWK(jwk, alg));
}

const now = () => Math.floor(Date.now() / 1000);
// Each takes the genuine ID token and returns the bad one, for a user whose groups make them an admin.
const FORGERIES = {
  'forged-signature': (token) => resign(token, strangerKey, {}),
  'forged-audience': (token) => resign(token, signingKey, { aud: 'another-client', azp: args['client-id'] }),
  'forged-issuer': (token) => resign(token, signingKey, { iss: 'http://127.0.0.1:1' }),
  expired: (token) => resign(token, signingKey, { iat: now() - 3600, auth_time: now() - 3600, exp: now() - 600 }),
  unsigned: async (token) => {
    const body = Buffer.from(JSON.stringify(decodeJwt(token))).toString('base64url');
    return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
  },
};
for (const id of Object.keys(FORGERIES)) {
  USERS[id] = { name: id, groups: ['staff', 'aims-admins'] };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      redirect_uris: [args['redirect-uri']],
      post_logout_redirect_uris: [args['post-logout-redirect-uri']],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Keycloak, Entra ID and Okta put the claims of the granted scopes in the ID token too.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: (ctx, form) => {
        ctx.body = page('Sign out', `${form}<p>Sign out of the test provider?</p>
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: (ctx) => {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<p id="error">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: user.name,
          preferred_username: id,
          email: `${id}@example.test`,
          email_verified: true,
          groups: user.groups,
        };
      },
    };
  },
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;
}

async function formBody(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

// The sign-in form, and its answer: signing in also grants what the client asked for (no
// separate consent screen, as with an organisation's own applications).
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = page('Sign in to the test provider', `<form method="post" action="/interaction/${match[1]}">
      <label for="login">User name</label> <input id="login" name="login" autofocus required>
      <button type="submit" id="sign-in">Sign in</button></form>`);
    return undefined;
  }
  const login = (await formBody(ctx.req)).get('login') || '';
  if (!USERS[login]) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Sign in to the test provider', `<p id="error">No user ${escape(login)}</p>`);
    return undefined;
  }
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    ctx.req,
    ctx.res,
    { login: { accountId: login }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.respond = false;
  return undefined;
});

// The bad ID tokens: the token endpoint's genuine answer, with its ID token replaced.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const forge = FORGERIES[decodeJwt(ctx.body.id_token).sub];
  if (forge) ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token) };
});

provider.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
