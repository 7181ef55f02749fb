// Keys per viewer in the browser: a premium film published with encrypted segments
// (protection.encrypt = "premium") plays in the page through hls.js's AES-128 decrypter, under
// the page's CSP, fetching one key per key period from /stream/{id}/keys/{n}; switching quality
// needs no other key URL. A revoked plan stops the next key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  tempDir, addUser, cli, makeSource, ingest, startServer, browser, signIn, screenshot,
  frameBrightness, waitPlayer, playMs,
} from './harness.mjs';

let dir; let server; let movie; let b;
const ENV = {
  STREAMD_PROTECTION_ENCRYPT: 'premium',
  STREAMD_PROTECTION_KEY_PERIOD: '4s',
  STREAMD_TRANSCODE_SEGMENT_SECONDS: '2',
  STREAMD_TRANSCODE_RENDITIONS: '["480p", "720p"]',
  STREAMD_PLANS_PREMIUM_SCREENS: '1',
};

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer', ['--plan', 'premium']);
  addUser(dir, 'sam', ['--plan', 'premium']);
  movie = ingest(dir, makeSource(dir, 'locked.mp4', '1280x720', 12, 25), 'Locked', 'premium', ENV);
  server = await startServer(dir, ENV);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

test('an encrypted film plays in the page and switches quality with the same key URLs', async () => {
  const page = await b.context.newPage();
  const keys = [];
  const blocked = [];
  page.on('request', (r) => { if (r.url().includes('/keys/')) keys.push(r.url()); });
  page.on('console', (m) => { if (/Content Security Policy|Refused/.test(m.text())) blocked.push(m.text()); });
  await signIn(page, server.url, 'viewer');
  const playlist = await page.evaluate(async (id) => {
    const master = await (await fetch(`/stream/${id}`)).text();
    const row = master.split('\n').find((l) => l.startsWith('/stream/') && l.includes('480p'));
    return (await fetch(row)).text();
  }, movie);
  assert.match(playlist, /#EXT-X-MAP:URI="[^"]+"\n#EXT-X-KEY:METHOD=AES-128,URI="http[^"]+\/keys\/0\?token=[^"]+",IV=0x[0-9a-f]{32}/, playlist);

  await page.goto(`${server.url}/watch/${movie}`);
  await waitPlayer(page, 'hls.js to list both rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 2, null, { timeout: 60000 });
  await page.selectOption('#quality', '0');
  await page.keyboard.press(' ');
  await waitPlayer(page, 'playback to pass 3 s on 480p', () => document.getElementById('video').currentTime > 3, null, { timeout: playMs(3) });
  await page.selectOption('#quality', '1');
  await waitPlayer(page, 'the stats overlay to report 720p and playback to pass 7 s', () => document.querySelector('[data-stat="level"]').textContent.startsWith('720p') && document.getElementById('video').currentTime > 7, null, {
    timeout: playMs(8), seen: () => `${document.querySelector('[data-stat="level"]').textContent} at ${document.getElementById('video').currentTime}; errors ${JSON.stringify(window.streamdPlayer.errors)}`,
  });
  const brightness = await frameBrightness(page);
  assert.ok(brightness > 30, `the decrypted frame is not black (mean brightness ${brightness.toFixed(1)})`);
  await screenshot(page, 'encrypted-film-720p');
  const numbers = keys.map((u) => Number(new URL(u).pathname.split('/').pop()));
  assert.ok(numbers.includes(0) && numbers.includes(1), `keys 0 and 1 were fetched: ${keys.join(' ')}`);
  // One URL per key for both rungs and the audio: a quality switch needs no new key. (hls.js
  // may still load one URL twice when its audio and video controllers ask at once.)
  assert.equal(new Set(keys).size, new Set(numbers).size, `one URL per key across both rungs: ${keys.join(' ')}`);
  assert.deepEqual(blocked, [], 'nothing blocked by the CSP');

  // Revoked: the next key fetch is refused.
  cli(dir, ['user', 'plan', 'viewer', 'free']);
  const last = keys[0].replace(/\/keys\/\d+/, '/keys/2');
  const status = await page.evaluate(async (u) => (await fetch(u)).status, last);
  assert.equal(status, 403);
  await page.close();
});

test('past the plan\'s screens the player lists the sessions, stops one and plays; the stopped page says so', async () => {
  const second = await browser();
  try {
    const first = await b.context.newPage();
    await signIn(first, server.url, 'sam');
    await first.goto(`${server.url}/watch/${movie}`);
    await waitPlayer(first, 'hls.js to list both rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 2, null, { timeout: 60000 });
    await first.keyboard.press(' ');
    await waitPlayer(first, 'the first screen to play past 1 s', () => document.getElementById('video').currentTime > 1, null, { timeout: playMs(2) });
    await first.keyboard.press(' ');

    const other = await second.context.newPage();
    await signIn(other, server.url, 'sam');
    await other.goto(`${server.url}/watch/${movie}`);
    await other.waitForSelector('#screens:not([hidden]) button[data-session]', { timeout: 30000 });
    const listed = await other.textContent('#screens');
    assert.match(listed, /Chrome on Linux/, listed);
    assert.match(listed, /Locked/, listed);
    await screenshot(other, 'screens-in-use');
    await other.click('#screens button[data-session]');
    await waitPlayer(other, 'the second screen to load the film', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 2, null, { timeout: 60000 });
    await other.keyboard.press(' ');
    await waitPlayer(other, 'the second screen to play past 1 s', () => document.getElementById('video').currentTime > 1, null, { timeout: playMs(2) });
    assert.equal(await other.isHidden('#screens'), true);

    // The first screen, played again, learns at its next position save or key that it was stopped.
    await first.keyboard.press(' ');
    await waitPlayer(first, 'the stopped page to say so', () => /stopped on another device/.test(document.getElementById('player-message').textContent), null, {
      timeout: playMs(12), seen: () => `${document.getElementById('player-message').textContent} at ${document.getElementById('video').currentTime}`,
    });
    await screenshot(first, 'playback-stopped');
  } finally {
    await second.close();
  }
});
