// Watching in a real browser: sign in, catalog, play, quality menu, adaptive switching under a
// throttled network, entitlement, resume. Chromium (Debian) under playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  tempDir, addUser, makeSource, ingest, startServer, browser, signIn, screenshot,
  frameBrightness, figure, waitPlayer, playMs,
} from './harness.mjs';

let dir; let server; let movie; let b;

before(async () => {
  dir = tempDir();
  addUser(dir, 'root', ['--admin']);
  addUser(dir, 'prem', ['--plan', 'premium']);
  addUser(dir, 'free');
  addUser(dir, 'resumer', ['--plan', 'premium']);
  addUser(dir, 'abr', ['--plan', 'premium']);
  // Long enough to see the player climb, fall under throttling and climb back.
  const src = makeSource(dir, 'pattern.mp4', '1920x1080', 80);
  movie = ingest(dir, src, 'Test Pattern', 'premium');
  server = await startServer(dir);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

/** Waits until the server holds the position the player saved last on pausing at `at` (a
 * save is skipped within the second of the one before, so the same whole second). */
async function waitSaved(page, at) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const res = await page.request.get(`${server.url}/api/v1/movies/${movie}`);
    const seen = res.ok() ? (await res.json()).position_s : `HTTP ${res.status()}`;
    if (typeof seen === 'number' && Math.floor(seen) === Math.floor(at)) return;
    if (Date.now() > deadline) throw new Error(`timed out after 60 s waiting for the position ${at} to be saved; last seen: position_s ${seen}`);
    // A poll interval: the loop checks real state.
    await new Promise((r) => setTimeout(r, 100));
  }
}

const level = (page) => page.evaluate(() => {
  const h = window.streamdPlayer && window.streamdPlayer.hls;
  return h ? { current: h.currentLevel, load: h.loadLevel, top: h.levels.length - 1, heights: h.levels.map((l) => l.height) } : null;
});

test('sign in through the form, see the catalog, play a movie with a real picture', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'prem');
  const tile = page.locator(`.tile[data-movie="${movie}"]`);
  await tile.locator('img').waitFor();
  assert.match(await tile.innerText(), /Test Pattern/);
  assert.match(await tile.innerText(), /premium/);
  await screenshot(page, 'catalog');
  await Promise.all([page.waitForURL(`${server.url}/watch/${movie}`), tile.locator('h2 a').click()]);
  await waitPlayer(page, 'hls.js to list the three rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 3, null, { timeout: 60000 });
  await page.evaluate(() => {
    window.__firstFrame = null;
    document.getElementById('video').requestVideoFrameCallback(() => { window.__firstFrame = performance.now(); });
  });
  const clicked = await page.evaluate(() => performance.now());
  await page.keyboard.press(' ');
  await waitPlayer(page, 'the first frame', () => window.__firstFrame !== null, null, { timeout: playMs(0) });
  const shown = await page.evaluate(() => window.__firstFrame);
  figure('click_to_first_frame_ms', Math.round(shown - clicked), 'ms');
  await waitPlayer(page, 'playback to pass 2 s', () => document.getElementById('video').currentTime > 2, null, { timeout: playMs(2) });
  const brightness = await frameBrightness(page);
  assert.ok(brightness > 30, `the frame is not black (mean brightness ${brightness.toFixed(1)})`);
  await screenshot(page, 'player');
  const stats = await page.locator('#stats').innerText();
  assert.match(stats, /\d+p/);
  await page.close();
});

