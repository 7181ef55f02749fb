// Audio languages and subtitles in a real browser: the menus list a movie's tracks, switching
// keeps the film playing, subtitles stay off until asked for (except a forced track in the
// language being heard), and the viewer's choice is remembered. Chromium (Debian) under
// playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  tempDir, addUser, cli, ingest, startServer, browser, signIn, screenshot, waitPlayer, playMs,
} from './harness.mjs';

const SECONDS = 30;
let dir; let server; let b;
let movie; // two audio languages, two subtitle languages
let signs; // two audio languages, a forced French subtitle track only

/** SubRip text with a cue every two seconds over the whole clip, numbered. */
function srt(words) {
  const at = (s, ms) => `00:00:${String(s).padStart(2, '0')},${ms}`;
  let out = '';
  for (let i = 0; i * 2 < SECONDS; i++) {
    out += `${i + 1}\n${at(i * 2, '000')} --> ${at(i * 2 + 1, '900')}\n${words} ${i + 1}\n\n`;
  }
  return out;
}

/**
 * A Matroska source: the moving test pattern, English audio in 5.1 (440 Hz) and French in
 * stereo (880 Hz), and each SubRip text of `subtitles` ([ISO 639-2 tag, words]) as a stream.
 */
function makeMultilingual(name, subtitles) {
  const out = join(dir, name);
  const args = ['-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=880:sample_rate=48000:duration=${SECONDS}`];
  subtitles.forEach(([lang, words]) => {
    const file = join(dir, `${name}.${lang}.srt`);
    writeFileSync(file, srt(words));
    args.push('-i', file);
  });
  args.push('-filter_complex',
    '[1:a]pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0[en];[2:a]pan=stereo|FL=c0|FR=c0[fr]',
    '-map', '0:v', '-map', '[en]', '-map', '[fr]');
  subtitles.forEach((_, i) => args.push('-map', `${3 + i}:s`));
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-c:s', 'srt',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre',
    '-disposition:a:0', 'default', '-disposition:a:1', '0');
  subtitles.forEach(([lang], i) => args.push(`-metadata:s:s:${i}`, `language=${lang}`, `-disposition:s:${i}`, '0'));
  args.push(out);
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return out;
}

before(async () => {
  dir = tempDir();
  for (const user of ['plain', 'linguist', 'signs']) addUser(dir, user);
  movie = ingest(dir, makeMultilingual('multilingual.mkv', [['eng', 'English line'], ['fre', 'Ligne française']]), 'Multilingual');
  signs = ingest(dir, makeMultilingual('signs.mkv', []), 'Signs');
  const forced = join(dir, 'signs.fr.srt');
  writeFileSync(forced, srt('Panneau'));
  cli(dir, ['subtitle', 'add', signs, forced, '--lang', 'fr', '--forced']);
  server = await startServer(dir);
  b = await browser();
});

after(async () => {
  if (b) await b.close();
  if (server) await server.stop();
});

/** What the player is doing: its tracks, the text tracks shown with their cues, the clock. */
const state = (page) => page.evaluate(() => {
  const h = window.streamdPlayer.hls;
  const v = document.getElementById('video');
  return {
    audio: h.audioTrack,
    audioLang: h.audioTracks[h.audioTrack] ? h.audioTracks[h.audioTrack].lang : null,
    subtitle: h.subtitleTrack,
    subtitleLang: h.subtitleTracks[h.subtitleTrack] ? h.subtitleTracks[h.subtitleTrack].lang : null,
    showing: Array.from(v.textTracks).filter((t) => t.mode === 'showing')
      .map((t) => ({ lang: t.language, cues: t.activeCues ? Array.from(t.activeCues, (c) => c.text) : [] })),
    time: v.currentTime,
    paused: v.paused,
  };
});

/** Opens the player and waits until hls.js has listed both groups and picked an audio track. */
async function open(page, id) {
  await page.goto(`${server.url}/watch/${id}`);
  await waitPlayer(page, 'hls.js to list both audio tracks and the subtitles', () => {
    const h = window.streamdPlayer && window.streamdPlayer.hls;
    return h && h.audioTracks.length === 2 && h.audioTrack >= 0 && h.subtitleTracks.length > 0;
  }, null, { timeout: 60000 });
  // Every audio switch hls.js completes (the new language is what is heard now), in order.
  await page.evaluate(() => {
    window.__heard = [];
    window.streamdPlayer.hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_e, d) => window.__heard.push(d.lang));
  });
}

