export { Canvas, type Rgb } from './canvas.js';
export { encodePng } from './png.js';
export { linePlot, niceTicks, type Series, type LinePlotOptions } from './line-plot.js';
export { maskPlot, type MaskPlotOptions } from './mask-plot.js';
export { activityPlot, type ActivityLane, type ActivityPlotOptions } from './activity-plot.js';
export { barPlot, barStats, type Bar, type BarGroup, type BarPlotOptions } from './bar-plot.js';
