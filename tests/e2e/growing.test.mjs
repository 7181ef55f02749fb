// Watching while it transcodes, in a real browser: a movie ingested through the running server
// becomes playable once the first segment of every rendition is published; the player starts
// it at the beginning or the resume point (not at the live edge of its growing EVENT
// playlists), shows how far the transcode has got, keeps seeks inside what is published, waits
// for the encoder when it catches up, and plays on through the moment the playlists get
// ENDLIST. Chromium (Debian) under playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  tempDir, addUser, cli, makeSource, startServer, browser, signIn, screenshot, encodeMs, playMs, waitPlayer,
} from './harness.mjs';

// Long enough that at the default preset (no STREAMD_TRANSCODE_PRESET here) the movie stays
// playable-but-transcoding for a good while: on a small machine the encoder runs only a few
// times faster than real time, which leaves a minute or more of "playable, running".
const SECONDS = 300;
const LENGTH = '5:00';
// The source's picture, and the server's segment length (transcode.segment_seconds).
const [WIDTH, HEIGHT, FPS] = [1280, 720, 30];
const SEGMENT = 4;
/** A bound on encoding the first `seconds` of the film at the default preset. */
const encode = (seconds) => encodeMs(seconds, WIDTH, HEIGHT, FPS);
// A resume point well inside what is published when the tests begin, and well away from 0.
const RESUME = 12;
let dir; let server; let b; let movie;

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer');
  addUser(dir, 'returning');
  const src = makeSource(dir, 'long.mp4', `${WIDTH}x${HEIGHT}`, SECONDS, FPS);
  server = await startServer(dir);
  b = await browser();
  // Through the running server: the CLI queues the movie and the server's worker transcodes it.
  movie = JSON.parse(cli(dir, ['ingest', src, '--title', 'Growing', '--no-wait', '--json'])).id;
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
  // Five minutes of 720p and its ladder: not worth keeping.
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The movie as the API sees it, with the page's session. */
async function movieState(page) {
  const res = await page.request.get(`${server.url}/api/v1/movies/${movie}`);
  assert.equal(res.status(), 200);
  return res.json();
}

/** Polls the API until `ok(movie)`, for at most `timeoutMs`; fails if the movie fails to
 * transcode. */
async function waitMovie(page, ok, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await movieState(page);
    assert.notEqual(m.status, 'failed', `the transcode failed: ${JSON.stringify(m)}`);
    if (ok(m)) return m;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting until ${what}; last seen: ${JSON.stringify(m)}`);
    // A poll interval: the loop checks real state.
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** How far each of the movie's playlists (every video rung and the audio) reaches, in seconds
 * listed, with the page's session: what is published. */
async function published(page) {
  const master = await page.request.get(`${server.url}/stream/${movie}`);
  if (master.status() !== 200) return { master: master.status() };
  const text = await master.text();
  const uris = [
    ...text.split('\n').filter((l) => l.trim() && !l.startsWith('#')),
    ...Array.from(text.matchAll(/URI="([^"]+)"/g), (m) => m[1]),
  ];
  const reach = {};
  for (const uri of uris) {
    const res = await page.request.get(new URL(uri.trim(), `${server.url}/stream/${movie}`).href);
    const playlist = await res.text();
    const name = uri.split('?')[0].split('/').pop();
    reach[name] = Array.from(playlist.matchAll(/#EXTINF:([\d.]+)/g), (m) => Number(m[1])).reduce((a, b) => a + b, 0);
  }
  return reach;
}

/** Playable while still running, and a little more published: the beginning, the resume point
 * and the live edge hls.js would pick (three target durations back) are then far apart. */
async function waitGrowing(page) {
  const playable = await waitMovie(page, (m) => m.playable || m.status === 'ready', 'playable', encode(2 * SEGMENT));
  assert.equal(playable.status, 'running', `playable while still transcoding: ${JSON.stringify(playable)}`);
  // An eighth of the film published in every playlist (what the player can reach, not how far
  // the encoder says it has got).
  const ahead = SECONDS / 8;
  const deadline = Date.now() + encode(ahead + 2 * SEGMENT);
  for (;;) {
    const reach = await published(page);
    const m = await movieState(page);
    assert.equal(m.status, 'running', `still transcoding: ${JSON.stringify(m)}`);
    const ends = Object.values(reach);
    if (reach.master === undefined && ends.length >= 3 && Math.min(...ends) >= ahead) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${ahead} s of every playlist are published; last seen: ${JSON.stringify({ reach, movie: m })}`);
    }
    // A poll interval: the loop checks real state.
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What the player is doing; `end` is how far both the video and the audio playlists reach. */
const state = (page) => page.evaluate(() => {
  const p = window.streamdPlayer;
  const v = document.getElementById('video');
  const details = p.hls && p.hls.latestLevelDetails;
  const audio = p.hls && p.hls.audioTracks[p.hls.audioTrack];
  const ends = [details, audio && audio.details].filter((d) => d && d.live).map((d) => d.edge);
  const indicator = document.getElementById('transcode');
  return {
    time: v.currentTime,
    paused: v.paused,
    duration: v.duration,
    end: details && !details.live ? Infinity : Math.min(...ends),
    growing: p.growing,
    live: details ? details.live : null,
    fatal: window.__fatal,
    beyond: window.__beyond,
    indicator: indicator ? { hidden: indicator.hidden, state: indicator.dataset.state, text: indicator.innerText } : null,
    message: document.getElementById('player-message').textContent,
  };
});

