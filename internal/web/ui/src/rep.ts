// What every live page of the console shares: the rep socket and its status, the rep's presence
// (C3) with the Available / Away control and the activity frames that keep the rep from idling,
// and alerts (N1, N2).

import { api, ApiError, message, setCSRF } from './api';
import { Alert, notificationPermission, notify, play, readAlert, ToastAction, Toasts, unlockAudio } from './alerts';
import { byId, h, setText, str } from './dom';
import { Frame, RepSocket } from './socket';

/** Rep is the live shell of a page. */
export interface Rep {
  socket: RepSocket;
  toasts: Toasts;
  userID: string;
  userName: string;
  /** announce reads text out to screen readers (a polite live region). */
  announce: (text: string) => void;
}

/** Options tell the shell how the page handles alerts. */
export interface RepOptions {
  /** alertActions are the buttons of an alert's toast. */
  alertActions: (a: Alert) => ToastAction[];
  /** openConversation shows a conversation (from a notification's click). */
  openConversation: (conv: string) => void;
  /** quiet reports whether an alert is about what the rep is looking at: no sound, no note. */
  quiet?: (a: Alert) => boolean;
}

const activityEvery = 30000;

/** startRep sets up the shell on the page whose root element is root and connects the socket. */
export function startRep(root: HTMLElement, opts: RepOptions): Rep {
  setCSRF(root.dataset.csrf || '');
  unlockAudio();
  const socket = new RepSocket();
  const toasts = new Toasts(byId('toasts'));
  const announcer = byId('announcer');
  const rep: Rep = {
    socket,
    toasts,
    userID: root.dataset.user || '',
    userName: root.dataset.userName || '',
    announce: (text) => {
      // A fresh node each time, so the same text twice is read twice.
      const p = h('p', null, text);
      announcer.appendChild(p);
      while (announcer.childNodes.length > 3) announcer.removeChild(announcer.firstChild!);
    },
  };

  // Connection status.
  const conn = byId('connection');
  socket.onState((s, why) => {
    conn.dataset.state = s;
    setText(conn, s == 'open' ? 'Live' : s == 'connecting' ? 'Connecting…' : s == 'closed' ? 'Reconnecting…' : why || 'Disconnected');
    if (s == 'ended') toasts.show({ key: 'socket', title: why || 'Disconnected', body: 'Reload the page to continue.', kind: 'error', sticky: true });
  });
  socket.probe = async () => {
    try {
      await api('GET', '/api/v1/me');
      return '';
    } catch (e) {
      if (e instanceof ApiError && e.status == 401) return 'Your session has ended. Log in again.';
      return '';
    }
  };

  // Presence.
  const select = byId<HTMLSelectElement>('presence');
  const dot = byId('presence-dot');
  const note = byId('presence-note');
  const showPresence = (p: { status: string; reason: string; chosen: string }) => {
    if (p.chosen == 'available' || p.chosen == 'away') select.value = p.chosen;
    dot.dataset.status = p.status;
    let text = '';
    if (p.status == 'away' && p.reason == 'idle') text = 'Away while idle: back when you use the console';
    else if (p.status == 'offline') text = 'Offline';
    setText(note, text);
  };
  const readPresence = (f: any) => {
    const status = str(f.status);
    const reason = str(f.reason);
    const chosen = str(f.chosen) || (reason == 'chosen' || reason == 'active' ? status : '');
    return { status, reason, chosen };
  };
  api('GET', '/api/v1/me/presence')
    .then((p) => {
      showPresence(readPresence(p || {}));
      select.disabled = false;
    })
    .catch(() => {
      // Presence is not available: the control stays disabled.
    });
  select.addEventListener('change', () => {
    const want = select.value;
    select.disabled = true;
    api('PUT', '/api/v1/me/presence', { status: want })
      .then((p) => showPresence(readPresence(p || { status: want, reason: 'chosen', chosen: want })))
      .catch((e) => {
        select.value = want == 'away' ? 'available' : 'away';
        toasts.show({ title: 'Your status did not change', body: message(e), kind: 'error' });
      })
      .finally(() => {
        select.disabled = false;
      });
  });
  socket.on('ready', (f) => {
    if (f.presence && typeof f.presence == 'object') {
      showPresence(readPresence(f.presence));
      select.disabled = false;
    }
  });
  socket.on('presence', (f) => {
    // {"t":"presence","state":{user_id, status, reason, chosen, …}}; the flat form of
    // docs/REALTIME.md ({"user","status","reason"}) is read too.
    const st = f.state && typeof f.state == 'object' ? f.state : f;
    if (str(st.user_id) == rep.userID || str(st.user) == rep.userID) showPresence(readPresence(st));
  });

  // Activity: at most one frame every 30 s, only while the rep uses the page.
  let lastActive = 0;
  const active = () => {
    const now = Date.now();
    if (now - lastActive < activityEvery) return;
    if (socket.send({ t: 'active' })) lastActive = now;
  };
  for (const ev of ['keydown', 'pointerdown', 'pointermove', 'wheel', 'focus']) {
    window.addEventListener(ev, active, { capture: true, passive: true });
  }

  // Alerts.
  socket.on('alert', (f: Frame) => {
    const a = readAlert(f);
    if (opts.quiet && opts.quiet(a)) return;
    play(a.sound);
    notify(a, () => a.conv && opts.openConversation(a.conv));
    const waiting = a.stream == 'waiting';
    toasts.show({
      key: a.conv ? a.stream + ':' + a.conv : a.id || undefined,
      title: a.title,
      body: a.body,
      kind: waiting ? 'waiting' : a.stream,
      sticky: waiting,
      actions: opts.alertActions(a),
    });
  });
  // A waiting conversation someone took, or that closed, needs no alert any more.
  socket.on('conv', (f) => {
    const c = f.conv;
    if (c && typeof c == 'object' && (str(c.status) != 'open' || str(c.assignee_id) != '' || !c.waiting_since)) {
      toasts.remove('waiting:' + str(c.id));
    }
  });

  // Browser notifications need the rep's permission, asked by a button.
  const ask = document.getElementById('notify-permission') as HTMLButtonElement | null;
  if (ask) {
    ask.hidden = notificationPermission() != 'default';
    ask.addEventListener('click', () => {
      Notification.requestPermission().then(() => {
        ask.hidden = notificationPermission() != 'default';
      });
    });
  }

  return rep;
}