test('every way of pressing play starts at once: a click on the picture, the play button, the space key', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'prem');
  await page.goto(`${server.url}/watch/${movie}`);
  await waitPlayer(page, 'the player to have the start buffered', () => {
    const v = document.getElementById('video');
    return window.streamdPlayer && window.streamdPlayer.hls && v.readyState >= 3;
  }, null, { timeout: playMs(4) });
  // In the page: when the input arrived, whether the video was already playing when the
  // input's own dispatch ended (so nothing waited for a timer), and when 'play' fired.
  await page.evaluate(() => {
    const v = document.getElementById('video');
    window.__press = { input: null, playingAfterDispatch: null, play: null, pauses: 0 };
    const arrived = () => { window.__press.input = performance.now(); };
    const ended = () => { window.__press.playingAfterDispatch = !v.paused; };
    window.addEventListener('pointerdown', arrived, true);
    window.addEventListener('keydown', arrived, true);
    window.addEventListener('click', ended);
    window.addEventListener('keydown', ended);
    v.addEventListener('play', () => { window.__press.play = performance.now(); });
    v.addEventListener('pause', () => { window.__press.pauses += 1; });
  });
  const box = await page.locator('#video').boundingBox();
  const ways = [
    ['picture_click', () => page.mouse.click(box.x + box.width / 2, box.y + box.height / 3)],
    // The native control bar's play button: bottom left, above the timeline.
    ['play_button', async () => {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height - 48);
      await page.evaluate(() => { window.__press.sent = performance.now(); });
      await page.mouse.click(box.x + 24, box.y + box.height - 48);
    }],
    // With the page focused, not the native button the click before left focused (the button
    // takes its own keys).
    ['space_key', async () => {
      await page.evaluate(() => document.activeElement && document.activeElement.blur());
      await page.keyboard.press(' ');
    }],
  ];
  for (const [way, press] of ways) {
    await page.evaluate(async () => {
      const v = document.getElementById('video');
      if (!v.paused) await new Promise((paused) => { v.addEventListener('pause', paused, { once: true }); v.pause(); });
      Object.assign(window.__press, { input: null, sent: null, playingAfterDispatch: null, play: null, pauses: 0 });
    });
    await press();
    await waitPlayer(page, `playback to start after the ${way}`, () => window.__press.play !== null, null, {
      timeout: 30000, seen: () => JSON.stringify(window.__press),
    });
    const p = await page.evaluate(() => window.__press);
    // The native controls keep their pointer events to themselves: the button's is timed from
    // just before the click was sent.
    figure(`${way}_to_play_ms`, Math.round(p.play - (p.input ?? p.sent)), 'ms');
    if (way !== 'play_button') {
      // The toggle happens within the input's own handling, not after a double-click timer.
      assert.equal(p.playingAfterDispatch, true, `${way}: not yet playing when its event was handled`);
    }
    // ... and nothing toggles it back later (Chromium's own click-to-play, had it run).
    const from = await page.evaluate(() => document.getElementById('video').currentTime);
    await waitPlayer(page, `1 s of playback after the ${way}`, (t) => document.getElementById('video').currentTime > t + 1, from, {
      timeout: playMs(1), seen: () => JSON.stringify(window.__press),
    });
    assert.equal(await page.evaluate(() => window.__press.pauses), 0, `${way}: playback was paused again`);
  }
  // A click on the picture pauses at once too, and a double-click is full screen.
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 3);
  assert.equal(await page.evaluate(() => document.getElementById('video').paused), true);
  await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 3);
  await waitPlayer(page, 'full screen after a double-click', () => document.fullscreenElement !== null, null, { timeout: 10000 });
  await page.evaluate(() => document.exitFullscreen());
  await page.close();
});

