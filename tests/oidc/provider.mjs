// A real OpenID Provider for natstack's integration tests: the npm package oidc-provider (which
// nobody here wrote), on a loopback address, issuing RS256 JWT access tokens (RFC 9068) to a
// client_credentials client for configured resource servers (Resource Indicators, RFC 8707).
//
//   node provider.mjs serve --config FILE
//   node provider.mjs keygen [--kid KID]      prints a private RS256 JWK (JSON) on stdout
//
// FILE (JSON):
//   listen        "127.x.y.z:PORT" of the issuer (PORT 0 = any free port); loopback only
//   admin_listen  "127.x.y.z:PORT" of the admin endpoint (PORT 0 = any free port); loopback only
//   jwks_file     a JWK Set of private keys ({"keys": [...]}), re-read on every reload
//   clients       [{"client_id", "client_secret"}]: client_credentials, client_secret_basic
//   resources     {"<resource indicator>": {"scope": "a b", "access_token_ttl_s": 600}}; the
//                 token's aud is the indicator. The first one is the default resource.
//
// Once both ports listen it prints one JSON line on stdout,
//   {"event":"ready","issuer":"http://H:P","admin":"http://H:Q","published":[kids],"signing":kid}
// and, when $NATSTACK_READY_FD names a file descriptor, writes "ready\n" to it and closes it.
//
// Key rotation without a restart. oidc-provider takes its key set (`jwks`) only when a Provider
// is constructed; its documented rotation is "push the new key at the end of the keys array,
// reload; move it to the front (the first key that fits the algorithm signs), reload". A reload
// here re-reads jwks_file and builds a new Provider with the same configuration, then swaps it
// in behind the same listening socket in one step: the process, its address and the issuer stay,
// no request is refused, and from the swap on both the published JWKS (jwks_uri) and the signer
// of new tokens are the new instance's. A key set that does not load (bad file, bad key) is
// refused and the current one keeps serving. Reloads come from
//   POST <admin>/reload   answers {"published":[kids],"signing":kid} once the swap is done
//   SIGHUP                the same, reported as a {"event":"reloaded",...} line on stdout
// GET <admin>/status answers the current {"published","signing","reloads"}.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

// Loaded by `serve` only: keygen's output stays free of oidc-provider's start-up warnings.
let oidc;

function fail(message) {
  process.stderr.write(`provider: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const flags = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith('--') || rest[i + 1] === undefined) fail(`bad argument ${rest[i]}`);
    flags[rest[i].slice(2)] = rest[i + 1];
  }
  return { command, flags };
}

// "127.x.y.z:PORT" -> {host, port}; tests may only use loopback addresses.
function parseListen(key, value) {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(value ?? '');
  if (!m || net.isIPv4(m[1]) === false) fail(`${key}: expected "127.x.y.z:PORT", got ${JSON.stringify(value)}`);
  if (!m[1].startsWith('127.')) fail(`${key}: ${m[1]} is not a loopback address (127.0.0.0/8)`);
  const port = Number(m[2]);
  if (port > 65535) fail(`${key}: port ${port} is out of range`);
  return { host: m[1], port };
}

function keygen(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: kid ?? crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

// The key set in jwks_file; throws with a message naming the problem.
function readJwks(path) {
  const jwks = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${path}: expected {"keys": [...]} with at least one key`);
  }
  jwks.keys.forEach((k, i) => {
    if (typeof k.kid !== 'string' || !k.kid) throw new Error(`${path}: keys[${i}] has no kid`);
  });
  return jwks;
}

// oidc-provider signs with the first key of the set that fits the algorithm (keys with equal
// fit keep their order); this is what it will pick for RS256, for reporting only: the test reads
// the kid of the tokens it gets.
function expectedSigner(jwks) {
  const fits = (k) => k.kty === 'RSA' && (k.alg === undefined || k.alg === 'RS256')
    && (k.use === undefined || k.use === 'sig');
  return jwks.keys.find(fits)?.kid ?? null;
}

