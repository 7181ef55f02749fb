// HTTPS served by streamd itself ([tls] with certificate files), in a real browser: sign in,
// catalog and playback at https://localhost, segments over HTTP/2 from the same origin, HSTS,
// and plain HTTP redirected to https. The certificates come from a throwaway CA made with the
// openssl CLI in the test's temp dir. Chromium (Debian) under playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  tempDir, addUser, makeSource, ingest, startServer, browser, signIn, screenshot, waitPlayer,
  playMs,
} from './harness.mjs';

let dir; let tls; let server; let movie; let b;

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/**
 * A CA and a leaf for localhost (DNS:localhost, IP:127.0.0.1) signed by it, EC P-256, valid two
 * days, in `dir`; and the base64 SHA-256 of the leaf's SubjectPublicKeyInfo (what
 * `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary |
 * base64` prints), which Chromium can be told to accept.
 */
function makeCertificates(dir) {
  mkdirSync(dir, { recursive: true });
  const p = (name) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
    '-subj', '/CN=streamd e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('leaf.ext'), [
    'subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', ''].join('\n'));
  openssl(['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', p('leaf.ext'), '-out', p('leaf.pem')]);
  const spkiDer = new X509Certificate(readFileSync(p('leaf.pem'))).publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert: p('leaf.pem'), key: p('leaf.key'), ca: readFileSync(p('ca.pem'), 'utf8'),
    spki: createHash('sha256').update(spkiDer).digest('base64'),
  };
}

/** A port free on 127.0.0.1 now (tls.listen must be known before starting: public_url names it). */
function freePort() {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => done(port)); });
  });
}

