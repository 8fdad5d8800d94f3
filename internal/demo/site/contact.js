// The demo's contact form hands its fields to Beckon on submit (saveFormData), then posts as
// usual. If Beckon is down or blocked, beckon() only queues the call and the form still submits.
document.getElementById('contact').addEventListener('submit', function (e) {
  var f = e.target;
  var fields = {};
  ['email', 'first_name', 'last_name', 'company', 'company_size'].forEach(function (n) {
    if (f.elements[n] && f.elements[n].value) fields[n] = f.elements[n].value;
  });
  if (window.beckon) window.beckon('saveFormData', fields);
});
