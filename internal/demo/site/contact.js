// The demo's contact form hands its fields to Beckon (saveFormData), then posts as usual.
//
// A post that loads a new page would cut Beckon's call short: the browser leaves this page
// before Beckon answers, and Beckon's Email Captured event never reaches the dataLayer. So while
// the messenger runs, the form waits for Beckon's "field captured" event (at most a second) and
// then posts. If Beckon is down or blocked (no messenger), beckon() only queues the call and the
// form posts at once, as it would without Beckon.
(function () {
  var form = document.getElementById('contact');
  var waiting = false;
  form.addEventListener('submit', function (e) {
    if (waiting) {
      e.preventDefault(); // a second click while Beckon is asked: the first one posts
      return;
    }
    var fields = {};
    ['email', 'first_name', 'last_name', 'company', 'company_size'].forEach(function (n) {
      if (form.elements[n] && form.elements[n].value) fields[n] = form.elements[n].value;
    });
    var beckon = window.beckon;
    if (!beckon) return;
    if (!beckon.m) {
      beckon('saveFormData', fields);
      return;
    }
    e.preventDefault();
    waiting = true;
    var posted = false;
    var timer = setTimeout(post, 1000);
    function captured(d) {
      if (d && d.source === 'form') post();
    }
    function post() {
      if (posted) return;
      posted = true;
      clearTimeout(timer);
      beckon('off', 'field captured', captured);
      // After Beckon's own reaction to the event (its dataLayer push) has run.
      setTimeout(function () { form.submit(); }, 0);
    }
    beckon('on', 'field captured', captured);
    beckon('saveFormData', fields);
  });
})();
