// Live transcode progress on the catalog: while any movie is queued or running, poll the API
// and update its tile; reload once one becomes watchable or ready so its link and poster
// appear.
(() => {
  'use strict';
  const pending = () => [...document.querySelectorAll('.tile[data-status="queued"], .tile[data-status="running"]')];
  if (pending().length === 0) return;
  const timer = setInterval(async () => {
    const res = await fetch('/api/v1/movies', { credentials: 'same-origin' });
    if (!res.ok) { clearInterval(timer); return; }
    const movies = await res.json();
    let reload = false;
    for (const tile of pending()) {
      const m = movies.find((x) => x.id === tile.dataset.movie);
      if (!m || m.status === 'ready' || m.status === 'failed') { reload = true; continue; }
      if (m.playable && m.entitled && tile.dataset.playable !== 'true') { reload = true; continue; }
      const cell = tile.querySelector('[data-progress]');
      const pct = m.progress ? ` ${Math.round(m.progress.percent)}%` : '';
      if (cell) cell.textContent = `${m.playable ? 'watchable now · ' : ''}${m.status}${pct}`;
    }
    if (reload) window.location.reload();
  }, 2000);
})();
