// Draws the dashboard charts from the same rows the tables show (json_script "chart-data").
// Every chart has its table beside it, so the page still reads without scripts.
(function () {
  "use strict";
  function draw() {
    if (!window.echarts) return;
    var data = JSON.parse(document.getElementById("chart-data").textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var rows = data[el.dataset.chart];
      if (!rows || !rows.labels.length) { el.style.display = "none"; return; }
      var values = rows.values.map(Number);
      var rates = rows.rates.map(function (r) { return r === null ? null : Number(r); });
      var option;
      if (el.dataset.kind === "line") {
        option = {
          tooltip: { trigger: "axis" },
          xAxis: { type: "category", data: rows.labels },
          yAxis: [{ type: "value", name: "t" }, { type: "value", name: "%", max: 100 }],
          series: [
            { type: "bar", data: values, name: "t" },
            { type: "line", yAxisIndex: 1, data: rates, name: "%" }
          ]
        };
      } else if (el.dataset.kind === "pie") {
        option = {
          tooltip: { trigger: "item" },
          series: [{ type: "pie", radius: "65%", data: rows.labels.map(function (l, i) {
            return { name: l, value: values[i] }; }) }]
        };
      } else {
        // Bars coloured by utilization rate: red at 0 %, green at 100 %.
        option = {
          tooltip: { trigger: "axis" },
          grid: { left: 80, right: 20, bottom: 80 },
          xAxis: { type: "category", data: rows.labels, axisLabel: { rotate: 30 } },
          yAxis: { type: "value", name: "%", max: 100 },
          visualMap: { show: true, min: 0, max: 100, dimension: 1, orient: "horizontal",
                       left: "center", top: 0, inRange: { color: ["#c0392b", "#f1c40f", "#27ae60"] } },
          series: [{ type: "bar", data: rates.map(function (r, i) { return [rows.labels[i], r]; }) }]
        };
      }
      var chart = window.echarts.init(el);
      chart.setOption(option);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