test('the quality menu switches rungs and the stats overlay reports the new one', async () => {
  const page = await b.context.newPage();
  await page.goto(`${server.url}/watch/${movie}`);
  await waitPlayer(page, 'hls.js to list the three rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 3, null, { timeout: 60000 });
  const options = await page.locator('#quality option').allInnerTexts();
  assert.deepEqual(options, ['Auto', '480p', '720p', '1080p']);
  await page.keyboard.press(' ');
  for (const [value, label] of [['0', '480p'], ['2', '1080p'], ['1', '720p']]) {
    await page.selectOption('#quality', value);
    await waitPlayer(page, `the stats overlay to report ${label}`, (l) => document.querySelector('[data-stat="level"]').textContent.startsWith(l), label, {
      timeout: playMs(8), seen: () => document.querySelector('[data-stat="level"]').textContent,
    });
    assert.equal((await level(page)).current, Number(value));
  }
  await page.selectOption('#quality', '-1');
  await waitPlayer(page, 'the stats overlay to report auto', () => document.querySelector('[data-stat="level"]').textContent.includes('(auto)'), null, {
    timeout: 60000, seen: () => document.querySelector('[data-stat="level"]').textContent,
  });
  await page.close();
});

test('adaptive switching: down under a throttled network without stalling, back up after', async () => {
  const page = await b.context.newPage();
  // A short buffer, so the switch shows within seconds rather than after 30 s of buffer.
  await page.addInitScript(() => { window.STREAMD_HLS_CONFIG = { maxBufferLength: 8, maxMaxBufferLength: 12 }; });
  // A user of its own, so playback starts at 0 with the whole film ahead, not at a resume point.
  await signIn(page, server.url, 'abr');
  await page.goto(`${server.url}/watch/${movie}`);
  assert.equal(await page.locator('#player').getAttribute('data-resume'), '0');
  await waitPlayer(page, 'hls.js to list the three rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 3, null, { timeout: 60000 });
  await page.evaluate(() => {
    const v = document.getElementById('video');
    window.__stall = { total: 0, since: null };
    v.addEventListener('waiting', () => { window.__stall.since = performance.now(); });
    v.addEventListener('playing', () => {
      if (window.__stall.since !== null) window.__stall.total += performance.now() - window.__stall.since;
      window.__stall.since = null;
    });
  });
  await page.keyboard.press(' ');
  await waitPlayer(page, 'hls.js to climb to the top rung', () => { const h = window.streamdPlayer.hls; return h.currentLevel === h.levels.length - 1; }, null, { timeout: playMs(20) });

  const cdp = await b.context.newCDPSession(page);
  await cdp.send('Network.enable');
  // Segment links are the same for every load within tokens.url_window and cacheable, so the
  // earlier tests' segments would come from the browser's cache at any speed: measure the wire.
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  // 2.5 Mb/s: below 720p's peak and far below 1080p's; only 480p fits.
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 2_500_000 / 8, uploadThroughput: 1_000_000 / 8 });
  const throttled = Date.now();
  const stallBefore = await page.evaluate(() => window.__stall.total);
  await waitPlayer(page, 'hls.js to load a lower rung under the throttle', () => window.streamdPlayer.hls.loadLevel < window.streamdPlayer.hls.levels.length - 1, null, { timeout: playMs(12), polling: 100 });
  const down = (Date.now() - throttled) / 1000;
  figure('seconds_to_switch_down_after_throttle', down.toFixed(1), 's');
  await waitPlayer(page, 'a lower rung to play under the throttle', () => window.streamdPlayer.hls.currentLevel < window.streamdPlayer.hls.levels.length - 1, null, { timeout: playMs(12), polling: 100 });
  // Keep playing under the throttle a while (8 s of the film), then measure how long the
  // picture froze on the way.
  const throttledFrom = await page.evaluate(() => document.getElementById('video').currentTime);
  await waitPlayer(page, '8 s of the film to play under the throttle', (t) => document.getElementById('video').currentTime > t, throttledFrom + 8, {
    timeout: playMs(8), seen: () => window.__stall,
  });
  const stalled = await page.evaluate(() => window.__stall.total + (window.__stall.since !== null ? performance.now() - window.__stall.since : 0));
  const stallMs = Math.round(stalled - stallBefore);
  figure('stall_ms_during_throttled_run', stallMs, 'ms');
  assert.ok(stallMs < 2500, `stalled ${stallMs} ms while throttled`);
  const l = await level(page);
  assert.ok(l.load < l.top, `still below the top rung while throttled (${JSON.stringify(l)})`);

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const lifted = Date.now();
  await waitPlayer(page, 'hls.js to load the top rung again', () => window.streamdPlayer.hls.loadLevel === window.streamdPlayer.hls.levels.length - 1, null, { timeout: playMs(20), polling: 100 });
  figure('seconds_to_climb_back_after_lifting', ((Date.now() - lifted) / 1000).toFixed(1), 's');
  await page.close();
});

