// The admin pages in a real browser: upload with visible progress through to a playable movie,
// bad uploads explained on the page, forms that survive double submits and expired sessions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  tempDir, addUser, makeSource, startServer, browser, signIn, screenshot, PW, encodeMs, waitPlayer,
} from './harness.mjs';

let dir; let server; let b; let source;

before(async () => {
  dir = tempDir();
  addUser(dir, 'root', ['--admin']);
  addUser(dir, 'viewer');
  source = makeSource(dir, 'small.mp4', '640x360', 6, 25);
  // Many sign-ins from one address within a minute: the login rate limit (tested on its own in
  // tests/http_auth.rs) would otherwise decide, by how fast the tests run, whether the last passes.
  server = await startServer(dir, {
    STREAMD_TRANSCODE_PRESET: 'ultrafast', STREAMD_TRANSCODE_MAX_UPLOAD: '3MB', STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE: '60',
  });
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

/** Uploads through the page's form and returns the phases the status box went through. */
async function upload(page, file, title) {
  await page.goto(`${server.url}/admin`);
  await page.evaluate(() => {
    window.__phases = [];
    const phase = document.getElementById('upload-phase');
    new MutationObserver(() => {
      const p = phase.textContent;
      if (window.__phases[window.__phases.length - 1] !== p) window.__phases.push(p);
    }).observe(phase, { childList: true, characterData: true, subtree: true });
  });
  await page.fill('#upload input[name=title]', title);
  await page.setInputFiles('#upload input[name=file]', file);
  await page.click('#upload button[type=submit]');
  // A minute for the upload itself, then the encode of the 6 s source.
  await waitPlayer(page, `the upload of ${title} to end`, () => ['Ready', 'Failed', 'Upload refused', 'Upload failed', 'Stopped']
    .includes(document.getElementById('upload-phase').textContent), null, {
    timeout: 60000 + encodeMs(6, 640, 360, 25, 'ultrafast'),
    seen: () => ({ phases: window.__phases, message: document.getElementById('upload-message').textContent }),
  });
  return page.evaluate(() => window.__phases);
}

test('the upload page ingests a small file end to end with visible progress', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'root');
  const phases = await upload(page, source, 'Uploaded Pattern');
  assert.equal(phases[phases.length - 1], 'Ready', `phases: ${phases}`);
  assert.ok(phases.includes('Uploading'), `upload progress was shown: ${phases}`);
  assert.ok(phases.includes('Queued') || phases.includes('Transcoding'), `transcode progress was shown: ${phases}`);
  assert.match(await page.locator('#upload-message').innerText(), /is ready in 360p/);
  await screenshot(page, 'admin-upload');
  await page.waitForURL(/\/admin\?ok=/);
  assert.match(await page.locator('#jobs').innerText(), /Uploaded Pattern[\s\S]*ready/);
  await screenshot(page, 'admin');
  await page.goto(`${server.url}/`);
  assert.match(await page.locator('#catalog').innerText(), /Uploaded Pattern/);
  await page.close();
});

test('a non-video upload fails with ffprobe\'s reason on the page and publishes nothing', async () => {
  const page = await b.context.newPage();
  const phases = await upload(page, { name: 'junk.mp4', mimeType: 'video/mp4', buffer: Buffer.from('this is not a movie at all') }, 'Junk');
  assert.equal(phases[phases.length - 1], 'Failed', `phases: ${phases}`);
  assert.match(await page.locator('#upload-message').innerText(), /ffprobe could not read the file/);
  const list = await (await page.request.get(`${server.url}/api/v1/movies`)).json();
  assert.equal(list.find((m) => m.title === 'Junk').status, 'failed');
  await page.close();
});

test('an oversize upload is refused with a clear message', async () => {
  const page = await b.context.newPage();
  const big = Buffer.alloc(3_500_000, 7);
  const phases = await upload(page, { name: 'big.mp4', mimeType: 'video/mp4', buffer: big }, 'Too big');
  assert.equal(phases[phases.length - 1], 'Upload refused', `phases: ${phases}`);
  assert.match(await page.locator('#upload-message').innerText(), /larger than the 2\.9 MiB upload limit/);
  const list = await (await page.request.get(`${server.url}/api/v1/movies`)).json();
  assert.equal(list.filter((m) => m.title === 'Too big').length, 0);
  await page.close();
});

