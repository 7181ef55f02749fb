// The account page (and the sessions on /admin): end a sign-in session, stop a playback, sign
// out everywhere. The API refuses cross-site calls; the cookie goes with same-origin ones.
(() => {
  'use strict';
  const message = document.getElementById('account-message');
  const say = (text) => { if (message) message.textContent = text; };
  async function call(method, url, button) {
    button.disabled = true;
    const res = await fetch(url, { method, credentials: 'same-origin' }).catch(() => null);
    if (res && (res.status === 204 || res.status === 404)) return true;
    button.disabled = false;
    say(res && res.status === 401 ? 'Your session has ended.' : 'That did not work; try again.');
    return false;
  }
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    if (button.dataset.endSession) {
      if (await call('DELETE', `/api/v1/account/sessions/${encodeURIComponent(button.dataset.endSession)}`, button)) {
        window.location.reload();
      }
    } else if (button.dataset.stopPlayback) {
      if (await call('DELETE', `/api/v1/playback/${encodeURIComponent(button.dataset.stopPlayback)}`, button)) {
        window.location.reload();
      }
    } else if (button.id === 'logout-everywhere') {
      if (await call('POST', '/api/v1/account/logout-everywhere', button)) {
        window.location.assign('/login');
      }
    }
  });
})();
