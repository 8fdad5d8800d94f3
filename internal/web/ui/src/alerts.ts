// Alerts (N1, N2): a sound synthesised with WebAudio (no audio files), a browser notification
// when the rep allowed them and the alert asks for one, and always an in-page toast.

import { h, str } from './dom';

/** The sounds an alert may name; "none" is silent. */
export const sounds = ['chime', 'bell', 'pop', 'knock'];

let audio: AudioContext | null = null;

/**
 * unlockAudio makes the audio context on the rep's first gesture: browsers only let a page play
 * sound after the person interacted with it.
 */
export function unlockAudio(): void {
  const unlock = () => {
    try {
      const AC = window.AudioContext || (window as any).webkitAudioContext;
      if (!audio && AC) audio = new AC();
      if (audio && audio.state == 'suspended') audio.resume();
    } catch (e) {
      audio = null;
    }
  };
  for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, unlock, { capture: true, passive: true });
}

/** tone plays one note: a frequency gliding to end, starting at offset seconds, for dur seconds. */
function tone(ctx: AudioContext, type: OscillatorType, freq: number, end: number, offset: number, dur: number, peak: number): void {
  const t = ctx.currentTime + offset;
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = type;
  osc.frequency.setValueAtTime(freq, t);
  if (end != freq) osc.frequency.exponentialRampToValueAtTime(end, t + dur);
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(peak, t + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + dur);
  osc.connect(gain).connect(ctx.destination);
  osc.start(t);
  osc.stop(t + dur + 0.02);
}

/**
 * play plays the named sound; "none", an unknown name, or a page the rep has not touched yet
 * plays nothing. It reports whether a sound started.
 */
export function play(name: string): boolean {
  const ctx = audio;
  if (!ctx || ctx.state != 'running') return false;
  switch (name) {
    case 'chime':
      tone(ctx, 'sine', 880, 880, 0, 0.35, 0.25);
      tone(ctx, 'sine', 1318.5, 1318.5, 0.16, 0.5, 0.22);
      return true;
    case 'bell':
      tone(ctx, 'sine', 1046.5, 1046.5, 0, 1.1, 0.25);
      tone(ctx, 'sine', 2093, 2093, 0, 0.6, 0.08);
      tone(ctx, 'sine', 3135.9, 3135.9, 0, 0.3, 0.04);
      return true;
    case 'pop':
      tone(ctx, 'sine', 380, 960, 0, 0.09, 0.3);
      return true;
    case 'knock':
      tone(ctx, 'triangle', 190, 120, 0, 0.07, 0.5);
      tone(ctx, 'triangle', 190, 120, 0.16, 0.07, 0.5);
      return true;
  }
  return false;
}

/** Alert is an alert frame ({"t":"alert"}). */
export interface Alert {
  stream: string;
  id: string;
  title: string;
  body: string;
  conv: string;
  visitor: string;
  sound: string;
  notify: boolean;
}

/** readAlert checks an alert frame field by field. */
export function readAlert(f: any): Alert {
  return {
    stream: str(f.stream),
    id: str(f.id),
    title: str(f.title) || 'Beckon',
    body: str(f.body),
    conv: str(f.conv),
    visitor: str(f.visitor),
    sound: str(f.sound),
    notify: f.notify === true,
  };
}

/** notifications reports whether browser notifications exist here and their permission. */
export function notificationPermission(): NotificationPermission | 'unsupported' {
  return typeof Notification == 'function' ? Notification.permission : 'unsupported';
}

/** notify shows a browser notification when the rep allowed them; onClick runs when it is clicked. */
export function notify(a: Alert, onClick: () => void): boolean {
  if (!a.notify || notificationPermission() != 'granted') return false;
  try {
    const n = new Notification(a.title, { body: a.body, tag: a.id || undefined });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
    return true;
  } catch (e) {
    return false;
  }
}

/** ToastAction is a button of a toast. */
export interface ToastAction {
  label: string;
  run: () => void;
}

/**
 * Toasts shows in-page alerts in a corner. A sticky toast stays until dismissed or removed by
 * its key (a waiting conversation's toast goes once someone accepts it); others go after 8 s.
 */
export class Toasts {
  private box: HTMLElement;
  private byKey = new Map<string, HTMLElement>();

  constructor(box: HTMLElement) {
    this.box = box;
  }

  show(opts: { key?: string; title: string; body?: string; kind?: string; sticky?: boolean; actions?: ToastAction[] }): void {
    if (opts.key) this.remove(opts.key);
    const el = h('div', { class: 'toast' + (opts.kind ? ' toast-' + opts.kind : ''), role: opts.sticky ? 'alert' : 'status', 'data-key': opts.key });
    const text = h('div', { class: 'toast-text' }, h('strong', null, opts.title), opts.body ? h('span', null, opts.body) : null);
    el.appendChild(text);
    const actions = h('div', { class: 'toast-actions' });
    for (const a of opts.actions || []) {
      const b = h('button', { type: 'button', class: 'button small primary' }, a.label);
      b.addEventListener('click', () => {
        a.run();
        this.dismiss(el, opts.key);
      });
      actions.appendChild(b);
    }
    const close = h('button', { type: 'button', class: 'button small subtle', 'aria-label': 'Dismiss: ' + opts.title }, '×');
    close.addEventListener('click', () => this.dismiss(el, opts.key));
    actions.appendChild(close);
    el.appendChild(actions);
    this.box.appendChild(el);
    if (opts.key) this.byKey.set(opts.key, el);
    if (!opts.sticky) setTimeout(() => this.dismiss(el, opts.key), 8000);
  }

  /** remove takes away the toast with the key, if there is one. */
  remove(key: string): void {
    const el = this.byKey.get(key);
    if (el) this.dismiss(el, key);
  }

  private dismiss(el: HTMLElement, key?: string): void {
    el.remove();
    if (key && this.byKey.get(key) == el) this.byKey.delete(key);
  }
}
