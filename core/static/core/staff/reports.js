/* Decision-support charts: draws each chart described by the page's JSON (#report-charts) with the bundled
   ECharts. Without ECharts (asset build not run, script blocked) it does nothing and the tables stand alone. */
(function () {
  "use strict";

  function numbers(values) {
    return values.map(function (value) { return Number(value); });
  }

  function option(chart) {
    var twoAxes = chart.series.some(function (series) { return series.yAxisIndex === 1; });
    var yAxis = [{ type: "value" }];
    if (twoAxes) {
      yAxis.push({ type: "value", max: chart.percentAxis ? 100 : null, splitLine: { show: false } });
    }
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 56, right: twoAxes ? 56 : 24, top: 40, bottom: 48, containLabel: true },
      xAxis: { type: "category", data: chart.labels, axisLabel: { hideOverlap: true } },
      yAxis: yAxis,
      series: chart.series.map(function (series) {
        return {
          name: series.name,
          type: series.type,
          yAxisIndex: twoAxes ? series.yAxisIndex : 0,
          stack: chart.stacked && series.type === "bar" ? "total" : undefined,
          data: numbers(series.data),
          smooth: series.type === "line"
        };
      })
    };
  }

  function draw() {
    var source = document.getElementById("report-charts");
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var charts = JSON.parse(source.textContent);
    var drawn = [];
    charts.forEach(function (chart) {
      var element = document.getElementById(chart.id);
      if (!element || !chart.labels.length) {
        return;
      }
      element.classList.add("report-chart__canvas--drawn");
      var instance = window.echarts.init(element);
      instance.setOption(option(chart));
      drawn.push(instance);
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (instance) { instance.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