/** The film goes on: the clock moves `seconds` further and the video is not paused. Right
 * behind the encoder, at the pace it publishes: a bound for the encode of those seconds and a
 * segment on either side, and for the film's own clock. */
async function keepsPlaying(page, seconds = 3) {
  const from = await page.evaluate(() => document.getElementById('video').currentTime);
  await waitPlayer(page, `playback to go on ${seconds} s past ${from}`, (t) => {
    const v = document.getElementById('video');
    return !v.paused && v.currentTime > t;
  }, from + seconds, { timeout: encode(seconds + 2 * SEGMENT) + playMs(seconds), polling: 250 });
}

/** Opens the player, and notes where playback really begins and how far (if ever) the clock
 * runs past the end of the published picture while the playlist grows. */
async function openPlayer(page) {
  await page.goto(`${server.url}/watch/${movie}`);
  await waitPlayer(page, 'hls.js to list the rungs', () => window.streamdPlayer && window.streamdPlayer.hls
    && window.streamdPlayer.hls.levels.length > 0, null, { timeout: 60000 });
  await page.evaluate(() => {
    const v = document.getElementById('video');
    // Fatal hls.js errors, from this instance and any the player starts after it.
    window.__fatal = [];
    const watched = new Set();
    const watch = () => {
      const h = window.streamdPlayer.hls;
      if (!h || watched.has(h)) return;
      watched.add(h);
      h.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.__fatal.push(d.details); });
    };
    watch();
    setInterval(watch, 100);
    window.__began = null;
    v.addEventListener('playing', () => { if (window.__began === null) window.__began = v.currentTime; });
    window.__beyond = 0;
    setInterval(() => {
      const d = window.streamdPlayer.hls && window.streamdPlayer.hls.latestLevelDetails;
      if (d && d.live && !v.paused && !v.seeking) window.__beyond = Math.max(window.__beyond, v.currentTime - d.edge);
    }, 100);
  });
}

async function play(page) {
  await page.evaluate(() => { document.getElementById('video').play().catch(() => {}); });
  await waitPlayer(page, 'playback to begin', () => window.__began !== null, null, { timeout: playMs(0) });
}

test('a movie still transcoding is watchable, and a viewer coming back starts at the resume point', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'returning');
  await waitGrowing(page);

  // The catalog links it already.
  await page.goto(`${server.url}/`);
  assert.equal(await page.locator(`.tile[data-movie="${movie}"] a[href="/watch/${movie}"]`).count() > 0, true,
    'the catalog links the movie while it transcodes');

  const saved = await page.request.post(`${server.url}/api/v1/movies/${movie}/position`, { data: { seconds: RESUME } });
  assert.ok(saved.ok(), `position saved: ${saved.status()}`);
  await openPlayer(page);
  const player = page.locator('#player');
  assert.equal(await player.getAttribute('data-growing'), 'true');
  assert.equal(Number(await player.getAttribute('data-resume')), RESUME);
  await play(page);
  const began = await page.evaluate(() => window.__began);
  assert.ok(Math.abs(began - RESUME) < 1.5, `playback began at ${began}, the resume point is ${RESUME}`);
  await keepsPlaying(page, 2);
  const s = await state(page);
  assert.equal(s.live, true, 'the playlist is still growing');
  assert.deepEqual(s.fatal, [], 'no fatal hls.js error');
  await page.close();
});

