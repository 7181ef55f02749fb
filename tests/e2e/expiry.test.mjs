// Signed chunk URLs live for the film plus tokens.segment_grace. After a pause longer than
// that, the next chunk answers 403; the player must fetch a fresh manifest and carry on from
// the same position, without a reload and without the viewer doing anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, addUser, makeSource, ingest, startServer, browser, signIn } from './harness.mjs';

let dir; let server; let movie; let b;

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer');
  movie = ingest(dir, makeSource(dir, 'short.mp4', '854x480', 24, 25), 'Short', 'free');
  // A 1 s URL window: links are signed at the current second, as before shared windows.
  server = await startServer(dir, { STREAMD_TOKENS_SEGMENT_GRACE: '1s', STREAMD_TOKENS_URL_WINDOW: '1s' });
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

test('an expired chunk URL recovers without user action', async () => {
  const page = await b.context.newPage();
  await page.addInitScript(() => { window.STREAMD_HLS_CONFIG = { maxBufferLength: 4, maxMaxBufferLength: 4 }; });
  let refused = 0;
  page.on('response', (r) => { if (r.url().includes('/s3/') && r.status() === 403) refused += 1; });
  await signIn(page, server.url, 'viewer');
  await page.goto(`${server.url}/watch/${movie}`);
  const loadedAt = Date.now();
  await page.waitForFunction(() => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length > 0);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.keyboard.press(' ');
  await page.waitForFunction(() => document.getElementById('video').currentTime > 1.5, null, { timeout: 20000 });
  await page.keyboard.press(' ');
  const pausedAt = await page.evaluate(() => document.getElementById('video').currentTime);
  // URLs were signed (at most 1 s before the variant loaded) for 1 s + 24 s + 1 s: wait past that.
  const wait = Math.max(0, loadedAt + 27000 - Date.now());
  await page.waitForTimeout(wait);
  await page.keyboard.press(' ');
  await page.waitForFunction((p) => document.getElementById('video').currentTime > p + 6, pausedAt, { timeout: 30000 });
  assert.ok(refused > 0, 'a chunk URL really had expired');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');
  await page.close();
});