test('forms: users, plans and grants; a double submit and a forged token get sensible answers', async () => {
  const page = await b.context.newPage();
  await page.goto(`${server.url}/admin`);
  const addForm = page.locator('form[action="/admin/users"]');
  await addForm.locator('input[name=name]').fill('carol');
  await addForm.locator('input[name=password]').fill(PW);
  await addForm.locator('select[name=plan]').selectOption('premium');
  await Promise.all([page.waitForURL(/\/admin\?ok=/), addForm.locator('button').click()]);
  assert.match(await page.locator('.ok').innerText(), /created user carol on the premium plan/);
  // The same form posted again (a double click, a browser retry): a clear error, no crash.
  const csrf = await page.locator('input[name=csrf]').first().inputValue();
  const again = await page.request.post(`${server.url}/admin/users`, {
    form: { csrf, name: 'carol', password: PW, plan: 'premium' }, maxRedirects: 0,
  });
  assert.equal(again.status(), 303);
  assert.match(decodeURIComponent(again.headers().location.replaceAll('+', ' ')), /already exists/);
  const forged = await page.request.post(`${server.url}/admin/users`, {
    form: { csrf: 'forged', name: 'mallory', password: PW, plan: 'free' }, maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  assert.doesNotMatch(await forged.text(), /panicked|backtrace/);

  const movies = await (await page.request.get(`${server.url}/api/v1/movies`)).json();
  const uploaded = movies.find((m) => m.title === 'Uploaded Pattern');
  const grantForm = page.locator('form[action="/admin/grants"]');
  await grantForm.locator('select[name=user]').selectOption('viewer');
  await grantForm.locator('select[name=movie]').selectOption(uploaded.id);
  await Promise.all([page.waitForURL(/\/admin\?ok=/), grantForm.locator('button').click()]);
  assert.match(await page.locator('.ok').innerText(), new RegExp(`viewer may watch ${uploaded.id}`));
  await Promise.all([page.waitForURL(/\/admin\?ok=/), page.locator('form[action="/admin/grants/revoke"] button').first().click()]);
  assert.match(await page.locator('.ok').innerText(), /revoked/);
  await page.close();
});

test('accounts end from the admin page: disable signs a viewer out, enable lets them back, remove is for good', async () => {
  const admin = await b.context.newPage();
  admin.on('dialog', (d) => d.accept());
  await signIn(admin, server.url, 'root');
  await admin.goto(`${server.url}/admin`);
  const addForm = admin.locator('form[action="/admin/users"]');
  await addForm.locator('input[name=name]').fill('dora');
  await addForm.locator('input[name=password]').fill(PW);
  await Promise.all([admin.waitForURL(/\/admin\?ok=/), addForm.locator('button').click()]);
  // Dora signs in in a browser of her own.
  const other = await browser();
  const dora = await other.context.newPage();
  await signIn(dora, server.url, 'dora');
  assert.equal((await dora.request.get(`${server.url}/api/v1/movies`)).status(), 200);

  const row = admin.locator('td[data-user="dora"]');
  await Promise.all([admin.waitForURL(/\/admin\?ok=/), row.locator('form[action$="/disable"] button').click()]);
  assert.match(await admin.locator('.ok').innerText(), /disabled dora/);
  assert.match(await admin.locator('tr', { has: row }).innerText(), /disabled/);
  assert.equal((await dora.request.get(`${server.url}/api/v1/movies`)).status(), 401, 'signed out at once');
  await dora.goto(`${server.url}/login`);
  await dora.fill('input[name=username]', 'dora');
  await dora.fill('input[name=password]', PW);
  await dora.click('button[type=submit]');
  await dora.waitForLoadState();
  assert.match(await dora.locator('main').innerText(), /disabled/);

  await Promise.all([admin.waitForURL(/\/admin\?ok=/), row.locator('form[action$="/enable"] button').click()]);
  assert.match(await admin.locator('.ok').innerText(), /enabled dora/);
  await signIn(dora, server.url, 'dora');
  assert.equal((await dora.request.get(`${server.url}/api/v1/movies`)).status(), 200);

  await Promise.all([admin.waitForURL(/\/admin\?ok=/), row.locator('form[action$="/remove"] button').click()]);
  assert.match(await admin.locator('.ok').innerText(), /removed dora/);
  assert.equal(await admin.locator('td[data-user="dora"]').count(), 0);
  assert.equal((await dora.request.get(`${server.url}/api/v1/movies`)).status(), 401);
  // The last admin cannot remove themself.
  await Promise.all([admin.waitForURL(/\/admin\?error=/), admin.locator('td[data-user="root"] form[action$="/remove"] button').click()]);
  assert.match(await admin.locator('p.error[role=alert]').innerText(), /last admin/);
  await other.close();
  await admin.close();
});

test('a deleted movie in an open tab and an expired session get friendly pages', async () => {
  const page = await b.context.newPage();
  const movies = await (await page.request.get(`${server.url}/api/v1/movies`)).json();
  const uploaded = movies.find((m) => m.title === 'Uploaded Pattern');
  await page.goto(`${server.url}/watch/${uploaded.id}`);
  await waitPlayer(page, 'hls.js to list the rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length > 0, null, { timeout: 60000 });
  const admin = await b.context.newPage();
  await admin.goto(`${server.url}/admin`);
  admin.on('dialog', (d) => d.accept());
  await Promise.all([admin.waitForURL(/\/admin\?ok=/), admin.locator(`tr[data-movie="${uploaded.id}"] button.danger`).click()]);
  assert.match(await admin.locator('.ok').innerText(), /deleted "Uploaded Pattern"/);
  const res = await page.reload();
  assert.equal(res.status(), 404);
  assert.match(await page.locator('main').innerText(), /does not exist/);
  assert.doesNotMatch(await page.content(), /panicked|backtrace|\{"error"/);

  // Sign out elsewhere: this tab's next request goes to the sign-in page, not an error dump.
  await admin.request.post(`${server.url}/api/v1/logout`);
  const after = await page.goto(`${server.url}/admin`);
  assert.equal(new URL(after.url()).pathname, '/login');
  await admin.close();
  await page.close();
});

test('the pages fit a phone', async () => {
  const page = await b.context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, server.url, 'viewer');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
  await screenshot(page, 'catalog-phone');
  void readFileSync;
  await page.close();
});