before(async () => {
  dir = tempDir();
  tls = makeCertificates(join(dir, 'certs'));
  addUser(dir, 'viewer');
  // 8 s of 640x360: one rung, two 4 s segments.
  const src = makeSource(dir, 'pattern.mp4', '640x360', 8);
  movie = ingest(dir, src, 'Secure Pattern');
  const port = await freePort();
  const url = `https://localhost:${port}`;
  server = await startServer(dir, {
    STREAMD_TLS_CERT: tls.cert, STREAMD_TLS_KEY: tls.key,
    STREAMD_TLS_LISTEN: `127.0.0.1:${port}`, STREAMD_SERVER_PUBLIC_URL: url,
  }, { https: { url, ca: tls.ca } });
  // Chromium trusts exactly this leaf's key (--ignore-certificate-errors-spki-list) rather than
  // everything (--ignore-certificate-errors): a certificate with any other key still fails the
  // handshake, so the browser is known to get the one made here. Chromium honours the flag only
  // with --user-data-dir, which launchPersistentContext passes. (The chain and the names are
  // checked by node's http2 client below, which trusts the CA and nothing else.)
  b = await browser([`--ignore-certificate-errors-spki-list=${tls.spki}`]);
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

test('a client trusting only the test CA gets the login page over HTTP/2, with HSTS', async () => {
  const session = connect(server.url, { ca: tls.ca });
  try {
    const headers = await new Promise((done, fail) => {
      session.once('error', fail);
      const req = session.request({ ':path': '/login' });
      req.once('error', fail);
      req.once('response', (h) => { req.resume(); req.once('end', () => done(h)); });
      req.end();
    });
    assert.equal(session.alpnProtocol, 'h2');
    assert.equal(headers[':status'], 200, `GET /login over h2: ${JSON.stringify(headers)}`);
    assert.match(headers['strict-transport-security'] ?? '', /max-age=\d+/);
  } finally {
    session.close();
  }
});

test('over HTTPS: sign in with a Secure, HttpOnly session cookie, see the catalog, play a movie from https segments over HTTP/2', async () => {
  const page = await b.context.newPage();
  // Every request the page makes and how it ended; the protocol of each response from the
  // DevTools protocol (playwright's own API does not say h2 or http/1.1).
  const requests = new Map();
  const entry = (url) => { if (!requests.has(url)) requests.set(url, {}); return requests.get(url); };
  page.on('request', (r) => { Object.assign(entry(r.url()), { type: r.resourceType() }); });
  page.on('response', (r) => { entry(r.url()).status = r.status(); });
  page.on('requestfailed', (r) => { entry(r.url()).failed = r.failure()?.errorText ?? 'failed'; });
  const cdp = await b.context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', ({ response }) => { entry(response.url).protocol = response.protocol; });

  await signIn(page, server.url, 'viewer');
  const cookies = await b.context.cookies(server.url);
  const sessionCookie = cookies.find((c) => c.name === 'streamd_session');
  assert.ok(sessionCookie, `a session cookie after signing in; cookies: ${JSON.stringify(cookies)}`);
  assert.equal(sessionCookie.secure, true, 'the session cookie is Secure');
  assert.equal(sessionCookie.httpOnly, true, 'the session cookie is HttpOnly');
  for (const c of cookies) assert.equal(c.secure, true, `cookie ${c.name} is Secure`);

  const catalog = await page.goto(`${server.url}/`);
  assert.equal(catalog.status(), 200);
  assert.match(await catalog.headerValue('strict-transport-security') ?? '', /max-age=\d+/, 'the catalog answers with HSTS');
  const tile = page.locator(`.tile[data-movie="${movie}"]`);
  await tile.locator('img').waitFor();
  assert.match(await tile.innerText(), /Secure Pattern/);
  await screenshot(page, 'https-catalog');

  const [watch] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${server.url}/watch/${movie}` && r.request().isNavigationRequest()),
    tile.locator('h2 a').click(),
  ]);
  assert.equal(watch.status(), 200);
  assert.match(await watch.headerValue('strict-transport-security') ?? '', /max-age=\d+/, 'the watch page answers with HSTS');
  await waitPlayer(page, 'hls.js to list the rung', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 1, null, { timeout: 60000 });
  await page.keyboard.press(' ');
  await waitPlayer(page, 'playback to pass 3 s', () => document.getElementById('video').currentTime > 3, null, {
    timeout: playMs(3), seen: () => performance.getEntriesByType('resource').map((e) => `${e.name.split('?')[0]} ${e.nextHopProtocol}`).slice(-8),
  });
  await screenshot(page, 'https-player');

  // Read once playback has run: the DevTools protocol's events come on a session of their own.
  assert.equal(requests.get(watch.url())?.protocol, 'h2', `the watch page came over HTTP/2: ${JSON.stringify(requests.get(watch.url()))}`);
  const seen = JSON.stringify([...requests].map(([url, r]) => [url.split('?')[0], r]));
  // The object store's answers (poster, thumbnails, init and media segments): all from this
  // origin, all answered, all over HTTP/2; among them the media segments hls.js played.
  const objects = [...requests].filter(([url]) => /^https?:/.test(url) && new URL(url).pathname.startsWith('/s3/'));
  const segments = objects.filter(([url, r]) => ['xhr', 'fetch'].includes(r.type) && /\/seg_\d+\.(m4s|ts)$/.test(new URL(url).pathname));
  assert.ok(segments.length >= 1, `hls.js fetched media segments from /s3/; requests: ${seen}`);
  for (const [url, r] of objects) {
    const path = url.split('?')[0];
    assert.ok(url.startsWith(`${server.url}/s3/`), `${path} went to ${server.url}/s3/`);
    // A catalog image still loading when the page moves on to the watch page is aborted by
    // the browser (net::ERR_ABORTED, after a 200): that is the navigation, not the server.
    const abandoned = r.failed === 'net::ERR_ABORTED' && r.type === 'image' && r.status === 200;
    assert.ok(abandoned || (!r.failed && r.status >= 200 && r.status < 300), `${path} succeeded: ${JSON.stringify(r)}`);
    assert.equal(r.protocol, 'h2', `${path} came over HTTP/2: ${JSON.stringify(r)}`);
  }
  // Nothing at all went over plain HTTP or elsewhere (mixed content would be blocked anyway).
  const elsewhere = [...requests.keys()].filter((u) => !u.startsWith(`${server.url}/`) && !/^(data|blob):/.test(u));
  assert.deepEqual(elsewhere, [], `every request went to ${server.url}`);
  await page.close();
});

test('plain HTTP is redirected to the same path over https', async () => {
  const page = await b.context.newPage();
  for (const path of ['/', `/watch/${movie}`]) {
    const res = await page.goto(`${server.plain}${path}`);
    assert.equal(page.url(), `${server.url}${path}`, `http ${path} ends on https`);
    assert.equal(res.status(), 200);
    const hop = res.request().redirectedFrom();
    assert.equal(hop?.url(), `${server.plain}${path}`);
    assert.equal((await hop.response())?.status(), 308, `${server.plain}${path} answered 308`);
  }
  await page.close();
});
