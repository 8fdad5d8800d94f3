// Beckon console, /settings/alerts: plays each alert sound on request and asks for permission to
// show browser notifications. The page works without this file. The sounds are synthesised with
// WebAudio exactly as the inbox plays them (internal/web/ui/src/alerts.ts), so a rep hears here
// what they will hear there.
"use strict";

(function () {
  var audio = null;

  function context() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && AC) {
      audio = new AC();
    }
    if (audio && audio.state === "suspended") {
      audio.resume();
    }
    return audio;
  }

  // tone plays one note: a frequency gliding to end, starting at offset seconds, for dur seconds.
  function tone(ctx, type, freq, end, offset, dur, peak) {
    var t = ctx.currentTime + offset;
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.type = type;
    osc.frequency.setValueAtTime(freq, t);
    if (end !== freq) {
      osc.frequency.exponentialRampToValueAtTime(end, t + dur);
    }
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(peak, t + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + dur);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(t);
    osc.stop(t + dur + 0.02);
  }

  var sounds = {
    chime: function (c) { tone(c, "sine", 880, 880, 0, 0.35, 0.25); tone(c, "sine", 1318.5, 1318.5, 0.16, 0.5, 0.22); },
    bell: function (c) { tone(c, "sine", 1046.5, 1046.5, 0, 1.1, 0.25); tone(c, "sine", 2093, 2093, 0, 0.6, 0.08); tone(c, "sine", 3135.9, 3135.9, 0, 0.3, 0.04); },
    pop: function (c) { tone(c, "sine", 380, 960, 0, 0.09, 0.3); },
    knock: function (c) { tone(c, "triangle", 190, 120, 0, 0.07, 0.5); tone(c, "triangle", 190, 120, 0.16, 0.07, 0.5); }
  };

  // play plays the named sound ("none" and unknown names play nothing) and reports whether it did.
  function play(name) {
    var ctx;
    try {
      ctx = context();
    } catch (e) {
      return false;
    }
    if (!ctx || !sounds[name]) {
      return false;
    }
    sounds[name](ctx);
    return true;
  }
  window.BeckonSounds = { play: play, names: Object.keys(sounds) };

  var buttons = document.querySelectorAll("button[data-preview]");
  Array.prototype.forEach.call(buttons, function (button) {
    var select = document.getElementById(button.getAttribute("data-preview"));
    if (!select) {
      return;
    }
    var sync = function () { button.disabled = !sounds[select.value]; };
    select.addEventListener("change", sync);
    sync();
    button.hidden = false;
    button.addEventListener("click", function () { play(select.value); });
  });

  var state = document.getElementById("notify-state");
  var ask = document.getElementById("notify-ask");
  if (!state || !ask) {
    return;
  }
  function show() {
    if (typeof Notification !== "function") {
      state.textContent = "This browser cannot show notifications; you still get sounds and in-page alerts.";
      ask.hidden = true;
      return;
    }
    switch (Notification.permission) {
      case "granted":
        state.textContent = "Notifications are allowed in this browser.";
        ask.hidden = true;
        break;
      case "denied":
        state.textContent = "Notifications are blocked for this site. Allow them in your browser's site settings.";
        ask.hidden = true;
        break;
      default:
        state.textContent = "This browser has not been asked yet.";
        ask.hidden = false;
    }
  }
  ask.addEventListener("click", function () {
    var done = function () { show(); };
    var p = Notification.requestPermission(done);
    if (p && typeof p.then === "function") {
      p.then(done);
    }
  });
  show();
})();
