// Series in Chromium (contract section 13): a show folder imports as one card in the catalog,
// its page lists the episodes in order, and at the end of an episode "Up next" counts down and
// plays the next one; its Cancel button keeps the viewer where they are.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  tempDir, addUser, cli, startServer, browser, signIn, screenshot, waitPlayer, playMs,
} from './harness.mjs';

// The player's countdown (static/upnext.js).
const COUNTDOWN_S = 8;
let dir; let server; let b;
const episodes = {};

/** An episode: a moving pattern of its own length, so no two have the same content. */
function episode(path, seconds) {
  mkdirSync(join(path, '..'), { recursive: true });
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', path]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
}

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer');
  const root = join(dir, 'library');
  episode(join(root, 'Night Shift (2021)', 'Season 1', 'Night.Shift.S01E01.Arrival.mkv'), 4);
  episode(join(root, 'Night Shift (2021)', 'Season 1', 'Night.Shift.S01E02.Rounds.mkv'), 5);
  episode(join(root, 'Night Shift (2021)', 'Season 1', 'Night.Shift.S01E03.Dawn.mkv'), 6);
  episode(join(root, 'Solaris.1972.mkv'), 3);
  const summary = JSON.parse(cli(dir, ['ingest', root, '--json'], { env: { STREAMD_TRANSCODE_PRESET: 'ultrafast' } }));
  assert.equal(summary.failed, 0, JSON.stringify(summary));
  for (const item of summary.items) {
    if (item.movie && item.movie.series) episodes[item.movie.series.episode] = item.movie;
  }
  assert.equal(Object.keys(episodes).length, 3, JSON.stringify(summary));
  server = await startServer(dir);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

/** Opens an episode and plays its last half second. */
async function playToEnd(page, id) {
  await page.goto(`${server.url}/watch/${id}`);
  await waitPlayer(page, 'the player to know the length', () => {
    const v = document.getElementById('video');
    return window.streamdPlayer && window.streamdPlayer.hls && v.duration > 0 && v.readyState >= 1;
  }, null, { timeout: 60000 });
  await page.evaluate(() => {
    const v = document.getElementById('video');
    v.currentTime = Math.max(0, v.duration - 0.5);
    v.play().catch(() => {});
  });
  await waitPlayer(page, 'the episode to end and "Up next" to show', () => {
    const panel = document.getElementById('up-next');
    return document.getElementById('video').ended && panel && !panel.hidden;
  }, null, { timeout: playMs(1) + 60000 });
}

test('one card per show, its page in order, Up next plays the next episode and Cancel stops it', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'viewer');
  const cards = await page.$$eval('#catalog .tile', (tiles) => tiles.map((t) => ({
    series: t.dataset.series || null, movie: t.dataset.movie || null, title: t.querySelector('h2').textContent.trim(),
  })));
  assert.equal(cards.length, 2, JSON.stringify(cards));
  const show = cards.find((c) => c.series);
  assert.ok(show && show.title === 'Night Shift', JSON.stringify(cards));
  assert.ok(cards.some((c) => c.movie && c.title === 'Solaris'), JSON.stringify(cards));
  assert.match(await page.textContent(`[data-series="${show.series}"] .meta`), /1 season · 3 episodes/);

  await Promise.all([page.waitForURL(`${server.url}/series/${show.series}`), page.click(`[data-series="${show.series}"] h2 a`)]);
  const listed = await page.$$eval('.episode', (items) => items.map((li) => li.dataset.movie));
  assert.deepEqual(listed, [episodes[1].id, episodes[2].id, episodes[3].id]);
  assert.match(await page.textContent('#play-next'), /Play S01E01/);
  await screenshot(page, 'series-page');

  // The end of episode 1 offers episode 2, counts down and plays it.
  await playToEnd(page, episodes[1].id);
  assert.match(await page.textContent('#up-next'), /S01E02 · Rounds/);
  await page.waitForURL(`${server.url}/watch/${episodes[2].id}`, { timeout: (COUNTDOWN_S + 30) * 1000 });
  await waitPlayer(page, 'episode 2 to load', () => window.streamdPlayer && window.streamdPlayer.hls
    && document.getElementById('video').readyState >= 1, null, { timeout: 60000 });

  // Cancel: the countdown stops and the viewer stays on episode 2 past its end.
  await playToEnd(page, episodes[2].id);
  await page.click('#up-next-cancel');
  assert.equal(await page.isHidden('#up-next'), true);
  await page.waitForTimeout((COUNTDOWN_S + 2) * 1000);
  assert.equal(page.url(), `${server.url}/watch/${episodes[2].id}`);

  // The series page now shows episode 1 watched and offers episode 3 (episode 2 was played
  // to its end too).
  await page.goto(`${server.url}/series/${show.series}`);
  const watched = await page.$$eval('.episode', (items) => items.map((li) => li.dataset.watched));
  assert.deepEqual(watched.slice(0, 1), ['true'], JSON.stringify(watched));
  await page.close();
});
