// Watching while it transcodes, in a real browser: a movie ingested through the running server
// becomes playable once the first segment of every rendition is published; the player starts
// it at the beginning (not at the live edge of its growing EVENT playlists), shows how far the
// transcode has got, keeps seeks inside what is published, waits for the encoder when it
// catches up, and plays on through the moment the playlists get ENDLIST. Chromium (Debian)
// under playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, addUser, cli, makeSource, startServer, browser, signIn, screenshot } from './harness.mjs';

// Long enough that at the default preset (no STREAMD_TRANSCODE_PRESET here) the movie is
// playable but still transcoding for a good while: the encoder runs a few times faster than
// real time on a small machine, so this leaves tens of seconds of "playable, running".
const SECONDS = 240;
let dir; let server; let b; let src;

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer');
  addUser(dir, 'returning');
  src = makeSource(dir, 'long.mp4', '1280x720', SECONDS);
  server = await startServer(dir);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

/** The movie as the API sees it, with the page's session. */
async function movieState(page, id) {
  const res = await page.request.get(`${server.url}/api/v1/movies/${id}`);
  assert.equal(res.status(), 200);
  return res.json();
}

/** Polls the API until `ok(movie)`; fails if the movie fails to transcode. */
async function waitMovie(page, id, ok, what, timeoutMs = 300000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await movieState(page, id);
    assert.notEqual(m.status, 'failed', `the transcode failed: ${JSON.stringify(m)}`);
    if (ok(m)) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What the player is doing. */
const state = (page) => page.evaluate(() => {
  const p = window.streamdPlayer;
  const v = document.getElementById('video');
  const details = p.hls && p.hls.latestLevelDetails;
  const indicator = document.getElementById('transcode');
  return {
    time: v.currentTime,
    paused: v.paused,
    duration: v.duration,
    end: p.publishedEnd,
    growing: p.growing,
    live: details ? details.live : null,
    fatal: p.errors.filter((e) => e.fatal),
    indicator: indicator ? { hidden: indicator.hidden, state: indicator.dataset.state, text: indicator.innerText } : null,
    message: document.getElementById('player-message').textContent,
  };
});

/** The film goes on: the clock moves `seconds` further and the video is not paused. */
async function keepsPlaying(page, seconds = 3, timeout = 60000) {
  const from = await page.evaluate(() => document.getElementById('video').currentTime);
  await page.waitForFunction((t) => {
    const v = document.getElementById('video');
    return !v.paused && v.currentTime > t;
  }, from + seconds, { timeout, polling: 250 });
}

async function openPlayer(page, id) {
  await page.goto(`${server.url}/watch/${id}`);
  await page.waitForFunction(() => window.streamdPlayer && window.streamdPlayer.hls
    && window.streamdPlayer.hls.levels.length > 0, null, { timeout: 30000 });
  // Where playback really begins: the first 'playing' after play() is asked for.
  await page.evaluate(() => {
    const v = document.getElementById('video');
    window.__began = null;
    v.addEventListener('playing', () => { if (window.__began === null) window.__began = v.currentTime; });
  });
}

test('a movie still transcoding plays from the start, stays inside what is published, and plays on once ready', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'viewer');
  // Through the running server: it queues the movie and its worker transcodes it.
  const id = JSON.parse(cli(dir, ['ingest', src, '--title', 'Growing', '--no-wait', '--json'])).id;

  // Playable while still running; then a little more published, so that the beginning and
  // the live edge hls.js would pick (three target durations back) are far apart.
  const playable = await waitMovie(page, id, (m) => m.playable || m.status === 'ready', 'playable');
  assert.equal(playable.status, 'running', `playable while still transcoding: ${JSON.stringify(playable)}`);
  const running = await waitMovie(page, id, (m) => m.status === 'ready' || (m.progress && m.progress.percent >= 12),
    'a sixth or so is transcoded');
  assert.equal(running.status, 'running', `still transcoding: ${JSON.stringify(running)}`);

  // The catalog links it already.
  await page.goto(`${server.url}/`);
  assert.equal(await page.locator(`.tile[data-movie="${id}"] a[href="/watch/${id}"]`).count() > 0, true);

  await openPlayer(page, id);
  const player = page.locator('#player');
  assert.equal(await player.getAttribute('data-growing'), 'true');
  assert.ok(Math.abs(Number(await player.getAttribute('data-duration')) - SECONDS) < 1);
  assert.equal(await player.getAttribute('data-resume'), '0');
  assert.equal(await page.locator('#video').getAttribute('poster'), null, 'no poster before the end');
  await page.evaluate(() => { document.getElementById('video').play().catch(() => {}); });
  await page.waitForFunction(() => window.__began !== null && document.getElementById('video').currentTime > 1, null, { timeout: 60000 });

  // From the beginning, not the edge.
  const began = await page.evaluate(() => window.__began);
  let s = await state(page);
  assert.ok(began < 2, `playback began at ${began}`);
  assert.ok(s.time < 5, `playing from the beginning, at ${s.time}`);
  assert.ok(s.end > 20 && s.end - s.time > 12, `far behind the published end ${s.end} at ${s.time}: not at the live edge`);
  assert.equal(s.live, true, 'the playlist is still growing');
  assert.equal(s.growing, true);

  // The indicator: how much of the whole film is ready.
  await page.waitForFunction(() => /Transcoding: \d+:\d\d of 4:00 ready/.test(document.getElementById('transcode').innerText), null, { timeout: 10000 });
  assert.ok(await page.locator('#transcode').isVisible());
  assert.ok(await page.locator('#transcode progress').isVisible());
  await screenshot(page, 'player-growing');

  // A seek far ahead, past anything transcoded, ends up before the published end.
  await page.evaluate(() => {
    const v = document.getElementById('video');
    v.currentTime = Number(document.getElementById('player').dataset.duration) - 5;
  });
  await page.waitForFunction(() => !document.getElementById('video').seeking, null, { timeout: 30000, polling: 100 });
  s = await state(page);
  assert.ok(s.time < SECONDS - 30, `clamped, not at ${s.time}`);
  assert.ok(s.time <= s.end, `at ${s.time}, inside the published ${s.end}`);
  assert.ok(s.time > 10, `at ${s.time}: near the published end ${s.end}, not sent back to the start`);
  assert.match(s.message, /Not transcoded yet/);

  // Right behind the encoder, it waits for each new segment and goes on.
  await keepsPlaying(page, 4);
  await keepsPlaying(page, 4);
  s = await state(page);
  assert.ok(s.time <= s.end, `at ${s.time}, inside the published ${s.end}`);
  assert.deepEqual(s.fatal, [], 'no fatal hls.js error');

  // The transcode finishes while the film plays.
  await waitMovie(page, id, (m) => m.status === 'ready', 'ready');
  const atReady = (await state(page)).time;
  // hls.js gets ENDLIST on its next reload; the indicator says so, then goes.
  await page.waitForFunction(() => {
    const t = document.getElementById('transcode');
    return t.hidden || t.dataset.state === 'ready';
  }, null, { timeout: 60000 });
  await keepsPlaying(page, 3);
  s = await state(page);
  assert.ok(s.time > atReady + 3, `played on past the end of the transcode (${atReady} → ${s.time})`);
  assert.equal(s.live, false, 'the playlist has ENDLIST now');
  assert.equal(s.growing, false);
  assert.ok(Math.abs(s.duration - SECONDS) < 2, `the whole film's length now: ${s.duration}`);
  assert.ok(s.indicator.hidden || /ready/i.test(s.indicator.text), `indicator: ${JSON.stringify(s.indicator)}`);
  assert.deepEqual(s.fatal, [], 'no fatal hls.js error');
  await page.waitForFunction(() => document.getElementById('transcode').hidden, null, { timeout: 15000 });
  await page.close();
});
