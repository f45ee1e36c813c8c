// Segment detail: the segment's size at each refresh over the last days, as a line.
// Data comes from the json_script element of the page; no inline script.
(function () {
  "use strict";

  const canvas = document.getElementById("segment-size-chart");
  const dataElement = document.getElementById("segment-size-data");
  if (!canvas || !dataElement || typeof window.Chart === "undefined") {
    return;
  }

  const data = JSON.parse(dataElement.textContent);
  const labels = document.getElementById("segment-size-labels").dataset;
  const locale = document.documentElement.lang || undefined;
  const rtl = document.documentElement.dir === "rtl";
  const when = new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });

  const styles = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => styles.getPropertyValue(name).trim() || fallback;
  const lineColour = colour("--accent", "#2f5bd3");
  const gridColour = colour("--chart-grid", "#eceff3");

  window.Chart.defaults.font.family = styles.getPropertyValue("font-family");
  window.Chart.defaults.color = colour("--text-muted", "#6b7280");

  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels.map((iso) => when.format(new Date(iso))),
      datasets: [
        {
          label: labels.size,
          data: data.sizes,
          borderColor: lineColour,
          backgroundColor: lineColour + "22",
          fill: true,
          borderWidth: 2,
          pointRadius: data.sizes.length > 40 ? 0 : 3,
          pointHoverRadius: 4,
          // Steps: the size holds from one refresh until the next.
          stepped: "before",
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      locale: locale,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: false },
        tooltip: {
          rtl: rtl,
          callbacks: { label: (item) => `${item.dataset.label}: ${count.format(item.parsed.y)}` },
        },
      },
      scales: {
        x: {
          reverse: rtl,
          grid: { display: false },
          ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 16 },
        },
        y: {
          position: rtl ? "right" : "left",
          beginAtZero: true,
          grid: { color: gridColour },
          ticks: { precision: 0 },
        },
      },
    },
  });
})();
