// Beckon console: small progressive enhancements. Every page works without this file.
"use strict";

// <form data-confirm="Question?">: ask before submitting.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// <input type="file" data-max-bytes="N">: refuse a file that is too large before uploading it.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) {
    return;
  }
  var max = Number(input.getAttribute("data-max-bytes"));
  var file = input.files && input.files[0];
  var tooBig = file && max > 0 && file.size > max;
  input.setCustomValidity(tooBig ? "This file is larger than " + Math.round(max / 1048576) + " MB. Choose a smaller one." : "");
  if (tooBig) {
    input.reportValidity();
  }
});