async function play(page) {
  // A rejected play() (interrupted by a seek) shows as the clock not moving below.
  await page.evaluate(() => { document.getElementById('video').play().catch(() => {}); });
  await waitPlayer(page, 'playback to pass 1.5 s', () => document.getElementById('video').currentTime > 1.5, null, { timeout: playMs(1.5) });
}

/** The film goes on: the clock moves `seconds` further and the video is not paused. */
async function keepsPlaying(page, seconds = 1.5) {
  const from = await page.evaluate(() => document.getElementById('video').currentTime);
  await waitPlayer(page, `playback to go on ${seconds} s past ${from}`, (t) => {
    const v = document.getElementById('video');
    return !v.paused && v.currentTime > t;
  }, from + seconds, { timeout: playMs(seconds) });
}

/** The video's text tracks as the page has them, for failure messages (run in the page). */
const textTracks = () => Array.from(document.getElementById('video').textTracks)
  .map((t) => ({ lang: t.language, mode: t.mode, cues: t.activeCues ? Array.from(t.activeCues, (c) => c.text) : null }));

const index = (page, kind, lang) => page.evaluate(([k, l]) => window.streamdPlayer.hls[k].findIndex((t) => t.lang === l), [kind, lang]);

const preferencesSaved = (page) => page.waitForResponse((r) => r.url().endsWith('/api/v1/preferences') && r.request().method() === 'PUT');

test('with no preference, the default audio plays and subtitles are off', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'plain');
  const saves = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/preferences')) saves.push(r.method()); });
  await open(page, movie);
  assert.equal(await page.locator('#player').getAttribute('data-audio-lang'), '');
  assert.equal(await page.locator('#player').getAttribute('data-subtitle-lang'), '');
  await play(page);
  await keepsPlaying(page);
  const s = await state(page);
  assert.equal(s.audioLang, 'en', 'the DEFAULT=YES rendition, the source\'s default stream');
  assert.equal(s.subtitle, -1);
  assert.deepEqual(s.showing, [], 'no text track is shown');
  assert.equal(await page.locator('#subtitles').inputValue(), 'off');
  assert.deepEqual(saves, [], 'nothing is saved until the viewer chooses');
  await page.close();
});

test('switch audio to French and turn English subtitles on while playing; the choice is remembered', async () => {
  const page = await b.context.newPage();
  // Whatever the page or the player loads must be allowed by the page's own policy.
  await page.addInitScript(() => {
    window.__refused = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__refused.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const missing = [];
  page.on('response', (r) => { if (r.status() === 404) missing.push(r.url()); });
  await signIn(page, server.url, 'linguist');
  await open(page, movie);

  const audioOptions = await page.locator('#audio option').allInnerTexts();
  assert.equal(audioOptions.length, 2, `audio menu: ${JSON.stringify(audioOptions)}`);
  assert.match(audioOptions.join('|'), /English/);
  assert.match(audioOptions.join('|'), /Français/);
  assert.ok(await page.locator('#audio').isVisible());
  const subtitleOptions = await page.locator('#subtitles option').allInnerTexts();
  assert.equal(subtitleOptions.length, 3, `subtitle menu: ${JSON.stringify(subtitleOptions)}`);
  assert.equal(subtitleOptions[0], 'Off');
  assert.match(subtitleOptions.join('|'), /English/);
  assert.match(subtitleOptions.join('|'), /Français/);
  assert.ok(await page.locator('#subtitles').isVisible());

  await play(page);
  const before = await state(page);
  assert.equal(before.audioLang, 'en');

  // Audio: French, heard (hls.js completed the switch), the film still playing, the choice saved.
  const fr = await index(page, 'audioTracks', 'fr');
  assert.ok(fr >= 0 && fr !== before.audio);
  let saved = preferencesSaved(page);
  await page.selectOption('#audio', String(fr));
  let res = await saved;
  assert.equal(res.status(), 204);
  assert.deepEqual(res.request().postDataJSON(), { audio_lang: 'fr', subtitle_lang: null });
  await waitPlayer(page, 'French audio to be heard', (i) => {
    const h = window.streamdPlayer.hls;
    return h.audioTrack === i && h.audioTracks[i].lang === 'fr' && window.__heard.includes('fr');
  }, fr, { timeout: playMs(4), seen: () => window.__heard });
  await keepsPlaying(page);
  assert.equal((await state(page)).audioLang, 'fr');

  // Subtitles: English, a cue on screen within seconds, the film still playing, saved too.
  const en = await index(page, 'subtitleTracks', 'en');
  assert.ok(en >= 0);
  saved = preferencesSaved(page);
  await page.selectOption('#subtitles', String(en));
  res = await saved;
  assert.equal(res.status(), 204);
  assert.deepEqual(res.request().postDataJSON(), { audio_lang: 'fr', subtitle_lang: 'en' });
  await waitPlayer(page, 'an English cue on screen', () => Array.from(document.getElementById('video').textTracks)
    .some((t) => t.mode === 'showing' && t.language === 'en' && t.activeCues && t.activeCues.length > 0), null, { timeout: playMs(2), seen: textTracks });
  const shown = await state(page);
  assert.equal(shown.subtitle, en);
  assert.equal(shown.showing.length, 1, `one track shown: ${JSON.stringify(shown.showing)}`);
  assert.match(shown.showing[0].cues.join(' '), /English line \d+/);
  await keepsPlaying(page);
  await screenshot(page, 'player-subtitles');
  assert.deepEqual(await page.evaluate(() => window.__refused), [], 'nothing refused by the CSP');
  assert.deepEqual(missing, [], 'nothing the page asks for is missing');
  // The browser asks for the tab icon on its own (not seen above): /favicon.ico unless named.
  const icon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=icon]');
    return link ? (await fetch(link.href)).status : 'no icon link';
  });
  assert.equal(icon, 200, 'the tab icon is served');

  // Reload: the page carries the saved languages and the player applies them from the start.
  await page.reload();
  assert.equal(await page.locator('#player').getAttribute('data-audio-lang'), 'fr');
  assert.equal(await page.locator('#player').getAttribute('data-subtitle-lang'), 'en');
  await waitPlayer(page, 'the saved French audio after the reload', () => {
    const h = window.streamdPlayer && window.streamdPlayer.hls;
    return h && h.audioTracks.length === 2 && h.audioTrack >= 0 && h.audioTracks[h.audioTrack].lang === 'fr';
  }, null, { timeout: 60000 });
  await waitPlayer(page, 'the saved English subtitles after the reload', () => {
    const h = window.streamdPlayer.hls;
    return h.subtitleTrack >= 0 && h.subtitleTracks[h.subtitleTrack].lang === 'en'
      && Array.from(document.getElementById('video').textTracks).some((t) => t.mode === 'showing' && t.language === 'en');
  }, null, { timeout: 60000, seen: textTracks });
  const after = await state(page);
  assert.equal(await page.locator('#audio').inputValue(), String(after.audio));
  assert.equal(await page.locator('#subtitles').inputValue(), String(after.subtitle));
  await page.close();
});

