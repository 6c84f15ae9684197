/**
 * An ECharts chart (core only, with the bar and line charts and the components used: the bundle
 * carries nothing else). The chart is drawn once per option and resized with its box; the box has a
 * text alternative for screen readers (`label`), and the numbers are in a table beside every chart.
 */
import { BarChart, LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);

export type ChartOption = echarts.EChartsCoreOption;

export function Chart({ option, label, height = 260 }: { option: ChartOption; label: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const chart = echarts.init(box.current, undefined, { renderer: 'canvas' });
    chart.setOption({ animation: false, aria: { enabled: false }, textStyle: { fontFamily: 'inherit' }, ...option });
    const observer = new ResizeObserver(() => chart.resize());
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      chart.dispose();
    };
  }, [option]);
  return <div className="chart" ref={box} role="img" aria-label={label} style={{ height }} />;
}

/** A bar chart of named series over categories. */
export function barOption(categories: readonly string[], series: readonly { name: string; data: readonly number[]; color: string }[], yName: string): ChartOption {
  return {
    tooltip: { trigger: 'axis' },
    legend: series.length > 1 ? { top: 0 } : undefined,
    grid: { left: 56, right: 16, top: series.length > 1 ? 32 : 16, bottom: 56 },
    xAxis: { type: 'category', data: categories, axisLabel: { rotate: categories.length > 8 ? 30 : 0, color: '#24292f' } },
    yAxis: { type: 'value', name: yName, nameTextStyle: { color: '#24292f' }, axisLabel: { color: '#24292f' } },
    series: series.map((s) => ({ type: 'bar', name: s.name, data: s.data, itemStyle: { color: s.color } })),
  };
}

/** A line chart over time (ISO instants). */
export function timeLineOption(points: readonly { at: string; value: number }[], name: string, yName: string, color: string): ChartOption {
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 64, right: 24, top: 24, bottom: 40 },
    xAxis: { type: 'time', axisLabel: { color: '#24292f' } },
    yAxis: { type: 'value', name: yName, nameTextStyle: { color: '#24292f' }, axisLabel: { color: '#24292f' } },
    series: [{ type: 'line', name, data: points.map((p) => [p.at, p.value]), showSymbol: points.length < 60, itemStyle: { color }, lineStyle: { color } }],
  };
}
