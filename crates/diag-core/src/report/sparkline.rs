//! A small inline SVG of a metric row's series with its threshold drawn, for the HTML report.

use minijinja::Value;

const WIDTH: f64 = 160.0;
const HEIGHT: f64 = 32.0;

/// `sparkline(row.series)`: an inline `<svg>` polyline of the points and a dashed line at the
/// threshold, scaled so both fit. Empty for a series without points.
pub(super) fn sparkline(series: Value) -> Value {
    let threshold = series
        .get_attr("threshold")
        .ok()
        .and_then(|v| f64::try_from(v).ok());
    let mut points: Vec<(f64, f64)> = Vec::new();
    if let Ok(list) = series.get_attr("points")
        && let Ok(items) = list.try_iter()
    {
        for item in items {
            let t = item
                .get_item_by_index(0)
                .ok()
                .and_then(|v| f64::try_from(v).ok());
            let v = item
                .get_item_by_index(1)
                .ok()
                .and_then(|v| f64::try_from(v).ok());
            if let (Some(t), Some(v)) = (t, v) {
                points.push((t, v));
            }
        }
    }
    Value::from_safe_string(svg(&points, threshold))
}

fn svg(points: &[(f64, f64)], threshold: Option<f64>) -> String {
    if points.is_empty() {
        return String::new();
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let values = points.iter().map(|p| p.1).chain(threshold);
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let span_t = if t1 > t0 { t1 - t0 } else { 1.0 };
    let span_v = if hi > lo { hi - lo } else { 1.0 };
    let x = |t: f64| 1.0 + (t - t0) / span_t * (WIDTH - 2.0);
    let y = |v: f64| HEIGHT - 1.0 - (v - lo) / span_v * (HEIGHT - 2.0);
    let line: Vec<String> = points
        .iter()
        .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
        .collect();
    let mut out = format!(
        "<svg class=\"spark\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"series and threshold\">"
    );
    if let Some(th) = threshold {
        out.push_str(&format!(
            "<line x1=\"0\" x2=\"{WIDTH}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"3 2\" stroke-width=\"1\"/>",
            y(th)
        ));
    }
    out.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#2c3e50\" stroke-width=\"1.2\" points=\"{}\"/></svg>",
        line.join(" ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_and_the_series_share_one_scale() {
        let s = svg(&[(0.0, 0.5), (60.0, 0.09)], Some(0.2));
        assert!(s.starts_with("<svg class=\"spark\""));
        // 0.09 is the lowest value: the bottom edge; 0.5 the top.
        assert!(s.contains("points=\"1.0,1.0 159.0,31.0\""), "{s}");
        assert!(s.contains("stroke-dasharray"));
        assert_eq!(svg(&[], Some(1.0)), "");
    }
}