test('a forced track in the language being heard shows without subtitles being chosen', async () => {
  const page = await b.context.newPage();
  await signIn(page, server.url, 'signs');
  await open(page, signs);
  const options = await page.locator('#subtitles option').allInnerTexts();
  assert.equal(options.length, 2, `subtitle menu: ${JSON.stringify(options)}`);
  assert.match(options[1], /\(forced\)/);
  await play(page);
  let s = await state(page);
  assert.equal(s.audioLang, 'en');
  assert.equal(s.subtitle, -1, 'French signs are not shown over English audio');

  // Heard in French, the French forced track comes on by itself...
  const fr = await index(page, 'audioTracks', 'fr');
  await page.selectOption('#audio', String(fr));
  await waitPlayer(page, 'French audio to be heard', () => window.__heard.includes('fr'), null, { timeout: playMs(4), seen: () => window.__heard });
  await waitPlayer(page, 'a French forced cue on screen', () => Array.from(document.getElementById('video').textTracks)
    .some((t) => t.mode === 'showing' && t.language === 'fr' && t.activeCues && t.activeCues.length > 0), null, { timeout: playMs(2), seen: textTracks });
  s = await state(page);
  assert.equal(s.subtitleLang, 'fr');
  assert.match(s.showing[0].cues.join(' '), /Panneau \d+/);
  assert.equal(await page.locator('#subtitles').inputValue(), String(s.subtitle));
  await keepsPlaying(page);

  // ...and goes off again with English audio.
  const en = await index(page, 'audioTracks', 'en');
  await page.selectOption('#audio', String(en));
  await waitPlayer(page, 'English audio to be heard again', () => window.__heard.lastIndexOf('en') > window.__heard.lastIndexOf('fr'), null, { timeout: playMs(4), seen: () => window.__heard });
  await waitPlayer(page, 'the forced French track to go off', () => window.streamdPlayer.hls.subtitleTrack === -1
    && !Array.from(document.getElementById('video').textTracks).some((t) => t.mode === 'showing'), null, { timeout: 60000, seen: textTracks });
  assert.equal(await page.locator('#subtitles').inputValue(), 'off');
  await keepsPlaying(page);
  await page.close();
});
