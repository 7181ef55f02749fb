// Admin page: upload with a progress bar (XHR upload events), then the transcode's live
// progress until the movie is ready or failed; live progress in the job list; confirmation
// before deleting a movie.
(() => {
  'use strict';
  const form = document.getElementById('upload');
  const box = document.getElementById('upload-status');
  const bar = document.getElementById('upload-progress');
  const phase = document.getElementById('upload-phase');
  const percent = document.getElementById('upload-percent');
  const message = document.getElementById('upload-message');
  const button = form.querySelector('button[type="submit"]');

  const show = (p, pct, text) => {
    box.hidden = false;
    phase.textContent = p;
    bar.value = pct;
    percent.textContent = `${Math.round(pct)}%`;
    message.textContent = text || '';
  };

  async function follow(id) {
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const res = await fetch(`/api/v1/movies/${encodeURIComponent(id)}`, { credentials: 'same-origin' });
      if (res.status === 401) return show('Stopped', 0, 'Your session has ended: sign in again.');
      if (!res.ok) return show('Stopped', 0, 'The movie is gone.');
      const m = await res.json();
      if (m.status === 'ready') {
        show('Ready', 100, `“${m.title}” is ready in ${m.renditions.join(', ')}.`);
        setTimeout(() => window.location.assign('/admin?ok=' + encodeURIComponent(`uploaded ${m.title}`)), 1500);
        return;
      }
      if (m.status === 'failed') {
        button.disabled = false;
        return show('Failed', 0, m.error || 'Transcoding failed.');
      }
      const p = m.progress ? m.progress.percent : 0;
      const eta = m.progress && m.progress.eta_s != null ? `, about ${Math.ceil(m.progress.eta_s)} s left` : '';
      show(m.status === 'queued' ? 'Queued' : 'Transcoding', p, m.progress ? `${m.progress.speed.toFixed(1)}× real time${eta}` : '');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (button.disabled) return; // a double submit sends one upload
    button.disabled = true;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) show('Uploading', (ev.loaded / ev.total) * 100);
    });
    xhr.addEventListener('load', () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) {
        show('Queued', 0, 'Upload complete; transcoding will start shortly.');
        follow(body.id);
      } else {
        button.disabled = false;
        const why = body.error ? body.error.message : `the server answered ${xhr.status}`;
        show('Upload refused', 0, why.charAt(0).toUpperCase() + why.slice(1) + '.');
      }
    });
    xhr.addEventListener('error', () => {
      button.disabled = false;
      show('Upload failed', 0, 'The connection was lost (the file may be larger than the upload limit).');
    });
    show('Uploading', 0);
    xhr.send(new FormData(form));
  });

  for (const f of document.querySelectorAll('form.confirm')) {
    f.addEventListener('submit', (e) => { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  }

  const rows = () => [...document.querySelectorAll('#jobs tr[data-status="queued"], #jobs tr[data-status="running"]')];
  if (rows().length > 0) {
    const timer = setInterval(async () => {
      const res = await fetch('/api/v1/movies', { credentials: 'same-origin' });
      if (!res.ok) { clearInterval(timer); return; }
      const movies = await res.json();
      for (const row of rows()) {
        const m = movies.find((x) => x.id === row.dataset.movie);
        if (!m) continue;
        const pct = m.progress ? ` ${Math.round(m.progress.percent)}%` : '';
        row.querySelector('[data-progress]').textContent = `${m.status}${pct}${m.error ? ` — ${m.error}` : ''}`;
        row.dataset.status = m.status;
      }
      if (rows().length === 0) clearInterval(timer);
    }, 2000);
  }
})();
