// The player: hls.js on MSE browsers, native HLS where MSE is absent (Safari on iOS).
// Quality menu, stats overlay, keyboard, resume, "copy link for VLC", and recovery when signed
// chunk URLs have expired during a long pause. No inline script: the CSP forbids it.
(() => {
  'use strict';
  const root = document.getElementById('player');
  const video = document.getElementById('video');
  const quality = document.getElementById('quality');
  const message = document.getElementById('player-message');
  const stat = (name) => root.querySelector(`[data-stat="${name}"]`);
  const movie = root.dataset.movie;
  const source = `/stream/${encodeURIComponent(movie)}`;
  let hls = null;
  let lastRecovery = 0;

  const say = (text) => { message.textContent = text; };
  const sessionEnded = () => say('Your session has ended: sign in again to keep watching.');

  function levelLabel(level) {
    return level ? `${level.height}p · ${(level.bitrate / 1e6).toFixed(1)} Mb/s` : '–';
  }

  function buildMenu(levels) {
    quality.length = 1;
    levels.forEach((level, i) => {
      const option = document.createElement('option');
      option.value = String(i);
      option.textContent = `${level.height}p`;
      quality.appendChild(option);
    });
    quality.value = String(hls.autoLevelEnabled ? -1 : hls.currentLevel);
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
  }

  // Start (or restart) playback at `at` seconds; `play` resumes playing if it was.
  function start(at, play) {
    playedHere = false;
    if (window.Hls && window.Hls.isSupported()) {
      if (hls) hls.destroy();
      // window.STREAMD_HLS_CONFIG lets an operator (or a test) tune hls.js, e.g. its buffer.
      hls = new window.Hls(Object.assign({ startPosition: at > 0 ? at : -1 }, window.STREAMD_HLS_CONFIG || {}));
      window.streamdPlayer = { get hls() { return hls; }, video };
      hls.on(window.Hls.Events.MANIFEST_PARSED, (_e, data) => {
        buildMenu(data.levels);
        if (play) video.play().catch(() => {});
      });
      hls.on(window.Hls.Events.LEVEL_SWITCHED, updateStats);
      hls.on(window.Hls.Events.FRAG_LOADED, updateStats);
      hls.on(window.Hls.Events.ERROR, onError);
      hls.loadSource(source);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = source;
      if (at > 0) video.addEventListener('loadedmetadata', () => { video.currentTime = at; }, { once: true });
      quality.disabled = true;
    } else {
      say('This browser cannot play HLS video.');
    }
  }

  function onError(_event, data) {
    const code = data.response && data.response.code;
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
      else say('Playback stopped: the stream could not be loaded.');
    }
  }

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

  document.addEventListener('keydown', (e) => {
    // Keys typed into a control belong to that control.
    if (e.target.closest('input, select, textarea, button') || e.ctrlKey || e.metaKey || e.altKey) return;
    switch (e.key) {
      case ' ': e.preventDefault(); if (video.paused) video.play(); else video.pause(); break;
      case 'ArrowLeft': e.preventDefault(); video.currentTime = Math.max(0, video.currentTime - 10); break;
      case 'ArrowRight': e.preventDefault(); video.currentTime = video.currentTime + 10; break;
      case 'ArrowUp': e.preventDefault(); video.volume = Math.min(1, video.volume + 0.1); break;
      case 'ArrowDown': e.preventDefault(); video.volume = Math.max(0, video.volume - 0.1); break;
      case 'f': case 'F':
        if (document.fullscreenElement) document.exitFullscreen(); else video.requestFullscreen().catch(() => {});
        break;
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
    }).then((res) => { if (res.status === 401) sessionEnded(); }).catch(() => {});
  }
  function savePosition(leaving) {
    const seconds = video.currentTime;
    const t = Math.floor(seconds);
    if (!playedHere || !Number.isFinite(t) || t === lastSaved) return;
    lastSaved = t;
    // A page being left cannot wait for the chain: its keepalive request must start now.
    if (leaving === true) postPosition(seconds);
    else saving = saving.then(() => postPosition(seconds));
  }
  setInterval(() => { if (!video.paused) savePosition(); }, 5000);
  video.addEventListener('pause', () => savePosition());
  window.addEventListener('pagehide', () => savePosition(true));
  setInterval(updateStats, 1000);

  start(Number(root.dataset.resume) || 0, false);
})();
