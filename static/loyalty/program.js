// Loyalty programme page: members per tier (bars) and points per week (lines).
// Data comes from the json_script element of the page; no inline script.
(function () {
  "use strict";

  const dataElement = document.getElementById("loyalty-data");
  if (!dataElement || typeof window.Chart === "undefined") {
    return;
  }
  const data = JSON.parse(dataElement.textContent);
  const labels = document.getElementById("loyalty-labels").dataset;
  const locale = document.documentElement.lang || undefined;
  const rtl = document.documentElement.dir === "rtl";
  const styles = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => styles.getPropertyValue(name).trim() || fallback;
  const accent = colour("--accent", "#2f5bd3");
  const grid = colour("--chart-grid", "#eceff3");
  const week = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" });

  window.Chart.defaults.font.family = styles.getPropertyValue("font-family");
  window.Chart.defaults.color = colour("--text-muted", "#6b7280");

  const scales = {
    x: { reverse: rtl, grid: { display: false } },
    y: { position: rtl ? "right" : "left", beginAtZero: true, grid: { color: grid }, ticks: { precision: 0 } },
  };

  const tiers = document.getElementById("loyalty-tiers-chart");
  if (tiers) {
    new window.Chart(tiers, {
      type: "bar",
      data: {
        labels: data.tiers.labels,
        datasets: [{ label: labels.members, data: data.tiers.members, backgroundColor: accent }],
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, locale: locale,
        plugins: { legend: { display: false }, tooltip: { rtl: rtl } }, scales: scales },
    });
  }

  const weeks = document.getElementById("loyalty-weeks-chart");
  if (weeks) {
    const line = (label, values, colourValue) => ({
      label: label, data: values, borderColor: colourValue, backgroundColor: colourValue,
      borderWidth: 2, pointRadius: 2, tension: 0.2,
    });
    new window.Chart(weeks, {
      type: "line",
      data: {
        labels: data.weeks.labels.map((iso) => week.format(new Date(iso))),
        datasets: [
          line(labels.issued, data.weeks.issued, accent),
          line(labels.redeemed, data.weeks.redeemed, colour("--chart-revenue", "#0f766e")),
          line(labels.expired, data.weeks.expired, "#b45309"),
        ],
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, locale: locale,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", rtl: rtl }, tooltip: { rtl: rtl } }, scales: scales },
    });
  }
})();
