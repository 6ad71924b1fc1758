/**
 * ECharts, tree-shaken: only the renderer, chart types and components the dashboard draws are
 * registered (the full build is ~1 MB). Import VChart from here so registration always happens.
 */
import { use, type ComposeOption } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { BarChart, LineChart, type BarSeriesOption, type LineSeriesOption } from 'echarts/charts';
import { GridComponent, MarkLineComponent, type GridComponentOption, type MarkLineComponentOption } from 'echarts/components';
import VChart from 'vue-echarts';

use([CanvasRenderer, BarChart, LineChart, GridComponent, MarkLineComponent]);

export type ChartOption = ComposeOption<BarSeriesOption | LineSeriesOption | GridComponentOption | MarkLineComponentOption>;
export { VChart };

/** Same CJK font as the page (canvas text does not inherit CSS). */
export const CHART_FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif";