test('a free user sees the premium movie locked and the stream refused', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'free');
  const tile = page.locator(`.tile[data-movie="${movie}"]`);
  assert.match(await tile.innerText(), /Locked: this movie needs a premium plan/);
  assert.equal(await tile.locator('a').count(), 0, 'no link to a player that cannot play');
  const stream = await page.request.get(`${server.url}/stream/${movie}`);
  assert.equal(stream.status(), 403);
  const watch = await page.goto(`${server.url}/watch/${movie}`);
  assert.equal(watch.status(), 403);
  assert.match(await page.locator('main').innerText(), /Locked/);
  await page.close();
});

test('the resume position survives a reload, and leaving before playing does not erase it', async () => {
  // A user of its own: the earlier tests leave positions for 'prem'.
  const page = await b.context.newPage();
  await signIn(page, server.url, 'resumer');
  await page.goto(`${server.url}/watch/${movie}`);
  assert.equal(await page.locator('#player').getAttribute('data-resume'), '0');
  await waitPlayer(page, 'hls.js to list the three rungs', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length === 3, null, { timeout: 60000 });
  await page.keyboard.press(' ');
  await waitPlayer(page, 'playback to pass 9 s', () => document.getElementById('video').currentTime > 9, null, { timeout: playMs(9) });
  await page.keyboard.press(' ');
  const pausedAt = await page.evaluate(() => document.getElementById('video').currentTime);
  // The pause saves the position (unless a save in the same second already did): reloaded once
  // the server holds it.
  await waitSaved(page, pausedAt);
  await page.reload();
  const resume = Number(await page.locator('#player').getAttribute('data-resume'));
  assert.ok(Math.abs(resume - pausedAt) < 1.5, `saved ${resume}, paused at ${pausedAt}`);
  // Leave at once, before the player has reached the resume point: nothing may be saved. At
  // once, but with the player up, its save on leaving armed (it is set up before the player).
  await page.reload();
  await waitPlayer(page, 'the player to be set up', () => window.streamdPlayer !== undefined, null, { timeout: 60000 });
  await page.reload();
  const kept = Number(await page.locator('#player').getAttribute('data-resume'));
  assert.ok(Math.abs(kept - pausedAt) < 1.5, `after leaving early: saved ${kept}, paused at ${pausedAt}`);
  await waitPlayer(page, 'the frame at the resume point', () => document.getElementById('video').readyState >= 2, null, { timeout: playMs(0) });
  const at = await page.evaluate(() => document.getElementById('video').currentTime);
  assert.ok(Math.abs(at - pausedAt) < 4.5, `resumed at ${at}, paused at ${pausedAt}`);
  // The catalog now offers it under "Continue watching", with how much was watched.
  await page.goto(`${server.url}/`);
  const row = page.locator(`#continue .tile[data-movie="${movie}"]`);
  await row.waitFor({ timeout: 60000 });
  const watched = Number(await row.locator('progress.watched').getAttribute('value'));
  assert.ok(watched > 0 && watched < 100, `watched ${watched}%`);
  await screenshot(page, 'continue-watching');
  await page.close();
});

test('the VLC link button hands out a playback link that works without a cookie', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'prem');
  await page.goto(`${server.url}/watch/${movie}`);
  page.on('dialog', (d) => d.dismiss());
  await page.click('#copy-link');
  await page.waitForFunction(() => document.getElementById('player').dataset.link);
  const link = await page.locator('#player').getAttribute('data-link');
  assert.match(link, new RegExp(`^${server.url}/stream/${movie}\\?token=`));
  const res = await fetch(link);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /#EXT-X-STREAM-INF/);
  await page.close();
});

