// A tiny client-side router: history.pushState, then beckon('page') to record the route.
(function () {
  var views = {
    '/app/overview': ['Overview', 'Your revenue at a glance: pipeline created, bookings and win rate this quarter.'],
    '/app/pipeline': ['Pipeline', 'Deals by stage, with the ones that slipped this week highlighted.'],
    '/app/forecast': ['Forecast', 'Commit, best case and pipeline, rolled up by team and region.']
  };
  function render(path) {
    var v = views[path] || views['/app/overview'];
    document.title = v[0] + ' — Acme Analytics';
    var el = document.getElementById('view');
    el.textContent = '';
    var h = document.createElement('h2'); h.textContent = v[0];
    var p = document.createElement('p'); p.textContent = v[1];
    el.appendChild(h); el.appendChild(p);
  }
  document.getElementById('tour').addEventListener('click', function (e) {
    var a = e.target.closest('a[data-route]');
    if (!a) return;
    e.preventDefault();
    history.pushState({}, '', a.getAttribute('href'));
    render(location.pathname);
    if (window.beckon) window.beckon('page');
  });
  window.addEventListener('popstate', function () { render(location.pathname); if (window.beckon) window.beckon('page'); });
  render(location.pathname);
})();
