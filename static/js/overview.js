// Overview chart: paid orders (bars) and revenue (line) per day.
// Data comes from the json_script element the page renders; no inline script, so the page
// works under a Content-Security-Policy without 'unsafe-inline'.
(function () {
  "use strict";

  const canvas = document.getElementById("overview-chart");
  const dataElement = document.getElementById("overview-data");
  if (!canvas || !dataElement || typeof window.Chart === "undefined") {
    return;
  }

  const data = JSON.parse(dataElement.textContent);
  const labels = document.getElementById("overview-chart-labels").dataset;
  const locale = document.documentElement.lang || undefined;
  const rtl = document.documentElement.dir === "rtl";
  const scale = Math.pow(10, data.minorUnitDigits);

  const money = new Intl.NumberFormat(locale, { style: "currency", currency: data.currency });
  const compactMoney = new Intl.NumberFormat(locale, {
    style: "currency",
    currency: data.currency,
    notation: "compact",
    maximumFractionDigits: 1,
  });
  const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  // Dates are ISO days; read them at noon UTC and format in UTC so no time zone shifts a day.
  const dayFormat = new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });
  const dayLabels = data.labels.map((iso) => dayFormat.format(new Date(iso + "T12:00:00Z")));

  const styles = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => styles.getPropertyValue(name).trim() || fallback;
  const ordersColour = colour("--chart-orders", "#5b8def");
  const revenueColour = colour("--chart-revenue", "#0f766e");
  const gridColour = colour("--chart-grid", "#e5e7eb");
  const textColour = colour("--text-muted", "#6b7280");

  window.Chart.defaults.font.family = styles.getPropertyValue("font-family");
  window.Chart.defaults.color = textColour;

  new window.Chart(canvas, {
    data: {
      labels: dayLabels,
      datasets: [
        {
          type: "bar",
          label: labels.orders,
          data: data.orders,
          backgroundColor: ordersColour,
          borderRadius: 3,
          maxBarThickness: 28,
          yAxisID: "orders",
          order: 2,
        },
        {
          type: "line",
          label: labels.revenue,
          data: data.revenue.map((minor) => minor / scale),
          borderColor: revenueColour,
          backgroundColor: revenueColour,
          borderWidth: 2,
          pointRadius: data.labels.length > 31 ? 0 : 2.5,
          pointHoverRadius: 4,
          tension: data.labels.length > 31 ? 0.15 : 0.3,
          // Monotone curves never dip below a zero day or overshoot a peak.
          cubicInterpolationMode: "monotone",
          yAxisID: "revenue",
          order: 1,
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
        // "order" above puts the line on top of the bars; keep legend and tooltip in
        // dataset order regardless.
        legend: {
          position: "top",
          align: "end",
          rtl: rtl,
          labels: { boxWidth: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex },
        },
        tooltip: {
          rtl: rtl,
          itemSort: (a, b) => a.datasetIndex - b.datasetIndex,
          callbacks: {
            label: (item) =>
              item.dataset.yAxisID === "revenue"
                ? `${item.dataset.label}: ${money.format(item.parsed.y)}`
                : `${item.dataset.label}: ${count.format(item.parsed.y)}`,
          },
        },
      },
      scales: {
        x: {
          reverse: rtl,
          grid: { display: false },
          ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 },
        },
        orders: {
          type: "linear",
          position: rtl ? "right" : "left",
          beginAtZero: true,
          grid: { color: gridColour },
          ticks: { precision: 0 },
        },
        revenue: {
          type: "linear",
          position: rtl ? "left" : "right",
          beginAtZero: true,
          grid: { drawOnChartArea: false },
          ticks: { callback: (value) => compactMoney.format(value) },
        },
      },
    },
  });
})();
