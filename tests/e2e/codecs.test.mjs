// An HDR10 film ingested with transcode.codecs = ["h264", "hevc", "av1"]: Chromium (no HEVC
// decoder) never loads the HEVC row, starts on and plays the H.264 rows, and its quality menu
// names each row it can decode by size, codec and range.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  tempDir, addUser, ingest, startServer, browser, signIn, screenshot, frameBrightness, waitPlayer,
  playMs,
} from './harness.mjs';

let dir; let server; let movie; let b;

function makeHdr10(name, seconds) {
  const out = join(dir, name);
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=24:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-vf', 'format=yuv420p10le', '-c:v', 'libx265', '-preset', 'ultrafast',
    '-x265-params', 'log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:max-cll=1000,400',
    '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc',
    '-c:a', 'aac', out]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return out;
}

before(async () => {
  dir = tempDir();
  addUser(dir, 'viewer', ['--plan', 'premium']);
  movie = ingest(dir, makeHdr10('hdr10.mkv', 8), 'HDR10', 'premium', {
    STREAMD_TRANSCODE_RENDITIONS: '["480p", "1080p"]',
    STREAMD_TRANSCODE_CODECS: '["h264", "hevc", "av1"]',
  });
  server = await startServer(dir);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

test('a browser without HEVC plays the H.264 rows of a ladder that has HEVC and AV1 rows', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'viewer');
  const master = await page.evaluate(async (id) => (await fetch(`/stream/${id}`)).text(), movie);
  assert.match(master, /CODECS="hvc1\.2\.4\.L\d+\.[0-9A-F.]+,mp4a\.40\.2".*VIDEO-RANGE=PQ/, master);
  assert.match(master, /CODECS="av01\.0\.\d\dM\.10,mp4a\.40\.2".*VIDEO-RANGE=PQ/, master);
  const requested = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`${server.url}/watch/${movie}`);
  await waitPlayer(page, 'hls.js to list the rows it can decode', () => window.streamdPlayer && window.streamdPlayer.hls && window.streamdPlayer.hls.levels.length >= 2, null, { timeout: 60000 });
  const levels = await page.evaluate(() => window.streamdPlayer.hls.levels.map((l) => ({ height: l.height, codec: l.videoCodec, range: l.videoRange })));
  assert.ok(levels.every((l) => !/^(hvc1|hev1)/.test(l.codec)), `no HEVC row survives in a browser without HEVC: ${JSON.stringify(levels)}`);
  assert.ok(levels.some((l) => l.height === 480 && /^avc1/.test(l.codec)) && levels.some((l) => l.height === 1080 && /^avc1/.test(l.codec)), JSON.stringify(levels));
  const options = await page.locator('#quality option').allInnerTexts();
  assert.ok(options.includes('480p') && options.includes('1080p'), JSON.stringify(options));
  assert.ok(!options.some((o) => o.includes('HEVC')), JSON.stringify(options));
  if (levels.some((l) => /^av01/.test(l.codec))) assert.ok(options.includes('1080p AV1 HDR'), JSON.stringify(options));

  await page.keyboard.press(' ');
  await waitPlayer(page, 'playback to pass 2 s', () => document.getElementById('video').currentTime > 2, null, { timeout: playMs(2) });
  const playing = await page.evaluate(() => window.streamdPlayer.hls.levels[window.streamdPlayer.hls.currentLevel].videoCodec);
  assert.match(playing, /^avc1/, 'hls.js starts on (and stays with) the H.264 rows');
  const brightness = await frameBrightness(page);
  assert.ok(brightness > 30, `the frame is not black (mean brightness ${brightness.toFixed(1)})`);
  await screenshot(page, 'hdr-ladder-h264-in-chromium');
  assert.ok(!requested.some((u) => u.includes('1080p_hevc')), 'no HEVC playlist or segment was fetched');
  await page.close();
});
