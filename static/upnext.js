// "Up next" (contract section 13): when an episode ends, the next one is offered with a short
// countdown and then played; Cancel (or playing on here) keeps the viewer on this page. The
// audio and subtitle choices go along: the player saved them as the viewer's preferences.
(() => {
  'use strict';
  const panel = document.getElementById('up-next');
  const video = document.getElementById('video');
  if (!panel || !video) return;
  const SECONDS = 8;
  const shown = panel.querySelector('[data-countdown]');
  const play = document.getElementById('up-next-play');
  let timer = null;
  function cancel() {
    clearInterval(timer);
    timer = null;
    panel.hidden = true;
  }
  video.addEventListener('ended', () => {
    let left = SECONDS;
    shown.textContent = String(left);
    panel.hidden = false;
    clearInterval(timer);
    timer = setInterval(() => {
      left -= 1;
      shown.textContent = String(Math.max(left, 0));
      if (left <= 0) {
        clearInterval(timer);
        window.location.assign(play.href);
      }
    }, 1000);
  });
  document.getElementById('up-next-cancel').addEventListener('click', cancel);
  video.addEventListener('play', () => { if (timer) cancel(); });
})();
