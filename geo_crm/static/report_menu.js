// The "Download report" menu (templates/reports/_menu.html): queue a report job with the
// page's current filters, poll it (percent and stage), then offer the file's link.
(function () {
  'use strict';
  var menu = document.getElementById('report-menu');
  if (!menu) { return; }
  var form = document.getElementById('report-form');
  var button = document.getElementById('report-start');
  var status = document.getElementById('report-status');
  var bar = document.getElementById('report-progress');
  var percent = document.getElementById('report-percent');
  var stage = document.getElementById('report-stage');
  var ready = document.getElementById('report-ready');
  var link = document.getElementById('report-link');
  var error = document.getElementById('report-error');
  var stages = JSON.parse(menu.dataset.stages);
  var words = JSON.parse(menu.dataset.words);
  var fallback = JSON.parse(menu.dataset.filters);
  var POLL_MS = 1000;
  var WAITING_HINT_MS = 20000;
  var timer = null;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  // the region page's filter form as it is now (applied or not); else the page's filters
  function filters() {
    var page = document.getElementById('filters');
    var out = {};
    Object.keys(fallback).forEach(function (k) {
      if (fallback[k] !== null && fallback[k] !== '') { out[k] = fallback[k]; }
    });
    if (!page) { return out; }
    out = {tier: []};
    var names = {from: 'date_from', to: 'date_to'};
    new FormData(page).forEach(function (v, k) {
      if (v === '' || k === 'map') { return; }
      if (k === 'tier') { out.tier.push(v); return; }
      if (k === 'radius_km' || k === 'cell_km') { out[k] = Number(v); return; }
      out[names[k] || k] = v;
    });
    return out;
  }

  function show(job) {
    status.hidden = false;
    bar.value = job.percent;
    percent.textContent = job.percent + '%';
    stage.textContent = stages[job.stage] || job.stage || '';
  }

  function fail(message) {
    clearTimeout(timer);
    button.disabled = false;
    error.textContent = message;
    error.hidden = false;
  }

  function request(url, options) {
    options = options || {};
    options.credentials = 'same-origin';
    options.headers = Object.assign({'Accept': 'application/json'}, options.headers || {});
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var e = body.error || {};
          var fields = Object.keys(e.fields || {}).map(function (k) { return k + ': ' + e.fields[k]; });
          throw new Error([e.message || r.status].concat(fields).join(' · '));
        }
        return body;
      });
    });
  }

  function poll(url, since) {
    request(url).then(function (job) {
      show(job);
      if (job.state === 'done') {
        button.disabled = false;
        link.href = job.file_url;
        link.textContent = fill(words.ready, {name: job.file_name});
        link.setAttribute('download', job.file_name);
        ready.hidden = false;
        return;
      }
      if (job.state === 'failed' || job.state === 'expired') {
        fail(fill(words.failed, {error: job.error || ''}));
        return;
      }
      if (job.state === 'queued' && Date.now() - since > WAITING_HINT_MS) {
        stage.textContent = words.waiting;
      }
      timer = setTimeout(function () { poll(url, since); }, POLL_MS);
    }).catch(function () {
      timer = setTimeout(function () { poll(url, since); }, POLL_MS * 3);
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    clearTimeout(timer);
    error.hidden = true;
    ready.hidden = true;
    button.disabled = true;
    var body = filters();
    body.format = form.elements.format.value;
    body.lang = menu.dataset.lang;
    request(menu.dataset.jobs, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': menu.dataset.csrf},
      body: JSON.stringify(body)
    }).then(function (job) {
      show(job);
      poll(job.url, Date.now());
    }).catch(function (err) {
      fail(err && err.message ? err.message : words.offline);
    });
  });
})();