function buildProvider(issuer, config) {
  const jwks = readJwks(config.jwks_file);
  const resources = config.resources;
  const { default: Provider, errors } = oidc;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks,
    scopes: [...new Set(Object.values(resources).flatMap((r) => (r.scope ?? '').split(' ')).filter(Boolean))],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Object.keys(resources)[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          const r = resources[indicator];
          if (!r) throw new errors.InvalidTarget();
          return {
            audience: indicator,
            scope: r.scope,
            accessTokenTTL: r.access_token_ttl_s ?? 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  // Errors in the token endpoint are the test's business, not a crash.
  provider.on('server_error', (ctx, err) => process.stderr.write(`provider: server_error: ${err.stack}\n`));
  return {
    handler: provider.callback(),
    published: jwks.keys.map((k) => k.kid),
    signing: expectedSigner(jwks),
  };
}

function listen(server, { host, port }) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

async function serve(configPath) {
  if (!configPath) fail('serve needs --config FILE');
  let config;
  try {
    config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (e) {
    fail(`${configPath}: ${e.message}`);
  }
  const main = parseListen('listen', config.listen);
  const admin = parseListen('admin_listen', config.admin_listen);
  if (!Array.isArray(config.clients) || config.clients.length === 0) fail('clients: needs one client');
  if (!config.resources || Object.keys(config.resources).length === 0) fail('resources: needs one resource');
  oidc = await import('oidc-provider');

  let current = null;
  let reloads = 0;
  const issuerServer = http.createServer((req, res) => current.handler(req, res));
  const port = await listen(issuerServer, main);
  const issuer = `http://${main.host}:${port}`;
  try {
    current = buildProvider(issuer, config);
  } catch (e) {
    fail(`cannot load the key set: ${e.message}`);
  }

  // Builds a provider from the file as it is now and swaps it in, or throws (and the current
  // one keeps serving).
  const reload = () => {
    const next = buildProvider(issuer, config);
    current = next;
    reloads += 1;
    return { published: next.published, signing: next.signing, reloads };
  };
  const status = () => ({ published: current.published, signing: current.signing, reloads });

  const adminServer = http.createServer((req, res) => {
    const send = (code, body) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method === 'POST' && req.url === '/reload') {
      try {
        send(200, reload());
      } catch (e) {
        send(500, { error: e.message });
      }
    } else if (req.method === 'GET' && req.url === '/status') {
      send(200, status());
    } else {
      send(404, { error: 'POST /reload or GET /status' });
    }
  });
  const adminPort = await listen(adminServer, admin);

  process.on('SIGHUP', () => {
    try {
      process.stdout.write(`${JSON.stringify({ event: 'reloaded', ...reload() })}\n`);
    } catch (e) {
      process.stderr.write(`provider: reload failed, still serving the previous keys: ${e.message}\n`);
    }
  });
  const stop = () => {
    issuerServer.closeAllConnections();
    adminServer.closeAllConnections();
    issuerServer.close();
    adminServer.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`${JSON.stringify({
    event: 'ready', issuer, admin: `http://${admin.host}:${adminPort}`, ...status(),
  })}\n`);
  const readyFd = Number(process.env.NATSTACK_READY_FD);
  if (Number.isInteger(readyFd) && readyFd > 2) {
    try {
      fs.writeSync(readyFd, 'ready\n');
      fs.closeSync(readyFd);
    } catch {
      // Nobody is waiting on it.
    }
  }
}

const { command, flags } = parseArgs(process.argv.slice(2));
if (command === 'keygen') {
  process.stdout.write(`${JSON.stringify(keygen(flags.kid))}\n`);
} else if (command === 'serve') {
  await serve(flags.config);
} else {
  fail('usage: provider.mjs serve --config FILE | keygen [--kid KID]');
}
