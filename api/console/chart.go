package console

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// dayChart draws a report's per-day clicks and conversions as an inline SVG line chart, server
// side: no script, no library. Conversions get their own scale (right axis) so they are visible
// beside clicks, which are usually far more numerous.
func dayChart(items []any) template.HTML {
	const w, h, left, right, top, bottom = 720, 260, 48, 48, 16, 40
	type point struct {
		day          string
		clicks, conv float64
	}
	var pts []point
	maxClicks, maxConv := 1.0, 1.0
	for _, it := range items {
		m, _ := it.(map[string]any)
		p := point{day: toString(m["day"])}
		p.clicks, _ = m["clicks"].(float64)
		p.conv, _ = m["conversions"].(float64)
		maxClicks, maxConv = max(maxClicks, p.clicks), max(maxConv, p.conv)
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return ""
	}
	x := func(i int) float64 {
		if len(pts) == 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*float64(w-left-right)/float64(len(pts)-1)
	}
	y := func(v, top2 float64) float64 { return top + (h-top-bottom)*(1-v/top2) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, w, h)
	b.WriteString(`<title id="chart-title">Clicks and conversions per day</title>`)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="clicks" text-anchor="end">%d</text>`, left-6, top+4, int64(maxClicks))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="conv">%d</text>`, w-right+6, top+4, int64(maxConv))
	line := func(class string, v func(point) float64, top2 float64) {
		var coords []string
		for i, p := range pts {
			coords = append(coords, fmt.Sprintf("%.1f,%.1f", x(i), y(v(p), top2)))
		}
		fmt.Fprintf(&b, `<polyline class="%s" fill="none" points="%s"/>`, class, strings.Join(coords, " "))
		for i, p := range pts {
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3"><title>%s: %d %s</title></circle>`,
				class, x(i), y(v(p), top2), html.EscapeString(p.day), int64(v(p)), class)
		}
	}
	line("clicks", func(p point) float64 { return p.clicks }, maxClicks)
	line("conv", func(p point) float64 { return p.conv }, maxConv)
	step := max(1, len(pts)/7)
	for i := 0; i < len(pts); i += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" class="day">%s</text>`, x(i), h-bottom+16, html.EscapeString(pts[i].day[min(5, len(pts[i].day)):]))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="clicks">● clicks (left scale)</text>`, left, h-6)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="conv">● conversions (right scale)</text>`, left+200, h-6)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped day labels only
}
