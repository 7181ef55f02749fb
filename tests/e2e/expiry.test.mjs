// Signed chunk URLs live for the film plus tokens.segment_grace. After a pause longer than
// that, the next chunk answers 403; the player must fetch a fresh manifest and carry on from
// the same position, without a reload and without the viewer doing anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  tempDir, addUser, makeSource, ingest, startServer, browser, signIn, waitPlayer, playMs,
} from './harness.mjs';

let dir; let server; let movie; let b;
// The film's length, tokens.segment_grace and tokens.url_window, in seconds.
const SECONDS = 24;
const GRACE = 1;
const WINDOW = 1;

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer');
  movie = ingest(dir, makeSource(dir, 'short.mp4', '854x480', SECONDS, 25), 'Short', 'free');
  // A 1 s URL window: links are signed at the current second, as before shared windows.
  server = await startServer(dir, { STREAMD_TOKENS_SEGMENT_GRACE: `${GRACE}s`, STREAMD_TOKENS_URL_WINDOW: `${WINDOW}s` });
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
  await waitPlayer(page, 'hls.js to list the rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length > 0, null, { timeout: 60000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.keyboard.press(' ');
  await waitPlayer(page, 'playback to pass 1.5 s', () => document.getElementById('video').currentTime > 1.5, null, { timeout: playMs(1.5) });
  await page.keyboard.press(' ');
  const pausedAt = await page.evaluate(() => document.getElementById('video').currentTime);
  // The clock this test is about: URLs were signed (at most a window before the variant loaded)
  // for the window, the film and the grace; wait past that, by a second more (the server keeps
  // time in whole seconds).
  const wait = Math.max(0, loadedAt + (WINDOW + SECONDS + GRACE + 1) * 1000 - Date.now());
  await page.waitForTimeout(wait);
  await page.keyboard.press(' ');
  await waitPlayer(page, `playback to carry on 6 s past ${pausedAt} with fresh URLs`, (p) => document.getElementById('video').currentTime > p + 6, pausedAt, { timeout: playMs(6) });
  assert.ok(refused > 0, 'a chunk URL really had expired');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');
  await page.close();
});
