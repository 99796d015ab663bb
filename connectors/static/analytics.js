// The analytics page: reads /agent/api/analytics for the chosen range and channel, shows the
// key figures, the charts (SVG images from /agent/api/analytics/plot.svg) and the document
// questions without an answer. Customers' texts are set with textContent, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const API = "/agent/api/analytics";
  const FIELDS = ["from", "to", "channel"];

  function percent(rate) {
    return rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function params() {
    const query = new URLSearchParams();
    for (const name of FIELDS) {
      const value = $("an-" + name).value.trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  function fromLocation() {
    const query = new URLSearchParams(window.location.search);
    for (const name of FIELDS) {
      if (query.has(name)) $("an-" + name).value = query.get(name);
    }
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
  }

  function show(report) {
    $("an-conversations").textContent = String(report.conversations);
    $("an-containment").textContent = percent(report.containment_rate);
    $("an-handoff-rate").textContent = percent(report.handoff_rate);
    $("an-fallback-rate").textContent = percent(report.fallback_rate);
    $("an-dont-know-rate").textContent = percent(report.dont_know_rate);
    const csat = report.csat;
    $("an-csat").textContent = csat.average === null ? "–" : csat.average.toFixed(2);
    $("an-csat-label").textContent = "average rating (1-5) of " + csat.ratings + " rated handoffs";
    const first = report.first_response;
    $("an-first-response").textContent = duration(first.median_seconds);
    $("an-first-response-label").textContent = "median first response of an agent (" +
      first.answered + " answered, " + first.unanswered + " not yet)";
    if (!$("an-from").value) $("an-from").value = report.start;
    if (!$("an-to").value) $("an-to").value = report.end;

    const rows = $("an-unanswered");
    rows.replaceChildren();
    for (const question of report.unanswered_questions) {
      const row = document.createElement("tr");
      cell(row, question.text);
      cell(row, String(question.count));
      cell(row, new Date(question.last_asked * 1000).toISOString().slice(0, 16).replace("T", " "));
      cell(row, question.examples.join(" · "), "an-examples");
      rows.appendChild(row);
    }
    $("an-unanswered-empty").hidden = report.unanswered_questions.length > 0;
  }

  function plots(query) {
    for (const image of document.querySelectorAll("img[data-figure]")) {
      const figureQuery = new URLSearchParams(query);
      figureQuery.set("figure", image.dataset.figure);
      image.src = API + "/plot.svg?" + figureQuery.toString();
    }
    $("an-csv").href = API + ".csv?" + query.toString();
  }

  async function load() {
    const query = params();
    $("an-error").textContent = "";
    $("an-status").textContent = "Loading…";
    let response;
    try {
      response = await fetch(API + "?" + query.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      $("an-status").textContent = "";
      $("an-error").textContent = "The gateway did not answer. Try again in a moment.";
      return;
    }
    if (response.status === 401) {
      window.location.assign("/agent");
      return;
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    $("an-status").textContent = "";
    if (!response.ok) {
      $("an-error").textContent = data.error || "Could not load the figures (" + response.status + ").";
      return;
    }
    show(data);
    plots(query);
  }

  $("an-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = params();
    window.history.replaceState(null, "", "?" + query.toString());
    load();
  });

  fromLocation();
  load();
})();
