/** The self-contained HTML report (re-exports only). */
export { renderReport } from './html.js';
export { writeReport, writeReportSync } from './write.js';
export { validateReportData } from './validate.js';
export { fmtBytes, fmtDate, fmtInt, fmtMs, fmtPct, fmtRatio, fmtSi, fmtSig } from './format.js';
export {
  barChart,
  escapeXml,
  groupedBarChart,
  linePlot,
  stackedBarChart,
  makeScale,
  type AxisSpec,
  type Bar,
  type BarChartOptions,
  type GroupedBarOptions,
  type LinePlotOptions,
  type LineSeries,
  type RefLine,
  type Scale,
  type ScaleKind,
  type StackedBar,
  type StackedBarOptions,
} from './svg.js';
export type {
  AccuracyPoint,
  ReportAccuracy,
  ReportData,
  ReportLatency,
  ReportLayer,
  ReportMachine,
  ReportModel,
  ReportPlan,
  ReportPlanLayer,
  ReportSize,
} from './types.js';
