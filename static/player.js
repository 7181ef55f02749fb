// The player: hls.js on MSE browsers, native HLS where MSE is absent (Safari on iOS).
// Quality, audio and subtitle menus, stats overlay, keyboard, resume, "copy link for VLC",
// recovery when signed chunk URLs have expired during a long pause, and watching a movie while
// it still transcodes (its playlists grow as EVENT playlists until they get ENDLIST). No inline
// script: the CSP forbids it.
(() => {
  'use strict';
  const root = document.getElementById('player');
  const video = document.getElementById('video');
  const quality = document.getElementById('quality');
  const audioMenu = document.getElementById('audio');
  const subtitleMenu = document.getElementById('subtitles');
  const message = document.getElementById('player-message');
  const stat = (name) => root.querySelector(`[data-stat="${name}"]`);
  const movie = root.dataset.movie;
  const source = `/stream/${encodeURIComponent(movie)}`;
  let hls = null;
  let lastRecovery = 0;
  // Still transcoding when the page was made: the playlists grow, and only what is published can
  // be played. `finished` once a reload brings ENDLIST; `length` is the whole film's.
  const growing = root.dataset.growing === 'true';
  const length = Number(root.dataset.duration) || 0;
  let finished = !growing;
  // Every hls.js error (the last few), for the stats and for tests.
  const errors = [];
  // The viewer's languages, saved on an earlier visit (for any movie) or picked here: '' is no
  // choice, subtitles may also be 'off'. The names, known once picked here, tell two tracks of
  // one language apart (a commentary), so a restarted player comes back to the same ones.
  const chosen = {
    audio: root.dataset.audioLang || '',
    audioName: '',
    subtitles: root.dataset.subtitleLang || '',
    subtitleName: '',
  };

  const say = (text) => { message.textContent = text; };
  const screens = document.getElementById('screens');
  // Stopped from another device (contract section 10): nothing more is loaded or saved here.
  let stoppedHere = false;
  function stopped() {
    if (stoppedHere) return;
    stoppedHere = true;
    if (hls) hls.stopLoad();
    video.pause();
    say('Playback was stopped on another device. Reload the page to watch here again.');
  }
  // Past the plan's screens the server answers 409 with the sessions in use: list them, each
  // with a button that stops it, then start here.
  function showScreens(sessions, at, play) {
    const list = screens.querySelector('ul');
    list.replaceChildren();
    for (const s of sessions) {
      const item = document.createElement('li');
      const since = new Date(s.started_at);
      item.append(`${s.device} · ${s.title || s.movie} · since ${since.toLocaleTimeString()} `);
      const stop = document.createElement('button');
      stop.type = 'button';
      stop.textContent = 'Stop it';
      stop.dataset.session = s.id;
      stop.addEventListener('click', async () => {
        stop.disabled = true;
        const res = await fetch(`/api/v1/playback/${encodeURIComponent(s.id)}`, {
          method: 'DELETE', credentials: 'same-origin',
        }).catch(() => null);
        if (!res || (res.status !== 204 && res.status !== 404)) {
          stop.disabled = false;
          return say('That session could not be stopped; try again.');
        }
        begin(at, play);
      });
      item.append(stop);
      list.append(item);
    }
    screens.hidden = false;
    say('');
  }
  // Asks for the master playlist first: it starts this browser's playback, or says why not.
  async function begin(at, play) {
    const res = await fetch(source, { credentials: 'same-origin' }).catch(() => null);
    if (res && res.status === 409) {
      const body = await res.json().catch(() => ({}));
      const sessions = (body.error && body.error.sessions) || [];
      return showScreens(sessions, at, play);
    }
    screens.hidden = true;
    start(at, play);
  }
  const sessionEnded = () => say('Your session has ended: sign in again to keep watching.');

  // "2160p", or "2160p HEVC HDR" for a row beside the H.264 ones (hls.js lists only the rows
  // this browser decodes).
  function levelName(level) {
    const codec = (level.videoCodec || '').slice(0, 4);
    const extra = { hvc1: ' HEVC', hev1: ' HEVC', av01: ' AV1' }[codec] || '';
    const hdr = level.videoRange && level.videoRange !== 'SDR' ? ' HDR' : '';
    return `${level.height}p${extra}${hdr}`;
  }

  function levelLabel(level) {
    return level ? `${levelName(level)} · ${(level.bitrate / 1e6).toFixed(1)} Mb/s` : '–';
  }

  function buildMenu(levels) {
    quality.length = 1;
    levels.forEach((level, i) => {
      const option = document.createElement('option');
      option.value = String(i);
      option.textContent = levelName(level);
      quality.appendChild(option);
    });
    quality.value = String(hls.autoLevelEnabled ? -1 : hls.currentLevel);
  }

  // ---- audio and subtitle tracks ----

  // The tracks as the menus see them: from hls.js, or from the browser's own HLS player, which
  // lists a playlist's renditions as the video element's tracks.
  const nativeText = () => Array.from(video.textTracks || [])
    .filter((t) => t.kind === 'subtitles' || t.kind === 'captions');
  function audioList() {
    if (hls) return hls.audioTracks.map((t) => ({ name: t.name, lang: t.lang || '', forced: false }));
    return Array.from(video.audioTracks || [], (t, i) => ({ name: t.label || t.language || `Audio ${i + 1}`, lang: t.language || '', forced: false }));
  }
  function subtitleList() {
    if (hls) return hls.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang || '', forced: Boolean(t.forced) }));
    // Safari shows forced subtitles by itself (they have a kind of their own), so they are not listed.
    return nativeText().map((t, i) => ({ name: t.label || t.language || `Subtitles ${i + 1}`, lang: t.language || '', forced: false }));
  }
  function currentAudio() {
    if (hls) return hls.audioTrack;
    return Array.from(video.audioTracks || []).findIndex((t) => t.enabled);
  }
  function currentSubtitle() {
    if (hls) return hls.subtitleTrack;
    return nativeText().findIndex((t) => t.mode === 'showing');
  }
  function selectAudio(i) {
    if (hls) {
      // hls.js flushes the old language's buffered audio and goes on playing with the new one.
      if (hls.audioTrack !== i) hls.audioTrack = i;
    } else {
      Array.from(video.audioTracks || []).forEach((t, n) => { t.enabled = n === i; });
    }
  }
  function selectSubtitle(i) {
    if (hls) {
      // With subtitleDisplay off, hls.js would load the track but keep it hidden.
      if (i >= 0) hls.subtitleDisplay = true;
      if (hls.subtitleTrack !== i) hls.subtitleTrack = i;
    } else {
      nativeText().forEach((t, n) => { t.mode = n === i ? 'showing' : 'disabled'; });
    }
  }

  // The first track of `list` in language `lang` that passes `fits`: an exact tag first, then
  // the same primary language, so a saved 'pt' finds a 'pt-BR' track and the other way round.
  function findLang(list, lang, fits) {
    const want = String(lang || '').toLowerCase();
    if (!want) return -1;
    const primary = (tag) => String(tag || '').toLowerCase().split('-')[0];
    const ok = (t) => !fits || fits(t);
    const exact = list.findIndex((t) => ok(t) && t.lang.toLowerCase() === want);
    return exact >= 0 ? exact : list.findIndex((t) => ok(t) && t.lang && primary(t.lang) === primary(want));
  }
  // The viewer's track: the one picked here by name (this movie's own, whatever its language
  // tag), else one in language `lang` that `fits`, else any in that language; -1 for none.
  function pick(list, lang, name, fits) {
    const named = name ? list.findIndex((t) => t.name === name) : -1;
    if (named >= 0) return named;
    const fitting = fits ? findLang(list, lang, fits) : -1;
    return fitting >= 0 ? fitting : findLang(list, lang);
  }
  // Subtitles are off unless the viewer asked for a language; a full track of that language
  // comes before a forced one. With no choice (or one this movie lacks), a forced track in the
  // language being heard is still shown: it carries the signs and lines in other languages the
  // film means everyone to read.
  function subtitleIndex(list, heard) {
    const off = chosen.subtitles === 'off' && !chosen.subtitleName;
    const mine = off ? -1 : pick(list, chosen.subtitles, chosen.subtitleName, (t) => !t.forced);
    if (off || mine >= 0) return mine;
    return findLang(list, heard, (t) => t.forced);
  }
  function heardLang() {
    const track = audioList()[currentAudio()];
    return track ? track.lang : chosen.audio;
  }
  function applyAudio() {
    const i = pick(audioList(), chosen.audio, chosen.audioName);
    if (i >= 0) selectAudio(i);
  }
  function applySubtitles(heard) {
    selectSubtitle(subtitleIndex(subtitleList(), heard === undefined ? heardLang() : heard));
    syncTrackMenus();
  }

  function syncTrackMenus() {
    const a = currentAudio();
    if (a >= 0) audioMenu.value = String(a);
    const s = currentSubtitle();
    subtitleMenu.value = s >= 0 ? String(s) : 'off';
  }
  function buildTrackMenus() {
    const audio = audioList();
    audioMenu.length = 0;
    audio.forEach((t, i) => audioMenu.appendChild(new Option(t.name, String(i))));
    // One audio track is no choice to offer.
    audioMenu.disabled = audio.length < 2;
    audioMenu.closest('label').hidden = audio.length < 2;
    const subs = subtitleList();
    subtitleMenu.length = 1;
    subs.forEach((t, i) => {
      const label = t.forced && !/forced/i.test(t.name) ? `${t.name} (forced)` : t.name;
      subtitleMenu.appendChild(new Option(label, String(i)));
    });
    subtitleMenu.disabled = subs.length === 0;
    subtitleMenu.closest('label').hidden = subs.length === 0;
    syncTrackMenus();
  }

  // The choice is the viewer's for every movie, saved whole (both languages) as the API
  // replaces it. Saves are chained so an older choice can never land after a newer one.
  let savingPrefs = Promise.resolve();
  const usableLang = (lang) => /^[A-Za-z0-9-]{1,16}$/.test(lang);
  function savePreferences() {
    const body = JSON.stringify({ audio_lang: chosen.audio || null, subtitle_lang: chosen.subtitles || null });
    savingPrefs = savingPrefs.then(() => fetch('/api/v1/preferences', {
      method: 'PUT', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body,
    }).then((res) => { if (res.status === 401) sessionEnded(); }).catch(() => {}));
  }

  // ---- a movie still transcoding ----

  // Published end: how far every playlist being played reaches (the video rendition and the
  // audio track each grow at their own pace). NaN until known, Infinity once finished.
  function publishedEnd() {
    if (finished) return Infinity;
    if (hls) {
      const ends = [];
      const main = hls.latestLevelDetails;
      if (main && main.fragments.length) ends.push(main.edge);
      const track = hls.audioTracks[hls.audioTrack];
      if (track && track.details && track.details.fragments.length) ends.push(track.details.edge);
      return ends.length ? Math.min(...ends) : NaN;
    }
    // Safari's own player: what it lets us seek to is what its playlists list.
    const s = video.seekable;
    return s && s.length ? s.end(s.length - 1) : NaN;
  }

  function clock(seconds) {
    const t = Math.max(0, Math.floor(seconds));
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const s = String(t % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  // A bar under the video: how much of the film is transcoded so far.
  let indicator = null;
  if (growing) {
    indicator = document.createElement('div');
    indicator.id = 'transcode';
    indicator.className = 'transcode';
    indicator.setAttribute('role', 'status');
    indicator.dataset.state = 'running';
    const bar = document.createElement('progress');
    bar.max = length > 0 ? length : 1;
    bar.value = 0;
    const text = document.createElement('span');
    text.className = 'transcode-text';
    text.textContent = 'Transcoding: starting…';
    indicator.append(bar, text);
    root.querySelector('.stage').after(indicator);
  }
  function updateTranscode() {
    if (!indicator) return;
    const [bar, text] = indicator.children;
    if (finished) {
      if (indicator.dataset.state === 'ready') return;
      indicator.dataset.state = 'ready';
      bar.value = bar.max;
      text.textContent = 'Transcoded: the whole film is ready.';
      setTimeout(() => { indicator.hidden = true; }, 4000);
      return;
    }
    const end = publishedEnd();
    if (!Number.isFinite(end)) return;
    const whole = length > 0 ? length : end;
    bar.value = Math.min(end, whole);
    // Caught up with the encoder: the player waits for the next segment.
    const waiting = Boolean(held) || (!video.paused && video.readyState < 3 && video.currentTime >= end - 2);
    indicator.dataset.state = waiting ? 'waiting' : 'running';
    text.textContent = `Transcoding: ${clock(Math.min(end, whole))} of ${clock(whole)} ready`
      + (waiting ? ' · waiting for the next part…' : '');
  }

  // Playlist details after every (re)load: a growing one has more segments, or has become VOD.
  function onDetails(event, data) {
    if (!growing || finished) return;
    // The video playlist decides: with ENDLIST, the transcode is over.
    if (event === window.Hls.Events.LEVEL_UPDATED && data.details && !data.details.live) finished = true;
    updateTranscode();
  }

  // What is not transcoded yet cannot be played: a seek past the published end goes back to
  // just before it. Small moves (hls.js nudging the playhead over a gap) are left alone.
  let lastTime = 0;
  let notYet = 0;
  video.addEventListener('timeupdate', () => { if (!video.seeking) lastTime = video.currentTime; });
  video.addEventListener('seeking', () => {
    if (finished) { lastTime = video.currentTime; return; }
    const end = publishedEnd();
    const target = video.currentTime;
    // hls.js takes a position before a live playlist's first frame (which is a little after 0)
    // for one that has slid out of its window, and goes to the live edge instead: the start of
    // a growing film is that first frame. (currentTime keeps microseconds, hence the margin.)
    const details = hls && hls.latestLevelDetails;
    const first = details && details.live ? details.fragmentStart : 0;
    if (target < first) {
      lastTime = first + 0.01;
      video.currentTime = first + 0.01;
      return;
    }
    const limit = Math.max(0, end - 1);
    if (Number.isFinite(end) && target > limit && Math.abs(target - lastTime) >= 1) {
      lastTime = limit;
      video.currentTime = limit;
      say(`Not transcoded yet: ${clock(end)} of ${clock(length || end)} is ready so far.`);
      clearTimeout(notYet);
      notYet = setTimeout(() => say(''), 4000);
      return;
    }
    lastTime = target;
  });
  if (growing) {
    video.addEventListener('waiting', updateTranscode);
    video.addEventListener('playing', updateTranscode);
  }

  // Caught up with the encoder. The audio is published well ahead of the picture, and Chrome
  // plays on with the sound alone for a few seconds when the picture runs out, then jumps the
  // picture to catch up. Hold the clock at the end of what is published instead (playback rate
  // 0: hls.js keeps loading and reloading, and does not take it for a stall), until there is
  // more to play.
  let held = null; // { rate, since } while holding
  function bufferedEnd() {
    const b = video.buffered;
    const t = video.currentTime;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) - 0.2 <= t && t <= b.end(i)) return b.end(i);
    }
    return t;
  }
  function release() {
    if (!held) return;
    video.playbackRate = held.rate;
    held = null;
    updateTranscode();
  }
  function holdAtEdge() {
    const details = hls && hls.latestLevelDetails;
    if (finished || !details || !details.live || video.seeking) return release();
    const t = video.currentTime;
    const ahead = bufferedEnd() - t;
    if (held) {
      // More was published and loaded (or the hold has lasted too long to be only that).
      if (ahead >= 2 || performance.now() - held.since > 30000) release();
      return;
    }
    // Everything published is buffered and the clock is about to reach its end.
    if (!video.paused && ahead < 0.3 && bufferedEnd() >= details.edge - 0.5) {
      held = { rate: video.playbackRate || 1, since: performance.now() };
      video.playbackRate = 0;
      updateTranscode();
    }
  }
  if (growing) {
    const timer = setInterval(() => {
      if (finished) { release(); clearInterval(timer); return; }
      holdAtEdge();
    }, 150);
    video.addEventListener('seeking', release);
    video.addEventListener('pause', release);
    // A speed the viewer picks while held is theirs to keep.
    video.addEventListener('ratechange', () => { if (held && video.playbackRate !== 0) held = null; });
  }

  function updateStats() {
    if (hls) {
      stat('level').textContent = levelLabel(hls.levels[hls.currentLevel]) + (hls.autoLevelEnabled ? ' (auto)' : '');
      const bw = hls.bandwidthEstimate;
      stat('bandwidth').textContent = Number.isFinite(bw) ? `${(bw / 1e6).toFixed(1)} Mb/s` : '–';
    } else {
      stat('level').textContent = video.videoHeight ? `${video.videoHeight}p` : '–';
    }
    const b = video.buffered;
    let ahead = 0;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime && video.currentTime <= b.end(i)) ahead = b.end(i) - video.currentTime;
    }
    stat('buffer').textContent = `${ahead.toFixed(1)} s`;
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    stat('dropped').textContent = q ? String(q.droppedVideoFrames) : '–';
    updateTranscode();
  }

  // The multivariant playlist with #EXT-X-START at `at` seconds: where hls.js starts a live
  // stream, also when it has to start over before anything played (a first fragment lost, a
  // quality switch before the first one buffered). A start position alone is not enough: hls.js
  // drops one that falls before the playlist's first frame, and 0 does (the video's first frame
  // is a little after 0), and goes to the edge instead.
  function startingAt(at) {
    const Base = window.Hls.DefaultConfig.loader;
    return class extends Base {
      load(context, config, callbacks) {
        if (context.type !== 'manifest') return super.load(context, config, callbacks);
        const { onSuccess } = callbacks;
        return super.load(context, config, Object.assign({}, callbacks, {
          onSuccess(response, stats, ctx, net) {
            if (typeof response.data === 'string' && !response.data.includes('#EXT-X-START:')) {
              response.data = response.data.replace(/^#EXTM3U[^\r\n]*(\r?\n|$)/,
                (line) => `${line.trimEnd()}\n#EXT-X-START:TIME-OFFSET=${at.toFixed(3)}\n`);
            }
            onSuccess(response, stats, ctx, net);
          },
        }));
      }
    };
  }

  // hls.js sees a growing movie's EVENT playlists as live, and a live stream starts near its
  // edge and is pulled back there when it falls behind. A growing film is a film: it starts
  // where asked (the beginning, or the resume point) and plays at its own pace however far
  // behind the encoder; when it catches up, hls.js waits for the next reload (every target
  // duration) and carries on.
  function hlsConfig(at) {
    const own = window.STREAMD_HLS_CONFIG || {};
    // The CSP (script-src 'self') forbids the blob: worker hls.js would transmux in: it would
    // try, fail, fall back to the main thread (all fMP4 needs) and, on a live stream, restart at
    // the edge on the way.
    const base = { enableWorker: false };
    if (!growing) return Object.assign(base, { startPosition: at > 0 ? at : -1 }, own);
    const live = {
      ...base,
      startPosition: at > 0 ? at : 0,
      pLoader: startingAt(at > 0 ? at : 0),
      // The film's published length as its duration (not Infinity): the seek bar stays usable.
      liveDurationInfinity: false,
      // Never seek to the edge, however far behind (hls.js wants the sync count given with it)...
      liveMaxLatencyDurationCount: Infinity,
      liveSyncDurationCount: 3,
      // ...nor speed up to close the distance.
      maxLiveSyncPlaybackRate: 1,
      // One published segment is enough to start.
      initialLiveManifestSize: 1,
      // A playlist unchanged for a while is an encoder being slow, not a broken stream.
      liveMaxUnchangedPlaylistRefresh: Infinity,
    };
    // hls.js refuses the ...Count settings mixed with the seconds ones an operator may have set.
    if (own.liveSyncDuration !== undefined || own.liveMaxLatencyDuration !== undefined) {
      delete live.liveSyncDurationCount;
      delete live.liveMaxLatencyDurationCount;
    }
    return Object.assign(live, own);
  }

  // Start (or restart) playback at `at` seconds; `play` resumes playing if it was.
  function start(at, play) {
    playedHere = false;
    if (window.Hls && window.Hls.isSupported()) {
      if (hls) hls.destroy();
      // window.STREAMD_HLS_CONFIG lets an operator (or a test) tune hls.js, e.g. its buffer.
      hls = new window.Hls(hlsConfig(at));
      window.streamdPlayer = {
        get hls() { return hls; }, video, errors,
        get growing() { return growing && !finished; },
        get publishedEnd() { return publishedEnd(); },
        get holding() { return Boolean(held); },
      };
      const current = hls;
      hls.on(window.Hls.Events.MANIFEST_PARSED, (_e, data) => {
        buildMenu(data.levels);
        buildTrackMenus();
        if (play) video.play().catch(() => {});
      });
      // hls.js lists a group's tracks once the first variant loads, then picks the DEFAULT one
      // unless a track was already chosen in this event: choosing here means the default
      // language is never downloaded only to be thrown away.
      hls.on(window.Hls.Events.AUDIO_TRACKS_UPDATED, () => {
        applyAudio();
        buildTrackMenus();
      });
      // For subtitles hls.js makes its own pick (none: no rendition is DEFAULT) right after this
      // event, so the viewer's choice is applied just after that.
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
        buildTrackMenus();
        queueMicrotask(() => { if (hls === current) applySubtitles(); });
      });
      hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHING, syncTrackMenus);
      hls.on(window.Hls.Events.SUBTITLE_TRACK_SWITCH, syncTrackMenus);
      // Switched means now heard: a forced track follows the language (unless the viewer chose
      // subtitles, which subtitleIndex keeps whatever the audio).
      hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_e, data) => applySubtitles(data.lang || ''));
      hls.on(window.Hls.Events.LEVEL_SWITCHED, updateStats);
      hls.on(window.Hls.Events.FRAG_LOADED, updateStats);
      hls.on(window.Hls.Events.LEVEL_UPDATED, onDetails);
      hls.on(window.Hls.Events.AUDIO_TRACK_LOADED, onDetails);
      hls.on(window.Hls.Events.FRAG_BUFFERED, reconnected);
      hls.on(window.Hls.Events.ERROR, onError);
      hls.loadSource(source);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = source;
      // A growing (EVENT) playlist would start at its live edge: start it where asked.
      if (at > 0 || growing) video.addEventListener('loadedmetadata', () => { video.currentTime = at; }, { once: true });
      // Finished when the duration Safari gives is the whole film's (a live playlist has an
      // infinite or a growing one, depending on the version).
      if (growing) {
        video.addEventListener('durationchange', () => {
          if (!finished && length > 0 && Math.abs(video.duration - length) < 2) {
            finished = true;
            updateTranscode();
          }
        });
      }
      quality.disabled = true;
      // Safari lists the renditions as the element's own tracks, some only after the metadata;
      // browsers without these lists leave both menus hidden and disabled.
      const refresh = () => { applyAudio(); applySubtitles(); buildTrackMenus(); };
      video.addEventListener('loadedmetadata', refresh);
      for (const list of [video.audioTracks, video.textTracks]) {
        if (!list) continue;
        list.addEventListener('addtrack', refresh);
        list.addEventListener('change', syncTrackMenus);
      }
    } else {
      say('This browser cannot play HLS video.');
    }
  }

  // Reloading a growing playlist can fail while the server is busy or the network drops: try
  // again a few times, further apart each time, rather than stop. `resumeFrom` is where the
  // film was when it first failed (a restarted player is back at 0 until it loads).
  let retries = 0;
  let resumeFrom = null;
  function reconnected() {
    if (!retries) return;
    retries = 0;
    resumeFrom = null;
    say('');
  }
  // hls.js 1.7 can leave its loader idle for good when a key load is aborted (a quality switch
  // while an encrypted film's key loads): nothing more is fetched and no error follows. Seen 1
  // time in 8 in tests/e2e/protection.test.mjs. If nothing is buffered ahead two seconds after
  // such an abort, loading starts again from where the viewer is.
  function nudgeAfterKeyAbort() {
    const stalled = hls;
    setTimeout(() => {
      if (hls !== stalled || !hls.levels || !hls.levels.length) return;
      const t = video.currentTime;
      const ahead = Array.from({ length: video.buffered.length }, (_, i) => i)
        .filter((i) => video.buffered.start(i) <= t + 0.1 && video.buffered.end(i) > t)
        .reduce((most, i) => Math.max(most, video.buffered.end(i) - t), 0);
      if (ahead < 0.5) hls.startLoad(t > 0 ? t : -1);
    }, 2000);
  }
  function onError(_event, data) {
    const message = String((data.error && data.error.message) || '');
    errors.push({ details: data.details, fatal: Boolean(data.fatal), at: video.currentTime, message });
    if (!data.fatal && /key load(ing)? aborted/i.test(message)) {
      nudgeAfterKeyAbort();
    }
    // Fatal ones are kept: they are what went wrong.
    const old = errors.findIndex((e) => !e.fatal);
    if (errors.length > 50 && old >= 0) errors.splice(old, 1);
    const code = data.response && data.response.code;
    if (code === 403 && /keyLoad|levelLoad|audioTrackLoad/.test(String(data.details))) {
      const body = data.networkDetails && data.networkDetails.response;
      let text = '';
      try {
        text = typeof body === 'string' ? body : new TextDecoder().decode(body);
      } catch (_) { /* no body */ }
      if (/playback_stopped/.test(text)) return stopped();
    }
    if (code === 409) return begin(video.currentTime, !video.paused);
    if (data.details === 'manifestLoadError' || data.details === 'levelLoadError') {
      if (code === 401) return sessionEnded();
      if (code === 403) return say('You may no longer watch this movie.');
      if (code === 404) return say('This movie has been removed.');
    }
    // Chunk URLs are signed for the film's length plus a grace period; after a very long
    // pause they expire. Fetch a fresh manifest and carry on from the same spot.
    if (data.details === 'fragLoadError' && (code === 403 || code === 410)) {
      const now = Date.now();
      if (now - lastRecovery < 5000) return;
      lastRecovery = now;
      say('Refreshing the stream…');
      const wasPlaying = !video.paused;
      start(video.currentTime, wasPlaying);
      setTimeout(() => say(''), 3000);
      return;
    }
    if (data.fatal) {
      if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else if (growing && !finished && retries < 5) {
        retries += 1;
        say('Reconnecting…');
        if (!resumeFrom) resumeFrom = { at: video.currentTime, play: !video.paused };
        const failed = hls;
        setTimeout(() => {
          if (hls !== failed) return;
          // With its playlists known and the video still attached, hls.js takes up loading
          // where it stopped, keeping what is buffered; without them, a new player.
          // (-1 before anything played: the start of the playlist, as at first.)
          if (hls.levels && hls.levels.length) hls.startLoad(video.currentTime > 0 ? video.currentTime : -1);
          else start(resumeFrom.at, resumeFrom.play);
        }, 2000 * retries);
      } else say('Playback stopped: the stream could not be loaded.');
    }
  }

  audioMenu.addEventListener('change', () => {
    const i = Number(audioMenu.value);
    const track = audioList()[i];
    if (!track) return;
    selectAudio(i);
    if (usableLang(track.lang)) chosen.audio = track.lang;
    chosen.audioName = track.name;
    savePreferences();
  });

  subtitleMenu.addEventListener('change', () => {
    const track = subtitleMenu.value === 'off' ? null : subtitleList()[Number(subtitleMenu.value)];
    if (track) {
      selectSubtitle(Number(subtitleMenu.value));
      if (usableLang(track.lang)) chosen.subtitles = track.lang;
      chosen.subtitleName = track.name;
    } else {
      selectSubtitle(-1);
      chosen.subtitles = 'off';
      chosen.subtitleName = '';
    }
    savePreferences();
  });

  quality.addEventListener('change', () => {
    if (!hls) return;
    const level = Number(quality.value);
    // currentLevel switches now (flushing the buffer); -1 returns to automatic selection.
    hls.currentLevel = level;
    updateStats();
  });

  document.getElementById('copy-link').addEventListener('click', async () => {
    const res = await fetch(`/api/v1/movies/${encodeURIComponent(movie)}/playback`, { credentials: 'same-origin' });
    if (res.status === 401) return sessionEnded();
    if (!res.ok) return say('Could not make a link.');
    const { master_url: url } = await res.json();
    try {
      await navigator.clipboard.writeText(url);
      say('Link copied: open it in VLC with Media → Open Network Stream.');
    } catch (_) {
      window.prompt('Copy this link into VLC:', url);
    }
    root.dataset.link = url;
  });

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen(); else video.requestFullscreen().catch(() => {});
  }

  // A click on the picture plays or pauses at once and a double-click toggles full screen, as
  // the big players do. Chromium's native controls wait ~300 ms after a click on the picture to
  // tell it from a double-click; a click we handle is marked handled so they don't act on it
  // too. Their bar along the bottom (its buttons, the timeline) is left to them.
  const CONTROL_BAR_PX = 72;
  const onPicture = (e) => e.clientY < video.getBoundingClientRect().bottom - CONTROL_BAR_PX;
  video.addEventListener('click', (e) => {
    // On a touch screen a tap on the picture shows the native controls, as people expect there.
    if (e.pointerType === 'touch' || !onPicture(e)) return;
    e.preventDefault();
    if (video.paused) video.play().catch(() => {}); else video.pause();
  });
  video.addEventListener('dblclick', (e) => {
    if (!onPicture(e)) return;
    e.preventDefault();
    toggleFullscreen();
  });

  document.addEventListener('keydown', (e) => {
    // Keys typed into a control belong to that control.
    if (e.target.closest('input, select, textarea, button') || e.ctrlKey || e.metaKey || e.altKey) return;
    switch (e.key) {
      case ' ': e.preventDefault(); if (video.paused) video.play(); else video.pause(); break;
      case 'ArrowLeft': e.preventDefault(); video.currentTime = Math.max(0, video.currentTime - 10); break;
      case 'ArrowRight': e.preventDefault(); video.currentTime = video.currentTime + 10; break;
      case 'ArrowUp': e.preventDefault(); video.volume = Math.min(1, video.volume + 0.1); break;
      case 'ArrowDown': e.preventDefault(); video.volume = Math.max(0, video.volume - 0.1); break;
      case 'f': case 'F': toggleFullscreen(); break;
      default:
    }
  });

  // Saved only once playback has really begun: before that, currentTime is 0 while hls.js is
  // still seeking to the resume point, and saving it would erase where the viewer stopped.
  // Saves are chained so an older position can never land after a newer one.
  let playedHere = false;
  let lastSaved = -1;
  let saving = Promise.resolve();
  video.addEventListener('playing', () => { playedHere = true; });
  function postPosition(seconds) {
    return fetch(`/api/v1/movies/${encodeURIComponent(movie)}/position`, {
      method: 'POST', keepalive: true, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ seconds }),
    }).then(async (res) => {
      if (res.status === 401) sessionEnded();
      if (res.status === 403) {
        const body = await res.json().catch(() => ({}));
        if (body.error && body.error.code === 'playback_stopped') stopped();
      }
    }).catch(() => {});
  }
  function savePosition(leaving) {
    const seconds = video.currentTime;
    const t = Math.floor(seconds);
    if (stoppedHere || !playedHere || !Number.isFinite(t) || t === lastSaved) return;
    lastSaved = t;
    // A page being left cannot wait for the chain: its keepalive request must start now.
    if (leaving === true) postPosition(seconds);
    else saving = saving.then(() => postPosition(seconds));
  }
  setInterval(() => { if (!video.paused) savePosition(); }, 5000);
  video.addEventListener('pause', () => savePosition());
  window.addEventListener('pagehide', () => savePosition(true));
  setInterval(updateStats, 1000);

  // The last resort against a loader that went idle for good (see nudgeAfterKeyAbort): playing,
  // nothing buffered ahead, and the picture has not moved for STUCK_MS. A slow network shows
  // the same for a moment, never for this long without hls.js bringing a fragment or an error.
  const STUCK_MS = 8000;
  let stuckSince = null;
  let stuckAt = -1;
  setInterval(() => {
    const t = video.currentTime;
    const starved = hls && !video.paused && !video.ended && video.readyState < 3;
    if (!starved || t !== stuckAt) {
      stuckSince = starved ? Date.now() : null;
      stuckAt = t;
      return;
    }
    if (Date.now() - stuckSince >= STUCK_MS && hls.levels && hls.levels.length) {
      errors.push({ details: 'stuck', fatal: false, at: t, message: 'loading started again' });
      stuckSince = Date.now();
      hls.startLoad(t > 0 ? t : -1);
    }
  }, 1000);

  begin(Number(root.dataset.resume) || 0, false);
})();
