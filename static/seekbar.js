// A seek bar under the video that previews where it goes: hovering or dragging it (mouse, pen or
// touch) shows the time and, when the movie has them, the thumbnail of that moment, cut from the
// sprites named by its WebVTT thumbnails track (`sprite.jpg#xywh=x,y,w,h` cues). A click or a
// release seeks there. The video keeps its own controls (volume, full screen); this bar is the
// one that can show pictures.
(() => {
  'use strict';
  const root = document.getElementById('player');
  const video = document.getElementById('video');
  const bar = document.getElementById('seekbar');
  if (!root || !video || !bar) return;
  const played = bar.querySelector('.seek-played');
  const loaded = bar.querySelector('.seek-buffered');
  const preview = bar.querySelector('.seek-preview');
  const picture = preview.querySelector('.seek-thumb');
  const label = preview.querySelector('.seek-time');
  const wholeFilm = Number(root.dataset.duration) || 0;
  let cues = [];
  let dragging = false;

  // A film still transcoding spans its whole length (what is not published yet is refused by
  // the player with a message); the video element only knows what is published so far.
  const growing = root.dataset.growing === 'true';
  const length = () => {
    if (growing && wholeFilm > 0) return wholeFilm;
    return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : wholeFilm;
  };

  function clock(seconds) {
    const t = Math.max(0, Math.floor(seconds));
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const s = String(t % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  // ---- the thumbnails track ----

  function seconds(stamp) {
    const parts = stamp.trim().split(':').map(Number);
    return parts.reduce((total, part) => total * 60 + part, 0);
  }

  // WebVTT as thumbnail tracks use it: blocks of "start --> end" then one line, the picture.
  function parseTrack(text) {
    const out = [];
    for (const block of text.replace(/\r/g, '').split(/\n\n+/)) {
      const lines = block.split('\n').filter(Boolean);
      const timing = lines.findIndex((l) => l.includes('-->'));
      if (timing < 0 || !lines[timing + 1]) continue;
      const [from, to] = lines[timing].split('-->');
      const ref = lines[timing + 1].trim();
      const hash = ref.lastIndexOf('#xywh=');
      if (hash < 0) continue;
      const [x, y, w, h] = ref.slice(hash + 6).split(',').map(Number);
      out.push({ start: seconds(from), end: seconds(to.split(' ').filter(Boolean)[0]), url: ref.slice(0, hash), x, y, w, h });
    }
    return out;
  }

  function cueAt(t) {
    let lo = 0;
    let hi = cues.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (t < cues[mid].start) hi = mid - 1;
      else if (t >= cues[mid].end) lo = mid + 1;
      else return cues[mid];
    }
    return cues.length && t >= cues[cues.length - 1].end ? cues[cues.length - 1] : null;
  }

  const track = root.dataset.thumbnails;
  if (track) {
    fetch(track, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`thumbnails: HTTP ${r.status}`))))
      .then((text) => {
        cues = parseTrack(text);
        bar.dataset.thumbnails = String(cues.length);
        // The first sprite, so the first hover shows a picture at once.
        if (cues.length) new Image().src = cues[0].url;
      })
      .catch(() => { bar.dataset.thumbnails = 'error'; });
  }

  // ---- showing where the pointer is ----

  function timeAt(clientX) {
    const box = bar.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (clientX - box.left) / Math.max(1, box.width)));
    return { t: fraction * length(), x: fraction * box.width, width: box.width };
  }

  function show(clientX) {
    if (!length()) return null;
    const at = timeAt(clientX);
    label.textContent = clock(at.t);
    const cue = cueAt(at.t);
    if (cue) {
      picture.hidden = false;
      picture.style.width = `${cue.w}px`;
      picture.style.height = `${cue.h}px`;
      picture.style.backgroundImage = `url("${cue.url.replace(/"/g, '%22')}")`;
      picture.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      picture.dataset.start = String(cue.start);
    } else {
      picture.hidden = true;
    }
    preview.hidden = false;
    // Centred over the pointer, kept inside the bar.
    const half = preview.offsetWidth / 2;
    preview.style.left = `${Math.min(Math.max(at.x, half), Math.max(half, at.width - half))}px`;
    return at.t;
  }

  function hide() {
    if (!dragging) preview.hidden = true;
  }

  function paint(t) {
    const whole = length();
    const fraction = whole ? Math.min(1, t / whole) : 0;
    played.style.width = `${fraction * 100}%`;
    bar.setAttribute('aria-valuemax', String(Math.round(whole)));
    bar.setAttribute('aria-valuenow', String(Math.round(t)));
    bar.setAttribute('aria-valuetext', `${clock(t)} of ${clock(whole)}`);
  }

  function paintBuffered() {
    const whole = length();
    const b = video.buffered;
    let end = 0;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.5) end = Math.max(end, b.end(i));
    }
    loaded.style.width = whole ? `${Math.min(100, (end / whole) * 100)}%` : '0';
  }

  bar.addEventListener('pointermove', (e) => {
    const t = show(e.clientX);
    if (dragging && t !== null) paint(t);
  });
  bar.addEventListener('pointerleave', hide);
  bar.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !length()) return;
    dragging = true;
    bar.setPointerCapture(e.pointerId);
    const t = show(e.clientX);
    if (t !== null) paint(t);
    e.preventDefault();
  });
  function release(e, seek) {
    if (!dragging) return;
    dragging = false;
    if (bar.hasPointerCapture(e.pointerId)) bar.releasePointerCapture(e.pointerId);
    if (seek) video.currentTime = timeAt(e.clientX).t;
    // A finger lifted leaves nothing to hover: the preview goes with it.
    if (e.pointerType !== 'mouse') preview.hidden = true;
  }
  bar.addEventListener('pointerup', (e) => release(e, true));
  bar.addEventListener('pointercancel', (e) => { release(e, false); preview.hidden = true; });

  video.addEventListener('timeupdate', () => { if (!dragging) paint(video.currentTime); });
  video.addEventListener('durationchange', () => paint(video.currentTime));
  video.addEventListener('progress', paintBuffered);
  video.addEventListener('seeked', paintBuffered);
  bar.hidden = false;
  paint(0);
})();