test('a movie still transcoding plays from the start, stays inside what is published, and plays on once ready', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'viewer');
  await waitGrowing(page);

  await openPlayer(page);
  const player = page.locator('#player');
  assert.equal(await player.getAttribute('data-growing'), 'true');
  assert.ok(Math.abs(Number(await player.getAttribute('data-duration')) - SECONDS) < 1);
  assert.equal(await player.getAttribute('data-resume'), '0');
  assert.equal(await page.locator('#video').getAttribute('poster'), null, 'no poster before the end');
  await play(page);
  await waitPlayer(page, 'playback to pass 1 s', () => document.getElementById('video').currentTime > 1, null, { timeout: playMs(1) });

  // From the beginning, not the edge.
  const began = await page.evaluate(() => window.__began);
  let s = await state(page);
  assert.ok(began < 1, `playback began at ${began}`);
  assert.ok(s.time < 5, `playing from the beginning, at ${s.time}`);
  assert.ok(s.end > 20 && s.end - s.time > 12, `far behind the published end ${s.end} at ${s.time}: not at the live edge`);
  assert.equal(s.live, true, 'the playlist is still growing');
  assert.equal(s.growing, true);

  // The indicator: how much of the whole film is ready.
  await waitPlayer(page, 'the transcode indicator', (whole) => new RegExp(`Transcoding: \\d+:\\d\\d of ${whole} ready`)
    .test(document.getElementById('transcode').innerText), LENGTH, { timeout: 60000, seen: () => document.getElementById('transcode').innerText });
  assert.ok(await page.locator('#transcode').isVisible());
  assert.ok(await page.locator('#transcode progress').isVisible());
  await screenshot(page, 'player-growing');

  // A seek far ahead, past anything transcoded, ends up just before the published end.
  await page.evaluate(() => {
    const v = document.getElementById('video');
    v.currentTime = Number(document.getElementById('player').dataset.duration) - 5;
  });
  await waitPlayer(page, 'the seek far ahead to settle', () => !document.getElementById('video').seeking, null, { timeout: playMs(SEGMENT), polling: 100 });
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
  await waitMovie(page, (m) => m.status === 'ready', 'ready', encode(SECONDS));
  const atReady = (await state(page)).time;
  // hls.js gets ENDLIST on its next reload; the indicator says so, then goes.
  await waitPlayer(page, 'the indicator to say the film is ready', () => {
    const t = document.getElementById('transcode');
    return t.hidden || t.dataset.state === 'ready';
  }, null, { timeout: 60000, seen: () => { const t = document.getElementById('transcode'); return { hidden: t.hidden, state: t.dataset.state, text: t.innerText }; } });
  await keepsPlaying(page, 3);
  s = await state(page);
  assert.ok(s.time > atReady + 3, `played on past the end of the transcode (${atReady} → ${s.time})`);
  assert.equal(s.live, false, 'the playlist has ENDLIST now');
  assert.equal(s.growing, false);
  assert.ok(Math.abs(s.duration - SECONDS) < 2, `the whole film's length now: ${s.duration}`);
  assert.ok(s.indicator.hidden || /ready/i.test(s.indicator.text), `indicator: ${JSON.stringify(s.indicator)}`);
  assert.deepEqual(s.fatal, [], 'no fatal hls.js error');
  // While it grew, the clock never ran on past the published picture (with the sound alone).
  assert.ok(s.beyond < 0.5, `ran ${s.beyond.toFixed(2)} s past the end of the published video`);
  await waitPlayer(page, 'the indicator to go', () => document.getElementById('transcode').hidden, null, {
    timeout: 60000, seen: () => { const t = document.getElementById('transcode'); return { hidden: t.hidden, state: t.dataset.state, text: t.innerText }; },
  });
  await page.close();
});