// What the preview shows now: its time label, sprite, offset, and how varied the picture cut
// from the sprite is (a real frame of the test pattern, not a blank or a broken image).
const previewState = (page) => page.evaluate(async () => {
  const preview = document.querySelector('.seek-preview');
  const thumb = document.querySelector('.seek-thumb');
  const style = getComputedStyle(thumb);
  const url = (style.backgroundImage.match(/^url\("(.*)"\)$/) || [])[1] || '';
  let spread = 0;
  if (url && !thumb.hidden) {
    const img = new Image();
    img.src = url;
    await img.decode();
    const [x, y] = style.backgroundPosition.split(' ').map((p) => -parseFloat(p));
    const w = thumb.clientWidth; const h = thumb.clientHeight;
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d');
    g.drawImage(img, x, y, w, h, 0, 0, w, h);
    const d = g.getImageData(0, 0, w, h).data;
    let sum = 0; let sq = 0; const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; sq += v * v; }
    spread = Math.sqrt(sq / n - (sum / n) ** 2);
  }
  return {
    shown: !preview.hidden && !thumb.hidden,
    time: document.querySelector('.seek-time').textContent,
    url,
    position: style.backgroundPosition,
    size: [thumb.clientWidth, thumb.clientHeight],
    spread,
  };
});

test('hovering and dragging the seek bar shows the thumbnail of that moment, with a mouse and by touch', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'prem');
  await page.goto(`${server.url}/watch/${movie}`);
  // 80 s: a picture every 10 s.
  await waitPlayer(page, 'the seek bar to have its 8 thumbnails', () => document.getElementById('seekbar').dataset.thumbnails === '8', null, {
    timeout: 60000, seen: () => document.getElementById('seekbar').dataset.thumbnails,
  });
  await waitPlayer(page, 'the whole duration to be known', () => document.getElementById('video').duration > 79, null, { timeout: 60000 });
  const box = await page.locator('#seekbar').boundingBox();
  const at = (fraction) => [box.x + box.width * fraction, box.y + box.height / 2];

  // Hovering at 45 s: the picture from 40 s, the fifth of the first sprite's top row.
  await page.mouse.move(...at(45 / 80));
  await page.waitForFunction(() => !document.querySelector('.seek-thumb').hidden);
  let s = await previewState(page);
  assert.equal(s.time, '0:45');
  assert.ok(s.shown);
  assert.match(s.url, new RegExp(`/movies/${movie}/thumbnails/sprite_000\\.jpg\\?.*X-Amz-Signature=`));
  assert.equal(s.position, '-1280px 0px');
  assert.deepEqual(s.size, [320, 180]);
  assert.ok(s.spread > 20, `the thumbnail shows a picture (spread ${s.spread.toFixed(1)})`);
  await screenshot(page, 'seek-preview');

  // Dragging from 10 s to 62 s shows each moment on the way and seeks on release.
  await page.mouse.move(...at(10 / 80));
  await page.mouse.down();
  await page.mouse.move(...at(62 / 80), { steps: 5 });
  s = await previewState(page);
  assert.equal(s.time, '1:02');
  assert.equal(s.position, '-1920px 0px');
  await page.mouse.up();
  await waitPlayer(page, 'the seek to 62 s', () => Math.abs(document.getElementById('video').currentTime - 62) < 1, null, { timeout: playMs(0) });
  await page.mouse.move(box.x + box.width / 2, box.y - 200);
  await page.waitForFunction(() => document.querySelector('.seek-preview').hidden);

  // A finger: touching shows the preview, sliding moves it, lifting seeks and hides it.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
  const touch = async (type, fraction) => {
    const [x, y] = at(fraction);
    await cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y }] });
  };
  await touch('touchStart', 22 / 80);
  await touch('touchMove', 26 / 80);
  s = await previewState(page);
  assert.ok(s.shown, 'the preview shows under a finger');
  assert.equal(s.time, '0:26');
  assert.equal(s.position, '-640px 0px');
  await touch('touchEnd', 26 / 80);
  await waitPlayer(page, 'the seek to 26 s', () => Math.abs(document.getElementById('video').currentTime - 26) < 1, null, { timeout: playMs(0) });
  await page.waitForFunction(() => document.querySelector('.seek-preview').hidden);
  await page.close();
});
